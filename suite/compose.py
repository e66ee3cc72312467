"""Docker Compose commands on the bundled stack, with the same files, env file and project
as the running stack (read from its containers' Compose labels). For destructive tests."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

from . import stack
from .redaction import redact
from .target import STACK, Target, local_env_file

COMPOSE_BIN = stack.COMPOSE_BINARY


class ComposeError(AssertionError):
    """A compose command failed (its output, redacted, is the message)."""


class LocalCompose:
    def __init__(self, target: Target, anchor_service: str = "db"):
        assert target.is_local and target.compose_project, "compose commands need the local stack"
        self.project = target.compose_project
        cid = stack.container_id(self.project, anchor_service)
        if not cid:
            raise ComposeError(f"project {self.project}: no {anchor_service} container; run `make up` first")
        labels = json.loads(subprocess.run(["docker", "inspect", "-f", "{{json .Config.Labels}}", cid],
                                           capture_output=True, text=True, timeout=15).stdout)
        self.files = [Path(f) for f in labels["com.docker.compose.project.config_files"].split(",")]
        self.env_file = local_env_file().resolve()

    def run(self, *args: str, overlays: tuple[Path, ...] = (), profiles: tuple[str, ...] = (),
            timeout: float = 300) -> str:
        cmd = [str(COMPOSE_BIN), "-p", self.project, "--project-directory", str(STACK),
               "--env-file", str(self.env_file)]
        for f in (*self.files, *overlays):
            cmd += ["-f", str(f)]
        for p in profiles:
            cmd += ["--profile", p]
        out = subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=timeout)
        if out.returncode != 0:
            raise ComposeError(redact(f"docker compose {' '.join(args)} failed ({out.returncode}):\n"
                                      f"{out.stdout[-2000:]}{out.stderr[-2000:]}"))
        return out.stdout


def container_ip(project: str, service: str) -> str:
    """The service container's address on its Compose network (reachable from this host)."""
    cid = stack.container_id(project, service)
    if not cid:
        raise ComposeError(f"project {project}: service {service} has no container")
    out = subprocess.run(["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", cid],
                         capture_output=True, text=True, timeout=15).stdout.split()
    if not out:
        raise ComposeError(f"project {project}: service {service} has no network address (not running?)")
    return out[0]
