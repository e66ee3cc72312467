"""JWT checks with the reasons supabase/realtime reports."""
from __future__ import annotations

import time
from typing import Any

import jwt

ALGORITHMS = ["HS256", "HS384", "HS512"]


class AuthError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    @property
    def reason(self) -> str:
        return f"{self.code}: {self.message}"


def verify(token: Any, secret: str, now: float | None = None) -> dict:
    """Verify signature and expiry; require `role` and `exp` like upstream's authorize_conn."""
    if not isinstance(token, str) or not token.strip():
        raise AuthError("InvalidJWTToken", "Token is missing")
    token = "".join(token.split())
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise AuthError("MalformedJWT", "The token provided is not a valid JWT") from None
    if header.get("alg") not in ALGORITHMS:
        raise AuthError("JwtSignatureError", "Failed to validate JWT signature")
    try:
        claims = jwt.decode(
            token, secret, algorithms=ALGORITHMS,
            options={"verify_exp": False, "verify_aud": False, "verify_iat": False, "verify_nbf": False},
        )
    except jwt.InvalidSignatureError:
        raise AuthError("JwtSignatureError", "Failed to validate JWT signature") from None
    except jwt.PyJWTError:
        raise AuthError("MalformedJWT", "The token provided is not a valid JWT") from None
    if not isinstance(claims, dict):
        raise AuthError("InvalidJWTToken", "Token claims must be a map")
    if "role" not in claims or "exp" not in claims:
        raise AuthError("InvalidJWTToken", "Fields `role` and `exp` are required in JWT")
    exp = claims["exp"]
    if not isinstance(exp, (int, float)) or isinstance(exp, bool):
        raise AuthError("InvalidJWTExpiration", "Token expiration time is invalid")
    now = time.time() if now is None else now
    if exp <= now:
        raise AuthError("InvalidJWTToken", f"Token has expired {int(now - exp)} seconds ago")
    return claims
