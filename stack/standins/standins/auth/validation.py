"""Input validation with GoTrue's messages."""
from __future__ import annotations

import re
import uuid
from typing import Any

from . import errors

# The format check of GoTrue's checkmail.ValidateFormat (badoux/checkmail).
_EMAIL_RE = re.compile(
    r"^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
    r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$"
)
_PHONE_RE = re.compile(r"^[1-9]\d{1,14}$")
_PHONE_STRIP = re.compile(r"[\s+\-()]")


def validate_email(email: str) -> str:
    """Lower-cased email, or GoTrue's 400 validation_failed."""
    if email == "":
        raise errors.bad_request(errors.VALIDATION_FAILED, "An email address is required")
    if len(email) > 255:
        raise errors.bad_request(errors.VALIDATION_FAILED, "An email address is too long")
    if not _EMAIL_RE.match(email):
        raise errors.bad_request(errors.VALIDATION_FAILED, "Unable to validate email address: invalid format")
    return email.lower()


def validate_phone(phone: str) -> str:
    """E.164 digits without '+', or GoTrue's 400 validation_failed."""
    digits = _PHONE_STRIP.sub("", phone)
    if not _PHONE_RE.match(digits):
        raise errors.bad_request(errors.VALIDATION_FAILED, "Invalid phone number format (E.164 required)")
    return digits


def parse_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return None


_TYPE_NAMES = {str: "string", bool: "bool", dict: "map[string]interface {}", int: "int"}


def params(body: Any, spec: dict[str, type], struct: str) -> dict[str, Any]:
    """Check a decoded JSON body the way Go's json.Unmarshal into a struct would.

    `spec` maps field names to str / bool / dict; a JSON null leaves a field unset.
    Unknown fields are ignored. Wrong types give 400 bad_json with Go's wording.
    """
    if body is None:
        return {}
    if not isinstance(body, dict):
        kind = {list: "array", str: "string", bool: "bool"}.get(type(body), "number")
        raise errors.bad_request(errors.BAD_JSON,
                                 f"Could not parse request body as JSON: json: cannot unmarshal {kind} "
                                 f"into Go value of type api.{struct}")
    out: dict[str, Any] = {}
    for name, typ in spec.items():
        if name not in body or body[name] is None:
            continue
        value = body[name]
        ok = isinstance(value, typ) and not (typ is int and isinstance(value, bool))
        if typ is bool and not isinstance(value, bool):
            ok = False
        if not ok:
            kind = {list: "array", dict: "object", str: "string", bool: "bool"}.get(type(value), "number")
            raise errors.bad_request(errors.BAD_JSON,
                                     f"Could not parse request body as JSON: json: cannot unmarshal {kind} "
                                     f"into Go struct field {struct}.{name} of type {_TYPE_NAMES[typ]}")
        out[name] = value
    return out
