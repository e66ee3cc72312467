"""Run configuration: LOAD_* environment variables (or locust.conf), the target from the same
model as pytest (suite.target), and the SLOs from thresholds.yaml."""
from __future__ import annotations

import os

from suite import redaction
from suite.target import ROOT, Target, TargetConfigError, load
from suite.thresholds import LIMITS

LOAD = LIMITS.load


class SettingError(SystemExit):
    """A bad LOAD_* value: exits with a message naming the variable, never a traceback."""


def number(name: str, default: float, *, minimum: float = 0) -> float:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingError(f"load settings: {name}={raw!r} is not a number") from None
    if value < minimum:
        raise SettingError(f"load settings: {name}={raw!r} must be >= {minimum:g}")
    return value


def integer(name: str, default: int, *, minimum: int = 0) -> int:
    return int(number(name, default, minimum=minimum))


_target: Target | None = None


def target(target_file: str | None = None) -> Target:
    """The stack under load: --target FILE / SUITE_TARGET, else the local stack (stack/.env or
    SUITE_STACK_ENV). Loaded once per process; its secrets are registered for redaction."""
    global _target
    if _target is None:
        try:
            _target = load(target_file)
        except TargetConfigError as exc:
            raise SettingError(f"load target: {exc}") from None
        redaction.register(*_target.secrets())
    return _target
