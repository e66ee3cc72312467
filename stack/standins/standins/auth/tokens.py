"""Access tokens (HS256 JWTs with GoTrue's claims) and refresh token strings."""
from __future__ import annotations

import secrets
import string
import time
from typing import Any

import jwt

from . import errors

_REFRESH_ALPHABET = string.ascii_letters + string.digits


def new_refresh_token(length: int = 22) -> str:
    """An opaque random refresh token (GoTrue v1 tokens are short alphanumeric strings)."""
    return "".join(secrets.choice(_REFRESH_ALPHABET) for _ in range(length))


def access_token_claims(*, user: dict[str, Any], session_id: str, issuer: str, exp_seconds: int,
                        amr: list[dict[str, Any]], aal: str = "aal1", now: int | None = None) -> dict[str, Any]:
    """GoTrue's AccessTokenClaims for `user` (a row of auth.users as a dict)."""
    iat = int(time.time()) if now is None else int(now)
    return {
        "iss": issuer,
        "sub": str(user["id"]),
        "aud": user.get("aud") or "",
        "exp": iat + int(exp_seconds),
        "iat": iat,
        "email": user.get("email") or "",
        "phone": user.get("phone") or "",
        "app_metadata": user.get("raw_app_meta_data") or {},
        "user_metadata": user.get("raw_user_meta_data") or {},
        "role": user.get("role") or "",
        "aal": aal,
        "amr": amr,
        "session_id": str(session_id),
        "is_anonymous": bool(user.get("is_anonymous", False)),
    }


def encode(claims: dict[str, Any], secret: str, kid: str = "") -> str:
    headers = {"kid": kid} if kid else None
    return jwt.encode(claims, secret, algorithm="HS256", headers=headers)


def decode(token: str, secret: str) -> dict[str, Any]:
    """Verify an HS256 token; raise GoTrue's 403 bad_jwt for anything wrong.

    The audience is not checked here (GoTrue checks it per endpoint); `exp` and
    `nbf` are, when present.
    """
    try:
        claims = jwt.decode(
            token, secret, algorithms=["HS256"],
            options={"verify_aud": False, "verify_iss": False, "require": []},
        )
    except jwt.ExpiredSignatureError:
        raise _bad("token has invalid claims: token is expired") from None
    except jwt.ImmatureSignatureError:
        raise _bad("token has invalid claims: token is not valid yet") from None
    except jwt.InvalidSignatureError:
        raise _bad("token signature is invalid: signature is invalid") from None
    except jwt.InvalidAlgorithmError:
        raise _bad("token is unverifiable: signing method is invalid") from None
    except jwt.DecodeError as e:
        raise _bad(f"token is malformed: {e}") from None
    except jwt.InvalidTokenError as e:
        raise _bad(f"token has invalid claims: {e}") from None
    if not isinstance(claims, dict):
        raise _bad("token is malformed: claims are not an object")
    return claims


def _bad(detail: str) -> errors.APIError:
    return errors.forbidden(errors.BAD_JWT, f"invalid JWT: unable to parse or verify signature, {detail}")


def token_response(*, access_token: str, refresh_token: str, expires_in: int, expires_at: int,
                   user: dict[str, Any], weak_password: dict | None = None) -> dict[str, Any]:
    """GoTrue's AccessTokenResponse (`user` already serialised)."""
    body: dict[str, Any] = {
        "access_token": access_token,
        "token_type": "bearer",
        "expires_in": expires_in,
        "expires_at": expires_at,
        "refresh_token": refresh_token,
        "user": user,
    }
    if weak_password:
        body["weak_password"] = weak_password
    return body
