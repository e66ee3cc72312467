"""Postgres-changes subscription filters (`col=op.value`), evaluated on decoded rows.

Operators: eq, neq, lt, lte, gt, gte, in, like, ilike, is (null/true/false), each
optionally prefixed with `not.`; several filters joined by top-level commas must all
match. Values are compared with the column's decoded JSON type, like upstream's cast.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

OPS = {"eq", "neq", "lt", "lte", "gt", "gte", "in", "like", "ilike", "is"}


class FilterError(ValueError):
    pass


@dataclass(frozen=True)
class Cond:
    column: str
    op: str
    value: Any  # str, or tuple of str for `in`
    negate: bool = False


def _split_top(text: str) -> list[str]:
    parts, depth, cur, quoted = [], 0, [], False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
        if ch == "," and depth == 0 and not quoted:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


def _parse_list(raw: str) -> tuple[str, ...]:
    if not (raw.startswith("(") and raw.endswith(")")):
        raise FilterError(f"`in` filter value must be wrapped in parentheses: {raw}")
    items = []
    for item in _split_top(raw[1:-1]):
        item = item.strip()
        if len(item) >= 2 and item[0] == item[-1] == '"':
            item = item[1:-1]
        items.append(item)
    return tuple(items)


def parse(filter_str: str | None) -> tuple[Cond, ...]:
    if filter_str is None or filter_str == "":
        return ()
    if not isinstance(filter_str, str):
        raise FilterError("filter must be a string")
    conds = []
    for part in _split_top(filter_str):
        col, sep, rest = part.partition("=")
        col = col.strip()
        if not sep or not col:
            raise FilterError(f"Error parsing `filter` params: {filter_str}")
        negate = False
        if rest.startswith("not."):
            negate, rest = True, rest[4:]
        op, dot, value = rest.partition(".")
        if not dot or op not in OPS:
            raise FilterError(f"Error parsing `filter` params: {filter_str}")
        if op == "in":
            conds.append(Cond(col, op, _parse_list(value), negate))
        else:
            conds.append(Cond(col, op, value, negate))
    return tuple(conds)


def _coerce(value: str, like: Any) -> Any:
    """Turn the filter's text into the type of the row value it is compared with."""
    if isinstance(like, bool):
        v = value.strip().lower()
        if v in ("true", "t", "1", "yes", "on"):
            return True
        if v in ("false", "f", "0", "no", "off"):
            return False
        raise FilterError("not a boolean")
    if isinstance(like, (int, float)):
        try:
            return float(value) if "." in value or "e" in value.lower() else int(value)
        except ValueError:
            raise FilterError("not a number") from None
    return value


def _like_regex(pattern: str, flags: int) -> re.Pattern:
    out = []
    for ch in pattern:
        out.append(".*" if ch in "%*" else "." if ch == "_" else re.escape(ch))
    return re.compile("^" + "".join(out) + "$", flags | re.DOTALL)


def _cmp(op: str, a: Any, b: Any) -> bool:
    if op == "eq":
        return a == b
    if op == "neq":
        return a != b
    if op == "lt":
        return a < b
    if op == "lte":
        return a <= b
    if op == "gt":
        return a > b
    if op == "gte":
        return a >= b
    raise FilterError(op)


def _norm(v: Any) -> Any:
    return v.lower() if isinstance(v, str) and len(v) == 36 and v.count("-") == 4 else v


def match_cond(cond: Cond, row: dict) -> bool:
    if cond.column not in row:
        return False
    val = row[cond.column]
    op = cond.op
    if op == "is":
        target = cond.value.lower()
        if target == "null":
            res = val is None
        elif target in ("true", "false"):
            res = val is (target == "true")
        else:
            return False
        return res != cond.negate
    if val is None:
        return False  # SQL: comparisons with NULL are never true, negated or not
    if isinstance(val, (dict, list)):
        return False
    try:
        if op == "in":
            res = any(_norm(val) == _norm(_coerce(x, val)) for x in cond.value)
        elif op in ("like", "ilike"):
            res = bool(_like_regex(cond.value, re.IGNORECASE if op == "ilike" else 0).match(str(val)))
        else:
            res = _cmp(op, _norm(val), _norm(_coerce(cond.value, val)))
    except (FilterError, TypeError):
        return False
    return res != cond.negate


def matches(conds: tuple[Cond, ...], row: dict | None) -> bool:
    if not conds:
        return True
    if row is None:
        return False
    return all(match_cond(c, row) for c in conds)
