"""The suite's one polling helper: a deadline, an interval, fail fast, evidence attached.

Modelled on the Docker official-images `retry.sh`: poll until the check passes or the
deadline passes; stop at once when the local container behind the check has exited; on
failure, attach the service's last log lines (secrets redacted) to the message.
"""
from __future__ import annotations

import time
from typing import Callable, TypeVar

from .redaction import redact
from .target import Target

T = TypeVar("T")


class PollTimeout(AssertionError):
    """The condition did not hold before the deadline (an assertion failure, with evidence)."""


class ServiceExited(AssertionError):
    """The local container behind the condition is not running."""


def poll(check: Callable[[], T], *, what: str, timeout: float, interval: float = 0.2,
         service: str | None = None, target: Target | None = None, raise_on_timeout: bool = True) -> T:
    """Call `check` until it returns a truthy value (returned) or the deadline passes.

    Exceptions raised by `check` count as "not yet" and the last one is reported.
    With `service` and a local `target`, an exited container ends the wait at once, and
    its last log lines are attached to any failure. With raise_on_timeout=False, a wait that
    may legitimately end unmet returns its last result (the evidence) instead of raising.
    """
    stack = None
    if target is not None and target.compose_project and service:
        # imported here: the load generator's image (loadtests/generator) polls without the
        # stack layer's packages (Compose, testinfra)
        from .stack import Stack
        stack = Stack(target)
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
        if stack and attempts % 5 == 1:
            state = stack.state(service)
            if state not in (None, "running", "restarting"):
                raise ServiceExited(f"{what}: service {service} is {state}\n"
                                    f"--- last log lines of {service} ---\n{stack.logs(service)}")
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    if not raise_on_timeout:
        if isinstance(last, Exception):
            raise last
        return last
    message = f"{what}: not true after {timeout:g} s ({attempts} attempts); last result: {last!r}"
    if stack:
        message += f"\n--- last log lines of {service} ---\n{stack.logs(service)}"
    raise PollTimeout(redact(message))
