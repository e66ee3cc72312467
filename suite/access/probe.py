"""The live access check: what each identity can see and change, observed in ONE
transaction that is always rolled back (safe on production: nothing commits, so nothing
survives, even a SIGKILL of the run).

Connected as the API's login role (`authenticator`), it impersonates each identity as
PostgREST does per request: `SET LOCAL ROLE <role>` and the JWT claims in
`request.jwt.claims` (plus the legacy `request.jwt.claim.sub` / `.role`). Fixture rows
are inserted as `service_role`: for every table, one row owned by the signed-in user
("self") and one by another user ("other"); parents are made to satisfy foreign keys, and
membership owners get a group each (self is a member of its own group only). Every probe
runs inside a SAVEPOINT and is rolled back to it, so a refused write or an error leaves the
rest of the run intact. The result is a plain table of facts for suite/checks/access.py.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from .catalog import Relation, fetch_relations
from .spec import IDENTITIES, Membership, Spec, TableSpec

AUTH_USERS = "auth.users"
REFUSED = "42501"                  # insufficient_privilege: RLS or a missing grant
# Constraints are checked after the grants and the policies (NOT NULL, CHECK, unique, foreign
# keys: e.g. deleting a fixture group other fixture rows still reference): the write was allowed.
INTEGRITY = "23"
HTTP_METHOD = {"select": "GET", "insert": "POST", "update": "PATCH", "delete": "DELETE"}
MAX_PARENT_DEPTH = 4
# The run's own bounds, so a slow probe never holds locks on a production database.
LOCAL_SETTINGS = {"statement_timeout": "5s", "lock_timeout": "1s", "idle_in_transaction_session_timeout": "60s"}
# identities the login role cannot SET ROLE to (a missing role, or not a member): every probe
# would read as "refused", so the check stops instead
IMPERSONABLE_SQL = """
select r from unnest(%s::text[]) r left join pg_roles p on p.rolname = r
where p.oid is null or not pg_has_role(session_user, p.oid, 'MEMBER')"""
TYPE_DEFAULTS = {"S": "suite-access", "N": "1", "B": "true", "D": "now", "A": "{}", "T": "1 second",
                 "I": "127.0.0.1"}


class FixtureError(Exception):
    """A valid row could not be made for a table (its message says which column needs a hint)."""


@dataclass
class Observation:
    """seen[table][identity][operation] = (self's row, other's row) each True/False, or an
    error string; problems: fixtures that could not be made."""
    seen: dict[str, dict[str, dict[str, object]]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    relations: dict[str, Relation] = field(default_factory=dict)


def _split(name: str) -> sql.Identifier:
    schema, table = name.split(".", 1)
    return sql.Identifier(schema, table)


class _Run:
    def __init__(self, conn: psycopg.Connection, spec: Spec, relations: dict[str, Relation], users: dict[str, str]):
        self.conn, self.spec, self.relations, self.users = conn, spec, relations, users
        self.tag = f"suite-access-{uuid.uuid4().hex[:8]}"
        self.groups: dict[tuple[str, str], dict] = {}

    # ---- identities ---------------------------------------------------------------------
    def act_as(self, identity: str, op: str = "select") -> None:
        """What PostgREST does at the start of a request's transaction."""
        claims = {"role": identity}
        if identity == "authenticated":
            claims.update(sub=self.users["self"], aud="authenticated")
        self.conn.execute(sql.SQL("set local role {}").format(sql.Identifier(identity)))
        self.conn.execute("select set_config('request.jwt.claims', %s, true), "
                          "set_config('request.jwt.claim.sub', %s, true), "
                          "set_config('request.jwt.claim.role', %s, true), "
                          "set_config('request.method', %s, true)",
                          (json.dumps(claims), claims.get("sub", ""), identity, HTTP_METHOD[op]))

    def attempt(self, identity: str, op: str, statement, params=()) -> bool | str:
        """True: the statement touched a row; False: refused or no row; str: another error."""
        with self.conn.transaction(force_rollback=True):
            self.act_as(identity, op)
            try:
                with self.conn.transaction():
                    cur = self.conn.execute(statement, params)
                    return cur.rowcount > 0
            except psycopg.Error as exc:
                if exc.sqlstate == REFUSED:
                    return False
                if exc.sqlstate.startswith(INTEGRITY):
                    return True                    # past the grants and policies, stopped by a constraint
                return f"error {exc.sqlstate}: {str(exc).splitlines()[0]}"

    # ---- fixture rows (as service_role) ---------------------------------------------------
    def insert(self, rel: Relation, values: dict[str, str], returning: list[str]) -> dict:
        cols = list(values)
        statement = sql.SQL("insert into {} ({}) values ({}) returning {}").format(
            _split(rel.name), sql.SQL(", ").join(map(sql.Identifier, cols)),
            sql.SQL(", ").join(sql.SQL("%s::") + sql.SQL(rel.columns[c].type) for c in cols),
            sql.SQL(", ").join(map(sql.Identifier, returning)) if returning else sql.SQL("ctid::text"))
        row = self.conn.execute(statement, [values[c] for c in cols]).fetchone()
        return dict(zip(returning or ["ctid"], row))

    def as_service(self, rel: Relation, values: dict[str, str], returning: list[str]) -> dict:
        """Insert as service_role; a failure rolls back to the savepoint, role included."""
        with self.conn.transaction():
            self.act_as("service_role", "insert")
            row = self.insert(rel, values, returning)
            self.conn.execute("reset role")
            return row

    def values(self, name: str, who: str, preset: dict | None = None, depth: int = 0) -> dict[str, str]:
        """Values for a valid row of `name` belonging to `who` (parents inserted as needed)."""
        rel = self.relations.get(name)
        if rel is None:
            raise FixtureError(f"{name} does not exist")
        table = self.spec.tables.get(name)
        uid = self.users[who]
        values = {}
        if table is not None:
            values.update({c: self.hint(v, uid) for c, v in table.fixture.items()})
            if isinstance(table.owner, str):
                values[table.owner] = uid
            elif isinstance(table.owner, Membership) and table.owner.via != name and not self.is_group(table):
                values[table.owner.column] = self.group(table.owner, who, depth)[self.group_key(table.owner)[1]]
        values.update(preset or {})
        for col in rel.columns.values():
            if col.name in values or not col.writable:
                continue
            if col.default and "auth.uid()" in col.default and col.category == "U":
                values[col.name] = uid           # e.g. created_by default auth.uid(): service_role has no uid
            elif col.required:
                values[col.name] = self.generated(rel, col, who, depth)
        return values

    def hint(self, value, uid: str) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (dict, list)):
            return json.dumps(value)
        return str(value).replace("$user", uid)

    def generated(self, rel: Relation, col, who: str, depth: int) -> str:
        if col.references:
            parent, parent_col = col.references
            if parent == AUTH_USERS:
                return self.users[who]
            if depth >= MAX_PARENT_DEPTH:
                raise FixtureError(f"{rel.name}.{col.name}: foreign keys nest deeper than {MAX_PARENT_DEPTH}; "
                                   f"add `fixture: {{{col.name}: ...}}`")
            prel = self.relations.get(parent)
            if prel is None:
                raise FixtureError(f"{rel.name}.{col.name} references {parent} outside the exposed schemas: "
                                   f"add `fixture: {{{col.name}: <an existing {parent_col}>}}`")
            row = self.as_service(prel, self.values(parent, who, depth=depth + 1), [parent_col])
            return str(row[parent_col])
        if col.category == "E":
            return col.enum_first
        if col.category == "U" and col.type == "uuid":
            return str(uuid.uuid4())
        if col.category == "U" and col.type in ("json", "jsonb"):
            return "{}"
        if col.category == "S":
            return f"{self.tag}-{uuid.uuid4().hex[:6]}"
        if col.category == "N":
            return str(uuid.uuid4().int % 1_000_000 + 1)
        if col.category in TYPE_DEFAULTS:
            return TYPE_DEFAULTS[col.category]
        raise FixtureError(f"{rel.name}.{col.name} ({col.type}) is required and has no default: "
                           f"add `fixture: {{{col.name}: ...}}`")

    def group_key(self, m: Membership) -> tuple[str, str]:
        """(group table, column) that the membership table's key references."""
        if m.via not in self.relations or m.key not in self.relations[m.via].columns:
            raise FixtureError(f"owner via {m.via}.{m.key}: no such table or column")
        ref = self.relations[m.via].columns[m.key].references
        if ref is None:
            raise FixtureError(f"owner via {m.via}: {m.key} has no foreign key to the group table")
        return ref

    def is_group(self, table: TableSpec) -> bool:
        """The table IS the group of its membership owner (e.g. teams, owned via team_members)."""
        m = table.owner
        key = self.relations[m.via].columns.get(m.key) if m.via in self.relations else None
        return key is not None and key.references == (table.name, m.column)

    def group(self, m: Membership, who: str, depth: int) -> dict:
        """A group of which `who` is the only member (made once per membership and user)."""
        if (m.via, who) not in self.groups:
            parent, col = self.group_key(m)
            row = self.as_service(self.relations[parent], self.values(parent, who, depth=depth + 1),
                                  list(self.relations[parent].key) or [col])
            preset = {m.key: str(row[col]), m.user: self.users[who]}
            self.as_service(self.relations[m.via], self.values(m.via, who, preset, depth + 1), [])
            self.groups[(m.via, who)] = row
        return self.groups[(m.via, who)]

    # ---- probes ------------------------------------------------------------------------
    def where(self, rel: Relation, row: dict):
        if rel.key:
            return (sql.SQL(" and ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in rel.key),
                    [row[c] for c in rel.key])
        return sql.SQL("ctid = %s::tid"), [row["ctid"]]

    def update_column(self, table: TableSpec, rel: Relation, identity: str) -> str:
        if table.update_column:
            return table.update_column
        if table.columns.get(identity):
            return table.columns[identity][0]      # a column this identity may write
        owner = {table.owner} if isinstance(table.owner, str) else (
            {table.owner.column} if table.owner else set())
        plain = [c.name for c in rel.columns.values() if c.writable and c.name not in rel.key and c.name not in owner]
        return (plain or list(rel.columns))[0]

    def probe_table(self, table: TableSpec, rel: Relation) -> dict[str, dict[str, object]]:
        seen: dict[str, dict[str, object]] = {i: {} for i in IDENTITIES}
        ident = _split(rel.name)
        group_table = isinstance(table.owner, Membership) and self.is_group(table)
        # insert first: candidate rows may collide with the fixture rows on unique keys
        candidates = {w: self.values(rel.name, w) for w in ("self", "other")}
        for identity in IDENTITIES:
            seen[identity]["insert"] = tuple(
                self.attempt(identity, "insert", sql.SQL("insert into {} ({}) values ({})").format(
                    ident, sql.SQL(", ").join(map(sql.Identifier, candidates[w])),
                    sql.SQL(", ").join(sql.SQL("%s::") + sql.SQL(rel.columns[c].type) for c in candidates[w])),
                    list(candidates[w].values()))
                for w in ("self", "other"))
        if group_table:
            rows = {w: self.group(table.owner, w, 0) for w in ("self", "other")}
        else:
            rows = {w: self.as_service(rel, candidates[w], list(rel.key)) for w in ("self", "other")}
        for identity in IDENTITIES:
            column = sql.Identifier(self.update_column(table, rel, identity))
            for op, template in (("select", "select 1 from {t} where {w}"),
                                 ("update", "update {t} set {c} = {c} where {w}"),
                                 ("delete", "delete from {t} where {w}")):
                outcome = []
                for w in ("self", "other"):
                    cond, params = self.where(rel, rows[w])
                    outcome.append(self.attempt(identity, op, sql.SQL(template).format(t=ident, c=column, w=cond),
                                                params))
                seen[identity][op] = tuple(outcome)
        for identity in table.columns:
            seen[identity]["columns"] = self.writable_columns(identity, rel, rows["self"])
        return seen

    def writable_columns(self, identity: str, rel: Relation, row: dict) -> tuple[str, ...]:
        """The columns `identity` may UPDATE on the user's own row (column privileges)."""
        cond, params = self.where(rel, row)
        return tuple(sorted(c.name for c in rel.columns.values() if c.writable and self.attempt(
            identity, "update", sql.SQL("update {t} set {c} = {c} where {w}").format(
                t=_split(rel.name), c=sql.Identifier(c.name), w=cond), params) is True))

    def probe_view(self, rel: Relation) -> dict[str, dict[str, object]]:
        """Views: may the identity read it at all (a view shows rows of other tables, so
        which rows is not judged here)."""
        # one row when the identity may read it (the view itself is not run: limit 0)
        statement = sql.SQL("select count(*) from (select from {} limit 0) readable").format(_split(rel.name))
        seen = {}
        for identity in IDENTITIES:
            ok = self.attempt(identity, "select", statement)
            seen[identity] = {"select": (ok, ok)}
        return seen


def observe(conn: psycopg.Connection, spec: Spec, schemas: list[str], users: dict[str, str]) -> Observation:
    """Probe every table and view of the spec that exists; ROLLBACK whatever happens.
    `users`: {"self": uuid, "other": uuid}, existing users when a table references auth.users."""
    autocommit = conn.autocommit
    conn.rollback()                                # start from no transaction, so the block below owns it
    conn.autocommit = False
    result = Observation()
    try:
        # force_rollback: the outer transaction never commits, whatever happens inside
        with conn.transaction(force_rollback=True):
            for key, value in LOCAL_SETTINGS.items():
                conn.execute("select set_config(%s, %s, true)", (key, value))
            result.relations = fetch_relations(conn, schemas)
            unreachable = conn.execute(IMPERSONABLE_SQL, (list(IDENTITIES),)).fetchall()
            if unreachable:
                login = conn.execute("select session_user").fetchone()[0]
                result.problems.append(
                    f"the login role {login} cannot impersonate {', '.join(r for (r,) in unreachable)} "
                    f"(missing, or {login} is not a member): DB_URL must be the API's login role (authenticator)")
                return result
            run = _Run(conn, spec, result.relations, users)
            for name, table in spec.tables.items():
                rel = result.relations.get(name)
                if rel is None:
                    continue                       # reported by the coverage judge
                try:
                    with conn.transaction():
                        result.seen[name] = run.probe_table(table, rel) if rel.is_table else run.probe_view(rel)
                except FixtureError as exc:
                    result.problems.append(f"{name}: no fixture row: {exc}")
                except psycopg.Error as exc:
                    result.problems.append(f"{name}: no fixture row as service_role: "
                                           f"{exc.sqlstate} {str(exc).splitlines()[0]} (add a `fixture:` hint)")
    finally:
        conn.rollback()
        conn.autocommit = autocommit
    return result
