"""JSON shapes of GoTrue's models (User, Identity), from database rows."""
from __future__ import annotations

import datetime as _dt
from typing import Any


def ts(value: _dt.datetime | None) -> str | None:
    """RFC 3339 in UTC like Go's time.Time JSON (trailing zero fractions trimmed)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=_dt.timezone.utc)
    v = value.astimezone(_dt.timezone.utc)
    base = v.strftime("%Y-%m-%dT%H:%M:%S")
    if v.microsecond:
        base += ("." + f"{v.microsecond:06d}").rstrip("0")
    return base + "Z"


def identity_json(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "identity_id": str(row["id"]),
        "id": row["provider_id"],
        "user_id": str(row["user_id"]),
    }
    if row.get("identity_data"):
        out["identity_data"] = row["identity_data"]
    out["provider"] = row["provider"]
    if row.get("last_sign_in_at") is not None:
        out["last_sign_in_at"] = ts(row["last_sign_in_at"])
    out["created_at"] = ts(row["created_at"])
    out["updated_at"] = ts(row["updated_at"])
    if row.get("email"):
        out["email"] = row["email"]
    return out


def _opt(out: dict[str, Any], key: str, value: Any) -> None:
    if value is not None and value != "":
        out[key] = ts(value) if isinstance(value, _dt.datetime) else value


def user_json(row: dict[str, Any], identities: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """GoTrue's models.User JSON (field order and omitempty as upstream)."""
    out: dict[str, Any] = {
        "id": str(row["id"]),
        "aud": row.get("aud") or "",
        "role": row.get("role") or "",
        "email": row.get("email") or "",
    }
    _opt(out, "email_confirmed_at", row.get("email_confirmed_at"))
    _opt(out, "invited_at", row.get("invited_at"))
    out["phone"] = row.get("phone") or ""
    _opt(out, "phone_confirmed_at", row.get("phone_confirmed_at"))
    _opt(out, "confirmation_sent_at", row.get("confirmation_sent_at"))
    _opt(out, "confirmed_at", row.get("confirmed_at"))
    _opt(out, "recovery_sent_at", row.get("recovery_sent_at"))
    _opt(out, "new_email", row.get("email_change"))
    _opt(out, "email_change_sent_at", row.get("email_change_sent_at"))
    _opt(out, "new_phone", row.get("phone_change"))
    _opt(out, "phone_change_sent_at", row.get("phone_change_sent_at"))
    _opt(out, "reauthentication_sent_at", row.get("reauthentication_sent_at"))
    _opt(out, "last_sign_in_at", row.get("last_sign_in_at"))
    out["app_metadata"] = row.get("raw_app_meta_data") or {}
    out["user_metadata"] = row.get("raw_user_meta_data") or {}
    out["identities"] = [identity_json(i) for i in (identities or [])]
    out["created_at"] = ts(row.get("created_at"))
    out["updated_at"] = ts(row.get("updated_at"))
    _opt(out, "banned_until", row.get("banned_until"))
    _opt(out, "deleted_at", row.get("deleted_at"))
    out["is_anonymous"] = bool(row.get("is_anonymous", False))
    return out


def merge_metadata(current: dict[str, Any] | None, updates: dict[str, Any]) -> dict[str, Any]:
    """GoTrue's UpdateUserMetaData / UpdateAppMetaData: set keys, null deletes a key."""
    merged = dict(current or {})
    for k, v in updates.items():
        if v is None:
            merged.pop(k, None)
        else:
            merged[k] = v
    return merged
