"""Run configuration: every scenario setting is a Locust option with an environment variable
(`--ws-heartbeat-s` / LOAD_WS_HEARTBEAT_S, listed in `locust --help` and settable in a
`--config` file such as the named runs in loadtests/runs/), the target from the same model as
pytest (suite.target), and the SLOs from thresholds.yaml.

Values are read where they are used, through `S`: Locust's parsed options once its init event
ran (on a worker, updated with the master's options at each spawn, so the master's settings
win), else the environment variable or the default (imports, unit tests)."""
from __future__ import annotations

import argparse
import os
from dataclasses import dataclass

from suite import redaction
from suite.target import ROOT, Target, TargetConfigError, load
from suite.thresholds import LIMITS

LOAD = LIMITS.load


class SettingError(SystemExit):
    """A bad LOAD_* value: exits with a message naming the variable, never a traceback."""


@dataclass(frozen=True)
class Setting:
    name: str
    default: float
    help: str
    minimum: float = 0
    maximum: float | None = None
    whole: bool = False  # an integer count

    @property
    def env(self) -> str:
        return "LOAD_" + self.name.upper()

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def typed_default(self) -> float:
        """The default as a parsed value (an int for a count): the web UI casts an edited value
        to the type of the option's value."""
        return self.parse(str(self.default))

    def parse(self, raw: str) -> float:
        """The value of `raw`, or ValueError naming the option, its variable and the bound."""
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"{self.flag} / {self.env}={raw!r} is not a number") from None
        if value < self.minimum or (self.maximum is not None and value > self.maximum):
            bound = f">= {self.minimum:g}" + (f" and <= {self.maximum:g}" if self.maximum is not None else "")
            raise ValueError(f"{self.flag} / {self.env}={raw!r} must be {bound}")
        return int(value) if self.whole else value


SETTINGS = {s.name: s for s in (
    Setting("ws_heartbeat_s", 25, "seconds between a WebSocket user's heartbeats (supabase-js: 25)", 0.1),
    Setting("ws_topic_size", 100, "WebSocket users per topic: the fan-out of each broadcast", 1, whole=True),
    Setting("ws_broadcast_s", 10, "seconds between broadcasts of each topic's publisher", 0.1),
    Setting("ws_presence_every", 50, "one WebSocket user in N tracks presence (0: none)", whole=True),
    Setting("ws_presence_s", 20, "seconds between a tracker's presence updates", 0.1),
    Setting("ws_connect_spread_s", 1, "random delay before connecting, up to this many seconds"),
    Setting("ws_pg_users", 20, "at most this many PostgresChangesUsers (0: none)", whole=True),
    Setting("ws_pg_insert_s", 10, "seconds between a PostgresChangesUser's inserts", 0.5),
    Setting("ws_pg_lost_s", 15, "a postgres change not delivered within this many seconds counts as lost", 1),
    Setting("api_write_share", 0.2, "share of an ApiUser's REST calls that write", 0, 1),
    Setting("auth_rate", 0.2, "sign-ins + refreshes per second per AuthUser (each sign-in is a bcrypt)", 0.001),
    Setting("db_wait_s", 0.5, "a DatabaseUser's think time between operations, seconds"),
    Setting("accounts", 20, "signed-in accounts per generator process, shared by its users", 1, whole=True),
    Setting("session_margin_s", 60, "signed-in users refresh their session when less than this many seconds "
            "(or half the token's lifetime, if shorter) are left before the JWT expires", 1),
)}


def add_options(parser) -> None:
    """Every setting as a Locust option with its environment variable (Locust's parser extension)."""
    group = parser.add_argument_group("load scenarios (loadtests/)")
    for s in SETTINGS.values():
        def parse(raw: str, s: Setting = s) -> float:
            try:
                return s.parse(raw)
            except ValueError as exc:
                raise argparse.ArgumentTypeError(str(exc)) from None
        group.add_argument(s.flag, env_var=s.env, type=parse, default=s.typed_default, metavar="N",
                           help=f"{s.help} (env {s.env}, default {s.default:g})")


_options: argparse.Namespace | None = None


def bind(options: argparse.Namespace | None) -> None:
    """Read settings from Locust's parsed options from now on (the init event)."""
    global _options
    _options = options


class _Current:
    def __getattr__(self, name: str) -> float:
        if name not in SETTINGS:
            raise AttributeError(name)
        if _options is not None and hasattr(_options, name):
            return getattr(_options, name)
        s = SETTINGS[name]
        raw = os.environ.get(s.env)
        if raw in (None, ""):
            return s.typed_default
        try:
            return s.parse(raw)
        except ValueError as exc:
            raise SettingError(f"load settings: {exc}") from None


S = _Current()

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
