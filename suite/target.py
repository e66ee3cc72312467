"""The target model: which services a stack has, where they answer, and its keys.

One model for every layer (pytest and Locust). A target is either the bundled local stack
(read from stack/.env) or a deployed stack described by an env file (docs/targets.md).
Standard library only: stack/bin/make_env.py and redact.py import it without the venv.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
STACK = ROOT / "stack"
DEFAULT_PROJECT = "supabase-acceptance"  # `name:` in stack/compose.yaml
LOCAL_ONLY_REASON = "not part of the local image set (no Debian package); present with IMAGES=upstream"

# Services a target may declare, with the env-file key that locates each.
SERVICE_KEYS = {
    "gateway": "SUPABASE_URL",
    "db": "DB_URL",
    "redis": "REDIS_URL",
    "prometheus": "PROMETHEUS_URL",
    "alertmanager": "ALERTMANAGER_URL",
    "grafana": "GRAFANA_URL",
    "loki": "LOKI_URL",
}
SECRET_KEYS = ("ANON_KEY", "SERVICE_ROLE_KEY", "JWT_SECRET", "POSTGRES_PASSWORD",
               "REDIS_PASSWORD", "DASHBOARD_PASSWORD", "GRAFANA_ADMIN_PASSWORD", "SECRET_KEY_BASE",
               "REALTIME_DB_ENC_KEY")
# Alert channels (NOTIFY_*_URL) carry their tokens in the URL: user:token@, webhook path, query.
NOTIFY_URL_KEY = re.compile(r"^NOTIFY_\w+_URL$")
# Any other key named like a secret (an operator's own additions to the env file) is redacted too.
SECRET_NAME_HINTS = ("PASSWORD", "SECRET", "KEY", "TOKEN")


class TargetConfigError(Exception):
    """The target's env file is missing, unreadable or lacks a required key."""


def read_env_file(path: Path) -> dict[str, str]:
    if not path.exists():
        raise TargetConfigError(f"target env file {path} does not exist")
    values: dict[str, str] = {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise TargetConfigError(f"{path}:{n}: expected KEY=value, got a line without '='")
        values[key.strip().removeprefix("export ").strip()] = value.strip().strip('"').strip("'")
    return values


@dataclass(frozen=True)
class Target:
    name: str
    is_local: bool
    env: dict[str, str] = field(repr=False)
    urls: dict[str, str] = field(repr=False)
    # service -> reason it is absent (skipped tests say why)
    absent: dict[str, str] = field(default_factory=dict)
    # the Compose project of the bundled stack (None for a deployed target)
    compose_project: str | None = None
    # the env file the target was read from (files it names, e.g. ACCESS_SPEC, are relative to it)
    env_file: Path | None = None

    # ---- construction -------------------------------------------------------------
    @classmethod
    def local(cls, env_file: Path | None = None) -> "Target":
        """The bundled stack, configured by stack/.env (or SUITE_STACK_ENV: a second copy of
        the stack with its own ports and COMPOSE_PROJECT_NAME)."""
        env_file = env_file or local_env_file()
        env = read_env_file(env_file)
        project = env.get("COMPOSE_PROJECT_NAME") or DEFAULT_PROJECT
        bind = env.get("BIND_ADDRESS", "127.0.0.1")
        host = "127.0.0.1" if bind in ("0.0.0.0", "") else bind
        pw = env.get("POSTGRES_PASSWORD", "")
        port = lambda key, default: env.get(key) or default  # noqa: E731
        urls = {
            "gateway": f"http://{host}:{port('GATEWAY_HTTP_PORT', '8000')}",
            "db": f"postgresql://authenticator:{quote(pw, safe='')}@{host}:{port('POSTGRES_HOST_PORT', '54322')}/postgres",
            "redis": f"redis://:{quote(env.get('REDIS_PASSWORD', ''), safe='')}@{host}:{port('REDIS_HOST_PORT', '6379')}/0",
            "prometheus": f"http://{host}:{port('PROMETHEUS_PORT', '9090')}",
            "alertmanager": f"http://{host}:{port('ALERTMANAGER_PORT', '9093')}",
            "grafana": f"http://{host}:{port('GRAFANA_PORT', '3000')}",
            "loki": f"http://{host}:{port('LOKI_PORT', '3100')}",
        }
        from .stack import running_services  # the stack layer builds on this module
        absent, running = {}, running_services(project)
        for svc in ("grafana", "loki"):
            if svc not in running:
                absent[svc] = LOCAL_ONLY_REASON
                urls.pop(svc)
        return cls(name="local", is_local=True, env=env, urls=urls, absent=absent, compose_project=project,
                   env_file=env_file)

    @classmethod
    def from_file(cls, path: Path) -> "Target":
        env = read_env_file(path)
        missing = [k for k in ("SUPABASE_URL", "ANON_KEY", "SERVICE_ROLE_KEY") if not env.get(k)]
        if missing:
            raise TargetConfigError(f"{path}: required keys missing or empty: {', '.join(missing)} "
                                    f"(see docs/targets.md)")
        urls, absent = {}, {}
        for svc, key in SERVICE_KEYS.items():
            value = env.get(key, "").strip()
            if not value or value.lower() == "absent":
                absent[svc] = f"{path.name} declares no {key}"
                continue
            if svc != "db" and svc != "redis" and urlsplit(value).scheme not in ("http", "https"):
                raise TargetConfigError(f"{path}: {key}={value!r} is not an http(s) URL")
            urls[svc] = value.rstrip("/")
        return cls(name=path.name, is_local=False, env=env, urls=urls, absent=absent, env_file=path)

    # ---- accessors ----------------------------------------------------------------
    def url(self, service: str) -> str:
        return self.urls[service]

    def has(self, service: str) -> bool:
        return service in self.urls

    @property
    def anon_key(self) -> str:
        return self.env["ANON_KEY"]

    @property
    def service_key(self) -> str:
        return self.env["SERVICE_ROLE_KEY"]

    @property
    def jwt_secret(self) -> str | None:
        return self.env.get("JWT_SECRET") or None

    @property
    def cors_origins(self) -> list[str]:
        raw = self.env.get("CORS_ALLOWED_ORIGINS", "")
        return [o.strip() for o in raw.split(",") if o.strip()]

    @property
    def exposed_schemas(self) -> list[str]:
        """Schemas the REST API exposes: every table in them must have RLS."""
        return [s.strip() for s in self.env.get("PGRST_DB_SCHEMAS", "public").split(",") if s.strip()]

    def promise(self, key: str, default: float) -> float:
        """A promise the target declares (e.g. RPO_S=300, docs/targets.md), else `default`
        (thresholds.yaml `promises:`); a value that is not a positive number is refused."""
        raw = self.env.get(key, "").strip()
        if not raw:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise TargetConfigError(f"{self.name}: {key}={raw!r} is not a number") from None
        if value <= 0:
            raise TargetConfigError(f"{self.name}: {key}={raw!r} must be positive")
        return value

    @property
    def db_monitor_url(self) -> str | None:
        """A role with pg_monitor (sees every session's state and query): DB_MONITOR_URL, or on
        the local stack its `metrics_reader` on the published port."""
        if self.env.get("DB_MONITOR_URL"):
            return self.env["DB_MONITOR_URL"]
        if not self.is_local or "db" not in self.urls:
            return None
        parts = urlsplit(self.urls["db"])
        # the password stays as quoted in the DB URL
        return parts._replace(netloc=f"metrics_reader:{parts.password or ''}@{parts.hostname}:{parts.port}").geturl()

    def secrets(self) -> list[str]:
        """Every secret value this target knows, for redaction (longest first)."""
        urls = (*self.urls.values(), self.env.get("DB_MONITOR_URL", ""))
        return secret_values(self.env, [urlsplit(url).password or "" for url in urls])


def secret_values(env: dict[str, str], extra: list[str] = ()) -> list[str]:
    """The secret values of an env file (SECRET_KEYS and any key named like a secret, and the
    alert channel URLs whole and their tokens), plus `extra`, for redaction: longest first,
    none shorter than 8."""
    values = [v for k, v in env.items() if k in SECRET_KEYS or any(h in k for h in SECRET_NAME_HINTS)]
    values += list(extra)
    for url in (v for k, v in env.items() if NOTIFY_URL_KEY.match(k) and v):
        parts = urlsplit(url)
        tokens = [parts.username or "", parts.password or "", *parts.path.split("/"),
                  *dict(parse_qsl(parts.query)).values()]
        values += [url, *(t for t in tokens if len(t) >= 16 or not t.isalpha())]  # not "services", "webhooks"
    return sorted({v for v in values if len(v) >= 8}, key=len, reverse=True)


def local_env_file() -> Path:
    """stack/.env, or SUITE_STACK_ENV naming a second copy of the bundled stack."""
    return Path(os.environ.get("SUITE_STACK_ENV") or STACK / ".env")


def load(target_file: str | None) -> Target:
    """The target named on the command line or in SUITE_TARGET, else the local stack."""
    target_file = target_file or os.environ.get("SUITE_TARGET")
    if target_file:
        return Target.from_file(Path(target_file))
    return Target.local()
