"""The secrets checks catch each seeded misconfiguration: env file mode, weak or demo JWT
secret, keys signed elsewhere, expired or expiring, demo keys, committed JWTs."""
import time

import jwt
import pytest

from suite.checks import secrets

SECRET = "a-fresh-unit-test-secret-that-is-48-characters!!"
NOW = 1_900_000_000


def key(role="anon", secret=SECRET, exp=NOW + 365 * 86400, **extra):
    claims = {"role": role, "iss": "supabase", "iat": NOW - 10, **extra}
    if exp is not None:
        claims["exp"] = exp
    return jwt.encode(claims, secret, algorithm="HS256")


def test_good_values_pass(tmp_path):
    env = tmp_path / ".env"
    env.write_text("X=1\n")
    env.chmod(0o600)
    assert secrets.check_env_file_mode(".env", env.stat().st_mode) == []
    assert secrets.check_jwt_secret(SECRET) == []
    assert secrets.check_key("ANON_KEY", key(), SECRET, "anon", now=NOW) == ([], [])


def test_env_file_mode_644(tmp_path):
    """Seeded: stack/.env with mode 644."""
    env = tmp_path / ".env"
    env.write_text("X=1\n")
    env.chmod(0o644)
    assert secrets.check_env_file_mode("stack/.env", env.stat().st_mode) == [
        "stack/.env: mode 644, expected 600 (group or others can read the secrets)"]


def test_short_jwt_secret():
    """Seeded: a 20-character JWT secret."""
    assert secrets.check_jwt_secret("x" * 20) == ["JWT_SECRET: 20 characters, at least 32 required"]


@pytest.mark.parametrize("demo", sorted(secrets.DEMO_JWT_SECRETS))
def test_demo_jwt_secret(demo):
    """Seeded: upstream's demo JWT secret (docker/.env.example, and the CLI's)."""
    assert secrets.check_jwt_secret(demo) == [
        "JWT_SECRET: is the upstream demo secret (anyone can sign service_role tokens)"]


def test_key_signed_with_another_secret():
    """Seeded: an anon key signed with a different secret."""
    problems, _ = secrets.check_key("ANON_KEY", key(secret="another-secret-of-more-than-32-characters"),
                                    SECRET, "anon", now=NOW)
    assert problems == ["ANON_KEY: signature does not verify with JWT_SECRET (signed with another secret)"]


def test_key_with_wrong_role():
    """Seeded: SERVICE_ROLE_KEY carrying role anon."""
    problems, _ = secrets.check_key("SERVICE_ROLE_KEY", key(role="anon"), SECRET, "service_role", now=NOW)
    assert problems == ["SERVICE_ROLE_KEY: claim role='anon', expected 'service_role'"]


def test_expired_key():
    """Seeded: an anon key that expired a day ago."""
    exp = NOW - 86400
    problems, _ = secrets.check_key("ANON_KEY", key(exp=exp), SECRET, "anon", now=NOW)
    assert problems == [f"ANON_KEY: expired at {time.strftime('%Y-%m-%d %H:%M:%SZ', time.gmtime(exp))}"]


def test_key_without_expiry():
    """Seeded: a key with no exp claim."""
    problems, _ = secrets.check_key("ANON_KEY", key(exp=None), SECRET, "anon", now=NOW)
    assert problems == ["ANON_KEY: no exp claim (a key that never expires cannot be retired)"]


def test_key_expiring_soon_is_a_warning():
    """Seeded: a key expiring in 10 days: a warning, not a failure."""
    problems, warnings = secrets.check_key("ANON_KEY", key(exp=NOW + 10 * 86400), SECRET, "anon", now=NOW)
    assert problems == [] and len(warnings) == 1 and warnings[0].startswith("ANON_KEY: expires in 10 days")


def test_upstream_demo_keys():
    """Seeded: the upstream demo ANON_KEY / SERVICE_ROLE_KEY (they verify with the demo secret
    and expire 2027-01-09)."""
    demo_anon = next(k for k in secrets.DEMO_ANON_KEYS if "eyAgCiAg" in k)
    demo_secret = "your-super-secret-jwt-token-with-at-least-32-characters-long"
    now = time.mktime((2026, 1, 1, 0, 0, 0, 0, 0, 0))
    problems, _ = secrets.check_key("ANON_KEY", demo_anon, demo_secret, "anon", now=now)
    assert problems == ["ANON_KEY: is an upstream demo key (public, signed with the demo secret, expires 2027-01-09)"]
    for demo in secrets.DEMO_SERVICE_KEYS:
        assert secrets.check_not_demo_key("SERVICE_ROLE_KEY", demo) != []


def test_demo_values_in_prod_overlay():
    """Seeded: the demo postgres password written into a copy of compose.prod.yaml."""
    text = "services:\n  db:\n    environment:\n      POSTGRES_PASSWORD: your-super-secret-and-long-postgres-password\n"
    assert secrets.check_no_demo_values("stack/compose.prod.yaml", text) == [
        "stack/compose.prod.yaml:4: upstream demo value your-super-s..."]


def test_committed_jwt():
    """Seeded: a tracked file under stack/ holding a JWT."""
    files = {"stack/ok.yml": "key: $SUPABASE_ANON_KEY\n", "stack/leak.env": f"ANON_KEY={key()}\n"}
    assert secrets.check_no_committed_jwts(files) == [
        "stack/leak.env:1: a JWT is committed (keys belong in the gitignored stack/.env)"]


# ---- every secret the stack reads, live (issue 13) -------------------------------------------
GOOD = {"POSTGRES_PASSWORD": ("p" * 32, "db container's POSTGRES_PASSWORD"),
        "SECRET_KEY_BASE": ("k" * 64, "realtime container's SECRET_KEY_BASE"),
        "REALTIME_DB_ENC_KEY": ("e" * 16, "realtime container's DB_ENC_KEY"),
        "DASHBOARD_PASSWORD": ("d" * 24, "gateway container's DASHBOARD_PASSWORD")}


def test_stack_secrets_pass():
    assert secrets.check_stack_secrets(GOOD, 16, production=True) == ([], [])


def test_stack_secrets_demo_values_and_lengths():
    """Seeded: upstream's demo DASHBOARD_PASSWORD and SECRET_KEY_BASE, a 10-character Redis
    password, an empty Grafana password."""
    values = {**GOOD,
              "DASHBOARD_PASSWORD": ("this_password_is_insecure_and_should_be_updated", "stack/.env"),
              "SECRET_KEY_BASE": ("UpNVntn3cDxHJpq99YMc1T1AQgQpc8kfYTuRgBiYa15BLrx8etQoXz3gZv1/u2oq",
                                  "realtime container's SECRET_KEY_BASE"),
              "REDIS_PASSWORD": ("0123456789", "redis container's REDISCLI_AUTH"),
              "GRAFANA_ADMIN_PASSWORD": ("", "stack/.env")}
    problems, warnings = secrets.check_stack_secrets(values, 16, production=False)
    assert problems == [
        "DASHBOARD_PASSWORD (stack/.env): is an upstream demo value (published in supabase docker/.env.example "
        "or its compose file): replace it",
        "GRAFANA_ADMIN_PASSWORD (stack/.env): empty: generate one (stack/bin/make_env.py) and redeploy",
        "REDIS_PASSWORD (redis container's REDISCLI_AUTH): 10 characters, at least 16 required: generate a longer one",
        "SECRET_KEY_BASE (realtime container's SECRET_KEY_BASE): is an upstream demo value (published in supabase "
        "docker/.env.example or its compose file): replace it"]
    assert warnings == []
    assert all("insecure" not in p and "UpNV" not in p for p in problems), "values never appear"


def test_secret_key_base_needs_64_characters():
    """Seeded: a 48-character SECRET_KEY_BASE."""
    values = {"SECRET_KEY_BASE": ("k" * 48, "stack/.env")}
    assert secrets.check_stack_secrets(values, 16, production=True)[0] == [
        "SECRET_KEY_BASE (stack/.env): 48 characters, at least 64 required: generate a longer one"]


def test_realtime_enc_key_demo_value_is_a_warning_outside_production():
    """Seeded: realtime's fixed upstream DB_ENC_KEY: a warning in development, a problem in production."""
    values = {"REALTIME_DB_ENC_KEY": ("supabaserealtime", "realtime container's DB_ENC_KEY")}
    note = ("REALTIME_DB_ENC_KEY (realtime container's DB_ENC_KEY): is an upstream demo value (published in "
            "supabase docker/.env.example or its compose file): replace it")
    assert secrets.check_stack_secrets(values, 16, production=True) == ([note], [])
    problems, warnings = secrets.check_stack_secrets(values, 16, production=False)
    assert problems == [] and warnings[0].startswith(note + " before production")


def test_stack_secret_values_prefer_the_running_containers():
    envs = {"db": {"POSTGRES_PASSWORD": "live-db"}, "realtime": {"SECRET_KEY_BASE": "live-skb"}}
    file_env = {"POSTGRES_PASSWORD": "file-db", "GRAFANA_ADMIN_PASSWORD": "file-grafana", "SECRET_KEY_BASE": "f"}
    values = secrets.stack_secret_values(envs.get, file_env, "stack/.env")
    assert values == {"POSTGRES_PASSWORD": ("live-db", "db container's POSTGRES_PASSWORD"),
                      "SECRET_KEY_BASE": ("live-skb", "realtime container's SECRET_KEY_BASE"),
                      "GRAFANA_ADMIN_PASSWORD": ("file-grafana", "stack/.env")}
