"""Database users: psycopg through the published endpoint as `authenticator` (never the
superuser), acting as a signed-in user under RLS the way PostgREST does (SET LOCAL ROLE +
request.jwt.claims): reads, writes, short transactions, and connection churn.
Settings: --db-wait-s (LOAD_DB_WAIT_S; 0.5: think time between operations)."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

# `locust -f` imports this file by path, with only its own folder on sys.path: the
# repository root makes the packages `loadtests` and `suite` importable.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg  # noqa: E402
from locust import User, constant, task  # noqa: E402

from loadtests import _hub  # noqa: E402
from loadtests._accounts import RUN, session  # noqa: E402
from loadtests._settings import S, target  # noqa: E402
from suite.clients import connect_db  # noqa: E402


class DatabaseUser(_hub.SetUp, User):
    def wait_time(self) -> float:
        return constant(S.db_wait_s)(self)
    mix_parts, mix_cap = 1, 20  # one user in 10 of the run, at most 20 connections: _mix.py

    def on_start(self) -> None:
        tgt = target()
        if not tgt.has("db"):
            raise SystemExit(f"database scenario: {tgt.absent.get('db', 'the target declares no DB_URL')}")
        self.user = session().user  # claims without expiry: the database never sees its JWT
        self.claims = json.dumps({"sub": self.user.id, "role": "authenticated"})
        self.conn = self._connect()

    def _connect(self) -> psycopg.Connection:
        conn = connect_db(target())
        conn.autocommit = False
        return conn

    def on_stop(self) -> None:
        if getattr(self, "conn", None) is not None:  # on_start may have been interrupted
            self.conn.close()

    def _timed(self, name: str, work) -> None:
        t0 = time.perf_counter()
        exc = None
        try:
            work()
        except psycopg.Error as e:
            exc = e
            if not self.conn.closed:
                self.conn.rollback()
        self.environment.events.request.fire(request_type="DB", name=name, response_time=(time.perf_counter() - t0) * 1000,
                                             response_length=0, context={}, exception=exc)

    def _as_user(self, cur) -> None:
        cur.execute("SET LOCAL ROLE authenticated")
        cur.execute("SELECT set_config('request.jwt.claims', %s, true)", (self.claims,))

    @task(5)
    def read(self) -> None:
        def work():
            with self.conn.transaction(), self.conn.cursor() as cur:
                self._as_user(cur)
                cur.execute("SELECT id, body FROM public.notes ORDER BY id DESC LIMIT 20")
                cur.fetchall()
        self._timed("db read", work)

    @task(2)
    def write(self) -> None:
        def work():
            with self.conn.transaction(), self.conn.cursor() as cur:
                self._as_user(cur)
                cur.execute("INSERT INTO public.notes (body) VALUES (%s)", (f"{RUN} db",))
        self._timed("db write", work)

    @task(2)
    def short_transaction(self) -> None:
        def work():
            with self.conn.transaction(), self.conn.cursor() as cur:
                self._as_user(cur)
                cur.execute("INSERT INTO public.notes (body) VALUES (%s) RETURNING id", (f"{RUN} tx",))
                note = cur.fetchone()[0]
                cur.execute("UPDATE public.notes SET body = body || ' edited' WHERE id = %s", (note,))
                cur.execute("DELETE FROM public.notes WHERE id = %s", (note,))
        self._timed("db transaction", work)

    @task(1)
    def churn(self) -> None:
        def work():
            with connect_db(target()) as conn:
                conn.execute("SELECT 1").fetchone()
        self._timed("db connect", work)
