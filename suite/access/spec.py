"""The access spec: who may do what on every table and view of the exposed schemas.

```yaml
tables:
  public.notes:
    owner: owner_id                    # "own" rows: owner_id = the signed-in user
    anon: none                         # one level for every operation ...
    authenticated: own
    service_role: all
  public.team_docs:
    owner: {via: public.team_members, column: team_id, key: team_id, user: user_id}
    anon: none
    authenticated: {select: own, insert: own, update: own, delete: none}   # ... or one per operation
    service_role: all
    fixture: {title: hello}            # values the suite cannot infer
    update_column: body                # the column an UPDATE probe writes (default: the first plain one)
    columns: {authenticated: [title, body]}   # where it matters: the only columns it may UPDATE
    reviewed: false                    # drafted, not yet confirmed: fails the run
```
Levels: `all` (every row), `own` (only the rows the owner rule gives the user), `none`.
Views are checked for `select` only (`all`: the role may read it, `none`: refused).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

IDENTITIES = ("anon", "authenticated", "service_role")
OPERATIONS = ("select", "insert", "update", "delete")
LEVELS = ("all", "own", "none")
TABLE_KEYS = {"owner", "fixture", "update_column", "columns", "reviewed", *IDENTITIES}


class SpecError(Exception):
    """The spec file is missing, unreadable or does not follow the format."""


@dataclass(frozen=True)
class Membership:
    """Rows belong to the users who are members of their group: `table.column` is the group,
    `via` the membership table with the group in `key` and the user in `user`."""
    via: str
    column: str
    key: str
    user: str


@dataclass(frozen=True)
class TableSpec:
    name: str                                   # schema.table
    levels: dict[str, dict[str, str]]           # identity -> operation -> level
    owner: str | Membership | None = None
    fixture: dict = field(default_factory=dict)
    update_column: str | None = None
    reviewed: bool = True
    columns: dict[str, tuple[str, ...]] = field(default_factory=dict)   # identity -> the columns it may UPDATE


@dataclass(frozen=True)
class Spec:
    path: Path
    tables: dict[str, TableSpec]


def _qualified(name: str) -> str:
    return name if "." in name else f"public.{name}"


def _owner(where: str, raw) -> str | Membership | None:
    if raw is None or isinstance(raw, str):
        return raw
    if isinstance(raw, dict) and {"via", "key", "user"} <= set(raw):
        unknown = set(raw) - {"via", "column", "key", "user"}
        if unknown:
            raise SpecError(f"{where}: owner: unknown keys {sorted(unknown)}")
        return Membership(_qualified(str(raw["via"])), str(raw.get("column", raw["key"])),
                          str(raw["key"]), str(raw["user"]))
    raise SpecError(f"{where}: owner must be a column name or {{via: table, key: column, user: column}}, "
                    f"got {raw!r}")


def _levels(where: str, identity: str, raw) -> dict[str, str]:
    if isinstance(raw, str):
        raw = dict.fromkeys(OPERATIONS, raw)
    if not isinstance(raw, dict):
        raise SpecError(f"{where}: {identity}: expected a level or {{operation: level}}, got {raw!r}")
    unknown = set(raw) - set(OPERATIONS)
    missing = set(OPERATIONS) - set(raw)
    if unknown or missing:
        raise SpecError(f"{where}: {identity}: operations must be exactly {', '.join(OPERATIONS)} "
                        f"(unknown {sorted(unknown)}, missing {sorted(missing)})")
    for op, level in raw.items():
        if level not in LEVELS:
            raise SpecError(f"{where}: {identity} {op}: level {level!r} is not one of {', '.join(LEVELS)}")
    return dict(raw)


def _table(path: Path, name: str, raw) -> TableSpec:
    where = f"{path}: {name}"
    if not isinstance(raw, dict):
        raise SpecError(f"{where}: expected a mapping, got {raw!r}")
    unknown = set(raw) - TABLE_KEYS
    if unknown:
        raise SpecError(f"{where}: unknown keys {sorted(unknown)} (known: {', '.join(sorted(TABLE_KEYS))})")
    missing = [i for i in IDENTITIES if i not in raw]
    if missing:
        raise SpecError(f"{where}: no level for {', '.join(missing)} (every identity must be stated)")
    owner = _owner(where, raw.get("owner"))
    levels = {i: _levels(where, i, raw[i]) for i in IDENTITIES}
    for identity, ops in levels.items():
        owned = [op for op, level in ops.items() if level == "own"]
        if owned and (identity != "authenticated" or owner is None):
            why = "only a signed-in user owns rows" if identity != "authenticated" else "the table has no owner rule"
            raise SpecError(f"{where}: {identity} {owned[0]}: level own, but {why}")
    fixture = raw.get("fixture") or {}
    if not isinstance(fixture, dict):
        raise SpecError(f"{where}: fixture must be a mapping column: value, got {fixture!r}")
    return TableSpec(_qualified(name), levels, owner, fixture, raw.get("update_column"),
                     raw.get("reviewed", True) is not False, _columns(where, raw.get("columns")))


def _columns(where: str, raw) -> dict[str, tuple[str, ...]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(isinstance(v, list) for v in raw.values()):
        raise SpecError(f"{where}: columns must map an identity to a list of columns, got {raw!r}")
    unknown = set(raw) - set(IDENTITIES)
    if unknown:
        raise SpecError(f"{where}: columns: unknown identities {sorted(unknown)}")
    return {identity: tuple(sorted(map(str, cols))) for identity, cols in raw.items()}


def parse(path: Path, text: str) -> Spec:
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("tables"), dict):
        raise SpecError(f"{path}: expected a mapping with `tables:` (docs/targets.md, Access spec)")
    tables = [_table(path, str(name), raw) for name, raw in doc["tables"].items()]
    return Spec(path, {t.name: t for t in tables})


def load(path: Path) -> Spec:
    try:
        text = path.read_text()
    except OSError as exc:
        raise SpecError(f"access spec {path}: {exc.strerror}") from None
    return parse(path, text)


def locate(target) -> Path | None:
    """The target's spec: ACCESS_SPEC (relative to its env file), else access.yaml beside the
    env file; the bundled stack ships stack/db/access.yaml. None when there is none."""
    base = Path(target.env_file).parent if target.env_file else Path.cwd()
    declared = target.env.get("ACCESS_SPEC", "").strip()
    if declared:
        return (base / declared).resolve()
    candidates = [base / "access.yaml"]
    if target.is_local:
        from ..target import STACK
        candidates.append(STACK / "db" / "access.yaml")
    return next((p for p in candidates if p.exists()), None)
