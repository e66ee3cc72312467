"""SQL builders. Identifiers come from the schema cache and are quoted; every value is a bound parameter."""
from __future__ import annotations

import difflib
import json
import re

from .errors import ApiError
from .parse import FTS_OPERATORS, IS_VALUES, OPERATORS, Field, Filter, Logic, OrderTerm, SelectItem

Q = "pgrst_t"  # alias of the relation being read or written
_MULTIWORD_TYPES = {"double precision", "character varying", "timestamp with time zone",
                    "timestamp without time zone", "time with time zone", "time without time zone", "bit varying"}


def qi(name: str) -> str:
    if "\x00" in name:
        raise ApiError(400, "PGRST100", "Invalid identifier")
    return '"' + name.replace('"', '""') + '"'


def qlit(value: str) -> str:
    if "\x00" in value:
        raise ApiError(400, "PGRST100", "Invalid literal")
    return "'" + value.replace("'", "''") + "'"


class Params:
    def __init__(self):
        self.values: list = []

    def add(self, value) -> str:
        self.values.append(value)
        return "%s"


def table_not_found(cache, schema: str, name: str) -> ApiError:
    names = [t for (s, t) in cache.tables if s == schema]
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.75)
    return ApiError(404, "PGRST205", f"Could not find the table '{schema}.{name}' in the schema cache", None,
                    f"Perhaps you meant the table '{schema}.{close[0]}'" if close else None)


def column_missing(relname: str, col: str) -> ApiError:
    return ApiError(400, "42703", f"column {relname}.{col} does not exist", None, None)


class Relation:
    """What a read can select from: a table/view, or a function's composite result."""

    def __init__(self, name: str, columns: dict | list | None, types: dict | None = None):
        self.name = name
        self.columns = None if columns is None else set(columns)
        self.types = types or {}

    def check(self, f: Field) -> None:
        if self.columns is not None and f.name not in self.columns:
            raise column_missing(self.name, f.name)


def field_sql(f: Field, rel: Relation, qual: str = Q) -> str:
    rel.check(f)
    out = f"{qual}.{qi(f.name)}"
    for op, key in f.json_path:
        out += op + (key if re.fullmatch(r"-?[0-9]+", key) else qlit(key))
    return out


def _cast_sql(cast: str) -> str:
    base = cast[:-2] if cast.endswith("[]") else cast
    if base.lower() not in _MULTIWORD_TYPES and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", base):
        raise ApiError(400, "PGRST100", f'"failed to parse select parameter (::{cast})"', "invalid cast")
    return cast


def select_sql(items: list[SelectItem], rel: Relation) -> str:
    out = []
    for it in items:
        if it.field is None:
            out.append(f"{Q}.*")
            continue
        expr = field_sql(it.field, rel)
        if it.cast:
            expr = f"{expr}::{_cast_sql(it.cast)}"
        alias = it.alias or it.field.default_alias
        out.append(f"{expr} AS {qi(alias)}")
    return ", ".join(out)


def _value_type(f: Field, rel: Relation) -> str | None:
    if f.json_path:
        return "text" if f.json_path[-1][0] == "->>" else "jsonb"
    return rel.types.get(f.name)


def condition_sql(node, rel: Relation, params: Params, qual: str = Q) -> str:
    if isinstance(node, Logic):
        joiner = " AND " if node.op == "and" else " OR "
        inner = "(" + joiner.join(condition_sql(c, rel, params, qual) for c in node.children) + ")"
        return f"NOT {inner}" if node.negate else inner
    assert isinstance(node, Filter)
    col = field_sql(node.field, rel, qual)
    op, val = node.op, node.value
    if op == "in":
        expr = f"{col} = ANY('{{}}')" if not val else f"{col} IN ({', '.join(params.add(v) for v in val)})"
    elif op == "is":
        expr = f"{col} IS {IS_VALUES[val]}"
    elif op in FTS_OPERATORS:
        fn = FTS_OPERATORS[op]
        if node.lang:
            expr = f"{col} @@ {fn}({params.add(node.lang)}::regconfig, {params.add(val)})"
        else:
            expr = f"{col} @@ {fn}({params.add(val)})"
    elif node.quant:
        typ = _value_type(node.field, rel) or "text"
        if op in ("like", "ilike"):
            val = [v.replace("*", "%") for v in val]
        arr = ", ".join(f"{params.add(v)}::{typ}" for v in val) if val else ""
        expr = f"{col} {OPERATORS[op]} {node.quant.upper()}(ARRAY[{arr}]::{typ}[])"
    else:
        if op in ("like", "ilike"):
            val = val.replace("*", "%")
        expr = f"{col} {OPERATORS[op]} {params.add(val)}"
    return f"NOT ({expr})" if node.negate else expr


def where_sql(filters: list, rel: Relation, params: Params, qual: str = Q) -> str:
    if not filters:
        return ""
    return " WHERE " + " AND ".join(condition_sql(f, rel, params, qual) for f in filters)


def order_sql(terms: list[OrderTerm], rel: Relation) -> str:
    if not terms:
        return ""
    parts = []
    for t in terms:
        s = field_sql(t.field, rel)
        if t.direction:
            s += " " + t.direction.upper()
        if t.nulls:
            s += " NULLS " + t.nulls.upper()
        parts.append(s)
    return " ORDER BY " + ", ".join(parts)


def limit_sql(offset: int, limit: int | None, params: Params) -> str:
    s = ""
    if limit is not None:
        s += f" LIMIT {int(limit)}"
    if offset:
        s += f" OFFSET {int(offset)}"
    return s


def wrap_result(source_sql: str, count_sql: str | None) -> str:
    """Aggregate a row source into (total, page_count, json body text)."""
    total = f"({count_sql})" if count_sql else "NULL::bigint"
    return (f"WITH pgrst_source AS ({source_sql}) "
            f"SELECT {total} AS total, pg_catalog.count(_t) AS n, "
            f"coalesce(json_agg(_t), '[]')::text AS body FROM pgrst_source _t")


def table_relation(table) -> Relation:
    return Relation(table.name, table.columns.keys(), {c.name: c.type for c in table.columns.values()})


def read_query(table, select, filters, order, offset, limit, count: bool):
    rel = table_relation(table)
    params = Params()
    tgt = f"{qi(table.schema)}.{qi(table.name)} AS {Q}"
    sel = select_sql(select, rel)
    where = where_sql(filters, rel, params)
    src = f"SELECT {sel} FROM {tgt}{where}{order_sql(order, rel)}{limit_sql(offset, limit, params)}"
    count_q = None
    if count:
        cparams = Params()
        count_q = f"SELECT pg_catalog.count(*) FROM {tgt}{where_sql(filters, rel, cparams)}"
        return wrap_result(src, count_q), params.values + cparams.values
    return wrap_result(src, None), params.values


def _payload_columns(table, cols: list[str]) -> None:
    for c in cols:
        if c not in table.columns:
            raise ApiError(400, "PGRST204", f"Could not find the '{c}' column of '{table.name}' in the schema cache")


def insert_query(table, rows_json: str, nrows: int, rows: list, cols: list[str], select, returning: bool,
                 on_conflict: list[str] | None, resolution: str | None, missing_default: bool, count: bool):
    """-> (sql, params, aggregated). aggregated=False means a plain statement (use rowcount)."""
    _payload_columns(table, cols)
    params = Params()
    tgt = f"{qi(table.schema)}.{qi(table.name)}"
    collist = ", ".join(qi(c) for c in cols)
    if not cols:
        body = "DEFAULT VALUES" if nrows == 1 else None
        if body is None:
            raise ApiError(400, "PGRST102", "Bulk insert of empty objects is not supported")
        stmt = f"INSERT INTO {tgt} AS {Q} DEFAULT VALUES"
    elif missing_default:
        tuples = []
        for row in rows:
            vals = []
            rowp = None
            for c in cols:
                if c in row:
                    if rowp is None:
                        rowp = json.dumps(row)
                    vals.append(f"(SELECT {qi(c)} FROM json_populate_record(NULL::{tgt}, {params.add(rowp)}::json))")
                else:
                    vals.append("DEFAULT")
            tuples.append("(" + ", ".join(vals) + ")")
        stmt = f"INSERT INTO {tgt} AS {Q} ({collist}) VALUES " + ", ".join(tuples)
    else:
        stmt = (f"INSERT INTO {tgt} AS {Q} ({collist}) SELECT {collist} "
                f"FROM json_populate_recordset(NULL::{tgt}, {params.add(rows_json)}::json) _")
    if resolution and (on_conflict or table.pk):
        conflict = on_conflict or table.pk
        _payload_columns(table, conflict)
        target = ", ".join(qi(c) for c in conflict)
        if resolution == "ignore-duplicates" or not cols:
            stmt += f" ON CONFLICT ({target}) DO NOTHING"
        else:
            sets = ", ".join(f"{qi(c)} = EXCLUDED.{qi(c)}" for c in cols)
            stmt += f" ON CONFLICT ({target}) DO UPDATE SET {sets}"
    if not returning:
        return stmt, params.values, False
    stmt += f" RETURNING {Q}.*"
    rel = table_relation(table)
    src = f"SELECT {select_sql(select, rel)} FROM pgrst_mut AS {Q}"
    sql = (f"WITH pgrst_mut AS ({stmt}), pgrst_source AS ({src}) "
           f"SELECT NULL::bigint AS total, pg_catalog.count(_t) AS n, coalesce(json_agg(_t), '[]')::text AS body "
           f"FROM pgrst_source _t")
    return sql, params.values, True


def update_query(table, obj_json: str, cols: list[str], filters, select, returning: bool):
    _payload_columns(table, cols)
    rel = table_relation(table)
    params = Params()
    tgt = f"{qi(table.schema)}.{qi(table.name)}"
    sets = ", ".join(f"{qi(c)} = pgrst_body.{qi(c)}" for c in cols)
    stmt = (f"UPDATE {tgt} AS {Q} SET {sets} FROM (SELECT * FROM json_populate_record(NULL::{tgt}, "
            f"{params.add(obj_json)}::json)) pgrst_body{where_sql(filters, rel, params)}")
    return _returning(stmt, rel, select, params, returning)


def delete_query(table, filters, select, returning: bool):
    rel = table_relation(table)
    params = Params()
    tgt = f"{qi(table.schema)}.{qi(table.name)}"
    stmt = f"DELETE FROM {tgt} AS {Q}{where_sql(filters, rel, params)}"
    return _returning(stmt, rel, select, params, returning)


def _returning(stmt, rel, select, params, returning):
    if not returning:
        return stmt, params.values, False
    stmt += f" RETURNING {Q}.*"
    src = f"SELECT {select_sql(select, rel)} FROM pgrst_mut AS {Q}"
    sql = (f"WITH pgrst_mut AS ({stmt}), pgrst_source AS ({src}) "
           f"SELECT NULL::bigint AS total, pg_catalog.count(_t) AS n, coalesce(json_agg(_t), '[]')::text AS body "
           f"FROM pgrst_source _t")
    return sql, params.values, True


def rpc_query(fn, args_json: str | None, arg_names: list[str], select, filters, order, offset, limit, count: bool):
    """-> (sql, params). Result row: (total, n, body); body is JSON text."""
    params = Params()
    fq = f"{qi(fn.schema)}.{qi(fn.name)}"
    if fn.single_unnamed_json:
        call = f"{fq}({params.add(args_json)}::{fn.params[0].type})"
        frm = ""
    elif arg_names:
        types = {p.name: p.type for p in fn.params}
        defs = ", ".join(f"{qi(a)} {types[a]}" for a in arg_names)
        call = fq + "(" + ", ".join(f"{qi(a)} := pgrst_args.{qi(a)}" for a in arg_names) + ")"
        frm = f"json_to_record({params.add(args_json)}::json) AS pgrst_args({defs})"
    else:
        call, frm = f"{fq}()", ""
    if fn.ret_kind == "composite":
        rel = Relation(fn.name, fn.ret_columns or None)
        source = f"{frm}, LATERAL {call} AS {Q}" if frm else f"{call} AS {Q}"
        where = where_sql(filters, rel, params)
        src = f"SELECT {select_sql(select, rel)} FROM {source}{where}{order_sql(order, rel)}{limit_sql(offset, limit, params)}"
        count_q = None
        if count:
            cparams = Params()
            # the call's own parameters are needed again for the count
            count_q = f"SELECT pg_catalog.count(*) FROM {source}{where}"
            sql = wrap_result(src, count_q)
            return sql, params.values + params.values
        return wrap_result(src, count_q), params.values
    # scalar / void
    from_clause = f" FROM {frm}" if frm else ""
    if fn.retset:
        rel = Relation(fn.name, [fn.name], {fn.name: fn.ret_type})
        src = f"SELECT {call} AS {qi(fn.name)}{from_clause}"
        where = where_sql(filters, rel, params, qual="pgrst_s")
        sql = (f"WITH pgrst_source AS (SELECT pgrst_s.{qi(fn.name)} AS v FROM ({src}) pgrst_s{where}"
               f"{limit_sql(offset, limit, params)}) "
               f"SELECT NULL::bigint, pg_catalog.count(*), coalesce(json_agg(v), '[]')::text FROM pgrst_source")
        return sql, params.values
    return f"SELECT NULL::bigint, 1, to_json({call})::text{from_clause}", params.values
