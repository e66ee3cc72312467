"""Auth (GoTrue) settings against what the target declares, with production defaults.

Facts come from two places: what auth publishes at `GET /auth/v1/settings` (autoconfirm,
signup, the enabled providers, anonymous sign-ins) and the lifetime of a token it issued,
on any target; and the auth container's environment (SMTP, password length, refresh-token
rotation, JWT expiry), read through the stack layer where the machine is reachable.

Declarations (target env file, docs/targets.md): ENVIRONMENT (production, staging or
development; a deployed target that declares none is judged as production, the bundled
stack as development), AUTH_AUTOCONFIRM, AUTH_DISABLE_SIGNUP, AUTH_ANONYMOUS_USERS.
"""
from __future__ import annotations

from dataclasses import dataclass

ENVIRONMENTS = ("production", "staging", "development")
TRUE, FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off", "")
# GoTrue's defaults when a variable is unset (upstream internal/conf).
GOTRUE_DEFAULTS = {"GOTRUE_PASSWORD_MIN_LENGTH": "6", "GOTRUE_SECURITY_REFRESH_TOKEN_ROTATION_ENABLED": "true",
                   "GOTRUE_JWT_EXP": "3600", "GOTRUE_MAILER_AUTOCONFIRM": "false"}


def flag(name: str, value: str | None, errors: list[str]) -> bool | None:
    """A declared true/false; None when undeclared or unreadable (then `errors` says why)."""
    if value is None:
        return None
    v = value.strip().lower()
    if v in TRUE or v in FALSE:
        return v in TRUE
    errors.append(f"target: {name}={value!r}: expected true or false")
    return None


@dataclass(frozen=True)
class Declared:
    environment: str
    autoconfirm: bool | None        # None: not declared
    disable_signup: bool | None
    anonymous_users: bool           # off unless declared
    errors: tuple[str, ...] = ()    # declarations that could not be read: reported by every judge

    @property
    def production(self) -> bool:
        return self.environment == "production"


def declared(env: dict[str, str], is_local: bool) -> Declared:
    errors: list[str] = []
    environment = (env.get("ENVIRONMENT") or ("development" if is_local else "production")).strip().lower()
    if environment not in ENVIRONMENTS:
        errors.append(f"target: ENVIRONMENT={environment!r}: expected one of {', '.join(ENVIRONMENTS)} "
                      f"(judged as production)")
        environment = "production"
    return Declared(environment=environment,
                    autoconfirm=flag("AUTH_AUTOCONFIRM", env.get("AUTH_AUTOCONFIRM"), errors),
                    disable_signup=flag("AUTH_DISABLE_SIGNUP", env.get("AUTH_DISABLE_SIGNUP"), errors),
                    anonymous_users=bool(flag("AUTH_ANONYMOUS_USERS", env.get("AUTH_ANONYMOUS_USERS"), errors)),
                    errors=tuple(errors))


W = "auth /auth/v1/settings"


def check_published_settings(settings: dict, d: Declared) -> list[str]:
    """Autoconfirm, anonymous sign-ins and signup as published by auth, against the declaration."""
    problems = list(d.errors)
    autoconfirm = bool(settings.get("mailer_autoconfirm"))
    if d.production and autoconfirm:
        problems.append(f"{W}: mailer_autoconfirm is on in a production target: anyone can sign up with an "
                        f"address they do not own; set GOTRUE_MAILER_AUTOCONFIRM=false (AUTH_AUTOCONFIRM=false)")
    elif d.autoconfirm is not None and autoconfirm != d.autoconfirm:
        problems.append(f"{W}: mailer_autoconfirm is {_onoff(autoconfirm)}, the target declares "
                        f"AUTH_AUTOCONFIRM={str(d.autoconfirm).lower()}: redeploy auth with the declared value")
    if d.production and d.autoconfirm:
        problems.append(f"target: declares AUTH_AUTOCONFIRM=true with ENVIRONMENT=production: production "
                        f"requires e-mail confirmation")
    anonymous = bool((settings.get("external") or {}).get("anonymous_users"))
    if anonymous and not d.anonymous_users:
        problems.append(f"{W}: anonymous sign-ins are on, the target does not declare AUTH_ANONYMOUS_USERS=true: "
                        f"set GOTRUE_EXTERNAL_ANONYMOUS_USERS_ENABLED=false or declare them")
    elif d.anonymous_users and not anonymous:
        problems.append(f"{W}: anonymous sign-ins are off, the target declares AUTH_ANONYMOUS_USERS=true")
    signup_disabled = bool(settings.get("disable_signup"))
    if d.disable_signup is None:
        if d.production:
            problems.append(f"target: ENVIRONMENT=production without AUTH_DISABLE_SIGNUP: declare whether "
                            f"anyone may sign up (auth publishes disable_signup={str(signup_disabled).lower()})")
    elif signup_disabled != d.disable_signup:
        problems.append(f"{W}: disable_signup is {str(signup_disabled).lower()}, the target declares "
                        f"AUTH_DISABLE_SIGNUP={str(d.disable_signup).lower()}: redeploy auth with the declared value")
    return problems


def check_token_lifetime(claims: dict, max_s: int) -> list[str]:
    """An access token issued by auth lives at most `max_s` (exp - iat)."""
    try:
        lifetime = int(claims["exp"]) - int(claims["iat"])
    except (KeyError, TypeError, ValueError):
        return ["auth: access token without numeric iat/exp claims: its lifetime cannot be judged"]
    if lifetime > max_s:
        return [f"auth: access tokens live {lifetime} s, above {max_s} s (thresholds.yaml "
                f"hardening.jwt_expiry_max_s): lower GOTRUE_JWT_EXP (JWT_EXPIRY)"]
    return []


def _setting(env: dict[str, str], key: str) -> str:
    value = env.get(key)
    return GOTRUE_DEFAULTS.get(key, "") if value in (None, "") else value


def check_environment(env: dict[str, str], d: Declared, max_expiry_s: int, min_password: int,
                      where: str = "auth container") -> list[str]:
    """The auth service's own settings: SMTP sender (production, or autoconfirm off), JWT
    expiry, minimum password length, refresh-token rotation."""
    problems = list(d.errors)
    autoconfirm = _setting(env, "GOTRUE_MAILER_AUTOCONFIRM").strip().lower() in TRUE
    if d.production or not autoconfirm:
        missing = [k for k in ("GOTRUE_SMTP_HOST", "GOTRUE_SMTP_ADMIN_EMAIL") if not env.get(k)]
        if missing:
            why = "in a production target" if d.production else "while autoconfirm is off"
            problems.append(f"{where}: {', '.join(missing)} unset {why}: confirmation and recovery mails "
                            f"cannot be sent; configure an SMTP sender")
    try:
        expiry = int(_setting(env, "GOTRUE_JWT_EXP"))
        if expiry > max_expiry_s:
            problems.append(f"{where}: GOTRUE_JWT_EXP={expiry} s, above {max_expiry_s} s (thresholds.yaml "
                            f"hardening.jwt_expiry_max_s): lower JWT_EXPIRY")
    except ValueError:
        problems.append(f"{where}: GOTRUE_JWT_EXP={env.get('GOTRUE_JWT_EXP')!r} is not a number of seconds")
    try:
        length = int(_setting(env, "GOTRUE_PASSWORD_MIN_LENGTH"))
        if length < min_password:
            problems.append(f"{where}: GOTRUE_PASSWORD_MIN_LENGTH={length}"
                            f"{' (unset: upstream default)' if not env.get('GOTRUE_PASSWORD_MIN_LENGTH') else ''}, "
                            f"below {min_password} (thresholds.yaml hardening.password_min_length): raise "
                            f"AUTH_PASSWORD_MIN_LENGTH")
    except ValueError:
        problems.append(f"{where}: GOTRUE_PASSWORD_MIN_LENGTH={env.get('GOTRUE_PASSWORD_MIN_LENGTH')!r} is not a number")
    rotation = _setting(env, "GOTRUE_SECURITY_REFRESH_TOKEN_ROTATION_ENABLED").strip().lower()
    if rotation not in TRUE:
        problems.append(f"{where}: GOTRUE_SECURITY_REFRESH_TOKEN_ROTATION_ENABLED={rotation}: a stolen refresh "
                        f"token stays valid forever; set it to true")
    return problems


def _onoff(value: bool) -> str:
    return "on" if value else "off"
