"""What the live database holds in the exposed schemas: relations, their columns, keys and
foreign keys. Two catalog queries, readable by the API's login role."""
from __future__ import annotations

from dataclasses import dataclass, field

# pg_class.relkind: tables are probed row by row, the others for SELECT only
TABLE_KINDS = {"r": "table", "p": "table"}
VIEW_KINDS = {"v": "view", "m": "materialized view", "f": "foreign table"}


@dataclass(frozen=True)
class Column:
    name: str
    type: str                      # format_type(), used as a cast
    category: str                  # pg_type.typcategory
    required: bool                 # NOT NULL, no default, not identity or generated
    default: str | None
    writable: bool                 # not identity ALWAYS, not generated
    enum_first: str | None = None
    references: tuple[str, str] | None = None   # (schema.table, column) of a one-column foreign key


@dataclass(frozen=True)
class Relation:
    name: str
    kind: str                      # "table", "view", ...
    rls: bool
    columns: dict[str, Column] = field(default_factory=dict)
    key: tuple[str, ...] = ()      # primary key columns (empty: rows are found by ctid)

    @property
    def is_table(self) -> bool:
        return self.kind == "table"


RELATIONS_SQL = """
select n.nspname || '.' || c.relname, c.relkind::text, c.relrowsecurity,
       coalesce((select array_agg(a.attname order by array_position(i.indkey, a.attnum))
                 from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
                 where i.indrelid = c.oid and i.indisprimary), '{}')
from pg_class c join pg_namespace n on n.oid = c.relnamespace
where c.relkind in ('r', 'p', 'v', 'm', 'f') and n.nspname = any(%(schemas)s)
  and not c.relispartition
order by 1"""

COLUMNS_SQL = """
select n.nspname || '.' || c.relname, a.attname, format_type(a.atttypid, a.atttypmod), t.typcategory::text,
       a.attnotnull, pg_get_expr(d.adbin, d.adrelid), a.attidentity::text, a.attgenerated::text,
       (select e.enumlabel from pg_enum e where e.enumtypid = t.oid order by e.enumsortorder limit 1),
       (select fn.nspname || '.' || fc.relname || '|' || fa.attname
        from pg_constraint f
        join pg_class fc on fc.oid = f.confrelid join pg_namespace fn on fn.oid = fc.relnamespace
        join pg_attribute fa on fa.attrelid = f.confrelid and fa.attnum = f.confkey[1]
        where f.conrelid = c.oid and f.contype = 'f' and f.conkey = array[a.attnum] limit 1)
from pg_class c join pg_namespace n on n.oid = c.relnamespace
join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
join pg_type t on t.oid = a.atttypid
left join pg_attrdef d on d.adrelid = c.oid and d.adnum = a.attnum
where c.relkind in ('r', 'p') and n.nspname = any(%(schemas)s)
order by 1, a.attnum"""


def fetch_relations(conn, schemas: list[str]) -> dict[str, Relation]:
    """Every table and view of `schemas`, with what a fixture row needs."""
    params = {"schemas": list(schemas)}
    columns: dict[str, dict[str, Column]] = {}
    for rel, name, type_, cat, notnull, default, identity, generated, enum_first, fk in \
            conn.execute(COLUMNS_SQL, params).fetchall():
        columns.setdefault(rel, {})[name] = Column(
            name, type_, cat,
            required=notnull and default is None and not identity and not generated,
            default=default, writable=identity != "a" and not generated, enum_first=enum_first,
            references=tuple(fk.split("|", 1)) if fk else None)
    relations = {}
    for rel, relkind, rls, key in conn.execute(RELATIONS_SQL, params).fetchall():
        kind = TABLE_KINDS.get(relkind) or VIEW_KINDS[relkind]
        relations[rel] = Relation(rel, kind, rls, columns.get(rel, {}), tuple(key))
    return relations
