"""A writer that commits numbered rows into an ops table and records every acknowledged
commit, to prove which acknowledged writes survive a crash, a restore or a restart."""
from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import psycopg

SCHEMA = "suite_ops"    # the suite's own schema: not exposed by the API (PGRST_DB_SCHEMAS=public)
TABLE = f"{SCHEMA}.acceptance_writes"


def payload(run: str, n: int) -> str:
    return hashlib.sha256(f"{run}:{n}".encode()).hexdigest()


def checksum(run: str, numbers: list[int]) -> str:
    """md5 over 'n:payload' joined by ',' in order; the SQL in `db_state` computes the same."""
    return hashlib.md5(",".join(f"{n}:{payload(run, n)}" for n in sorted(numbers)).encode()).hexdigest()


def ensure_table(conn: psycopg.Connection) -> None:
    conn.execute(f"create schema if not exists {SCHEMA}")
    conn.execute(f"create table if not exists {TABLE} (run text not null, n int not null, payload text not null,"
                 f" acked_at timestamptz not null default clock_timestamp(), primary key (run, n))")


def drop_run(conn: psycopg.Connection, run: str) -> None:
    conn.execute(f"delete from {TABLE} where run = %s", (run,))
    left = conn.execute(f"select count(*) from {TABLE}").fetchone()[0]
    if left == 0:   # the last run out leaves no trace (the schema holds only this table)
        conn.execute(f"drop table {TABLE}")
        conn.execute(f"drop schema if exists {SCHEMA}")


def db_state(conn: psycopg.Connection, run: str) -> tuple[list[int], dict[int, str]]:
    rows = conn.execute(f"select n, payload from {TABLE} where run = %s order by n", (run,)).fetchall()
    return [n for n, _ in rows], {n: p for n, p in rows}


@dataclass
class Writer:
    """Commits rows 1, 2, 3, ... of `run`; `acked[n]` is the wall-clock time the commit of
    row n was acknowledged. Errors (the database away) are counted, and the writer
    reconnects until stopped."""
    connect: Callable[[], psycopg.Connection]
    run: str
    pace_s: float = 0.02
    acked: dict[int, float] = field(default_factory=dict)
    errors: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> "Writer":
        self._thread = threading.Thread(target=self._loop, name=f"writer-{self.run}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=30)

    @property
    def last(self) -> int:
        return max(self.acked, default=0)

    def _loop(self) -> None:
        n, conn = 1, None
        while not self._stop.is_set():
            try:
                if conn is None or conn.closed:
                    conn = self.connect()
                conn.execute(f"insert into {TABLE} (run, n, payload) values (%s, %s, %s)",
                             (self.run, n, payload(self.run, n)))
                self.acked[n] = time.time()   # autocommit: the insert returned = committed
                n += 1
            except psycopg.errors.UniqueViolation:
                # committed but the acknowledgement was lost in a crash: it is in the table, move on
                n += 1
            except Exception:  # noqa: BLE001 - the database is away: count, retry
                self.errors += 1
                if conn is not None:
                    try:
                        conn.close()
                    except Exception:  # noqa: BLE001
                        pass
                conn = None
                self._stop.wait(0.2)
                continue
            self._stop.wait(self.pace_s)   # pacing of the load, not synchronisation
        if conn is not None:
            conn.close()
