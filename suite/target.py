"""The target model: which services a stack has, where they answer, and its keys.

One model for every layer (pytest and Locust). A target is either the bundled local stack
(read from stack/.env) or a deployed stack described by an env file (docs/targets.md).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

from . import stack

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
               "REDIS_PASSWORD", "DASHBOARD_PASSWORD", "GRAFANA_ADMIN_PASSWORD", "SECRET_KEY_BASE")


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
        absent = {}
        for svc in ("grafana", "loki"):
            if not stack.running(project, svc):
                absent[svc] = LOCAL_ONLY_REASON
                urls.pop(svc)
        return cls(name="local", is_local=True, env=env, urls=urls, absent=absent, compose_project=project)

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
        return cls(name=path.name, is_local=False, env=env, urls=urls, absent=absent)

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

    @property
    def realtime_tenant(self) -> str:
        return self.env.get("REALTIME_TENANT", "realtime-dev")

    def secrets(self) -> list[str]:
        """Every secret value this target knows, for redaction (longest first)."""
        values = [self.env[k] for k in SECRET_KEYS if len(self.env.get(k, "")) >= 8]
        for url in self.urls.values():
            password = urlsplit(url).password
            if password and len(password) >= 8:
                values.append(password)
        return sorted(set(values), key=len, reverse=True)


def local_env_file() -> Path:
    """stack/.env, or SUITE_STACK_ENV naming a second copy of the bundled stack."""
    return Path(os.environ.get("SUITE_STACK_ENV") or STACK / ".env")


def load(target_file: str | None) -> Target:
    """The target named on the command line or in SUITE_TARGET, else the local stack."""
    target_file = target_file or os.environ.get("SUITE_TARGET")
    if target_file:
        return Target.from_file(Path(target_file))
    return Target.local()
