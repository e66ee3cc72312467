"""Pure helpers for Postgres changes: wal2json (format-version 2) rows -> Realtime payloads."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from . import _json as orjson

from . import filters as F

EVENTS = {"INSERT", "UPDATE", "DELETE", "*"}
ACTIONS = {"I": "INSERT", "U": "UPDATE", "D": "DELETE"}
_TS_TZ = re.compile(r"^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d(?:\.\d+)?)([+-]\d\d)(?::?(\d\d))?(?::?(\d\d))?$")
_TS = re.compile(r"^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d(?:\.\d+)?)$")


class BindingError(ValueError):
    pass


@dataclass
class Binding:
    """One entry of `config.postgres_changes`, as the client sent it, plus its id."""

    id: int
    event: str
    schema: str
    table: str | None
    filter: str | None
    conds: tuple = ()
    echo: dict = field(default_factory=dict)


def phash(params: dict) -> int:
    """A stable 27-bit id from the params, like upstream's :erlang.phash2/1 (same range)."""
    import zlib

    return zlib.crc32(orjson.dumps(params, option=orjson.OPT_SORT_KEYS)) & 0x7FFFFFF


def parse_binding(params: Any) -> Binding:
    if not isinstance(params, dict):
        raise BindingError("postgres_changes entries must be objects")
    event = str(params.get("event", "*")).upper()
    if event not in EVENTS:
        raise BindingError(f"invalid event {params.get('event')!r}")
    schema = params.get("schema") or "public"
    table = params.get("table")
    if table in ("*", ""):
        table = None
    flt = params.get("filter")
    try:
        conds = F.parse(flt)
    except F.FilterError as exc:
        raise BindingError(str(exc)) from None
    echo = dict(params)
    bid = phash(params)
    echo["id"] = bid
    return Binding(bid, event, schema, table, flt, conds, echo)


def binding_error_message(params: Any) -> str:
    p = params if isinstance(params, dict) else {}
    return (
        "Unable to subscribe to changes with given parameters. Please check Realtime is enabled "
        "for the given connect parameters: [event: {}, schema: {}, table: {}, filters: [{}]]".format(
            p.get("event", "*"), p.get("schema", "public"), p.get("table", "*"), p.get("filter") or ""
        )
    )


def convert_value(value: Any, type_name: str) -> Any:
    """wal2json text output -> the JSON value upstream's to_jsonb cast gives."""
    if not isinstance(value, str):
        return value
    t = type_name
    if t in ("json", "jsonb"):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    if t in ("timestamp with time zone", "timestamptz"):
        m = _TS_TZ.match(value)
        if m:
            d, tm, hh, mm, ss = m.groups()
            off = f"{hh}:{mm or '00'}" + (f":{ss}" if ss else "")
            return f"{d}T{tm}{off}"
        return value
    if t in ("timestamp without time zone", "timestamp"):
        m = _TS.match(value)
        return f"{m.group(1)}T{m.group(2)}" if m else value
    if t in ("numeric", "real", "double precision", "float4", "float8") and value in ("NaN", "Infinity", "-Infinity"):
        return value
    return value


def commit_timestamp(raw: str | None) -> str:
    """'2024-01-02 10:11:12.345678+00' -> '2024-01-02T10:11:12.345Z' (UTC, milliseconds)."""
    if raw:
        m = _TS_TZ.match(raw)
        if m:
            d, tm, hh, mm, _ = m.groups()
            base = tm.split(".")[0]
            frac = (tm.split(".")[1] if "." in tm else "").ljust(6, "0")[:6]
            sign = 1 if hh[0] == "+" else -1
            off = sign * (abs(int(hh)) * 60 + int(mm or 0))
            from datetime import timedelta

            dt = datetime.fromisoformat(f"{d}T{base}.{frac}") - timedelta(minutes=off)
            return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"
    dt = datetime.now(timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


@dataclass
class Change:
    """One decoded row change (before any subscriber-specific work)."""

    type: str
    schema: str
    table: str
    commit_timestamp: str
    columns: list  # [{name, type}]
    record: dict | None
    old_record: dict | None
    pk: list  # [(name, format_type)]
    pk_values: tuple | None  # from the new row (or the old one for DELETE)


def decode_wal2json(doc: dict, typnames: dict[int, str] | None = None) -> Change | None:
    """One wal2json format-version 2 document. Returns None for B/C/T/M actions."""
    action = ACTIONS.get(doc.get("action"))
    if action is None:
        return None
    typnames = typnames or {}

    def row(cols):
        if cols is None:
            return None
        return {c["name"]: convert_value(c.get("value"), c.get("type", "")) for c in cols}

    new_cols = doc.get("columns")
    old_cols = doc.get("identity")
    src = new_cols if new_cols is not None else (old_cols or [])
    columns = [
        {"name": c["name"], "type": typnames.get(c.get("typeoid"), c.get("type", ""))} for c in src
    ]
    record = row(new_cols) if action != "DELETE" else None
    old_record = row(old_cols) if action != "INSERT" else None
    pk = [(p["name"], p.get("type", "text")) for p in (doc.get("pk") or [])]
    # primary key values as wal2json printed them (text compares exactly with ::text)
    raw = {c["name"]: c.get("value") for c in (new_cols if action != "DELETE" else old_cols) or []}
    pk_values = None
    if pk and all(n in raw for n, _ in pk):
        pk_values = tuple(raw[n] for n, _ in pk)
    return Change(
        type=action,
        schema=doc.get("schema", ""),
        table=doc.get("table", ""),
        commit_timestamp=commit_timestamp(doc.get("timestamp")),
        columns=columns,
        record=record,
        old_record=old_record,
        pk=pk,
        pk_values=pk_values,
    )


def binding_matches(b: Binding, ch: Change) -> bool:
    if b.event != "*" and b.event != ch.type:
        return False
    if b.schema != "*" and b.schema != ch.schema:
        return False
    if b.table is not None and b.table != ch.table:
        return False
    row = ch.old_record if ch.type == "DELETE" else ch.record
    return F.matches(b.conds, row)


def payload_data(ch: Change, rls_enabled: bool, errors: Any = None) -> dict:
    """The `data` object of a postgres_changes push (upstream's wal2json RLS output)."""
    data: dict[str, Any] = {
        "schema": ch.schema,
        "table": ch.table,
        "commit_timestamp": ch.commit_timestamp,
        "type": ch.type,
        "columns": ch.columns,
        "errors": errors,
    }
    if ch.type in ("INSERT", "UPDATE"):
        data["record"] = ch.record or {}
    if ch.type in ("UPDATE", "DELETE"):
        old = ch.old_record or {}
        if ch.type == "DELETE" and rls_enabled:
            pk_names = {n for n, _ in ch.pk}
            old = {k: v for k, v in old.items() if k in pk_names}
        data["old_record"] = old
    return data


def pk_text(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (dict, list)):
        return orjson.dumps(v).decode()
    return str(v)
