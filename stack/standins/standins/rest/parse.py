"""Pure parsing of PostgREST requests: select, filters, logic trees, order, ranges, Prefer, Accept.

Nothing here touches the database; identifiers are validated later against the schema cache.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .errors import ApiError, query_param_error

OPERATORS = {
    "eq": "=", "neq": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<=",
    "like": "LIKE", "ilike": "ILIKE", "match": "~", "imatch": "~*",
    "cs": "@>", "cd": "<@", "ov": "&&", "sl": "<<", "sr": ">>", "nxr": "&<", "nxl": "&>", "adj": "-|-",
    "isdistinct": "IS DISTINCT FROM",
}
FTS_OPERATORS = {"fts": "to_tsquery", "plfts": "plainto_tsquery", "phfts": "phraseto_tsquery", "wfts": "websearch_to_tsquery"}
QUANTIFIABLE = {"eq", "neq", "gt", "gte", "lt", "lte", "like", "ilike", "match", "imatch"}
IS_VALUES = {"null": "NULL", "not_null": "NOT NULL", "true": "TRUE", "false": "FALSE", "unknown": "UNKNOWN"}
RESERVED_PARAMS = {"select", "order", "limit", "offset", "on_conflict", "columns", "and", "or", "not.and", "not.or"}

_IDENT = r"[^\s.,:()\"\-!>]+"  # PostgREST field names: anything but separators
_JSON_OP = re.compile(r"(->>|->)")


@dataclass(frozen=True)
class Field:
    name: str
    json_path: tuple = ()  # tuple of (op, key) with op '->' or '->>'

    @property
    def default_alias(self) -> str:
        if not self.json_path:
            return self.name
        key = self.json_path[-1][1]
        return key


@dataclass
class SelectItem:
    field: Field | None  # None means '*'
    alias: str | None = None
    cast: str | None = None


@dataclass
class Filter:
    field: Field
    op: str
    value: object
    negate: bool = False
    quant: str | None = None  # 'any' / 'all'
    lang: str | None = None   # fts language


@dataclass
class Logic:
    op: str  # 'and' / 'or'
    children: list
    negate: bool = False


@dataclass
class OrderTerm:
    field: Field
    direction: str | None = None  # 'asc' / 'desc'
    nulls: str | None = None      # 'first' / 'last'


@dataclass
class Prefer:
    return_: str | None = None     # representation / minimal / headers-only
    count: str | None = None       # exact / planned / estimated
    resolution: str | None = None  # merge-duplicates / ignore-duplicates
    missing: str | None = None     # default / null
    handling: str | None = None    # strict / lenient
    tx: str | None = None
    timezone: str | None = None
    max_affected: int | None = None
    invalid: list = field(default_factory=list)

    def applied(self) -> str | None:
        parts = []
        if self.resolution:
            parts.append(f"resolution={self.resolution}")
        if self.return_:
            parts.append(f"return={self.return_}")
        if self.count:
            parts.append(f"count={self.count}")
        if self.missing:
            parts.append(f"missing={self.missing}")
        if self.handling:
            parts.append(f"handling={self.handling}")
        return ", ".join(parts) or None


# ------------------------------------------------------------------ fields

def parse_field(text: str) -> Field:
    """`col` or `col->a->>b` (json path)."""
    text = text.strip()
    if text.startswith('"') and text.endswith('"') and len(text) >= 2:
        return Field(text[1:-1])
    pieces = _JSON_OP.split(text)
    name = pieces[0]
    if not name or not re.fullmatch(_IDENT, name):
        raise query_param_error(f'"failed to parse field ({text})"', f"invalid column name {name!r}")
    path = []
    for i in range(1, len(pieces), 2):
        key = pieces[i + 1] if i + 1 < len(pieces) else ""
        if key == "":
            raise query_param_error(f'"failed to parse field ({text})"', "empty json path key")
        path.append((pieces[i], key))
    return Field(name, tuple(path))


# ------------------------------------------------------------------ splitting helpers

def split_top(text: str, sep: str = ",") -> list[str]:
    """Split at `sep` outside parentheses, braces and double quotes."""
    out, depth, buf, in_q, esc = [], 0, [], False, False
    for ch in text:
        if in_q:
            buf.append(ch)
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_q = False
            continue
        if ch == '"':
            in_q = True
        elif ch in "({":
            depth += 1
        elif ch in ")}":
            depth -= 1
            if depth < 0:
                raise ValueError("unbalanced parentheses")
        elif ch == sep and depth == 0:
            out.append("".join(buf))
            buf = []
            continue
        buf.append(ch)
    if in_q or depth != 0:
        raise ValueError("unbalanced quotes or parentheses")
    out.append("".join(buf))
    return out


def unquote(v: str) -> str:
    v = v.strip()
    if len(v) >= 2 and v[0] == '"' and v[-1] == '"':
        return re.sub(r"\\(.)", r"\1", v[1:-1])
    return v


def parse_list_value(v: str, what: str) -> list[str]:
    """`(a,b,"c d")` -> ['a', 'b', 'c d']."""
    if not (v.startswith("(") and v.endswith(")")):
        raise query_param_error(f'"failed to parse filter ({what})"', 'expecting "(" and ")" around the list')
    inner = v[1:-1]
    if inner.strip() == "":
        return []
    try:
        return [unquote(x) for x in split_top(inner)]
    except ValueError as exc:
        raise query_param_error(f'"failed to parse filter ({what})"', str(exc)) from None


# ------------------------------------------------------------------ select

def parse_select(text: str | None) -> list[SelectItem]:
    if text is None or text.strip() == "":
        return [SelectItem(None)]
    try:
        parts = split_top(text)
    except ValueError as exc:
        raise query_param_error(f'"failed to parse select parameter ({text})"', str(exc)) from None
    items = []
    for raw in parts:
        raw = raw.strip()
        if raw == "":
            raise query_param_error(f'"failed to parse select parameter ({text})"', "empty select item")
        if "(" in raw or raw.startswith("..."):
            target = raw.split("(", 1)[0].lstrip(".")
            target = target.split(":", 1)[-1].split("!", 1)[0]
            raise ApiError(400, "PGRST200", f"Could not find a relationship between the requested table and '{target}' in the schema cache",
                           "Resource embedding is not supported by this PostgREST-compatible service", None)
        if raw == "*":
            items.append(SelectItem(None))
            continue
        alias = None
        # alias:col — but not the '::' of a cast
        m = re.match(r'^([^:"]+):(?!:)(.*)$', raw)
        if m:
            alias, raw = m.group(1).strip(), m.group(2).strip()
        cast = None
        if "::" in raw:
            raw, cast = raw.rsplit("::", 1)
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_ ]*(\[\])?", cast):
                raise query_param_error(f'"failed to parse select parameter ({text})"', f"invalid cast {cast!r}")
        items.append(SelectItem(parse_field(raw), alias, cast))
    return items


# ------------------------------------------------------------------ filters

def parse_operation(field_: Field, expr: str, context: str) -> Filter:
    """`[not.]op[(any|all)].value` for column `field_`."""
    negate = False
    if expr.startswith("not."):
        negate, expr = True, expr[4:]
    op, dot, value = expr.partition(".")
    quant = None
    m = re.fullmatch(r"(\w+)\((any|all)\)", op)
    if m:
        op, quant = m.group(1), m.group(2)
        if op not in QUANTIFIABLE:
            raise query_param_error(f'"failed to parse filter ({context})"', f"operator {op} does not accept (any|all)")
    lang = None
    m = re.fullmatch(r"(fts|plfts|phfts|wfts)\((\w+)\)", op)
    if m:
        op, lang = m.group(1), m.group(2)
    if not dot:
        raise query_param_error(f'"failed to parse filter ({context})"', "expecting an operator and a value separated by '.'")
    if op == "in":
        return Filter(field_, "in", parse_list_value(value, context), negate)
    if op == "is":
        if value.lower() not in IS_VALUES:
            raise query_param_error(f'"failed to parse filter ({context})"', 'expecting "null", "not_null", "true", "false" or "unknown"')
        return Filter(field_, "is", value.lower(), negate)
    if op in FTS_OPERATORS:
        return Filter(field_, op, value, negate, lang=lang)
    if op not in OPERATORS:
        raise query_param_error(f'"failed to parse filter ({context})"', f"unknown operator {op!r}")
    if quant:
        return Filter(field_, op, parse_list_value(value if value.startswith("(") else "(" + value.strip("{}") + ")", context), negate, quant)
    return Filter(field_, op, value, negate)


def parse_filter(key: str, value: str) -> Filter:
    return parse_operation(parse_field(key), value, f"{key}={value}")


def parse_logic(key: str, value: str) -> Logic:
    """`or=(a.eq.1,and(b.gt.2,c.is.null))`, also `not.or`, `and`, `not.and`."""
    negate = key.startswith("not.")
    op = key[4:] if negate else key
    return _parse_logic_body(op, negate, value, f"{key}={value}")


def _parse_logic_body(op: str, negate: bool, body: str, context: str) -> Logic:
    if not (body.startswith("(") and body.endswith(")")):
        raise query_param_error(f'"failed to parse logic tree ({context})"', 'expecting "(" and ")"')
    try:
        parts = split_top(body[1:-1])
    except ValueError as exc:
        raise query_param_error(f'"failed to parse logic tree ({context})"', str(exc)) from None
    children = []
    for part in parts:
        part = part.strip()
        m = re.match(r"^(not\.)?(and|or)(\(.*\))$", part, re.S)
        if m:
            children.append(_parse_logic_body(m.group(2), bool(m.group(1)), m.group(3), context))
            continue
        # col.op.value (column names may not contain '.')
        col, dot, rest = part.partition(".")
        if not dot or not col:
            raise query_param_error(f'"failed to parse logic tree ({context})"', f"invalid condition {part!r}")
        children.append(parse_operation(parse_field(col), rest, context))
    if not children:
        raise query_param_error(f'"failed to parse logic tree ({context})"', "empty logic tree")
    return Logic(op, children, negate)


# ------------------------------------------------------------------ order

def parse_order(text: str | None) -> list[OrderTerm]:
    if text is None or text.strip() == "":
        return []
    terms = []
    for raw in text.split(","):
        raw = raw.strip()
        parts = raw.split(".")
        fld, mods = parts[0], parts[1:]
        direction = nulls = None
        for mod in mods:
            if mod in ("asc", "desc") and direction is None and nulls is None:
                direction = mod
            elif mod in ("nullsfirst", "nullslast") and nulls is None:
                nulls = mod[5:]
            else:
                raise query_param_error(f'"failed to parse order ({text})"', f'unexpected "{mod}" expecting "asc", "desc", "nullsfirst" or "nullslast"')
        if not fld:
            raise query_param_error(f'"failed to parse order ({text})"', "empty order term")
        terms.append(OrderTerm(parse_field(fld), direction, nulls))
    return terms


# ------------------------------------------------------------------ ranges

INF = None


def parse_range_header(value: str | None) -> tuple[int, int | None]:
    """`Range: 0-9` -> (0, 9); `10-` -> (10, None). Unparseable -> whole range (as PostgREST)."""
    if not value:
        return 0, None
    m = re.fullmatch(r"\s*(?:items=)?([0-9]+)-([0-9]*)\s*", value)
    if not m:
        return 0, None
    lower = int(m.group(1))
    upper = int(m.group(2)) if m.group(2) else None
    return lower, upper


def compute_range(range_header: str | None, limit: str | None, offset: str | None, max_rows: int | None):
    """-> (offset, limit|None) for SQL. Mirrors PostgREST: header range ∩ query range, then max-rows."""
    lower, upper = parse_range_header(range_header)
    if upper is not None and upper < lower:
        raise ApiError(416, "PGRST103", "Requested range not satisfiable",
                       "The lower boundary must be lower than or equal to the upper boundary in the Range header.")
    q_off = 0
    q_lim = None
    if offset is not None:
        if not re.fullmatch(r"[0-9]+", offset.strip()):
            raise query_param_error('"failed to parse offset parameter (' + offset + ')"', "offset must be a non-negative integer")
        q_off = int(offset)
    if limit is not None:
        if re.fullmatch(r"-[0-9]+", limit.strip()):
            raise ApiError(416, "PGRST103", "Requested range not satisfiable", "Limit should be greater than or equal to zero.")
        if not re.fullmatch(r"[0-9]+", limit.strip()):
            raise query_param_error('"failed to parse limit parameter (' + limit + ')"', "limit must be a non-negative integer")
        q_lim = int(limit)
    if q_lim == 0:
        return max(lower, q_off), 0
    q_upper = None if q_lim is None else q_off + q_lim - 1
    lo = max(lower, q_off)
    uppers = [u for u in (upper, q_upper) if u is not None]
    up = min(uppers) if uppers else None
    if max_rows is not None:
        cap = lo + max_rows - 1
        up = cap if up is None else min(up, cap)
    if up is not None and up < lo:
        return lo, 0
    return lo, (None if up is None else up - lo + 1)


def content_range(lower: int, nrows: int, total: int | None) -> str:
    upper = lower + nrows - 1
    total_s = "*" if total is None else str(total)
    if total != 0 and lower <= upper:
        return f"{lower}-{upper}/{total_s}"
    return f"*/{total_s}"


def range_status(lower: int, nrows: int, total: int | None) -> int:
    if total is None:
        return 200
    if lower > total:
        return 416
    if nrows < total:
        return 206
    return 200


# ------------------------------------------------------------------ Prefer / Accept

_PREF_VALUES = {
    "return": {"representation", "minimal", "headers-only"},
    "count": {"exact", "planned", "estimated"},
    "resolution": {"merge-duplicates", "ignore-duplicates"},
    "missing": {"default", "null"},
    "handling": {"strict", "lenient"},
    "tx": {"commit", "rollback"},
}


def parse_prefer(values: list[str]) -> Prefer:
    p = Prefer()
    for header in values:
        for token in header.split(","):
            token = token.strip()
            if not token:
                continue
            key, _, val = token.partition("=")
            key, val = key.strip().lower(), val.strip()
            if key in _PREF_VALUES and val in _PREF_VALUES[key]:
                setattr(p, "return_" if key == "return" else key, val)
            elif key == "timezone":
                p.timezone = val
            elif key == "max-affected" and val.isdigit():
                p.max_affected = int(val)
            elif key == "params":
                pass
            else:
                p.invalid.append(token)
    if p.handling == "strict" and p.invalid:
        raise ApiError(400, "PGRST122", "Invalid preferences given with handling=strict",
                       "Invalid preferences: " + ", ".join(p.invalid))
    return p


def negotiate(accept: str | None, openapi: bool = False) -> str:
    """-> 'json', 'object', 'openapi' or raise 406 PGRST107."""
    if not accept:
        return "openapi" if openapi else "json"
    types = []
    for part in accept.split(","):
        mt = part.split(";", 1)[0].strip().lower()
        if mt:
            types.append(mt)
    for mt in types:
        if mt in ("*/*", "application/*", "application/json"):
            return "openapi" if openapi else "json"
        if mt in ("application/vnd.pgrst.object+json", "application/vnd.pgrst.object") and not openapi:
            return "object"
        if mt == "application/openapi+json" and openapi:
            return "openapi"
        if mt == "application/vnd.pgrst.array+json" and not openapi:
            return "json"
    raise ApiError(406, "PGRST107", "None of these media types are available: " + ", ".join(types))
