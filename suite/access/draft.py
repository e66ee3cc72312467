"""A starter access spec drafted from the live grants and policies (`make access-spec`).

It copies what the database does today, which may be wrong: every entry is written
`reviewed: false`, and the check fails on it until the operator confirms or corrects it.
How a level is drafted, per table, identity and operation:
- no table privilege: none; BYPASSRLS (service_role) or RLS off: all;
- RLS on: no permissive policy for the role and command: none; a policy `true`: all; a
  policy comparing a column with auth.uid(): own by that column; a policy on a table that
  belongs to a group of a membership table (a table whose own policy is `user = auth.uid()`
  and which references the group): own via the membership; any other condition: all, with
  the condition in a comment (the spec cannot state row filters such as `published`).

Usage: python -m suite.access.draft [--target FILE] [--out PATH]
"""
from __future__ import annotations

import argparse
import re
import sys
from datetime import datetime, timezone
from pathlib import Path

from suite.checks.database import _open, fetch_policies  # _open: the one reading of "always true"

from .catalog import Relation, fetch_relations
from .spec import IDENTITIES, OPERATIONS

OWNER_PATTERNS = (re.compile(r"\b(\w+)\s*=\s*\(\s*SELECT\s+auth\.uid\(\)", re.I),
                  re.compile(r"\b(\w+)\s*=\s*auth\.uid\(\)", re.I),
                  re.compile(r"auth\.uid\(\)(?:\s+AS\s+uid\))?\s*=\s*(\w+)", re.I))

GRANTS_SQL = """
select n.nspname || '.' || c.relname, r.rolname, r.rolbypassrls,
       has_table_privilege(r.oid, c.oid, 'UPDATE'),
       (select coalesce(array_agg(a.attname::text order by a.attnum), '{}') from pg_attribute a
        where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
          and has_column_privilege(r.oid, c.oid, a.attnum, 'UPDATE')),
       has_table_privilege(r.oid, c.oid, 'SELECT'), has_table_privilege(r.oid, c.oid, 'INSERT'),
       has_any_column_privilege(r.oid, c.oid, 'UPDATE'), has_table_privilege(r.oid, c.oid, 'DELETE')
from pg_class c join pg_namespace n on n.oid = c.relnamespace cross join pg_roles r
where c.relkind in ('r', 'p', 'v', 'm', 'f') and not c.relispartition and n.nspname = any(%s)
  and r.rolname = any(%s)"""


def fetch_grants(conn, schemas: list[str]) -> dict[str, dict[str, dict]]:
    """table -> identity -> {"bypassrls": bool, "select": bool, ..., "columns": [...] when UPDATE
    is granted on some columns only}"""
    grants: dict[str, dict[str, dict]] = {}
    for table, role, bypass, whole_update, columns, *privs in \
            conn.execute(GRANTS_SQL, (list(schemas), list(IDENTITIES))).fetchall():
        grant = {"bypassrls": bypass, **dict(zip(OPERATIONS, privs))}
        if privs[2] and not whole_update:
            grant["columns"] = list(columns)
        grants.setdefault(table, {})[role] = grant
    return grants


def _owner_column(expr: str | None) -> str | None:
    for pattern in OWNER_PATTERNS:
        found = pattern.search(expr or "")
        if found and found.group(1).lower() not in ("select", "uid"):
            return found.group(1)
    return None


def _expressions(policies: list[dict]) -> list[str]:
    return [e for p in policies for e in (p["qual"], p["with_check"]) if e]


def memberships(relations: dict[str, Relation], policies: list[dict]) -> dict[str, list[dict]]:
    """group table -> owner rules through the membership tables that reference it."""
    found: dict[str, list[dict]] = {}
    for name, rel in relations.items():
        exprs = [e for e in _expressions([p for p in policies if p["table"] == name]) if not _open(e)]
        users = {_owner_column(e) for e in exprs}
        if None in users or len(users) != 1:
            continue                           # a membership table's policies only compare its user column
        for user in users:
            for col in rel.columns.values():
                if col.name != user and col.references and col.references[0] in relations \
                        and col.references[0] != name:
                    found.setdefault(col.references[0], []).append(
                        {"via": name, "key": col.name, "user": user, "group_column": col.references[1]})
    return found


def _owner_rule(rel: Relation, policies: list[dict], groups: dict[str, list[dict]]):
    """A column, a membership rule, or None."""
    exprs = [e for e in _expressions(policies) if not _open(e)]
    columns = [c for c in map(_owner_column, exprs) if c]
    uncovered = [e for e in exprs if not _owner_column(e)]
    mentioned = lambda column: any(re.search(rf"\b{re.escape(column)}\b", e) for e in uncovered)  # noqa: E731
    for group, m in ((g, m) for g, rules in groups.items() for m in rules):
        if m["via"] == rel.name:
            continue
        # the group column must be what the other policies test (is_member(org_id), ...)
        if group == rel.name and mentioned(m["group_column"]):
            return {"via": m["via"], "column": m["group_column"], "key": m["key"], "user": m["user"]}
        for col in rel.columns.values():
            if col.references and col.references[0] == group and mentioned(col.name):
                return {"via": m["via"], "column": col.name, "key": m["key"], "user": m["user"]}
    return max(set(columns), key=columns.count) if columns else None


def _level(rel: Relation, grant: dict, policies: list[dict], op: str, owner) -> str:
    if not grant.get(op):
        return "none"
    if not rel.is_table:
        return "all" if op == "select" else "none"
    if grant["bypassrls"] or not rel.rls:
        return "all"
    exprs = [p["with_check"] if op == "insert" else p["qual"] for p in policies
             if p["permissive"] == "PERMISSIVE" and p["cmd"] in (op.upper(), "ALL")]
    if not exprs:
        return "none"
    if any(e is None or _open(e) for e in exprs):
        return "all"
    if owner is not None and all(_owner_column(e) or isinstance(owner, dict) for e in exprs):
        return "own"
    return "all"


def _for_role(policies: list[dict], role: str) -> list[dict]:
    return [p for p in policies if role in p["roles"] or "public" in p["roles"]]


def _levels_yaml(levels: dict[str, str]) -> str:
    values = set(levels.values())
    if len(values) == 1:
        return values.pop()
    return "{" + ", ".join(f"{op}: {levels[op]}" for op in OPERATIONS) + "}"


def draft(relations: dict[str, Relation], policies: list[dict], grants: dict, source: str) -> str:
    """The spec's YAML text, with each table's policies as comments for the review."""
    groups = memberships(relations, policies)
    lines = [f"# Drafted by `make access-spec` from the live grants and policies of {source}",
             f"# on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC. It copies what the database does TODAY:",
             "# review every entry (docs/targets.md, \"Access spec\"), correct it where the policies are wrong,",
             "# and remove `reviewed: false`. Until then the access check fails on it.",
             "tables:"]
    for name, rel in sorted(relations.items()):
        mine = [p for p in policies if p["table"] == name]
        owner = _owner_rule(rel, mine, groups) if rel.is_table else None
        lines.append(f"  {name}:")
        if not rel.is_table:
            lines.append(f"    # a {rel.kind}: checked for select only")
        elif not rel.rls:
            lines.append("    # RLS is OFF: every role with a grant reaches every row")
        for p in mine:
            using = f" USING {p['qual']}" if p["qual"] else ""
            check = f" WITH CHECK {p['with_check']}" if p["with_check"] else ""
            lines.append(f"    # policy {p['policy']}: {p['cmd']} to {', '.join(p['roles'])}{using}{check}")
        if isinstance(owner, str):
            lines.append(f"    owner: {owner}")
        elif owner:
            lines.append("    owner: {" + ", ".join(f"{k}: {owner[k]}" for k in ("via", "column", "key", "user")) + "}")
        for identity in IDENTITIES:
            grant = grants.get(name, {}).get(identity, {})
            levels = {op: _level(rel, grant, _for_role(mine, identity), op, owner) for op in OPERATIONS}
            if identity != "authenticated" or owner is None:
                levels = {op: "all" if lv == "own" else lv for op, lv in levels.items()}
            lines.append(f"    {identity}: {_levels_yaml(levels)}")
        columns = {i: grants[name][i]["columns"] for i in IDENTITIES if "columns" in grants.get(name, {}).get(i, {})}
        if columns:
            lines.append("    columns: {" + ", ".join(f"{i}: [{', '.join(c)}]" for i, c in columns.items()) + "}")
        lines.append("    reviewed: false")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from suite.clients import connect_db
    from suite.target import TargetConfigError, load

    from .spec import locate
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", help="target env file (default: the bundled local stack)")
    parser.add_argument("--out", help="where to write the draft (default: the target's spec path, "
                                      "or <spec>.draft.yaml when that exists)")
    args = parser.parse_args(argv)
    try:
        target = load(args.target)
    except TargetConfigError as exc:
        print(f"access-spec: {exc}", file=sys.stderr)
        return 2
    if not target.has("db"):
        print(f"access-spec: {target.absent['db']}: the draft reads the database", file=sys.stderr)
        return 2
    with connect_db(target) as conn:
        relations = fetch_relations(conn, target.exposed_schemas)
        text = draft(relations, fetch_policies(conn, target.exposed_schemas),
                     fetch_grants(conn, target.exposed_schemas), target.name)
    out = Path(args.out) if args.out else (locate(target) or Path(target.env_file).parent / "access.yaml")
    if out.exists() and not args.out:
        out = out.with_suffix(".draft.yaml")
    out.write_text(text)
    print(f"access-spec: drafted {len(relations)} tables and views into {out}; every entry is "
          f"`reviewed: false` until you confirm it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
