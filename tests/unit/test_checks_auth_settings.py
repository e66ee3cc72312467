"""The auth settings judges: published settings against the target's declaration (with the
production defaults), a token's lifetime, and the auth service's environment."""
from suite.checks import auth_settings as a

W = "auth /auth/v1/settings"
DEV_SETTINGS = {"external": {"anonymous_users": False, "email": True}, "disable_signup": False,
                "mailer_autoconfirm": True}
PROD_SETTINGS = {"external": {"anonymous_users": False, "email": True}, "disable_signup": True,
                 "mailer_autoconfirm": False}
PROD_ENV = {"ENVIRONMENT": "production", "AUTH_AUTOCONFIRM": "false", "AUTH_DISABLE_SIGNUP": "true"}
GOOD_AUTH_ENV = {"GOTRUE_SMTP_HOST": "smtp.example.test", "GOTRUE_SMTP_ADMIN_EMAIL": "admin@example.test",
                 "GOTRUE_JWT_EXP": "3600", "GOTRUE_PASSWORD_MIN_LENGTH": "8",
                 "GOTRUE_SECURITY_REFRESH_TOKEN_ROTATION_ENABLED": "true"}


def test_the_bundled_dev_declaration_passes():
    d = a.declared({"AUTH_AUTOCONFIRM": "true", "AUTH_DISABLE_SIGNUP": "false"}, is_local=True)
    assert d.environment == "development" and not d.production
    assert a.check_published_settings(DEV_SETTINGS, d) == []


def test_a_deployed_target_without_environment_is_production():
    assert a.declared({}, is_local=False).production


def test_production_with_autoconfirm_on():
    """Seeded: production target, auth publishing mailer_autoconfirm on."""
    d = a.declared(PROD_ENV, is_local=False)
    assert a.check_published_settings({**PROD_SETTINGS, "mailer_autoconfirm": True}, d) == [
        f"{W}: mailer_autoconfirm is on in a production target: anyone can sign up with an address they do not "
        f"own; set GOTRUE_MAILER_AUTOCONFIRM=false (AUTH_AUTOCONFIRM=false)"]


def test_autoconfirm_unlike_the_declaration():
    """Seeded: the bundled stack declares autoconfirm on, auth runs with it off."""
    d = a.declared({"AUTH_AUTOCONFIRM": "true"}, is_local=True)
    assert a.check_published_settings({**DEV_SETTINGS, "mailer_autoconfirm": False}, d) == [
        f"{W}: mailer_autoconfirm is off, the target declares AUTH_AUTOCONFIRM=true: redeploy auth with the "
        f"declared value"]


def test_production_declaring_autoconfirm():
    d = a.declared({**PROD_ENV, "AUTH_AUTOCONFIRM": "true"}, is_local=False)
    assert a.check_published_settings({**PROD_SETTINGS, "mailer_autoconfirm": True}, d)[-1] == (
        "target: declares AUTH_AUTOCONFIRM=true with ENVIRONMENT=production: production requires e-mail confirmation")


def test_anonymous_sign_ins_not_declared():
    """Seeded: anonymous sign-ins on, the target does not declare them."""
    d = a.declared(PROD_ENV, is_local=False)
    assert a.check_published_settings({**PROD_SETTINGS, "external": {"anonymous_users": True}}, d) == [
        f"{W}: anonymous sign-ins are on, the target does not declare AUTH_ANONYMOUS_USERS=true: set "
        f"GOTRUE_EXTERNAL_ANONYMOUS_USERS_ENABLED=false or declare them"]
    d = a.declared({**PROD_ENV, "AUTH_ANONYMOUS_USERS": "true"}, is_local=False)
    assert a.check_published_settings({**PROD_SETTINGS, "external": {"anonymous_users": True}}, d) == []


def test_signup_unlike_the_declaration_and_undeclared_in_production():
    """Seeded: signup open while AUTH_DISABLE_SIGNUP=true; production without the key."""
    d = a.declared(PROD_ENV, is_local=False)
    assert a.check_published_settings({**PROD_SETTINGS, "disable_signup": False}, d) == [
        f"{W}: disable_signup is false, the target declares AUTH_DISABLE_SIGNUP=true: redeploy auth with the "
        f"declared value"]
    d = a.declared({"ENVIRONMENT": "production"}, is_local=False)
    assert a.check_published_settings(PROD_SETTINGS, d) == [
        "target: ENVIRONMENT=production without AUTH_DISABLE_SIGNUP: declare whether anyone may sign up (auth "
        "publishes disable_signup=true)"]


def test_unreadable_declarations():
    """Seeded: ENVIRONMENT=prod and AUTH_AUTOCONFIRM=maybe: named by the judges, judged as production."""
    d = a.declared({"ENVIRONMENT": "prod", "AUTH_AUTOCONFIRM": "maybe", "AUTH_DISABLE_SIGNUP": "true"}, is_local=True)
    assert d.production
    assert a.check_published_settings(PROD_SETTINGS, d) == [
        "target: ENVIRONMENT='prod': expected one of production, staging, development (judged as production)",
        "target: AUTH_AUTOCONFIRM='maybe': expected true or false"]


def test_token_lifetime():
    """Seeded: a token issued for a day."""
    assert a.check_token_lifetime({"iat": 1000, "exp": 4600}, 3600) == []
    assert a.check_token_lifetime({"iat": 1000, "exp": 1000 + 86400}, 3600) == [
        "auth: access tokens live 86400 s, above 3600 s (thresholds.yaml hardening.jwt_expiry_max_s): lower "
        "GOTRUE_JWT_EXP (JWT_EXPIRY)"]
    assert a.check_token_lifetime({"exp": 5}, 3600) == [
        "auth: access token without numeric iat/exp claims: its lifetime cannot be judged"]


def test_production_auth_environment_passes():
    d = a.declared(PROD_ENV, is_local=False)
    assert a.check_environment(GOOD_AUTH_ENV, d, 3600, 8) == []


def test_auth_environment_weaknesses():
    """Seeded: production auth without SMTP, tokens for a day, passwords of 6 (unset: GoTrue's
    default), rotation off."""
    d = a.declared(PROD_ENV, is_local=False)
    env = {"GOTRUE_JWT_EXP": "86400", "GOTRUE_SECURITY_REFRESH_TOKEN_ROTATION_ENABLED": "false"}
    assert a.check_environment(env, d, 3600, 8) == [
        "auth container: GOTRUE_SMTP_HOST, GOTRUE_SMTP_ADMIN_EMAIL unset in a production target: confirmation "
        "and recovery mails cannot be sent; configure an SMTP sender",
        "auth container: GOTRUE_JWT_EXP=86400 s, above 3600 s (thresholds.yaml hardening.jwt_expiry_max_s): "
        "lower JWT_EXPIRY",
        "auth container: GOTRUE_PASSWORD_MIN_LENGTH=6 (unset: upstream default), below 8 (thresholds.yaml "
        "hardening.password_min_length): raise AUTH_PASSWORD_MIN_LENGTH",
        "auth container: GOTRUE_SECURITY_REFRESH_TOKEN_ROTATION_ENABLED=false: a stolen refresh token stays "
        "valid forever; set it to true"]


def test_smtp_needed_in_development_when_autoconfirm_is_off():
    d = a.declared({}, is_local=True)
    env = {k: v for k, v in GOOD_AUTH_ENV.items() if "SMTP" not in k}
    assert a.check_environment({**env, "GOTRUE_MAILER_AUTOCONFIRM": "true"}, d, 3600, 8) == []
    assert a.check_environment(env, d, 3600, 8) == [
        "auth container: GOTRUE_SMTP_HOST, GOTRUE_SMTP_ADMIN_EMAIL unset while autoconfirm is off: confirmation "
        "and recovery mails cannot be sent; configure an SMTP sender"]
