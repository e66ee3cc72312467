"""Configuration of the auth stand-in, read from GoTrue's environment variables.

Only the variables the self-hosted stack sets (plus a few GoTrue knobs that change
behaviour a client can see) are read; defaults are GoTrue's.
"""
from __future__ import annotations

import dataclasses
import os
import re
from typing import Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_TRUE = {"1", "t", "true", "y", "yes", "on"}


def _bool(env: Mapping[str, str], key: str, default: bool) -> bool:
    raw = env.get(key)
    if raw is None or raw.strip() == "":
        return default
    return raw.strip().lower() in _TRUE


def _int(env: Mapping[str, str], key: str, default: int) -> int:
    raw = env.get(key)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw.strip())
    except ValueError:
        raise ValueError(f"{key} must be an integer, got {raw!r}") from None


def _list(env: Mapping[str, str], key: str, default: list[str], sep: str = ",") -> list[str]:
    raw = env.get(key)
    if raw is None or raw.strip() == "":
        return list(default)
    return [p.strip() for p in raw.split(sep) if p.strip()]


# libpq accepts these as URI query parameters; anything else (GoTrue's own
# `search_path=auth`, pop's `pool=`) must not reach libpq or it refuses the URI.
_LIBPQ_PARAMS = {
    "application_name", "connect_timeout", "options", "sslmode", "sslcert", "sslkey",
    "sslrootcert", "sslcrl", "target_session_attrs", "keepalives", "keepalives_idle",
    "keepalives_interval", "keepalives_count", "gssencmode", "channel_binding",
    "host", "port", "dbname", "user", "password", "client_encoding",
}


def libpq_conninfo(url: str) -> str:
    """Turn a GoTrue database URL into one libpq accepts.

    `search_path=x` (which GoTrue's URLs often carry) becomes `options=-csearch_path=x`;
    other parameters libpq does not know are dropped.
    """
    if "://" not in url:
        return url  # key=value conninfo: pass through
    parts = urlsplit(url)
    kept: list[tuple[str, str]] = []
    search_path = None
    for k, v in parse_qsl(parts.query, keep_blank_values=True):
        if k == "search_path":
            search_path = v
        elif k in _LIBPQ_PARAMS:
            kept.append((k, v))
    if search_path:
        opts = [v for k, v in kept if k == "options"]
        kept = [(k, v) for k, v in kept if k != "options"]
        kept.append(("options", " ".join(opts + [f"-csearch_path={search_path}"])))
    scheme = "postgresql" if parts.scheme in ("postgres", "postgresql") else parts.scheme
    return urlunsplit((scheme, parts.netloc, parts.path, urlencode(kept), ""))


@dataclasses.dataclass(frozen=True)
class Config:
    api_host: str = "0.0.0.0"
    api_port: int = 9999
    external_url: str = "http://localhost:9999"
    db_url: str = ""
    db_max_pool_size: int = 10
    site_url: str = "http://localhost:3000"
    disable_signup: bool = False
    jwt_secret: str = ""
    jwt_exp: int = 3600
    jwt_aud: str = "authenticated"
    jwt_default_group: str = "authenticated"
    jwt_admin_roles: tuple[str, ...] = ("service_role", "supabase_admin")
    jwt_issuer: str = ""
    jwt_kid: str = ""
    mailer_autoconfirm: bool = False
    external_email_enabled: bool = True
    external_phone_enabled: bool = False
    password_min_length: int = 6
    password_required_characters: tuple[str, ...] = ()
    refresh_token_rotation_enabled: bool = True
    refresh_token_reuse_interval: int = 10
    metrics_enabled: bool = False
    metrics_host: str = "0.0.0.0"
    metrics_port: int = 9100
    version: str = "v2.0.0-standin"

    @property
    def issuer(self) -> str:
        if self.jwt_issuer:
            return self.jwt_issuer
        base = self.external_url.rstrip("/")
        return base if base.endswith("/auth/v1") else base + "/auth/v1"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Config":
        env = os.environ if env is None else env
        db_url = env.get("GOTRUE_DB_DATABASE_URL") or env.get("DATABASE_URL") or ""
        secret = env.get("GOTRUE_JWT_SECRET", "")
        if not secret:
            raise ValueError("GOTRUE_JWT_SECRET is required")
        if not db_url:
            raise ValueError("GOTRUE_DB_DATABASE_URL is required")
        min_len = _int(env, "GOTRUE_PASSWORD_MIN_LENGTH", 6)
        if min_len < 6:  # GoTrue never goes below its default
            min_len = 6
        # GoTrue separates required character sets with ':' ("abc:ABC:0123")
        req_chars = tuple(_list(env, "GOTRUE_PASSWORD_REQUIRED_CHARACTERS", [], sep=":"))
        metrics = _bool(env, "GOTRUE_METRICS_ENABLED", False)
        return cls(
            api_host=env.get("GOTRUE_API_HOST", "") or "0.0.0.0",
            api_port=_int(env, "GOTRUE_API_PORT", _int(env, "PORT", 9999)),
            external_url=env.get("API_EXTERNAL_URL", "") or "http://localhost:9999",
            db_url=db_url,
            db_max_pool_size=max(2, _int(env, "GOTRUE_DB_MAX_POOL_SIZE", 10)),
            site_url=env.get("GOTRUE_SITE_URL", "") or "http://localhost:3000",
            disable_signup=_bool(env, "GOTRUE_DISABLE_SIGNUP", False),
            jwt_secret=secret,
            jwt_exp=_int(env, "GOTRUE_JWT_EXP", 3600),
            jwt_aud=env.get("GOTRUE_JWT_AUD", "") or "authenticated",
            jwt_default_group=env.get("GOTRUE_JWT_DEFAULT_GROUP_NAME", "") or "authenticated",
            jwt_admin_roles=tuple(_list(env, "GOTRUE_JWT_ADMIN_ROLES", ["service_role", "supabase_admin"])),
            jwt_issuer=env.get("GOTRUE_JWT_ISSUER", ""),
            jwt_kid=env.get("GOTRUE_JWT_KEYID", ""),
            mailer_autoconfirm=_bool(env, "GOTRUE_MAILER_AUTOCONFIRM", False),
            external_email_enabled=_bool(env, "GOTRUE_EXTERNAL_EMAIL_ENABLED", True),
            external_phone_enabled=False,  # no SMS provider in the stand-in
            password_min_length=min_len,
            password_required_characters=req_chars,
            refresh_token_rotation_enabled=_bool(env, "GOTRUE_SECURITY_REFRESH_TOKEN_ROTATION_ENABLED", True),
            refresh_token_reuse_interval=_int(env, "GOTRUE_SECURITY_REFRESH_TOKEN_REUSE_INTERVAL", 10),
            metrics_enabled=metrics,
            metrics_host=env.get("GOTRUE_METRICS_PROMETHEUS_LISTEN_HOST", "") or "0.0.0.0",
            metrics_port=_int(env, "GOTRUE_METRICS_PROMETHEUS_LISTEN_PORT", 9100),
        )


_GO_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_go_duration(text: str) -> float:
    """Parse a Go duration string ("24h", "1h30m", "90s", "0") into seconds."""
    s = text.strip()
    if s in ("0", "+0", "-0"):
        return 0.0
    sign = 1.0
    if s[:1] in "+-":
        sign = -1.0 if s[0] == "-" else 1.0
        s = s[1:]
    if not s:
        raise ValueError(f'time: invalid duration "{text}"')
    pos, total = 0, 0.0
    while pos < len(s):
        m = _GO_DURATION.match(s, pos)
        if not m:
            raise ValueError(f'time: invalid duration "{text}"')
        total += float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
        pos = m.end()
    return sign * total
