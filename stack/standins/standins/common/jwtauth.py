"""HS256 JWT verification with PostgREST-style error classification."""
import jwt

LEEWAY_S = 30  # PostgREST allows 30 s clock skew on exp/nbf/iat


class JwtError(Exception):
    """kind: 'decode' (PGRST301) or 'claims' (PGRST303); message as PostgREST words it."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


def decode_hs256(token: str, secret: str, audience: str | None = None) -> dict:
    if token == "":
        raise JwtError("decode", "Empty JWT is sent in Authorization header")
    parts = token.split(".")
    if len(parts) != 3:
        raise JwtError("decode", f"Expected 3 parts in JWT; got {len(parts)}")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise JwtError("decode", "JWT couldn't be decoded") from None
    if header.get("alg") not in ("HS256", "HS384", "HS512"):
        raise JwtError("decode", "Wrong or unsupported encoding algorithm")
    try:
        claims = jwt.decode(
            token, secret, algorithms=["HS256", "HS384", "HS512"], leeway=LEEWAY_S,
            audience=audience,
            options={"verify_aud": audience is not None, "require": []},
        )
    except jwt.ExpiredSignatureError:
        raise JwtError("claims", "JWT expired") from None
    except jwt.ImmatureSignatureError:
        raise JwtError("claims", "JWT not yet valid") from None
    except jwt.InvalidAudienceError:
        raise JwtError("claims", "JWT not in audience") from None
    except jwt.InvalidSignatureError:
        raise JwtError("decode", "JWT cryptographic operation failed") from None
    except (jwt.DecodeError, jwt.InvalidTokenError):
        raise JwtError("decode", "JWT cryptographic operation failed") from None
    if not isinstance(claims, dict):
        raise JwtError("claims", "Parsing claims failed")
    return claims


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <t>` header (None when absent)."""
    if authorization is None:
        return None
    scheme, _, rest = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return rest.strip()
