"""`Stack`: one Compose project on its machine, built from the `Target`. Reads (containers,
state, logs, addresses, mounts, exec) work on any target whose machine is reachable;
changes (compose, stop, recreate, make, backup scripts, the superuser) pass the one guard:
the local stack, or any target with --allow-destructive."""
from __future__ import annotations

import json
import os
import subprocess
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Iterator
from urllib.parse import quote, unquote, urlsplit

import compose as _compose_go
import psycopg

from ..redaction import redact
from ..target import DEFAULT_PROJECT, ROOT, STACK, Target
from .changes import Changes
from .machine import HOST_KEY, Machine, StackError, declared, host_spec

# The Compose v2 binary shipped by the compose-go package. Not .venv/bin/docker-compose:
# that Python wrapper exits 0 even when compose fails.
COMPOSE_BINARY = Path(_compose_go.__file__).parent / "docker-compose"
# The one superuser role: created by stack/db/init, and the owner on upstream supabase/postgres
# (where `postgres` is not a superuser).
SUPERUSER = "supabase_admin"
HELPER_LABEL = "suite.helper"  # the suite's own tool containers (tools.py): never services
COMMAND_TIMEOUT_S = 600
PROJECT_LABEL, SERVICE_LABEL = "com.docker.compose.project", "com.docker.compose.service"


def refusal(name: str, is_local: bool, allow_destructive: bool) -> str | None:
    """The one guard: why changes to target `name` are refused, or None when allowed."""
    if is_local or allow_destructive:
        return None
    return (f"refused: {name} is not the local stack; destructive tests and changes run only there "
            f"(pass --allow-destructive to run them against it anyway)")


class Stack:
    def __init__(self, target: Target, *, allow_destructive: bool = False):
        self.target = target
        self.project = target.compose_project or target.env.get("COMPOSE_PROJECT_NAME") or DEFAULT_PROJECT
        self.refused = refusal(target.name, target.is_local, allow_destructive)

    @property
    def reachable(self) -> bool:
        """Its machine is known: the local stack, or a target declaring SUITE_HOST."""
        return self.target.is_local or bool(declared(self.target, HOST_KEY))

    @cached_property
    def machine(self) -> Machine:
        return Machine(host_spec(self.target))

    # ---- containers -----------------------------------------------------------------------
    def inspect(self, service: str | None = None) -> list[dict]:
        """Full `docker inspect` of the project's (or one service's) containers, helpers left out."""
        filters = ["--filter", f"label={PROJECT_LABEL}={self.project}"]
        filters += ["--filter", f"label={SERVICE_LABEL}={service}"] if service else []
        ids = self.machine.docker(f"listing the containers of project {self.project}", "ps", "-aq", *filters).split()
        found = json.loads(self.machine.docker("inspecting containers", "inspect", *ids)) if ids else []
        return [c for c in found if not (c["Config"].get("Labels") or {}).get(HELPER_LABEL)]

    def containers(self, service: str | None = None) -> dict[str, list[dict]]:
        """service -> its containers (name, id, state, restarts, networks, mounts, labels), one-off runs left out."""
        out: dict[str, list[dict]] = {}
        for c in self.inspect(service):
            labels = c["Config"].get("Labels") or {}
            if labels.get("com.docker.compose.oneoff") != "True":
                out.setdefault(labels.get(SERVICE_LABEL), []).append(
                    {"name": c["Name"].lstrip("/"), "id": c["Id"], "state": c["State"], "restarts": c["RestartCount"],
                     "networks": c["NetworkSettings"]["Networks"], "mounts": c["Mounts"], "labels": labels})
        return out

    def container(self, service: str) -> dict | None:
        found = self.containers(service).get(service)
        return found[0] if found else None

    def _require(self, service: str) -> dict:
        c = self.container(service)
        if not c:
            raise StackError(f"project {self.project}: service {service} has no container on {self.machine.label}")
        return c

    def state(self, service: str) -> str | None:
        """Docker state ("running", "exited", ...); None: no container."""
        c = self.container(service)
        return c["state"]["Status"] if c else None

    def running(self, service: str) -> bool:
        return self.state(service) == "running"

    def health(self, service: str) -> str | None:
        """"healthy", "starting", "unhealthy", or the state when the service has no healthcheck."""
        c = self.container(service)
        return ((c["state"].get("Health") or {}).get("Status") or c["state"]["Status"]) if c else None

    def services(self) -> dict[str, str]:
        """service -> "running/healthy", "exited", ... for every service with a container."""
        return {s: c[0]["state"]["Status"] + (f"/{h['Status']}" if (h := c[0]["state"].get("Health")) else "")
                for s, c in self.containers().items()}

    def logs(self, service: str, lines: int = 20) -> str:
        c = self.container(service)
        if not c:
            return f"(no container for service {service})"
        result = self.machine.host.run("docker logs --tail %s %s", str(lines), c["id"])
        return redact(result.stdout + result.stderr)

    def address(self, service: str) -> str:
        """The container's address on its Compose network (reachable from its machine)."""
        ips = [n["IPAddress"] for n in (self._require(service)["networks"] or {}).values() if n.get("IPAddress")]
        if not ips:
            raise StackError(f"project {self.project}: service {service} has no network address (not running?)")
        return ips[0]

    def network(self, service: str) -> str:
        return next(iter(self._require(service)["networks"] or {}), "")

    def mount(self, service: str, name: str) -> tuple[Path, str]:
        """(host source, container destination) of the service's bind mount of file `name`."""
        for m in self._require(service)["mounts"] or []:
            if m.get("Type") == "bind" and Path(m["Source"]).name == name:
                return Path(m["Source"]), m["Destination"]
        raise StackError(f"{self.project}/{service} has no bind mount of {name}")

    def exec(self, service: str, script: str, what: str = "command") -> str:
        return self.machine.in_container(self._require(service)["name"], what, script)

    def env_values(self, service: str, keys: tuple[str, ...]) -> dict[str, str] | None:
        """The named variables of the service container's environment, and only those (the
        rest holds secrets); None when the service has no container. Unset keys are left out."""
        found = self.inspect(service)
        env = (e.partition("=") for e in (found[0]["Config"].get("Env") or [] if found else []))
        return {k: v for k, _, v in env if k in keys} if found else None

    def cpu_seconds(self, service: str) -> float | None:
        """Total CPU seconds of the service's container (cgroup v1 cpuacct.usage in ns, or v2
        cpu.stat whose first line is `usage_usec N`); None when it cannot be read."""
        c, cg = self.container(service), "/sys/fs/cgroup"
        for path, word, scale in ((f"{cg}/cpuacct/docker/{c['id']}/cpuacct.usage", 0, 1e9),
                                  (f"{cg}/system.slice/docker-{c['id']}.scope/cpu.stat", 1, 1e6),
                                  (f"{cg}/docker/{c['id']}/cpu.stat", 1, 1e6)) if c else ():
            if (f := self.machine.host.file(path)).exists:
                return int(f.content_string.split()[word]) / scale
        return None

    def memory_usage(self, service: str) -> str:
        """`docker stats` MemUsage of the service's container ("123.4MiB / 2GiB")."""
        return self.machine.docker(f"docker stats of {service}", "stats", "--no-stream", "--format",
                                   "{{.MemUsage}}", self._require(service)["id"])

    # ---- Compose: the files and env file the running stack was started with ---------------
    @cached_property
    def _labels(self) -> dict:
        for found in self.containers().values():
            if found[0]["labels"].get("com.docker.compose.project.config_files"):
                return found[0]["labels"]
        raise StackError(f"project {self.project}: no container on {self.machine.label} to read its Compose "
                         f"files from; start the stack first (`make up`)")

    @property
    def files(self) -> list[Path]:
        return [Path(f) for f in self._labels["com.docker.compose.project.config_files"].split(",")]

    @property
    def env_file(self) -> Path:
        env_files = self._labels.get("com.docker.compose.project.environment_file")
        return Path(env_files.split(",")[0]) if env_files else STACK / ".env"

    @property
    def images(self) -> str:
        """local | upstream: the image set the stack runs (for make and the backup scripts)."""
        return "local" if any(f.name == "compose.local.yaml" for f in self.files) else "upstream"

    # ---- changes ------------------------------------------------------------------------
    def _allowed(self) -> None:
        if self.refused:
            raise StackError(self.refused)

    def _command(self, what: str, argv: list[str], env: dict | None = None, timeout: float = COMMAND_TIMEOUT_S) -> str:
        self._allowed()
        prefix = ["env", *(f"{k}={v}" for k, v in (env or {}).items())]
        argv = [*prefix, "timeout", str(int(timeout)), *argv]
        return self.machine.run(what, " ".join(["%s"] * len(argv)), *argv)

    def compose(self, *args: str, overlays: tuple[Path, ...] = (), profiles: tuple[str, ...] = (),
                env: dict | None = None, timeout: float = COMMAND_TIMEOUT_S) -> str:
        """Compose with the stack's own files and env file, plus `overlays` on top."""
        binary = [str(COMPOSE_BINARY)] if self.machine.is_local else ["docker", "compose"]
        argv = [*binary, "-p", self.project, "--project-directory", str(self.files[0].parent),
                "--env-file", str(self.env_file)]
        for f in (*self.files, *overlays):
            argv += ["-f", str(f)]
        for p in profiles:
            argv += ["--profile", p]
        return self._command(f"docker compose {' '.join(args)}", [*argv, *args], env, timeout)

    def stop(self, service: str) -> None:
        self._command(f"stop {service}", ["docker", "stop", self._require(service)["id"]])

    def start(self, service: str) -> None:
        self._command(f"start {service}", ["docker", "start", self._require(service)["id"]])

    def restart(self, service: str) -> None:
        self.compose("restart", service)

    def recreate(self, services: list[str], overlay: Path | None = None, env: dict | None = None) -> None:
        """Recreate services from the stack's own files (plus `overlay`, `env`), waiting until
        they are healthy; without either this restores their original configuration."""
        self.compose("up", "-d", "--no-deps", "--wait", *services, overlays=(overlay,) if overlay else (), env=env)

    def kill_main_process(self, service: str) -> None:
        """SIGKILL to the container's main process from the machine, as a crash: the engine
        applies the restart policy (a `docker kill` counts as a manual stop and would not)."""
        self._command(f"kill -9 of {service}", ["kill", "-KILL", str(self._require(service)["state"]["Pid"])])

    def kill(self, service: str) -> None:
        self._command(f"docker kill {service}", ["docker", "kill", "--signal", "KILL", self._require(service)["id"]])

    def remove_volume(self, name: str) -> None:
        self._command(f"remove volume {name}", ["docker", "volume", "rm", f"{self.project}_{name}"])

    def make(self, goal: str, timeout: float = 900) -> str:
        return self._command(f"make {goal}", ["make", "-C", str(ROOT), goal, f"STACK_ENV={self.env_file}",
                                              f"IMAGES={self.images}"], timeout=timeout)

    def script(self, name: str, *args: str, timeout: float = COMMAND_TIMEOUT_S) -> str:
        """stack/backup/<name> against this stack; its stdout."""
        return self._command(f"stack/backup/{name} {' '.join(args)}", [str(STACK / "backup" / name), *args],
                             env={"STACK_ENV": self.env_file, "IMAGES": self.images}, timeout=timeout)

    @contextmanager
    def changes(self) -> Iterator[Changes]:
        """Undoable changes for the body; undone (last first) however the body ends."""
        self._allowed()
        with Changes.session(self) as changes:
            yield changes

    # ---- the superuser --------------------------------------------------------------------
    def superuser_url(self) -> str:
        """The published db endpoint as SUPERUSER (every LOGIN role's password is POSTGRES_PASSWORD)."""
        self._allowed()
        db = urlsplit(self.target.url("db"))
        # the URL's password is percent-encoded already: decoded first, so it is not encoded twice
        password = quote(self.target.env.get("POSTGRES_PASSWORD") or unquote(db.password or ""), safe="")
        return f"postgresql://{SUPERUSER}:{password}@{db.hostname}:{db.port or 5432}{db.path or '/postgres'}"

    def connect(self, **kwargs) -> psycopg.Connection:
        kwargs.setdefault("connect_timeout", 5)
        return psycopg.connect(self.superuser_url(), autocommit=True, **kwargs)

    def sql(self, statement: str):
        """Run `statement` as the superuser; the first column of its first row (None: no row)."""
        with self.connect() as conn:
            cur = conn.execute(statement)
            row = cur.fetchone() if cur.description else None
        return row[0] if row else None

    def run_tool(self, tool: str, args: list[str], folder: Path):
        """A tool needing the database (pg_prove) in a helper container on the db's network."""
        from .tools import run_batch
        self._allowed()
        db = urlsplit(self.superuser_url())
        env = {"PGHOST": "db", "PGUSER": SUPERUSER, "PGDATABASE": db.path.lstrip("/"),
               "PGPASSWORD": unquote(db.password or "")}
        return run_batch(tool, [[tool, *args]], folder, network=self.network("db"), env=env)[0]


def compose_config(files: list[Path], env_file: Path, interpolate: bool = True) -> str:
    """`docker compose config --format json` of Compose files (no running stack needed), every
    profile on, in a clean environment so the caller's shell cannot change the result."""
    cmd = [str(COMPOSE_BINARY), "--project-directory", str(STACK), "--env-file", str(env_file), "--profile", "*",
           *(opt for f in files for opt in ("-f", str(f))), "config", "--format", "json"]
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "DOCKER_HOST", "DOCKER_CONFIG")}
    out = subprocess.run(cmd + ([] if interpolate else ["--no-interpolate"]), capture_output=True, text=True,
                         timeout=30, env=env)
    if out.returncode != 0:
        raise StackError(out.stderr.strip())
    return out.stdout


def running_services(project: str) -> set[str]:
    """Services of `project` with a running container on this machine (Target.local)."""
    try:
        found = Stack(Target("local", True, {}, {}, compose_project=project)).containers()
    except StackError:  # no Docker engine here: nothing runs
        return set()
    return {s for s, cs in found.items() if cs[0]["state"]["Status"] == "running"}
