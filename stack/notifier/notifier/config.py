"""channels.yml: receivers -> channels (Apprise URLs), with retry and throttle settings.

${VAR} and ${VAR:-default} are replaced from the environment, so secrets (tokens in
push URLs) stay in stack/.env. Every problem names the file and the entry at fault.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import apprise
import yaml

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ConfigError(Exception):
    """channels.yml is missing, malformed or refers to an unset variable."""


@dataclass(frozen=True)
class Retry:
    max_attempts: int = 5
    initial_s: float = 2.0
    factor: float = 2.0
    max_s: float = 300.0


@dataclass(frozen=True)
class Throttle:
    rate: int = 30              # at most this many deliveries ...
    per_s: float = 60.0         # ... per sliding window of this many seconds
    dedup_window_s: float = 300.0  # same alert, same status, same channel: sent once


@dataclass(frozen=True)
class Channel:
    name: str
    url: str = ""               # Apprise URL; may hold a secret: never logged or exported
    retry: Retry = Retry()
    throttle: Throttle = Throttle()

    @property
    def kind(self) -> str:
        return self.url.split("://", 1)[0]


@dataclass(frozen=True)
class Config:
    channels: dict[str, Channel]
    receivers: dict[str, list[str]]


def interpolate(text: str, env: dict[str, str], where: str) -> str:
    def sub(m: re.Match) -> str:
        name, default = m.group(1), m.group(2)
        if env.get(name):
            return env[name]
        if default is not None:
            return default
        raise ConfigError(f"{where}: ${{{name}}} is not set in the environment and has no default")
    return _VAR.sub(sub, text)


def _section(raw: dict, cls, where: str, base):
    if raw is None:
        return base
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping")
    unknown = set(raw) - set(cls.__dataclass_fields__)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}; known: {sorted(cls.__dataclass_fields__)}")
    values = {**base.__dict__, **raw}
    for key, value in values.items():
        if not isinstance(value, (int, float)) or value < (1 if key in ("max_attempts", "rate") else 0):
            raise ConfigError(f"{where}.{key}: expected a positive number, got {value!r}")
    return cls(**values)


def load(path: Path, env: dict[str, str] | None = None) -> Config:
    env = dict(os.environ) if env is None else env
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("channels"), dict) or not isinstance(raw.get("receivers"), dict):
        raise ConfigError(f"{path}: expected mappings `channels:` and `receivers:` at the top level")
    defaults = raw.get("defaults") or {}
    retry = _section(defaults.get("retry"), Retry, f"{path}: defaults.retry", Retry())
    throttle = _section(defaults.get("throttle"), Throttle, f"{path}: defaults.throttle", Throttle())
    channels = {}
    for name, spec in raw["channels"].items():
        where = f"{path}: channels.{name}"
        if not isinstance(spec, dict) or not isinstance(spec.get("url"), str):
            raise ConfigError(f"{where}: expected a mapping with `url: <apprise URL>`")
        url = interpolate(spec["url"], env, f"{where}.url")
        if apprise.Apprise.instantiate(url) is None:
            # the URL itself is not echoed: it may carry a token
            raise ConfigError(f"{where}.url: Apprise does not accept this URL (scheme {url.split('://')[0]!r})")
        channels[name] = Channel(name, url, _section(spec.get("retry"), Retry, f"{where}.retry", retry),
                                 _section(spec.get("throttle"), Throttle, f"{where}.throttle", throttle))
    receivers = {}
    for name, names in raw["receivers"].items():
        if not isinstance(names, list) or not names:
            raise ConfigError(f"{path}: receivers.{name}: expected a non-empty list of channel names")
        missing = [n for n in names if n not in channels]
        if missing:
            raise ConfigError(f"{path}: receivers.{name}: unknown channel(s) {missing}; defined: {sorted(channels)}")
        receivers[name] = list(names)
    return Config(channels, receivers)
