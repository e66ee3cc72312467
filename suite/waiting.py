"""The suite's one polling helper: a deadline, an interval, fail fast, evidence attached.

Modelled on the Docker official-images `retry.sh`: poll until the check passes or the
deadline passes; stop at once when the local container behind the check has exited; on
failure, attach the service's last log lines (secrets redacted) to the message.
"""
from __future__ import annotations

import subprocess
import time
from typing import Callable, TypeVar

from .redaction import redact
from .target import COMPOSE_PROJECT

T = TypeVar("T")


class PollTimeout(AssertionError):
    """The condition did not hold before the deadline (an assertion failure, with evidence)."""


class ServiceExited(AssertionError):
    """The local container behind the condition is not running."""


def container_state(service: str) -> str | None:
    """Docker state of the bundled stack's container for `service` (None: no container)."""
    try:
        ids = subprocess.run(
            ["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={COMPOSE_PROJECT}",
             "--filter", f"label=com.docker.compose.service={service}"],
            capture_output=True, text=True, timeout=10).stdout.split()
        if not ids:
            return None
        return subprocess.run(["docker", "inspect", "-f", "{{.State.Status}}", ids[0]],
                              capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None


def service_logs(service: str, lines: int = 20) -> str:
    try:
        ids = subprocess.run(
            ["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={COMPOSE_PROJECT}",
             "--filter", f"label=com.docker.compose.service={service}"],
            capture_output=True, text=True, timeout=10).stdout.split()
        if not ids:
            return f"(no container for service {service})"
        out = subprocess.run(["docker", "logs", "--tail", str(lines), ids[0]],
                             capture_output=True, text=True, timeout=10)
        return redact(out.stdout + out.stderr)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"(logs of {service} unavailable: {exc})"


def poll(check: Callable[[], T], *, what: str, timeout: float, interval: float = 0.2,
         service: str | None = None, local: bool = False) -> T:
    """Call `check` until it returns a truthy value (returned) or the deadline passes.

    Exceptions raised by `check` count as "not yet" and the last one is reported.
    With `service` and `local`, an exited container ends the wait at once, and its last
    log lines are attached to any failure.
    """
    deadline = time.monotonic() + timeout
    last: object = None
    attempts = 0
    while True:
        attempts += 1
        try:
            last = check()
            if last:
                return last
        except Exception as exc:  # noqa: BLE001 - reported below
            last = exc
        if service and local and attempts % 5 == 1:
            state = container_state(service)
            if state not in (None, "running", "restarting"):
                raise ServiceExited(f"{what}: service {service} is {state}\n"
                                    f"--- last log lines of {service} ---\n{service_logs(service)}")
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    message = f"{what}: not true after {timeout:g} s ({attempts} attempts); last result: {last!r}"
    if service and local:
        message += f"\n--- last log lines of {service} ---\n{service_logs(service)}"
    raise PollTimeout(redact(message))
