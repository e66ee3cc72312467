"""Postgres changes: poll a permanent wal2json logical slot, check RLS in the database,
dispatch to subscribed channels, then advance the slot (at-least-once across restarts)."""
from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from typing import Any

import orjson
import psycopg
from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from . import changes as C
from .protocol import ws_text_frame

log = logging.getLogger("realtime.cdc")

PEEK_OPTS = (
    "'format-version', '2', 'include-timestamp', 'true', 'include-type-oids', 'true', "
    "'include-pk', 'true', 'include-transaction', 'true'"
)


class Sub:
    __slots__ = ("channel", "binding")

    def __init__(self, channel, binding: C.Binding):
        self.channel = channel
        self.binding = binding


class TableInfo:
    __slots__ = ("rls", "pk")

    def __init__(self, rls: bool, pk: list):
        self.rls = rls
        self.pk = pk


class PostgresChanges:
    def __init__(self, cfg, metrics):
        self.cfg = cfg
        self.metrics = metrics
        self.subs: dict[Any, list[Sub]] = {}  # channel -> its subs (active)
        self.pending: list[tuple[Any, list[C.Binding]]] = []
        self.tables: dict[tuple[str, str], TableInfo] = {}
        self.typnames: dict[int, str] = {}
        self.db_connected = False
        self.replication_connected = False
        self.last_poll_ok = 0.0
        self._stop = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._conn: psycopg.AsyncConnection | None = None
        self.pool: AsyncConnectionPool | None = None
        self._tables_at = 0.0

    # ---- registry (called by the channel layer) ----
    def subscribe(self, channel, bindings: list[C.Binding]) -> None:
        self.pending.append((channel, bindings))

    def unsubscribe(self, channel) -> None:
        self.subs.pop(channel, None)
        if self.pending:
            self.pending = [p for p in self.pending if p[0] is not channel]

    def healthy(self) -> bool:
        return self.db_connected and self.replication_connected

    # ---- lifecycle ----
    async def start(self) -> None:
        self.pool = AsyncConnectionPool(
            self.cfg.dsn, min_size=1, max_size=4, open=False,
            kwargs={"autocommit": True}, reconnect_timeout=0,
            # a database restart leaves dead connections in the pool: test each one before
            # use, or the RLS check of the first change after the restart fails and drops it
            check=AsyncConnectionPool.check_connection,
        )
        await self.pool.open(wait=False)
        self._task = asyncio.create_task(self._run(), name="cdc")

    async def stop(self) -> None:
        self._stop.set()
        if self._task:
            try:
                await asyncio.wait_for(self._task, 5)
            except (asyncio.TimeoutError, Exception):
                self._task.cancel()
        if self._conn:
            await self._conn.close()
        if self.pool:
            await self.pool.close(timeout=2)

    async def _connect(self) -> None:
        self._conn = await psycopg.AsyncConnection.connect(self.cfg.dsn, autocommit=True)
        cur = await self._conn.execute(
            "select 1 from pg_replication_slots where slot_name = %s", (self.cfg.slot_name,)
        )
        if await cur.fetchone() is None:
            try:
                await self._conn.execute(
                    "select pg_create_logical_replication_slot(%s, 'wal2json')", (self.cfg.slot_name,)
                )
                log.info("created logical replication slot %s", self.cfg.slot_name)
            except psycopg.errors.DuplicateObject:
                pass
        cur = await self._conn.execute("select oid::int, typname from pg_type")
        self.typnames = {oid: name for oid, name in await cur.fetchall()}
        self.db_connected = True

    async def _refresh_tables(self) -> None:
        cur = await self._conn.execute(
            """
            select pt.schemaname, pt.tablename, c.relrowsecurity,
                   coalesce((select array_agg(a.attname::text order by array_position(i.indkey::int2[], a.attnum))
                      from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
                      where i.indrelid = c.oid and i.indisprimary), '{}')
            from pg_publication_tables pt
            join pg_namespace n on n.nspname = pt.schemaname
            join pg_class c on c.relnamespace = n.oid and c.relname = pt.tablename
            where pt.pubname = %s
            """,
            (self.cfg.publication,),
        )
        self.tables = {(s, t): TableInfo(bool(rls), list(pk)) for s, t, rls, pk in await cur.fetchall()}
        self._tables_at = time.monotonic()

    async def _run(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            try:
                if self._conn is None or self._conn.closed:
                    await self._connect()
                    await self._refresh_tables()
                    backoff = 0.5
                if time.monotonic() - self._tables_at > self.cfg.publication_refresh:
                    await self._refresh_tables()
                await self._poll_once()
                self.replication_connected = True
                self.last_poll_ok = time.monotonic()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - keep polling whatever happens
                log.warning("postgres changes poll failed: %s", exc)
                self.db_connected = False
                self.replication_connected = False
                if self._conn is not None:
                    try:
                        await self._conn.close()
                    except Exception:  # noqa: BLE001
                        pass
                    self._conn = None
                try:
                    await asyncio.wait_for(self._stop.wait(), backoff)
                except asyncio.TimeoutError:
                    pass
                backoff = min(backoff * 2, 5.0)
                continue
            try:
                await asyncio.wait_for(self._stop.wait(), self.cfg.poll_interval)
            except asyncio.TimeoutError:
                pass

    async def _poll_once(self) -> None:
        conn = self._conn
        cur = await conn.execute("select pg_current_wal_lsn()::text")
        (upto,) = await cur.fetchone()
        # Subscriptions registered before this point see every change committed after it.
        newly: list[tuple[Any, list[C.Binding]]] = []
        if self.pending:
            newly, self.pending = self.pending, []
            for channel, bindings in newly:
                if channel.closed:
                    continue
                self.subs[channel] = [Sub(channel, b) for b in bindings]
        rows: list = []
        if self.tables:
            add_tables = ",".join(
                f"{_w2j_escape(s)}.{_w2j_escape(t)}" for s, t in sorted(self.tables)
            )
            cur = await conn.execute(
                f"select lsn::text, data from pg_logical_slot_peek_changes(%s, %s::pg_lsn, %s, {PEEK_OPTS}, "
                "'add-tables', %s)",
                (self.cfg.slot_name, upto, self.cfg.poll_max_changes, add_tables),
            )
            rows = await cur.fetchall()
        advance_to = upto
        if rows and len(rows) >= self.cfg.poll_max_changes:
            commits = [lsn for lsn, data in rows if data.startswith('{"action":"C"')]
            if commits:
                advance_to = commits[-1]
                last = rows.index(next(r for r in reversed(rows) if r[0] == advance_to))
                rows = rows[: last + 1]
        batch = []
        for _lsn, data in rows:
            doc = orjson.loads(data)
            ch = C.decode_wal2json(doc, self.typnames)
            if ch is not None:
                batch.append(ch)
        if batch and self.subs:
            await self._dispatch(batch)
        if batch:
            self.metrics.db_changes += len(batch)
        await conn.execute("select pg_replication_slot_advance(%s, %s::pg_lsn)", (self.cfg.slot_name, advance_to))
        for channel, _ in newly:
            if not channel.closed and channel in self.subs:
                channel.push_system("postgres_changes", "ok", "Subscribed to PostgreSQL")

    async def _dispatch(self, batch: list[C.Change]) -> None:
        # 1. candidates per change: channel -> [binding ids]
        all_subs = [s for subs in self.subs.values() for s in subs]
        per_change: list[dict[Any, list[int]]] = []
        checks: dict[tuple[str, tuple, str, str], set] = defaultdict(set)  # (claims, schema, table) -> pks
        delete_roles: dict[tuple[str, str, str], None] = {}
        for ch in batch:
            cand: dict[Any, list[int]] = {}
            for s in all_subs:
                if C.binding_matches(s.binding, ch):
                    cand.setdefault(s.channel, []).append(s.binding.id)
            per_change.append(cand)
            if not cand:
                continue
            info = self.tables.get((ch.schema, ch.table))
            for channel in cand:
                key = channel.claims_key
                if ch.type == "DELETE":
                    delete_roles[(key[0], ch.schema, ch.table)] = None
                elif ch.pk_values is not None and info is not None:
                    checks[(key, ch.schema, ch.table)].add(ch.pk_values)
        # 2. ask the database, one query per (claims, table), in parallel over the pool
        visible: dict[tuple, set] = {}
        selectable: dict[tuple[str, str, str], bool] = {}
        tasks = []
        for (key, schema, table), pks in checks.items():
            tasks.append(self._visible(key, schema, table, pks, visible))
        for role, schema, table in delete_roles:
            tasks.append(self._selectable(role, schema, table, selectable))
        if tasks:
            await asyncio.gather(*tasks)
        # 3. deliver in commit order; the data object is encoded once per change
        now = time.time()
        for ch, cand in zip(batch, per_change):
            if not cand:
                continue
            info = self.tables.get((ch.schema, ch.table))
            rls = bool(info and info.rls)
            data_json = None
            no_pk_json = None
            for channel, ids in cand.items():
                if channel.closed:
                    continue
                key = channel.claims_key
                if ch.type == "DELETE":
                    if not selectable.get((key[0], ch.schema, ch.table), False):
                        continue
                elif ch.pk_values is None:
                    if no_pk_json is None:
                        no_pk_json = orjson.dumps(C.payload_data(ch, rls, ["Error 400: Bad Request, no primary key"]) | {"record": {}})
                    channel.deliver(_pg_frame(channel.topic, ids, no_pk_json))
                    continue
                elif ch.pk_values not in visible.get((key, ch.schema, ch.table), ()):
                    continue
                if data_json is None:
                    data_json = orjson.dumps(C.payload_data(ch, rls))
                channel.deliver(_pg_frame(channel.topic, ids, data_json))
                self.metrics.db_events_out += 1
            self.metrics.observe_pg_latency(now, ch.commit_timestamp)

    async def _visible(self, key, schema, table, pks, out) -> None:
        role, claims_json = key
        info = self.tables.get((schema, table))
        pk_cols = info.pk if info else []
        if not pk_cols:
            return
        ident = sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(table))
        # compare as text so no column type needs to be known here
        cols = sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier(c)) for c in pk_cols)
        unn = sql.SQL(", ").join(sql.SQL("%s::text[]") for _ in pk_cols)
        names = sql.SQL(", ").join(sql.Identifier(f"u{i}") for i in range(len(pk_cols)))
        q = sql.SQL("select {cols} from {t} where ({cols}) in (select {names} from unnest({unn}) as u({names}))").format(
            cols=cols, t=ident, names=names, unn=unn
        )
        pk_list = list(pks)
        arrays = [[C.pk_text(p[i]) for p in pk_list] for i in range(len(pk_cols))]
        result: set = set()
        try:
            async with self.pool.connection(timeout=5) as conn:
                async with conn.transaction():
                    await conn.execute(sql.SQL("set local role {}").format(sql.Identifier(role)))
                    await conn.execute("select set_config('request.jwt.claims', %s, true)", (claims_json,))
                    await conn.execute("select set_config('request.jwt.claim.role', %s, true)", (role,))
                    cur = await conn.execute(q, arrays)
                    seen = {tuple(r) for r in await cur.fetchall()}
            for p in pk_list:
                if tuple(C.pk_text(v) for v in p) in seen:
                    result.add(p)
        except Exception as exc:  # noqa: BLE001 - no visibility on any database error
            log.info("rls check for role %s on %s.%s refused: %s", role, schema, table, exc)
        out[key, schema, table] = result

    async def _selectable(self, role, schema, table, out) -> None:
        try:
            async with self.pool.connection(timeout=5) as conn:
                cur = await conn.execute(
                    "select has_table_privilege(%s, format('%%I.%%I', %s::text, %s::text), 'SELECT')",
                    (role, schema, table),
                )
                (ok,) = await cur.fetchone()
        except Exception:  # noqa: BLE001
            ok = False
        out[role, schema, table] = bool(ok)


def _w2j_escape(name: str) -> str:
    # wal2json add-tables: escape '.', ',' and '*' with a backslash
    return name.replace("\\", "\\\\").replace(",", "\\,").replace(".", "\\.").replace("*", "\\*")


def _pg_frame(topic: str, ids: list[int], data_json: bytes) -> bytes:
    return ws_text_frame(
        b'{"topic":' + orjson.dumps(topic) + b',"event":"postgres_changes","payload":{"ids":'
        + orjson.dumps(ids) + b',"data":' + data_json + b'},"ref":null,"join_ref":null}'
    )
