"""PostgREST-compatible HTTP service (aiohttp + psycopg 3 async pool)."""
from __future__ import annotations

import asyncio
import difflib
import logging
import time
from urllib.parse import parse_qsl, unquote as url_unquote

import orjson
import psycopg
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge
from psycopg import pq
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from ..common.config import env, env_int
from ..common.jwtauth import JwtError, bearer_token, decode_hs256
from ..common.web import HttpMetrics, observe_middleware
from . import parse as P
from . import schema as S
from . import sql as Q
from .errors import ApiError, from_pg

log = logging.getLogger("standins.rest")
JSON_CT = "application/json; charset=utf-8"
OBJECT_CT = "application/vnd.pgrst.object+json; charset=utf-8"
OPENAPI_CT = "application/openapi+json; charset=utf-8"
EXPOSE = "Content-Encoding, Content-Location, Content-Range, Content-Type, Date, Location, Server, Transfer-Encoding, Range-Unit"


LOG_MIN_STATUS = {"crit": 600, "error": 500, "warn": 400, "info": 0, "debug": 0}


class Config:
    def __init__(self):
        self.db_uri = env("PGRST_DB_URI", "postgresql://authenticator@localhost:5432/postgres")
        self.schemas = [s.strip() for s in env("PGRST_DB_SCHEMAS", "public").split(",") if s.strip()]
        self.anon_role = env("PGRST_DB_ANON_ROLE")
        self.jwt_secret = env("PGRST_JWT_SECRET")
        self.jwt_aud = env("PGRST_JWT_AUD")
        max_rows = env("PGRST_DB_MAX_ROWS")
        self.max_rows = int(max_rows) if max_rows else None
        self.pool_size = env_int("PGRST_DB_POOL", 10)
        self.pool_timeout = float(env("PGRST_DB_POOL_ACQUISITION_TIMEOUT", "10"))
        self.extra_search_path = [s.strip() for s in env("PGRST_DB_EXTRA_SEARCH_PATH", "public").split(",") if s.strip()]
        self.host = env("PGRST_SERVER_HOST", "0.0.0.0")
        self.port = env_int("PGRST_SERVER_PORT", 3000)
        admin = env("PGRST_ADMIN_SERVER_PORT", "3001")
        self.admin_port = int(admin) if admin else None
        self.openapi_mode = env("PGRST_OPENAPI_MODE", "follow-privileges")
        self.server_proxy_uri = env("PGRST_OPENAPI_SERVER_PROXY_URI")
        # PostgREST's log-level: which responses get an access-log line (its default: 5xx only).
        # A line per request is CPU and log volume on the hot path.
        self.log_level = env("PGRST_LOG_LEVEL", "error").lower()
        if self.log_level not in LOG_MIN_STATUS:
            raise ValueError(f"PGRST_LOG_LEVEL={self.log_level!r}: expected one of {', '.join(LOG_MIN_STATUS)}")


def postgrest_route(request: web.Request) -> str:
    """The route template of a PostgREST path for metrics labels: /, /{table},
    /rpc/{function}; anything else "unmatched" (table names stay out: 404s would make
    a series per typo)."""
    parts = request.path.strip("/").split("/") if request.path.strip("/") else []
    if not parts:
        return "/"
    if len(parts) == 2 and parts[0] == "rpc":
        return "/rpc/{function}"
    return "/{table}" if len(parts) == 1 else "unmatched"


class Metrics:
    def __init__(self, state: "State"):
        self.registry = CollectorRegistry()
        self.http = HttpMetrics(self.registry, route=postgrest_route)
        r = self.registry
        self.pool_max = Gauge("pgrst_db_pool_max", "Max pool connections", registry=r)
        self.pool_available = Gauge("pgrst_db_pool_available", "Available connections in the pool", registry=r)
        self.pool_waiting = Gauge("pgrst_db_pool_waiting", "Requests waiting to acquire a pool connection", registry=r)
        self.pool_in_use = Gauge("pgrst_db_pool_in_use", "Pool connections in use by requests", registry=r)
        self.pool_size = Gauge("pgrst_db_pool_size", "Open pool connections", registry=r)
        self.pool_timeouts = Counter("pgrst_db_pool_timeouts_total", "Pool connection timeouts", registry=r)
        self.cache_loads = Counter("pgrst_schema_cache_loads_total", "Schema cache loads", ["status"], registry=r)
        self.cache_time = Gauge("pgrst_schema_cache_query_time_seconds", "Last schema cache load time", registry=r)

        def refresh(pool_attr=state):
            pool = pool_attr.pool
            if pool is None:
                return {}
            return pool.get_stats()

        def stat(key):
            return lambda: refresh().get(key, 0)

        self.pool_max.set(state.config.pool_size)
        self.pool_available.set_function(stat("pool_available"))
        self.pool_waiting.set_function(stat("requests_waiting"))
        self.pool_size.set_function(stat("pool_size"))
        self.pool_in_use.set_function(lambda: max(0, refresh().get("pool_size", 0) - refresh().get("pool_available", 0)))


class State:
    def __init__(self, config: Config):
        self.config = config
        self.pool: AsyncConnectionPool | None = None
        self.cache: S.SchemaCache | None = None
        self.metrics = Metrics(self)
        self.jwt_cache: dict[str, tuple[dict, float | None]] = {}
        self.tasks: list[asyncio.Task] = []

    async def reload_cache(self) -> None:
        try:
            async with self.pool.connection() as conn:
                self.cache = await S.load(conn, self.config.schemas)
            self.metrics.cache_loads.labels("SUCCESS").inc()
            self.metrics.cache_time.set(self.cache.load_seconds)
            log.info("schema cache loaded: %d relations, %d functions in %.0f ms", len(self.cache.tables),
                     sum(len(v) for v in self.cache.functions.values()), self.cache.load_seconds * 1000)
        except Exception as exc:
            self.metrics.cache_loads.labels("FAIL").inc()
            log.warning("schema cache load failed: %s", exc)
            raise


# ---------------------------------------------------------------- auth

def authenticate(state: State, request: web.Request) -> tuple[str, dict, bool]:
    """-> (role, claims, authenticated)."""
    cfg = state.config
    auth = request.headers.get("Authorization")
    token = bearer_token(auth)
    if token is None:
        if cfg.anon_role is None:
            raise ApiError(401, "PGRST302", "Anonymous access is disabled", headers={"WWW-Authenticate": "Bearer"})
        return cfg.anon_role, {"role": cfg.anon_role}, False
    if not cfg.jwt_secret:
        raise ApiError(500, "PGRST300", "Server lacks JWT secret")
    now = time.time()
    hit = state.jwt_cache.get(token)
    if hit is not None and (hit[1] is None or hit[1] + 30 > now):
        claims = hit[0]
    else:
        try:
            claims = decode_hs256(token, cfg.jwt_secret, cfg.jwt_aud)
        except JwtError as exc:
            code = "PGRST303" if exc.kind == "claims" else "PGRST301"
            hdr = f'Bearer error="invalid_token", error_description="{exc.message}"'
            raise ApiError(401, code, exc.message, headers={"WWW-Authenticate": hdr}) from None
        if len(state.jwt_cache) > 10000:
            state.jwt_cache.clear()
        exp = claims.get("exp")
        state.jwt_cache[token] = (claims, float(exp) if isinstance(exp, (int, float)) else None)
    role = claims.get("role") if isinstance(claims.get("role"), str) and claims.get("role") else cfg.anon_role
    if role is None:
        raise ApiError(401, "PGRST302", "Anonymous access is disabled", headers={"WWW-Authenticate": "Bearer"})
    return role, claims, True


# ---------------------------------------------------------------- execution

async def run_in_tx(state: State, request: web.Request, role: str, claims: dict, authed: bool, schema: str,
                    statements: list, read_only: bool, check=None):
    """Run statements [(sql, params, kind)] in one transaction after PostgREST's per-request settings.

    kind 'agg' returns the (total, n, body) row, 'rowcount' returns the row count, 'rows' returns all rows.
    `check(results)` may raise an ApiError to roll the transaction back.
    """
    cfg = state.config
    headers = {k.lower(): v for k, v in request.headers.items()}
    cookies = {k: v.value for k, v in request.cookies.items()} if request.cookies else {}
    search_path = ", ".join(Q.qi(s) for s in [schema] + [s for s in cfg.extra_search_path if s != schema])
    settings = state.cache.role_settings.get(role, []) if state.cache else []
    cfg_sql = ("SELECT set_config('role', %s, true), set_config('request.jwt.claims', %s, true), "
               "set_config('request.method', %s, true), set_config('request.path', %s, true), "
               "set_config('request.headers', %s, true), set_config('request.cookies', %s, true), "
               "set_config('search_path', %s, true)" + "".join(", set_config(%s, %s, true)" for _ in settings))
    cfg_params = [role, orjson.dumps(claims).decode(), request.method, request.path,
                  orjson.dumps(headers).decode(), orjson.dumps(cookies).decode(), search_path]
    for k, v in settings:
        cfg_params += [k, v]
    try:
        conn_cm = state.pool.connection(timeout=cfg.pool_timeout)
        conn = await conn_cm.__aenter__()
    except PoolTimeout:
        state.metrics.pool_timeouts.inc()
        raise ApiError(504, "PGRST003", "Timed out acquiring connection from connection pool.") from None
    except psycopg.OperationalError as exc:
        raise ApiError(503, "PGRST000", "Database connection error. Retrying the connection.", str(exc)) from None
    exc_info = (None, None, None)
    try:
        results = []
        try:
            async with conn.pipeline():
                await conn.execute("BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY" if read_only else "BEGIN")
                await conn.execute(cfg_sql, cfg_params)
                curs = []
                for sql, params, kind in statements:
                    curs.append((await conn.execute(sql, params), kind))
                if read_only and check is None:
                    await conn.execute("COMMIT")
            for cur, kind in curs:
                if kind == "agg":
                    results.append(await cur.fetchone())
                elif kind == "rows":
                    results.append(await cur.fetchall())
                else:
                    results.append(cur.rowcount)
            if check is not None:
                check(results)
            if conn.info.transaction_status != pq.TransactionStatus.IDLE:
                await conn.execute("COMMIT")
            return results
        except BaseException:
            if not conn.closed and conn.info.transaction_status != pq.TransactionStatus.IDLE:
                try:
                    await conn.execute("ROLLBACK")
                except Exception:
                    pass
            raise
    except psycopg.Error as exc:
        exc_info = (type(exc), exc, exc.__traceback__)
        diag = exc.diag
        if isinstance(exc, psycopg.OperationalError) and diag.sqlstate is None:
            raise ApiError(503, "PGRST001", "Database client error. Retrying the connection.", str(exc)) from None
        raise from_pg(diag.sqlstate, diag.message_primary or str(exc), diag.message_detail, diag.message_hint, authed) from None
    finally:
        await conn_cm.__aexit__(*exc_info)


# ---------------------------------------------------------------- request helpers

def query_items(request: web.Request) -> list[tuple[str, str]]:
    qs = request.rel_url.raw_query_string
    return parse_qsl(qs, keep_blank_values=True)


def pick_schema(state: State, request: web.Request) -> tuple[str, bool]:
    hdr = "Accept-Profile" if request.method in ("GET", "HEAD") else "Content-Profile"
    prof = request.headers.get(hdr)
    schemas = state.config.schemas
    if prof is None:
        return schemas[0], False
    if prof not in schemas:
        raise ApiError(406, "PGRST106", f"Invalid schema: {prof}", None,
                       "Only the following schemas are exposed: " + ", ".join(schemas))
    return prof, len(schemas) > 1


def split_params(items, reserved_extra=()):
    """-> (special dict, filters list, logic list)."""
    special, filters = {}, []
    for key, value in items:
        if key in ("select", "order", "limit", "offset", "on_conflict", "columns") or key in reserved_extra:
            special[key] = value
        elif key in ("or", "and", "not.or", "not.and"):
            filters.append(P.parse_logic(key, value))
        else:
            filters.append(P.parse_filter(key, value))
    return special, filters


async def read_body(request: web.Request):
    raw = await request.read()
    if not raw.strip():
        return None
    ctype = (request.content_type or "application/json").lower()
    if ctype == "application/x-www-form-urlencoded":
        return dict(parse_qsl(raw.decode()))
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "PGRST102", "Empty or invalid json", str(exc)) from None


def respond(status: int, body: bytes | str | None, headers: dict, head: bool = False) -> web.Response:
    if isinstance(body, str):
        body = body.encode()
    return web.Response(status=status, body=None if head else body, headers=headers)


def _count_requested(prefer: P.Prefer) -> bool:
    return prefer.count in ("exact", "planned", "estimated")


# ---------------------------------------------------------------- handlers

def get_table(state: State, schema: str, name: str):
    t = state.cache.tables.get((schema, name))
    if t is None:
        raise Q.table_not_found(state.cache, schema, name)
    return t


async def handle_table(state: State, request: web.Request, name: str) -> web.Response:
    method = request.method
    role, claims, authed = authenticate(state, request)
    schema, by_profile = pick_schema(state, request)
    table = get_table(state, schema, name)
    prefer = P.parse_prefer(request.headers.getall("Prefer", []))
    items = query_items(request)
    special, filters = split_params(items)
    select = P.parse_select(special.get("select"))
    media = P.negotiate(request.headers.get("Accept"))
    ctype = OBJECT_CT if media == "object" else JSON_CT
    base_headers = {"Content-Type": ctype}
    if by_profile:
        base_headers["Content-Profile"] = schema
    applied = prefer.applied()

    if method in ("GET", "HEAD"):
        order = P.parse_order(special.get("order"))
        offset, limit = P.compute_range(request.headers.get("Range"), special.get("limit"), special.get("offset"),
                                        state.config.max_rows)
        count = _count_requested(prefer)
        sql, params = Q.read_query(table, select, filters, order, offset, limit, count)
        (row,) = await run_in_tx(state, request, role, claims, authed, schema, [(sql, params, "agg")], True)
        total, n, body = row
        status = P.range_status(offset, n, total)
        headers = dict(base_headers)
        headers["Content-Range"] = P.content_range(offset, n, total)
        headers["Content-Location"] = "/" + name + ("?" + request.rel_url.raw_query_string if request.rel_url.raw_query_string else "")
        if prefer.count:
            headers["Preference-Applied"] = f"count={prefer.count}"
        if status == 416:
            err = ApiError(416, "PGRST103", "Requested range not satisfiable",
                           f"An offset of {offset} was requested, but there are only {total} rows.")
            return respond(416, err.body(), err.all_headers(), method == "HEAD")
        if media == "object":
            if n != 1:
                raise ApiError(406, "PGRST116", "Cannot coerce the result to a single JSON object", f"The result contains {n} rows")
            body = body[1:-1].strip()
        return respond(status, body, headers, method == "HEAD")

    body = await read_body(request)
    representation = prefer.return_ == "representation"
    headers_only = prefer.return_ == "headers-only"

    def singular_check(results):
        if media == "object" and representation:
            n = results[0][1]
            if n != 1:
                raise ApiError(406, "PGRST116", "Cannot coerce the result to a single JSON object", f"The result contains {n} rows")

    if method == "POST":
        if body is None:
            body = {}
        rows = body if isinstance(body, list) else [body]
        if not all(isinstance(r, dict) for r in rows):
            raise ApiError(400, "PGRST102", "All object keys must match")
        if "columns" in special:
            cols = [c.strip().strip('"') for c in special["columns"].split(",") if c.strip()]
        else:
            cols = list(rows[0].keys()) if rows else []
            keyset = set(cols)
            if any(set(r.keys()) != keyset for r in rows[1:]):
                raise ApiError(400, "PGRST102", "All object keys must match")
        on_conflict = [c.strip() for c in special["on_conflict"].split(",")] if special.get("on_conflict") else None
        want_rows = representation or headers_only
        sel = select if representation else ([P.SelectItem(P.Field(c)) for c in table.pk] or [P.SelectItem(None)])
        if not rows:
            status = 201
            resp_headers = {"Content-Range": "*/*"}
            if representation:
                resp_headers.update(base_headers)
                return respond(status, "[]", resp_headers)
            return respond(status, b"", resp_headers)
        sql, params, agg = Q.insert_query(table, orjson.dumps(rows).decode(), len(rows), rows, cols, sel, want_rows,
                                          on_conflict, prefer.resolution, prefer.missing == "default",
                                          _count_requested(prefer))
        (res,) = await run_in_tx(state, request, role, claims, authed, schema,
                                 [(sql, params, "agg" if agg else "rowcount")], False, singular_check)
        n = res[1] if agg else res
        resp_headers = {"Content-Range": "*/" + (str(n) if _count_requested(prefer) else "*")}
        if applied:
            resp_headers["Preference-Applied"] = applied
        if headers_only and table.pk and agg:
            first = orjson.loads(res[2])
            if first:
                resp_headers["Location"] = "/" + name + "?" + "&".join(f"{c}=eq.{first[0].get(c)}" for c in table.pk)
        if representation:
            resp_headers.update(base_headers)
            out = res[2]
            if media == "object":
                out = out[1:-1].strip()
            return respond(201, out, resp_headers)
        return respond(201, b"", resp_headers)

    if method == "PATCH":
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise ApiError(400, "PGRST102", "Empty or invalid json")
        cols = list(body.keys())
        if "columns" in special:
            cols = [c.strip() for c in special["columns"].split(",") if c.strip()]
        if not cols:
            resp_headers = {"Content-Range": "*/*"}
            if representation:
                return respond(200, "[]", {**base_headers, **resp_headers})
            return respond(204, b"", resp_headers)
        sql, params, agg = Q.update_query(table, orjson.dumps(body).decode(), cols, filters, select, representation)
    elif method == "DELETE":
        sql, params, agg = Q.delete_query(table, filters, select, representation)
    else:
        raise ApiError(405, "PGRST117", f"Unsupported HTTP method: {method}")
    (res,) = await run_in_tx(state, request, role, claims, authed, schema,
                             [(sql, params, "agg" if agg else "rowcount")], False, singular_check)
    n = res[1] if agg else res
    total = str(n) if _count_requested(prefer) else "*"
    if method == "PATCH":
        crange = f"0-{n - 1}/{total}" if n > 0 and total != "0" else f"*/{total}"
    else:
        crange = f"*/{total}"
    resp_headers = {"Content-Range": crange}
    if applied:
        resp_headers["Preference-Applied"] = applied
    if representation:
        out = res[2]
        if media == "object":
            out = out[1:-1].strip()
        return respond(200, out, {**base_headers, **resp_headers})
    return respond(204, b"", resp_headers)


def resolve_function(state: State, schema: str, name: str, keys: list[str], single_json_body: bool):
    cands = state.cache.functions.get((schema, name), [])
    keyset = set(keys)
    matches = []
    for fn in cands:
        names = {p.name for p in fn.params}
        required = {p.name for p in fn.params if not p.has_default}
        if keyset <= names and required <= keyset:
            matches.append(fn)
    if not matches and single_json_body:
        matches = [fn for fn in cands if fn.single_unnamed_json]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        exact = [fn for fn in matches if len(fn.params) == len(keyset)]
        if len(exact) == 1:
            return exact[0]
        raise ApiError(300, "PGRST203", "Could not choose the best candidate function between: " + ", ".join(
            f"{fn.schema}.{fn.name}(" + ", ".join(f"{p.name} => {p.type}" for p in fn.params) + ")" for fn in matches),
            None, "Try renaming the parameters or the function itself in the database so function overloading can be resolved")
    prms = ", ".join(sorted(keys))
    func = f"{schema}.{name}"
    message = f"Could not find the function {func}" + (f"({prms})" if keys else " without parameters") + " in the schema cache"
    details = (f"Searched for the function {func}" + (f" with parameter{'s' if len(keys) > 1 else ''} {prms}" if keys else " without parameters")
               + (" or with a single unnamed json/jsonb parameter" if single_json_body else "") + ", but no matches were found in the schema cache.")
    hint = None
    if not cands:
        names = [n for (s, n) in state.cache.functions if s == schema]
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.75)
        if close:
            hint = f"Perhaps you meant to call the function {schema}.{close[0]}"
    else:
        best = cands[0]
        hint = f"Perhaps you meant to call the function {func}(" + ", ".join(sorted(p.name for p in best.params)) + ")"
    raise ApiError(404, "PGRST202", message, details, hint)


async def handle_rpc(state: State, request: web.Request, name: str) -> web.Response:
    method = request.method
    if method not in ("GET", "HEAD", "POST"):
        raise ApiError(405, "PGRST101", f"Cannot use the {method} method on RPC")
    role, claims, authed = authenticate(state, request)
    schema, by_profile = pick_schema(state, request)
    prefer = P.parse_prefer(request.headers.getall("Prefer", []))
    media = P.negotiate(request.headers.get("Accept"))
    items = query_items(request)
    if method == "POST":
        body = await read_body(request)
        if body is None:
            body = {}
        if not isinstance(body, dict):
            fn = resolve_function(state, schema, name, [], True)
            args = body
            special, filters = split_params(items)
        else:
            fn = resolve_function(state, schema, name, list(body.keys()), True)
            args = body
            special, filters = split_params(items)
        arg_names = [] if fn.single_unnamed_json else list(body.keys()) if isinstance(body, dict) else []
    else:
        cands = state.cache.functions.get((schema, name), [])
        pnames = {p.name for fn in cands for p in fn.params}
        args = {}
        rest = []
        for k, v in items:
            if k in pnames and k not in ("select", "order", "limit", "offset"):
                args[k] = v
            else:
                rest.append((k, v))
        fn = resolve_function(state, schema, name, list(args.keys()), False)
        special, filters = split_params(rest)
        arg_names = list(args.keys())
    select = P.parse_select(special.get("select"))
    order = P.parse_order(special.get("order"))
    offset, limit = P.compute_range(request.headers.get("Range"), special.get("limit"), special.get("offset"),
                                    state.config.max_rows if fn.retset else None)
    count = _count_requested(prefer) and fn.ret_kind == "composite"
    sql, params = Q.rpc_query(fn, orjson.dumps(args).decode(), arg_names, select, filters, order, offset, limit, count)
    read_only = method in ("GET", "HEAD")
    if read_only and fn.volatility == "v":
        pass  # PostgREST runs GET RPC read-only; a volatile function that writes fails with 25006 -> 405
    (row,) = await run_in_tx(state, request, role, claims, authed, schema, [(sql, params, "agg")], read_only)
    total, n, body = row
    headers = {"Content-Type": OBJECT_CT if media == "object" else JSON_CT}
    if by_profile:
        headers["Content-Profile"] = schema
    if fn.ret_kind == "void":
        return respond(204, b"", {"Content-Range": P.content_range(offset, 1, None)})
    if fn.retset:
        headers["Content-Range"] = P.content_range(offset, n, total)
        status = P.range_status(offset, n, total)
    else:
        headers["Content-Range"] = "0-0/*"
        status = 200
        if fn.ret_kind == "composite":
            # a function returning one row of a composite type answers an object
            body = body[1:-1].strip() or "null"
            n = 1
    if media == "object":
        if fn.retset:
            if n != 1:
                raise ApiError(406, "PGRST116", "Cannot coerce the result to a single JSON object", f"The result contains {n} rows")
            body = body[1:-1].strip()
    if body is None:
        body = "null"
    return respond(status, body, headers, method == "HEAD")


# ---------------------------------------------------------------- OpenAPI

PG_TO_SWAGGER = {
    "integer": ("integer", "integer"), "bigint": ("integer", "bigint"), "smallint": ("integer", "smallint"),
    "numeric": ("number", "numeric"), "real": ("number", "real"), "double precision": ("number", "double precision"),
    "boolean": ("boolean", "boolean"), "json": (None, "json"), "jsonb": (None, "jsonb"),
}


def _swagger_type(pgtype: str) -> dict:
    if pgtype.endswith("[]"):
        return {"type": "array", "items": {"type": "string"}, "format": pgtype}
    t, f = PG_TO_SWAGGER.get(pgtype, ("string", pgtype))
    out = {"format": f}
    if t:
        out["type"] = t
    return out


async def handle_root(state: State, request: web.Request) -> web.Response:
    role, claims, authed = authenticate(state, request)
    schema, by_profile = pick_schema(state, request)
    P.negotiate(request.headers.get("Accept"), openapi=True)
    tables = [t for (s, _), t in state.cache.tables.items() if s == schema]
    funcs = [f for (s, _), fs in state.cache.functions.items() if s == schema for f in fs]
    if state.config.openapi_mode == "disabled":
        raise ApiError(404, "PGRST126", "Root endpoint metadata is disabled")
    sql = ("SELECT (SELECT coalesce(array_agg(o), '{}') FROM unnest(%s::oid[]) o "
           "WHERE has_table_privilege(o, 'SELECT, INSERT, UPDATE, DELETE')), "
           "(SELECT coalesce(array_agg(o), '{}') FROM unnest(%s::oid[]) o WHERE has_function_privilege(o, 'EXECUTE'))")
    if state.config.openapi_mode == "ignore-privileges":
        visible_t = {t.oid for t in tables}
        visible_f = {f.oid for f in funcs}
    else:
        (rows,) = await run_in_tx(state, request, role, claims, authed, schema,
                                  [(sql, [[t.oid for t in tables], [f.oid for f in funcs]], "rows")], True)
        visible_t, visible_f = set(rows[0][0] or []), set(rows[0][1] or [])
    paths = {"/": {"get": {"produces": ["application/openapi+json", "application/json"],
                           "responses": {"200": {"description": "OK"}}, "summary": "OpenAPI description (this document)",
                           "tags": ["Introspection"]}}}
    definitions = {}
    for t in sorted(tables, key=lambda t: t.name):
        if t.oid not in visible_t:
            continue
        props, required = {}, []
        for c in t.columns.values():
            p = _swagger_type(c.type)
            if c.default is not None:
                p["default"] = c.default
            if c.name in t.pk:
                p["description"] = "Note:\nThis is a Primary Key.<pk/>"
            props[c.name] = p
            if not c.nullable and c.default is None:
                required.append(c.name)
        definitions[t.name] = {"type": "object", "properties": props, **({"required": required} if required else {})}
        ref = {"$ref": f"#/definitions/{t.name}"}
        ops = {"get": {"tags": [t.name], "parameters": [{"$ref": "#/parameters/select"}, {"$ref": "#/parameters/order"},
                                                        {"$ref": "#/parameters/range"}, {"$ref": "#/parameters/offset"},
                                                        {"$ref": "#/parameters/limit"}, {"$ref": "#/parameters/preferCount"}],
                       "responses": {"200": {"description": "OK", "schema": {"type": "array", "items": ref}},
                                     "206": {"description": "Partial Content"}}}}
        if t.insertable:
            ops["post"] = {"tags": [t.name], "parameters": [{"$ref": f"#/parameters/body.{t.name}"}, {"$ref": "#/parameters/select"},
                                                            {"$ref": "#/parameters/preferPost"}],
                           "responses": {"201": {"description": "Created"}}}
        if t.updatable:
            ops["patch"] = {"tags": [t.name], "parameters": [{"$ref": f"#/parameters/body.{t.name}"}, {"$ref": "#/parameters/preferReturn"}],
                            "responses": {"204": {"description": "No Content"}}}
        if t.deletable:
            ops["delete"] = {"tags": [t.name], "parameters": [{"$ref": "#/parameters/preferReturn"}],
                             "responses": {"204": {"description": "No Content"}}}
        paths["/" + t.name] = ops
    for f in sorted(funcs, key=lambda f: f.name):
        if f.oid not in visible_f:
            continue
        props = {p.name: _swagger_type(p.type) for p in f.params if p.name}
        req = [p.name for p in f.params if p.name and not p.has_default]
        body_schema = {"type": "object", "properties": props, **({"required": req} if req else {})}
        op = {"tags": ["(rpc) " + f.name], "produces": ["application/json", "application/vnd.pgrst.object+json"],
              "parameters": [{"in": "body", "name": "args", "required": True, "schema": body_schema}, {"$ref": "#/parameters/preferParams"}],
              "responses": {"200": {"description": "OK"}}}
        if f.description:
            op["summary"] = f.description
        entry = {"post": op}
        if f.volatility != "v":
            entry["get"] = {"tags": ["(rpc) " + f.name], "parameters": [
                {"in": "query", "name": p.name, "required": not p.has_default, **_swagger_type(p.type)} for p in f.params if p.name],
                "responses": {"200": {"description": "OK"}}}
        paths["/rpc/" + f.name] = entry
    parameters = {
        "preferParams": {"name": "Prefer", "in": "header", "type": "string", "enum": ["params=single-object"]},
        "preferReturn": {"name": "Prefer", "in": "header", "type": "string", "enum": ["return=representation", "return=minimal", "return=none"]},
        "preferCount": {"name": "Prefer", "in": "header", "type": "string", "enum": ["count=none"]},
        "preferPost": {"name": "Prefer", "in": "header", "type": "string",
                       "enum": ["return=representation", "return=minimal", "return=none", "resolution=ignore-duplicates", "resolution=merge-duplicates"]},
        "select": {"name": "select", "description": "Filtering Columns", "required": False, "in": "query", "type": "string"},
        "on_conflict": {"name": "on_conflict", "description": "On Conflict", "required": False, "in": "query", "type": "string"},
        "order": {"name": "order", "description": "Ordering", "required": False, "in": "query", "type": "string"},
        "range": {"name": "Range", "description": "Limiting and Pagination", "required": False, "in": "header", "type": "string"},
        "rangeUnit": {"name": "Range-Unit", "description": "Limiting and Pagination", "required": False, "default": "items", "in": "header", "type": "string"},
        "offset": {"name": "offset", "description": "Limiting and Pagination", "required": False, "in": "query", "type": "string"},
        "limit": {"name": "limit", "description": "Limiting and Pagination", "required": False, "in": "query", "type": "string"},
    }
    for name in definitions:
        parameters[f"body.{name}"] = {"name": name, "description": name, "required": False, "in": "body",
                                      "schema": {"$ref": f"#/definitions/{name}"}}
    doc = {
        "swagger": "2.0",
        "info": {"description": "", "title": "standard public schema", "version": "14.5 (standins)"},
        "host": request.host, "basePath": "/", "schemes": ["http"],
        "consumes": ["application/json", "application/vnd.pgrst.object+json;nulls=stripped", "application/vnd.pgrst.object+json", "text/csv"],
        "produces": ["application/json", "application/vnd.pgrst.object+json;nulls=stripped", "application/vnd.pgrst.object+json", "text/csv"],
        "paths": paths, "definitions": definitions, "parameters": parameters,
        "externalDocs": {"description": "PostgREST Documentation", "url": "https://postgrest.org/en/v14/references/api.html"},
    }
    headers = {"Content-Type": OPENAPI_CT}
    if by_profile:
        headers["Content-Profile"] = schema
    return respond(200, orjson.dumps(doc), headers, request.method == "HEAD")


# ---------------------------------------------------------------- app wiring

def make_app(state: State) -> web.Application:
    async def dispatch(request: web.Request) -> web.Response:
        try:
            if state.cache is None:
                raise ApiError(503, "PGRST002", "Could not query the database for the schema cache. Retrying.")
            path = request.path
            if request.method == "OPTIONS":
                return web.Response(status=200, headers={
                    "Allow": "OPTIONS,GET,HEAD,POST,PUT,PATCH,DELETE",
                    "Access-Control-Allow-Origin": "*",
                    "Access-Control-Allow-Methods": "GET, POST, PATCH, PUT, DELETE, OPTIONS, HEAD",
                    "Access-Control-Allow-Headers": request.headers.get("Access-Control-Request-Headers", "*"),
                    "Access-Control-Max-Age": "86400"})
            parts = [url_unquote(p) for p in path.strip("/").split("/")] if path.strip("/") else []
            if not parts:
                if request.method not in ("GET", "HEAD"):
                    raise ApiError(405, "PGRST117", f"Unsupported HTTP method: {request.method}")
                resp = await handle_root(state, request)
            elif len(parts) == 2 and parts[0] == "rpc":
                resp = await handle_rpc(state, request, parts[1])
            elif len(parts) == 1:
                if request.method not in ("GET", "HEAD", "POST", "PATCH", "DELETE"):
                    raise ApiError(405, "PGRST117", f"Unsupported HTTP method: {request.method}")
                resp = await handle_table(state, request, parts[0])
            else:
                raise ApiError(404, "PGRST125", "Invalid path specified in request URL")
        except ApiError as err:
            resp = respond(err.status, err.body(), err.all_headers(), request.method == "HEAD")
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("unhandled error on %s %s", request.method, request.path)
            err = ApiError(500, "PGRSTX00", "Internal server error")
            resp = respond(500, err.body(), err.all_headers())
        if "Origin" in request.headers:
            resp.headers["Access-Control-Allow-Origin"] = "*"
            resp.headers["Access-Control-Expose-Headers"] = EXPOSE
        return resp

    app = web.Application(middlewares=[observe_middleware(log, state.metrics.http, LOG_MIN_STATUS[state.config.log_level])], client_max_size=64 * 1024 * 1024)
    app.router.add_route("*", "/{tail:.*}", dispatch)
    return app


def make_admin_app(state: State) -> web.Application:
    async def live(request):
        return web.Response(status=200)

    async def ready(request):
        if state.cache is None or state.pool is None:
            return web.Response(status=503)
        try:
            async with state.pool.connection(timeout=2) as conn:
                await conn.execute("SELECT 1")
        except Exception:
            return web.Response(status=503)
        return web.Response(status=200)

    app = web.Application()
    app.router.add_get("/live", live)
    app.router.add_get("/ready", ready)
    app.router.add_get("/metrics", state.metrics.http.handler)
    return app


async def listener(state: State) -> None:
    """LISTEN pgrst; reload the schema cache on 'reload schema' (or an empty payload), like PostgREST."""
    while True:
        try:
            conn = await psycopg.AsyncConnection.connect(state.config.db_uri, autocommit=True)
            async with conn:
                await conn.execute("LISTEN pgrst")
                log.info("listening for schema cache reloads on channel pgrst")
                await state.reload_cache()  # catch changes made while disconnected
                async for note in conn.notifies():
                    payload = (note.payload or "").strip()
                    if payload in ("", "reload schema"):
                        await state.reload_cache()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("listener error: %s; retrying in 1 s", exc)
            await asyncio.sleep(1)


async def startup(state: State) -> None:
    cfg = state.config

    async def configure(conn):
        await conn.set_autocommit(True)

    state.pool = AsyncConnectionPool(cfg.db_uri, min_size=cfg.pool_size, max_size=cfg.pool_size, open=False,
                                     configure=configure, timeout=cfg.pool_timeout,
                                     kwargs={"application_name": "postgrest"}, name="pgrst")
    await state.pool.open(wait=False)
    state.tasks.append(asyncio.create_task(listener(state)))

    async def initial_load():
        while state.cache is None:
            try:
                await state.reload_cache()
            except Exception:
                await asyncio.sleep(1)

    state.tasks.append(asyncio.create_task(initial_load()))
