"""Environment configuration helpers."""
import os


def env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def env_int(name: str, default: int) -> int:
    value = env(name)
    return default if value is None else int(value)


def env_bool(name: str, default: bool = False) -> bool:
    value = env(name)
    return default if value is None else value.strip().lower() in ("1", "true", "yes", "on")
