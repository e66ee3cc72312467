"""GoTrue's error shapes.

Two body formats exist upstream, chosen by the request header
`X-Supabase-Api-Version` (current clients send `2024-01-01`):

* legacy (no header):     {"code": 400, "error_code": "...", "msg": "..."}
* 2024-01-01 and later:   {"code": "...", "message": "..."}

Weak passwords add `"weak_password": {"reasons": [...]}` in both formats and are
always 422. OAuth-style errors (`/token` grant problems) are
`{"error": "...", "error_description": "..."}` with status 400.
"""
from __future__ import annotations

import datetime as _dt
import uuid
from typing import Any

API_VERSION_HEADER = "X-Supabase-Api-Version"
API_VERSION_2024 = _dt.date(2024, 1, 1)

# error_code values used by this service (names as upstream's apierrors package)
VALIDATION_FAILED = "validation_failed"
BAD_JSON = "bad_json"
EMAIL_EXISTS = "email_exists"
PHONE_EXISTS = "phone_exists"
BAD_JWT = "bad_jwt"
NOT_ADMIN = "not_admin"
NO_AUTHORIZATION = "no_authorization"
USER_NOT_FOUND = "user_not_found"
SESSION_NOT_FOUND = "session_not_found"
SESSION_EXPIRED = "session_expired"
REFRESH_TOKEN_NOT_FOUND = "refresh_token_not_found"
REFRESH_TOKEN_ALREADY_USED = "refresh_token_already_used"
SIGNUP_DISABLED = "signup_disabled"
USER_BANNED = "user_banned"
EMAIL_PROVIDER_DISABLED = "email_provider_disabled"
PHONE_PROVIDER_DISABLED = "phone_provider_disabled"
EMAIL_NOT_CONFIRMED = "email_not_confirmed"
USER_ALREADY_EXISTS = "user_already_exists"
SAME_PASSWORD = "same_password"
WEAK_PASSWORD = "weak_password"
INVALID_CREDENTIALS = "invalid_credentials"
REQUEST_TOO_LARGE = "request_entity_too_large"
UNEXPECTED_FAILURE = "unexpected_failure"
NOT_FOUND = "not_found"
UNKNOWN = "unknown"

INVALID_LOGIN_MESSAGE = "Invalid login credentials"
DUPLICATE_EMAIL_MESSAGE = "A user with this email address has already been registered"
DUPLICATE_PHONE_MESSAGE = "A user with this phone number has already been registered"


class APIError(Exception):
    """An HTTP error with GoTrue's JSON body."""

    def __init__(self, status: int, error_code: str, msg: str, *, reasons: list[str] | None = None,
                 commit: bool = False):
        super().__init__(f"{status}: {msg}")
        self.status = status
        self.error_code = error_code
        self.msg = msg
        self.reasons = reasons  # weak_password reasons
        # commit: the database work done before the error must be kept (GoTrue's
        # CommitWithError, used when refresh-token reuse revokes a token family)
        self.commit = commit


class OAuthError(Exception):
    """OAuth2-style error, always HTTP 400 upstream."""

    def __init__(self, error: str, description: str = ""):
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = 400


def bad_request(code: str, msg: str) -> APIError:
    return APIError(400, code, msg)


def unprocessable(code: str, msg: str) -> APIError:
    return APIError(422, code, msg)


def forbidden(code: str, msg: str) -> APIError:
    return APIError(403, code, msg)


def not_found(code: str, msg: str) -> APIError:
    return APIError(404, code, msg)


def unauthorized(code: str, msg: str) -> APIError:
    return APIError(401, code, msg)


def internal(msg: str = "Unexpected failure, please check server logs for more information") -> APIError:
    return APIError(500, UNEXPECTED_FAILURE, msg)


def weak_password(msg: str, reasons: list[str]) -> APIError:
    return APIError(422, WEAK_PASSWORD, msg, reasons=list(reasons))


def parse_api_version(header: str | None) -> _dt.date | None:
    """The requested API version date, or None for the initial (legacy) version."""
    if not header:
        return None
    try:
        return _dt.date.fromisoformat(header.strip())
    except ValueError:
        return None


def uses_2024_format(header: str | None) -> bool:
    v = parse_api_version(header)
    return v is not None and v >= API_VERSION_2024


def error_body(err: APIError | OAuthError, api_version_header: str | None = None,
               error_id: str | None = None) -> dict[str, Any]:
    """The JSON body GoTrue sends for `err`."""
    if isinstance(err, OAuthError):
        body: dict[str, Any] = {"error": err.error}
        if err.description:
            body["error_description"] = err.description
        return body
    code = err.error_code or (UNEXPECTED_FAILURE if err.status >= 500 else UNKNOWN)
    if uses_2024_format(api_version_header):
        body = {"code": code, "message": err.msg}
    else:
        body = {"code": err.status, "error_code": code, "msg": err.msg}
        if err.status >= 500:
            body["error_id"] = error_id or str(uuid.uuid4())
    if err.reasons is not None:
        body["weak_password"] = {"reasons": list(err.reasons)}
    return body
