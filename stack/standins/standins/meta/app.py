"""Read-only postgres-meta stand-in: /health, /schemas, /tables, /roles, /policies (upstream JSON shapes)."""
from __future__ import annotations

import datetime
import logging

import orjson
from aiohttp import web
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from ..common.config import env, env_int
from ..common.web import JSON_CT, observe_middleware

log = logging.getLogger("standins.meta")
SYSTEM_SCHEMAS = ["information_schema", "pg_catalog", "pg_toast"]

SCHEMAS_SQL = """
SELECT n.oid::int8 AS id, n.nspname AS name, u.rolname AS owner
FROM pg_namespace n JOIN pg_roles u ON u.oid = n.nspowner
WHERE (pg_has_role(n.nspowner, 'USAGE') OR has_schema_privilege(n.oid, 'CREATE, USAGE'))
  AND NOT pg_is_other_temp_schema(n.oid) AND n.nspname NOT LIKE 'pg\\_temp\\_%%' AND n.nspname NOT LIKE 'pg\\_toast\\_temp\\_%%'
  AND (%(system)s OR NOT (n.nspname = ANY(%(sys)s)))
ORDER BY n.nspname
"""

TABLES_SQL = """
SELECT c.oid::int8 AS id, nc.nspname AS schema, c.relname AS name,
       c.relrowsecurity AS rls_enabled, c.relforcerowsecurity AS rls_forced,
       CASE c.relreplident WHEN 'd' THEN 'DEFAULT' WHEN 'i' THEN 'INDEX' WHEN 'f' THEN 'FULL' ELSE 'NOTHING' END AS replica_identity,
       pg_total_relation_size(c.oid)::int8 AS bytes, pg_size_pretty(pg_total_relation_size(c.oid)) AS size,
       pg_stat_get_live_tuples(c.oid) AS live_rows_estimate, pg_stat_get_dead_tuples(c.oid) AS dead_rows_estimate,
       obj_description(c.oid, 'pg_class') AS comment,
       coalesce((SELECT jsonb_agg(jsonb_build_object('schema', nc.nspname, 'table_name', c.relname, 'name', a.attname, 'table_id', c.oid::int8))
                 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
                 WHERE i.indrelid = c.oid AND i.indisprimary), '[]'::jsonb) AS primary_keys,
       coalesce((SELECT jsonb_agg(jsonb_build_object('id', con.oid::int8, 'constraint_name', con.conname,
                    'source_schema', ns.nspname, 'source_table_name', cs.relname, 'source_column_name', sa.attname,
                    'target_table_schema', nt.nspname, 'target_table_name', ct.relname, 'target_column_name', ta.attname))
                 FROM pg_constraint con
                 JOIN pg_class cs ON cs.oid = con.conrelid JOIN pg_namespace ns ON ns.oid = cs.relnamespace
                 JOIN pg_class ct ON ct.oid = con.confrelid JOIN pg_namespace nt ON nt.oid = ct.relnamespace
                 JOIN pg_attribute sa ON sa.attrelid = con.conrelid AND sa.attnum = ANY(con.conkey)
                 JOIN pg_attribute ta ON ta.attrelid = con.confrelid AND ta.attnum = ANY(con.confkey)
                 WHERE con.contype = 'f' AND (con.conrelid = c.oid OR con.confrelid = c.oid)), '[]'::jsonb) AS relationships
FROM pg_namespace nc JOIN pg_class c ON nc.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT pg_is_other_temp_schema(nc.oid)
  AND (pg_has_role(c.relowner, 'USAGE') OR has_table_privilege(c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
       OR has_any_column_privilege(c.oid, 'SELECT, INSERT, UPDATE, REFERENCES'))
  AND (%(system)s OR NOT (nc.nspname = ANY(%(sys)s)))
ORDER BY nc.nspname, c.relname
"""

ROLES_SQL = """
SELECT r.oid::int8 AS id, r.rolname AS name, r.rolsuper AS is_superuser, r.rolcreatedb AS can_create_db,
       r.rolcreaterole AS can_create_role, r.rolinherit AS inherit_role, r.rolcanlogin AS can_login,
       r.rolreplication AS is_replication_role, r.rolbypassrls AS can_bypass_rls,
       (SELECT count(*) FROM pg_stat_activity a WHERE a.state = 'active' AND a.usename = r.rolname)::int AS active_connections,
       CASE WHEN r.rolconnlimit = -1 THEN current_setting('max_connections')::int4 ELSE r.rolconnlimit END AS connection_limit,
       r.rolpassword AS password, r.rolvaliduntil AS valid_until,
       (SELECT jsonb_object_agg(split_part(kv, '=', 1), substr(kv, strpos(kv, '=') + 1)) FROM unnest(r.rolconfig) kv) AS config
FROM pg_roles r
ORDER BY r.rolname
"""

POLICIES_SQL = """
SELECT pol.oid::int8 AS id, n.nspname AS schema, c.relname AS table, c.oid::int8 AS table_id, pol.polname AS name,
       CASE WHEN pol.polpermissive THEN 'PERMISSIVE' ELSE 'RESTRICTIVE' END AS action,
       CASE WHEN pol.polroles = '{0}'::oid[] THEN array['public']::text[]
            ELSE array(SELECT rolname::text FROM pg_roles WHERE oid = ANY(pol.polroles) ORDER BY rolname) END AS roles,
       CASE pol.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE' WHEN '*' THEN 'ALL' END AS command,
       pg_get_expr(pol.polqual, pol.polrelid) AS definition,
       pg_get_expr(pol.polwithcheck, pol.polrelid) AS check
FROM pg_policy pol JOIN pg_class c ON c.oid = pol.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE (%(system)s OR NOT (n.nspname = ANY(%(sys)s)))
ORDER BY n.nspname, c.relname, pol.polname
"""


def _default(o):
    if isinstance(o, (datetime.datetime, datetime.date)):
        return o.isoformat()
    raise TypeError


def make_app(pool: AsyncConnectionPool) -> web.Application:
    def listing(sql: str):
        async def handler(request: web.Request) -> web.Response:
            system = request.query.get("include_system_schemas", "false").lower() == "true"
            try:
                async with pool.connection(timeout=5) as conn:
                    async with conn.cursor(row_factory=dict_row) as cur:
                        await cur.execute(sql, {"system": system, "sys": SYSTEM_SCHEMAS})
                        rows = await cur.fetchall()
            except Exception as exc:
                log.warning("query failed: %s", exc)
                return web.Response(status=500, body=orjson.dumps({"error": str(exc)}), content_type="application/json")
            limit = request.query.get("limit")
            offset = int(request.query.get("offset", "0") or 0)
            rows = rows[offset:offset + int(limit)] if limit and limit.isdigit() else rows[offset:]
            return web.Response(body=orjson.dumps(rows, default=_default), headers={"Content-Type": JSON_CT})
        return handler

    async def health(request: web.Request) -> web.Response:
        return web.Response(body=orjson.dumps({"date": datetime.datetime.now(datetime.timezone.utc).isoformat()}),
                            headers={"Content-Type": JSON_CT})

    app = web.Application(middlewares=[observe_middleware(log)])
    app.router.add_get("/health", health)
    app.router.add_get("/schemas", listing(SCHEMAS_SQL))
    app.router.add_get("/schemas/", listing(SCHEMAS_SQL))
    app.router.add_get("/tables", listing(TABLES_SQL))
    app.router.add_get("/tables/", listing(TABLES_SQL))
    app.router.add_get("/roles", listing(ROLES_SQL))
    app.router.add_get("/roles/", listing(ROLES_SQL))
    app.router.add_get("/policies", listing(POLICIES_SQL))
    app.router.add_get("/policies/", listing(POLICIES_SQL))
    return app


def conninfo() -> str:
    from psycopg.conninfo import make_conninfo
    return make_conninfo(host=env("PG_META_DB_HOST", "localhost"), port=env_int("PG_META_DB_PORT", 5432),
                         dbname=env("PG_META_DB_NAME", "postgres"), user=env("PG_META_DB_USER", "supabase_admin"),
                         password=env("PG_META_DB_PASSWORD", ""), application_name="postgres-meta")
