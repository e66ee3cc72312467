"""Secrets hygiene: the target's env file (stack/.env for the local stack), its JWT secret
and API keys, and the repository's stack files (no demo values, no committed JWTs)."""
import subprocess
import warnings

import pytest

from suite.checks import secrets
from suite.target import ROOT, STACK


@pytest.fixture(scope="module")
def jwt_secret(infra_target):
    if not infra_target.jwt_secret:
        pytest.skip(f"{infra_target.name} declares no JWT_SECRET: key signatures cannot be checked")
    return infra_target.jwt_secret


def test_env_file_is_owner_only(target_env_path):
    """Catches: the env file holding every secret readable by group or others (mode 644)."""
    problems = secrets.check_env_file_mode(str(target_env_path), target_env_path.stat().st_mode)
    assert not problems, "\n".join(problems)


def test_jwt_secret_is_long_and_not_a_demo_value(jwt_secret):
    """Catches: a JWT secret shorter than 32 characters, or upstream's demo secret."""
    problems = secrets.check_jwt_secret(jwt_secret)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name,role", [("ANON_KEY", "anon"), ("SERVICE_ROLE_KEY", "service_role")])
def test_api_key_verifies_and_is_current(infra_target, jwt_secret, name, role):
    """Catches: a key signed with another secret, with the wrong role claim, without exp or
    expired; warns when it expires within 30 days."""
    problems, notes = secrets.check_key(name, infra_target.env[name], jwt_secret, role)
    for note in notes:
        warnings.warn(note)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", ["ANON_KEY", "SERVICE_ROLE_KEY"])
def test_api_key_is_not_an_upstream_demo_key(infra_target, name):
    """Catches: the public demo keys of upstream's .env.example (anyone can use them; they
    stop working on 2027-01-09)."""
    problems = secrets.check_not_demo_key(name, infra_target.env[name])
    assert not problems, "\n".join(problems)


def test_prod_overlay_has_no_demo_values():
    """Catches: a demo key, the demo JWT secret or a default password written into stack/compose.prod.yaml."""
    path = STACK / "compose.prod.yaml"
    problems = secrets.check_no_demo_values("stack/compose.prod.yaml", path.read_text())
    assert not problems, "\n".join(problems)


def test_no_secrets_committed_under_stack():
    """Catches: a JWT (eyJ...) or a demo value in a git-tracked file under stack/
    (stack/.env and stack/.secrets/ are gitignored)."""
    out = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others",
                          "--exclude-standard", "stack"], capture_output=True, text=True, timeout=10)
    if out.returncode != 0:
        pytest.skip(f"not a git checkout: {out.stderr.strip()}")
    files = {}
    for rel in filter(None, out.stdout.split("\0")):
        path = ROOT / rel
        try:
            files[rel] = path.read_text()
        except (UnicodeDecodeError, OSError):
            continue  # binary or vanished
    problems = secrets.check_no_committed_jwts(files)
    assert not problems, "\n".join(problems)
