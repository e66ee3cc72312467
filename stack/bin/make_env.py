#!/usr/bin/env python3
"""Create stack/.env with fresh secrets, once; never overwrite an existing one.

Standard library only, so `make up` works before any virtualenv exists. Also writes
stack/.secrets/realtime-metrics.jwt (derived from JWT_SECRET) for Prometheus' scrape
of Realtime's /metrics, which upstream protects with a JWT.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

STACK = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(STACK.parent))  # suite.target needs only the standard library
from suite.target import TargetConfigError, read_env_file  # noqa: E402 - the one env-file reader

KEY_LIFETIME_S = 5 * 365 * 24 * 3600  # keys are rotated by regenerating .env
REQUIRED = ("POSTGRES_PASSWORD", "JWT_SECRET", "ANON_KEY", "SERVICE_ROLE_KEY", "REDIS_PASSWORD")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign_jwt(claims: dict, secret: str) -> str:
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = b64url(json.dumps(claims, separators=(",", ":")).encode())
    sig = hmac.new(secret.encode(), f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{b64url(sig)}"


def service_key(role: str, secret: str, now: int) -> str:
    return sign_jwt({"role": role, "iss": "supabase", "iat": now, "exp": now + KEY_LIFETIME_S}, secret)


def fresh_values() -> dict[str, str]:
    now = int(time.time())
    jwt_secret = secrets.token_urlsafe(48)  # 64 characters
    return {
        "POSTGRES_PASSWORD": secrets.token_urlsafe(24),
        "JWT_SECRET": jwt_secret,
        "ANON_KEY": service_key("anon", jwt_secret, now),
        "SERVICE_ROLE_KEY": service_key("service_role", jwt_secret, now),
        "REDIS_PASSWORD": secrets.token_urlsafe(24),
        "DASHBOARD_PASSWORD": secrets.token_urlsafe(18),
        "GRAFANA_ADMIN_PASSWORD": secrets.token_urlsafe(18),
        "SECRET_KEY_BASE": secrets.token_urlsafe(48),
    }


def render(example: str, values: dict[str, str]) -> str:
    """The example file with generated secrets filled in; comments and order kept."""
    out = []
    for line in example.splitlines():
        key, sep, _ = line.partition("=")
        if sep and not line.lstrip().startswith("#") and key.strip() in values:
            line = f"{key.strip()}={values[key.strip()]}"
        out.append(line)
    return "\n".join(out) + "\n"


def write_private(path: Path, text: str, mode: int = 0o600, exclusive: bool = True) -> None:
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def existing_db_volume() -> str | None:
    """The Compose project's database volume, when one exists: fresh secrets would not open it."""
    volume = "supabase-acceptance_db-data"  # `name:` in compose.yaml + the volume's name
    try:
        found = subprocess.run(["docker", "volume", "inspect", volume], capture_output=True, timeout=15)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return volume if found.returncode == 0 else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--env-file", type=Path, default=STACK / ".env")
    args = parser.parse_args()
    env_file: Path = args.env_file

    if env_file.exists():
        try:
            values = read_env_file(env_file)
        except TargetConfigError as exc:
            print(f"{exc} — the file is left as it is.", file=sys.stderr)
            return 2
        missing = [k for k in REQUIRED if not values.get(k)]
        if missing:
            print(f"{env_file}: missing required keys {', '.join(missing)}; "
                  f"add them (see {STACK / '.env.example'}) — the file is left as it is.",
                  file=sys.stderr)
            return 2
        print(f"{env_file}: exists, kept as it is")
    else:
        volume = existing_db_volume()
        if volume:
            print(f"{env_file} does not exist, but the stack's database volume {volume} does: its "
                  f"passwords are in the lost env file. Put that file back, or delete the old data "
                  f"with `make down-volumes` — nothing was written.", file=sys.stderr)
            return 2
        values = fresh_values()
        write_private(env_file, render((STACK / ".env.example").read_text(), values))
        print(f"{env_file}: created with fresh secrets (mode 600)")

    # Derived, not user data: rewritten each time so it follows JWT_SECRET. Mode 644 so
    # the non-root Prometheus container can read the bind-mounted file; the folder is 700.
    secrets_dir = STACK / ".secrets"
    secrets_dir.mkdir(mode=0o700, exist_ok=True)
    os.chmod(secrets_dir, 0o700)
    now = int(time.time())
    token = sign_jwt({"role": "prometheus", "iss": "supabase", "iat": now,
                      "exp": now + KEY_LIFETIME_S}, values["JWT_SECRET"])
    write_private(secrets_dir / "realtime-metrics.jwt", token, mode=0o644, exclusive=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
