"""Secrets hygiene: the env file's mode, the JWT secret, the two API keys, and demo values
or committed JWTs in the repository's stack files. Pure functions of values and texts
(the file mode check takes the mode)."""
from __future__ import annotations

import re
import stat
import time

import jwt

# Upstream supabase/supabase docker/.env.example (keys expire 2027-01-09T23:00:00Z,
# iss supabase-demo) and the Supabase CLI's local-development values (iss supabase-demo, exp 2032-11-11).
DEMO_JWT_SECRETS = frozenset({
    "your-super-secret-jwt-token-with-at-least-32-characters-long",
    "super-secret-jwt-token-with-at-least-32-characters-long",
})
DEMO_ANON_KEYS = frozenset({
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyAgCiAgICAicm9sZSI6ICJhbm9uIiwKICAgICJpc3MiOiAic3VwYWJhc2UtZGVtbyIsCiAgICAiaWF0IjogMTY0MTc2OTIwMCwKICAgICJleHAiOiAxNzk5NTM1NjAwCn0.dc_X5iR_VP_qT0zsiyj_I_OZ2T9FtRU2BBNWN8Bu4GE",
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6ImFub24iLCJleHAiOjE5ODM4MTI5OTZ9.CRXP1A7WOeoJeXxjNni43kdQwgnWNReilDMblYTn_I0",
})
DEMO_SERVICE_KEYS = frozenset({
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyAgCiAgICAicm9sZSI6ICJzZXJ2aWNlX3JvbGUiLAogICAgImlzcyI6ICJzdXBhYmFzZS1kZW1vIiwKICAgICJpYXQiOiAxNjQxNzY5MjAwLAogICAgImV4cCI6IDE3OTk1MzU2MDAKfQ.DaYlNEoUrrEn2Ig7tqibS-PHK5vgusbcbo7X36XVt4Q",
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6InNlcnZpY2Vfcm9sZSIsImV4cCI6MTk4MzgxMjk5Nn0.EGIM96RAZx35lJzdJsyH-qQwv8Hdp7fsn3W0YpN81IU",
})
# Default passwords and keys of upstream's .env.example.
DEMO_PASSWORDS = frozenset({
    "your-super-secret-and-long-postgres-password",
    "this_password_is_insecure_and_should_be_updated",
    "UpNVntn3cDxHJpq99YMc1T1AQgQpc8kfYTuRgBiYa15BLrx8etQoXz3gZv1/u2oq",
    "your-32-character-encryption-key",
    "your-encryption-key-32-chars-min",
    "your-super-secret-and-long-logflare-key-public",
    "your-super-secret-and-long-logflare-key-private",
})
DEMO_VALUES = DEMO_JWT_SECRETS | DEMO_ANON_KEYS | DEMO_SERVICE_KEYS | DEMO_PASSWORDS
MIN_JWT_SECRET = 32
EXPIRY_WARNING_DAYS = 30
JWT_LIKE = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}|"
                      r"eyJ[A-Za-z0-9_-]{8,}\.ey[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")


def check_env_file_mode(where: str, mode: int) -> list[str]:
    """The env file holds every secret: owner-only (600 or stricter)."""
    perms = stat.S_IMODE(mode)
    if perms & 0o077:
        return [f"{where}: mode {perms:o}, expected 600 (group or others can read the secrets)"]
    return []


def check_jwt_secret(secret: str, where: str = "JWT_SECRET") -> list[str]:
    problems = []
    if len(secret) < MIN_JWT_SECRET:
        problems.append(f"{where}: {len(secret)} characters, at least {MIN_JWT_SECRET} required")
    if secret in DEMO_JWT_SECRETS:
        problems.append(f"{where}: is the upstream demo secret (anyone can sign service_role tokens)")
    return problems


def check_not_demo_key(name: str, token: str) -> list[str]:
    if token in DEMO_ANON_KEYS | DEMO_SERVICE_KEYS:
        return [f"{name}: is an upstream demo key (public, signed with the demo secret, expires 2027-01-09)"]
    return []


def check_key(name: str, token: str, secret: str, role: str, now: float | None = None,
              warn_days: int = EXPIRY_WARNING_DAYS) -> tuple[list[str], list[str]]:
    """(problems, warnings) for an API key: signed with `secret` (HS256), claim `role`,
    an `exp` in the future; a warning when it expires within `warn_days`."""
    now = time.time() if now is None else now
    problems, warnings = check_not_demo_key(name, token), []
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"],
                            options={"verify_exp": False, "verify_aud": False, "verify_iat": False})
    except jwt.InvalidSignatureError:
        return problems + [f"{name}: signature does not verify with JWT_SECRET (signed with another secret)"], warnings
    except jwt.PyJWTError as exc:
        return problems + [f"{name}: not a valid HS256 JWT ({type(exc).__name__})"], warnings
    if claims.get("role") != role:
        problems.append(f"{name}: claim role={claims.get('role')!r}, expected {role!r}")
    exp = claims.get("exp")
    if not isinstance(exp, (int, float)):
        problems.append(f"{name}: no exp claim (a key that never expires cannot be retired)")
    elif exp <= now:
        problems.append(f"{name}: expired at {time.strftime('%Y-%m-%d %H:%M:%SZ', time.gmtime(exp))}")
    elif exp - now < warn_days * 86400:
        warnings.append(f"{name}: expires in {(exp - now) / 86400:.0f} days "
                        f"({time.strftime('%Y-%m-%d', time.gmtime(exp))}): rotate the keys")
    return problems, warnings


def check_no_demo_values(where: str, text: str) -> list[str]:
    """No upstream demo key, secret or default password anywhere in `text`."""
    problems = []
    for n, line in enumerate(text.splitlines(), 1):
        for value in DEMO_VALUES:
            if value in line:
                problems.append(f"{where}:{n}: upstream demo value {value[:12]}...")
    return problems


def check_no_committed_jwts(files: dict[str, str]) -> list[str]:
    """No JWT-looking string (eyJ...) nor demo value in the given tracked files."""
    problems = []
    for path, text in sorted(files.items()):
        for n, line in enumerate(text.splitlines(), 1):
            if JWT_LIKE.search(line):
                problems.append(f"{path}:{n}: a JWT is committed (keys belong in the gitignored stack/.env)")
        problems += check_no_demo_values(path, text)
    return problems


# Every secret the stack reads: where the running stack holds it (service, variable in its
# container's environment) and its minimum length (None: thresholds.yaml
# hardening.secret_min_length). The env file is the fallback where no container is read.
STACK_SECRETS = {
    "POSTGRES_PASSWORD": ("db", "POSTGRES_PASSWORD", None),
    "JWT_SECRET": ("auth", "GOTRUE_JWT_SECRET", MIN_JWT_SECRET),
    "ANON_KEY": ("gateway", "SUPABASE_ANON_KEY", None),
    "SERVICE_ROLE_KEY": ("gateway", "SUPABASE_SERVICE_KEY", None),
    "DASHBOARD_PASSWORD": ("gateway", "DASHBOARD_PASSWORD", None),
    "SECRET_KEY_BASE": ("realtime", "SECRET_KEY_BASE", 64),  # Phoenix signs sessions with it; upstream asks 64
    "REDIS_PASSWORD": ("redis", "REDISCLI_AUTH", None),
    "GRAFANA_ADMIN_PASSWORD": ("grafana", "GF_SECURITY_ADMIN_PASSWORD", None),
    "REALTIME_DB_ENC_KEY": ("realtime", "DB_ENC_KEY", 16),  # AES-128 key of tenant credentials at rest
}
# Judged in the running stack only (not in files: stack/compose.yaml keeps upstream's value for
# the non-production sets): upstream realtime's fixed self-host DB_ENC_KEY.
DEMO_LIVE_VALUES = DEMO_VALUES | {"supabaserealtime"}
# Demo values tolerated outside production, with the reason (a warning there instead).
DEMO_TOLERATED_OUTSIDE_PRODUCTION = {
    "REALTIME_DB_ENC_KEY": "upstream realtime's fixed self-host value; compose.prod.yaml requires "
                           "${REALTIME_DB_ENC_KEY}",
}


def check_stack_secrets(values: dict[str, tuple[str, str]], min_length: int, production: bool
                        ) -> tuple[list[str], list[str]]:
    """(problems, warnings) for {secret name: (value, where it was read)}: no upstream demo
    value, no empty value, at least the secret's minimum length. Values never appear."""
    problems, warnings = [], []
    for name, (value, where) in sorted(values.items()):
        label = f"{name} ({where})"
        if not value:
            problems.append(f"{label}: empty: generate one (stack/bin/make_env.py) and redeploy")
            continue
        if value in DEMO_LIVE_VALUES:
            note = (f"{label}: is an upstream demo value (published in supabase docker/.env.example or its "
                    f"compose file): replace it")
            if not production and name in DEMO_TOLERATED_OUTSIDE_PRODUCTION:
                warnings.append(f"{note} before production ({DEMO_TOLERATED_OUTSIDE_PRODUCTION[name]})")
            else:
                problems.append(note)
        needed = STACK_SECRETS.get(name, (None, None, None))[2] or min_length
        if not value.startswith("eyJ") and len(value) < needed:
            problems.append(f"{label}: {len(value)} characters, at least {needed} required: generate a longer one")
    return problems, warnings


def stack_secret_values(env_of, file_env: dict[str, str], file_label: str) -> dict[str, tuple[str, str]]:
    """{secret name: (value, where read)} for STACK_SECRETS: from the running container that
    uses it (`env_of(service)` -> its environment, or None), else from the target's env file."""
    out = {}
    for name, (service, variable, _) in STACK_SECRETS.items():
        env = env_of(service) if env_of else None
        if env is not None and variable in env:
            out[name] = (env[variable], f"{service} container's {variable}")
        elif name in file_env:
            out[name] = (file_env[name], file_label)
    return out
