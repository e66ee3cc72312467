"""Locust's distributed mode as containers beside the stack (loadtests/compose.yaml): the
plain asyncio floor, then a master and N workers from the locally built generator image, each
its own container on the stack's Compose network, run as their own Compose project
(`<project>-load`) so they are never taken for the stack's services. The containers see the
target as an env file (docs/targets.md) whose URLs name the services on that network; it is
written mode 600 into a private temporary folder, and its secrets never reach a log unredacted."""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ..redaction import redact, register
from ..target import ROOT, SERVICE_KEYS, Target
from .core import COMPOSE_BINARY, Stack
from .machine import StackError

COMPOSE_FILE = ROOT / "loadtests" / "compose.yaml"
IMAGE = "supabase-acceptance/load-generator:0.1.0"
# Each service's port on the stack's Compose network (docs/architecture.md)
IN_NETWORK_PORTS = {"gateway": 8000, "db": 5432, "redis": 6379, "prometheus": 9090, "alertmanager": 9093,
                    "grafana": 3000, "loki": 3100}
FLOOR_TIMEOUT_S = 300  # `up` returns once the floor has measured (seconds) and the master has started


@dataclass(frozen=True)
class ClusterRun:
    exit_code: int  # the master's: 0 passed, 3 an SLO breached
    log: str  # the floor's and the master's output, redacted


def in_network_env(target: Target) -> dict[str, str]:
    """The target's env-file keys with every service URL rewritten to the service's name and
    port on the Compose network (credentials and paths kept); services it lacks stay absent."""
    env = dict(target.env)
    for service, key in SERVICE_KEYS.items():
        if service not in target.urls:
            env[key] = "absent"
            continue
        parts = urlsplit(target.urls[service])
        userinfo = parts.netloc.rpartition("@")[0]
        netloc = f"{userinfo + '@' if userinfo else ''}{service}:{IN_NETWORK_PORTS[service]}"
        env[key] = parts._replace(netloc=netloc).geturl()
    return env


def env_file_text(env: dict[str, str]) -> str:
    bad = sorted(k for k, v in env.items() if "\n" in v)
    if bad:
        raise StackError(f"cannot write {', '.join(bad)} into an env file: the value spans lines")
    return "".join(f"{k}={v}\n" for k, v in env.items())


def _private_file(path: Path, text: str) -> None:
    path.touch(mode=0o600)
    path.write_text(text)


def unavailable(stack: Stack) -> str | None:
    """Why the containers cannot join this stack's network, or None: they run beside the
    bundled stack on this machine only."""
    if stack.target.compose_project and stack.machine.is_local:
        return None
    return (f"the containerised load generator joins the Compose network of the bundled stack on this machine; "
            f"{stack.target.name} is not one (for its machines: loadtests/README.md, 'Workers across machines')")


def run_cluster(stack: Stack, *, name: str, locustfile: str, users: int, rate: float, seconds: int,
                workers: int, floor_connections: int, load_env: dict[str, str], timeout: float) -> ClusterRun:
    """One run of loadtests/compose.yaml beside `stack`: the floor to completion, then the
    master with `workers` workers until the master exits; the containers removed however it
    ends. Reports land in reports/ (load-<name>*, floor-<name>.json)."""
    reason = unavailable(stack)
    if reason:
        raise StackError(reason)
    try:
        stack.machine.docker("looking for the generator image", "image", "inspect", "--format", "{{.Id}}", IMAGE)
    except StackError:
        raise StackError(f"image {IMAGE} does not exist here: build it with `make load-image`") from None
    register(*stack.target.secrets())
    project = f"{stack.project}-load"
    with tempfile.TemporaryDirectory(prefix="load-cluster-") as run_dir:
        _private_file(Path(run_dir) / "target.env", env_file_text(in_network_env(stack.target)))
        _private_file(Path(run_dir) / "load.env", env_file_text(load_env))
        env = {"CLUSTER_RUN_DIR": run_dir, "CLUSTER_NETWORK": stack.network("gateway"),
               "CLUSTER_UID": str(os.getuid()), "CLUSTER_GID": str(os.getgid()), "CLUSTER_NAME": name,
               "CLUSTER_LOCUSTFILE": locustfile, "CLUSTER_USERS": str(users), "CLUSTER_RATE": f"{rate:g}",
               "CLUSTER_RUN_TIME": f"{seconds}s", "CLUSTER_WORKERS": str(workers),
               "CLUSTER_FLOOR_CONNECTIONS": str(floor_connections)}

        def compose(what: str, *args: str, wait_s: float = 120) -> str:
            argv = [str(COMPOSE_BINARY), "-p", project, "-f", str(COMPOSE_FILE), *args]
            return stack._command(f"{what} ({project})", argv, env, wait_s)

        def logs() -> str:
            return compose("logs", "logs", "--no-color", "--no-log-prefix", "floor", "master")

        try:
            try:
                compose("floor, master and workers up", "up", "-d", "--no-build", "--quiet-pull",
                        wait_s=FLOOR_TIMEOUT_S)
            except StackError as exc:  # e.g. the floor failed: the master never started
                raise StackError(f"{exc}\n--- floor and master output ---\n{redact(logs())[-3000:]}") from None
            try:
                compose("waiting for the master", "wait", "master", wait_s=timeout)
            except StackError:
                pass  # `wait` exits with the master's own code (3: an SLO breached): read below
            state = compose("the master's exit", "ps", "-a", "--format", "{{.State}} {{.ExitCode}}", "master").split()
            log = logs()
        finally:
            compose("removing the generator containers", "down", "--remove-orphans", "--timeout", "10")
    if not state or state[0] != "exited":
        raise StackError(f"load cluster {project}: the master did not finish within {timeout:g} s "
                         f"(state {' '.join(state) or 'unknown'}):\n{redact(log)[-3000:]}")
    return ClusterRun(int(state[1]), redact(log))
