"""Password rules (GoTrue's checkPasswordStrength) and bcrypt hashing.

Hashing and checking are CPU bound: callers run them in a thread executor.
"""
from __future__ import annotations

import secrets
import string

from . import errors

MAX_PASSWORD_LENGTH = 72  # bcrypt ignores bytes past 72; GoTrue refuses them
BCRYPT_COST = 10  # GoTrue's bcrypt.DefaultCost


def check_strength(password: str, min_length: int, required_characters: tuple[str, ...] = ()) -> None:
    """Raise GoTrue's error for a password it would refuse; return None otherwise."""
    if len(password.encode("utf-8")) > MAX_PASSWORD_LENGTH:
        raise errors.bad_request(errors.VALIDATION_FAILED,
                                 f"Password cannot be longer than {MAX_PASSWORD_LENGTH} characters")
    messages: list[str] = []
    reasons: list[str] = []
    if len(password) < min_length:
        reasons.append("length")
        messages.append(f"Password should be at least {min_length} characters.")
    for charset in required_characters:
        if charset and not any(c in charset for c in password):
            reasons.append("characters")
            messages.append("Password should contain at least one character of each: "
                            + ", ".join(required_characters) + ".")
            break
    if reasons:
        raise errors.weak_password(" ".join(messages), reasons)


def weakness(password: str, min_length: int, required_characters: tuple[str, ...] = ()) -> dict | None:
    """GoTrue's `weak_password` field of a sign-in response, or None for a strong password."""
    try:
        check_strength(password, min_length, required_characters)
    except errors.APIError as e:
        if e.reasons:
            return {"message": e.msg, "reasons": e.reasons}
    return None


def hash_password(password: str, cost: int = BCRYPT_COST) -> str:
    import bcrypt  # imported here so the rules above work without the C extension

    hashed = bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(rounds=cost)).decode("ascii")
    # Go's bcrypt writes the $2a$ prefix; the algorithm is the same.
    return "$2a$" + hashed[4:] if hashed.startswith("$2b$") else hashed


def verify_password(password: str, hashed: str | None) -> bool:
    if not hashed:
        return False
    import bcrypt

    try:
        return bcrypt.checkpw(password.encode("utf-8")[:MAX_PASSWORD_LENGTH], hashed.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        return False


_ALPHABET = string.ascii_letters + string.digits


def random_password(length: int = 64) -> str:
    """A password for admin-created users that gave none (GoTrue generates one too)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))
