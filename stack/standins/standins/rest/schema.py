"""Schema cache: tables, columns, primary keys, functions and role settings (loaded once, reloaded on NOTIFY)."""
from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class Column:
    name: str
    type: str          # format_type() text, e.g. 'uuid', 'timestamp with time zone'
    udt: str           # pg_type.typname, e.g. 'uuid', 'timestamptz', '_int4'
    nullable: bool
    default: str | None
    position: int
    generated: bool = False
    description: str | None = None


@dataclass
class Table:
    schema: str
    name: str
    kind: str
    oid: int
    insertable: bool
    updatable: bool
    deletable: bool
    columns: dict = field(default_factory=dict)   # name -> Column, in attnum order
    pk: list = field(default_factory=list)
    description: str | None = None


@dataclass
class Param:
    name: str
    type: str
    udt: str
    has_default: bool


@dataclass
class Function:
    schema: str
    name: str
    oid: int
    params: list            # input params (Param)
    retset: bool
    ret_type: str           # format_type of return type
    ret_kind: str           # 'void', 'scalar', 'composite'
    ret_columns: list       # column names of a composite result, when known
    volatility: str         # 'i', 's', 'v'
    description: str | None = None

    @property
    def single_unnamed_json(self) -> bool:
        return len(self.params) == 1 and self.params[0].name == "" and self.params[0].udt in ("json", "jsonb")


@dataclass
class SchemaCache:
    schemas: list
    tables: dict = field(default_factory=dict)      # (schema, name) -> Table
    functions: dict = field(default_factory=dict)   # (schema, name) -> [Function]
    role_settings: dict = field(default_factory=dict)  # role -> [(key, value)]
    loaded_at: float = 0.0
    load_seconds: float = 0.0


TABLES_SQL = """
SELECT c.oid, n.nspname, c.relname, c.relkind,
       c.relkind IN ('r','p') OR (c.relkind IN ('v','f') AND (pg_relation_is_updatable(c.oid::regclass, true) & 8) = 8) AS insertable,
       c.relkind IN ('r','p') OR (c.relkind IN ('v','f') AND (pg_relation_is_updatable(c.oid::regclass, true) & 4) = 4) AS updatable,
       c.relkind IN ('r','p') OR (c.relkind IN ('v','f') AND (pg_relation_is_updatable(c.oid::regclass, true) & 16) = 16) AS deletable,
       obj_description(c.oid, 'pg_class')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r','v','m','f','p') AND n.nspname = ANY(%s)
"""

COLUMNS_SQL = """
SELECT a.attrelid, a.attname, format_type(a.atttypid, a.atttypmod), t.typname, NOT a.attnotnull,
       pg_get_expr(d.adbin, d.adrelid), a.attnum, a.attgenerated <> '' OR a.attidentity = 'a',
       col_description(a.attrelid, a.attnum)
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r','v','m','f','p','c') AND n.nspname = ANY(%s)
ORDER BY a.attrelid, a.attnum
"""

PK_SQL = """
SELECT con.conrelid, array_agg(a.attname::text ORDER BY k.ord)
FROM pg_constraint con
JOIN pg_namespace n ON n.oid = con.connamespace
CROSS JOIN LATERAL unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
WHERE con.contype = 'p' AND n.nspname = ANY(%s)
GROUP BY con.conrelid
"""

FUNCTIONS_SQL = """
SELECT p.oid, n.nspname, p.proname, p.proretset, p.provolatile, p.pronargs, p.pronargdefaults,
       coalesce(p.proargnames, '{}'::text[]), coalesce(p.proargmodes::text[], '{}'::text[]),
       coalesce(p.proallargtypes, p.proargtypes::oid[]),
       (SELECT array_agg(format_type(x, NULL) ORDER BY o) FROM unnest(coalesce(p.proallargtypes, p.proargtypes::oid[])) WITH ORDINALITY u(x, o)),
       (SELECT array_agg(tt.typname::text ORDER BY o) FROM unnest(coalesce(p.proallargtypes, p.proargtypes::oid[])) WITH ORDINALITY u(x, o) JOIN pg_type tt ON tt.oid = u.x),
       format_type(p.prorettype, NULL), rt.typtype, rt.typrelid, rt.typname,
       obj_description(p.oid, 'pg_proc')
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
JOIN pg_type rt ON rt.oid = p.prorettype
WHERE n.nspname = ANY(%s) AND p.prokind = 'f' AND p.prorettype NOT IN ('trigger'::regtype, 'event_trigger'::regtype)
"""

ROLE_SETTINGS_SQL = """
SELECT r.rolname, split_part(kv, '=', 1), substr(kv, strpos(kv, '=') + 1)
FROM pg_db_role_setting s
JOIN pg_roles r ON r.oid = s.setrole
CROSS JOIN LATERAL unnest(s.setconfig) AS kv
JOIN pg_settings ps ON ps.name = split_part(kv, '=', 1) AND ps.context = 'user'
WHERE s.setdatabase IN (0, (SELECT oid FROM pg_database WHERE datname = current_database()))
ORDER BY r.rolname, s.setdatabase
"""


async def load(conn, schemas: list) -> SchemaCache:
    t0 = time.perf_counter()
    cache = SchemaCache(list(schemas))
    by_oid = {}
    rel_columns: dict[int, dict] = {}
    async with conn.cursor() as cur:
        await cur.execute(TABLES_SQL, (schemas,))
        for oid, nsp, name, kind, ins, upd, dele, descr in await cur.fetchall():
            t = Table(nsp, name, kind, oid, bool(ins), bool(upd), bool(dele), description=descr)
            cache.tables[(nsp, name)] = t
            by_oid[oid] = t
        await cur.execute(COLUMNS_SQL, (schemas,))
        for relid, name, typ, udt, nullable, default, num, generated, descr in await cur.fetchall():
            col = Column(name, typ, udt, bool(nullable), default, num, bool(generated), descr)
            rel_columns.setdefault(relid, {})[name] = col
            if relid in by_oid:
                by_oid[relid].columns[name] = col
        await cur.execute(PK_SQL, (schemas,))
        for relid, cols in await cur.fetchall():
            if relid in by_oid:
                by_oid[relid].pk = list(cols)
        await cur.execute(FUNCTIONS_SQL, (schemas,))
        for row in await cur.fetchall():
            (oid, nsp, name, retset, vol, nargs, ndefaults, argnames, argmodes, argtypes, argfmt, argudt,
             rettype, rettyptype, retrelid, retudt, descr) = row
            argfmt = argfmt or []
            argudt = argudt or []
            inputs, outs = [], []
            for i in range(len(argtypes or [])):
                mode = argmodes[i] if argmodes else "i"
                pname = argnames[i] if i < len(argnames) else ""
                if mode in ("i", "b", "v"):
                    inputs.append(Param(pname, argfmt[i], argudt[i], False))
                if mode in ("o", "b", "t"):
                    outs.append(pname)
            for p in inputs[len(inputs) - (ndefaults or 0):]:
                p.has_default = True
            if rettype == "void":
                kind, cols = "void", []
            elif rettyptype == "c":
                kind, cols = "composite", list(rel_columns.get(retrelid, {}).keys())
            elif rettype == "record":
                kind, cols = "composite", outs
            else:
                kind, cols = "scalar", []
            cache.functions.setdefault((nsp, name), []).append(
                Function(nsp, name, oid, inputs, bool(retset), rettype, kind, cols, vol, descr))
        await cur.execute(ROLE_SETTINGS_SQL)
        for role, key, value in await cur.fetchall():
            settings = cache.role_settings.setdefault(role, [])
            settings[:] = [(k, v) for k, v in settings if k != key]  # database-specific overrides global
            settings.append((key, value))
    cache.loaded_at = time.time()
    cache.load_seconds = time.perf_counter() - t0
    return cache
