"""Auth's published settings and the tokens it issues, against what the target declares
(ENVIRONMENT, AUTH_AUTOCONFIRM, AUTH_DISABLE_SIGNUP, AUTH_ANONYMOUS_USERS; production
defaults when it declares production). Judges: suite/checks/auth_settings.py."""
import jwt
import pytest

from suite.checks import auth_settings
from suite.thresholds import LIMITS


@pytest.fixture(scope="module")
def declared(target) -> auth_settings.Declared:
    return auth_settings.declared(target.env, target.is_local)


def test_published_settings_are_as_declared(gateway, declared):
    """Catches: autoconfirm on in production or unlike AUTH_AUTOCONFIRM, anonymous sign-ins
    on without AUTH_ANONYMOUS_USERS=true, signup open or closed unlike AUTH_DISABLE_SIGNUP."""
    r = gateway.get("/auth/v1/settings")
    assert r.status_code == 200, f"GET /auth/v1/settings: HTTP {r.status_code} {r.text[:200]}"
    problems = auth_settings.check_published_settings(r.json(), declared)
    assert not problems, "\n".join(problems)


def test_access_tokens_expire_within_the_bound(user_a):
    """Catches: access tokens living longer than thresholds.yaml allows (a stolen token
    stays usable; GOTRUE_JWT_EXP raised), judged on a token auth just issued."""
    claims = jwt.decode(user_a.access_token, options={"verify_signature": False})
    problems = auth_settings.check_token_lifetime(claims, LIMITS.hardening.jwt_expiry_max_s)
    assert not problems, "\n".join(problems)
