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
