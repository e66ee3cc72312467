"""Operations on the LOCAL target's Compose stack for destructive tests: compose commands,
the backup scripts and make targets, all with the target's own env file (SUITE_STACK_ENV),
and a superuser connection. Refuses deployed targets: nothing here may touch them.

Two ways to run compose: `compose()` with the repository's local image set, and
`LocalCompose` with exactly the files the running stack was started with (read from its
containers' labels), plus test overlays on top (fault injection, alert test timings)."""
from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

import psycopg

from . import stack
from .redaction import redact
from .target import ROOT, STACK, Target, local_env_file


class StackCommandFailed(AssertionError):
    """A compose, make or backup command exited non-zero (its output is in the message)."""


def _require_local(target: Target) -> None:
    if not target.is_local or not target.compose_project:
        raise RuntimeError(f"refused: {target.name} is not the local stack; destructive operations run only there")


def env_file() -> str:
    return str(local_env_file().resolve())


def compose_cmd() -> list[str]:
    return [str(stack.COMPOSE_BINARY), "--project-directory", str(ROOT / "stack"),
            "--env-file", env_file(), "-f", str(ROOT / "stack/compose.yaml"),
            "-f", str(ROOT / "stack/compose.local.yaml")]


def run(cmd: list[str], *, what: str, timeout: float = 600, check: bool = True,
        env: dict | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env)
    if check and result.returncode != 0:
        raise StackCommandFailed(redact(f"{what} failed (exit {result.returncode}):\n"
                                        f"{result.stdout[-2000:]}\n{result.stderr[-3000:]}"))
    return result


def compose(target: Target, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    _require_local(target)
    return run([*compose_cmd(), *args], what=f"docker compose {' '.join(args)}", timeout=timeout)


def make(target: Target, goal: str, timeout: float = 900) -> subprocess.CompletedProcess:
    _require_local(target)
    return run(["make", "-C", str(ROOT), goal, f"STACK_ENV={env_file()}"], what=f"make {goal}", timeout=timeout)


def script(target: Target, name: str, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run stack/backup/<name> against the target's stack."""
    _require_local(target)
    return run([str(ROOT / "stack/backup" / name), *args], what=f"stack/backup/{name} {' '.join(args)}",
               timeout=timeout, env={**os.environ, "STACK_ENV": env_file()})


def docker(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return run(["docker", *args], what=f"docker {' '.join(args)}", timeout=timeout)


def container(target: Target, service: str) -> str:
    _require_local(target)
    cid = stack.container_id(target.compose_project, service)
    assert cid, f"service {service} has no container in project {target.compose_project}"
    return cid


def health(target: Target, service: str) -> str | None:
    """"healthy", "starting", "unhealthy", or the state when the service has no healthcheck."""
    cid = stack.container_id(target.compose_project, service)
    if not cid:
        return None
    out = subprocess.run(["docker", "inspect", "-f", "{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}", cid],
                         capture_output=True, text=True, timeout=15).stdout.split()
    return (out[1] if len(out) > 1 else out[0]) if out else None


def services(target: Target) -> list[str]:
    _require_local(target)
    out = compose(target, "ps", "--format", "{{.Service}}").stdout.split()
    return sorted(set(out))


def volume(target: Target, name: str) -> str:
    return f"{target.compose_project}_{name}"


def admin_db_url(target: Target) -> str:
    """The superuser on the published db port: local stack only (never a deployed target)."""
    _require_local(target)
    port = target.env.get("POSTGRES_HOST_PORT") or "54322"
    pw = quote(target.env["POSTGRES_PASSWORD"], safe="")
    return f"postgresql://supabase_admin:{pw}@127.0.0.1:{port}/postgres"


def admin_connect(target: Target, timeout: float = 3) -> psycopg.Connection:
    return psycopg.connect(admin_db_url(target), autocommit=True, connect_timeout=timeout)


class Stopwatch:
    def __init__(self) -> None:
        self.t0 = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.t0


class LocalCompose:
    """Compose on the running local stack with the files it was started with (its labels)."""

    def __init__(self, target: Target, anchor_service: str = "db"):
        assert target.is_local and target.compose_project, "compose commands need the local stack"
        self.project = target.compose_project
        cid = stack.container_id(self.project, anchor_service)
        if not cid:
            raise StackCommandFailed(f"project {self.project}: no {anchor_service} container; run `make up` first")
        labels = json.loads(subprocess.run(["docker", "inspect", "-f", "{{json .Config.Labels}}", cid],
                                           capture_output=True, text=True, timeout=15).stdout)
        self.files = [Path(f) for f in labels["com.docker.compose.project.config_files"].split(",")]
        self.env_file = local_env_file().resolve()

    def run(self, *args: str, overlays: tuple[Path, ...] = (), profiles: tuple[str, ...] = (),
            timeout: float = 300) -> str:
        cmd = [str(stack.COMPOSE_BINARY), "-p", self.project, "--project-directory", str(STACK),
               "--env-file", str(self.env_file)]
        for f in (*self.files, *overlays):
            cmd += ["-f", str(f)]
        for p in profiles:
            cmd += ["--profile", p]
        return run([*cmd, *args], what=f"docker compose {' '.join(args)}", timeout=timeout).stdout


def container_ip(project: str, service: str) -> str:
    """The service container's address on its Compose network (reachable from this host)."""
    cid = stack.container_id(project, service)
    if not cid:
        raise StackCommandFailed(f"project {project}: service {service} has no container")
    out = subprocess.run(["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", cid],
                         capture_output=True, text=True, timeout=15).stdout.split()
    if not out:
        raise StackCommandFailed(f"project {project}: service {service} has no network address (not running?)")
    return out[0]
