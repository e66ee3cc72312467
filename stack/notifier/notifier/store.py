"""Postgres: the durable queue (survives restarts) and the log of every attempt.

Tables live in schema `ops`, created by this service's own migration (idempotent).
Connection settings come from the libpq variables PGHOST, PGUSER, PGPASSWORD, ...
"""
from __future__ import annotations

from dataclasses import dataclass

from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

MIGRATION = """
CREATE SCHEMA IF NOT EXISTS ops;
CREATE TABLE IF NOT EXISTS ops.notification_queue (
  id              bigserial PRIMARY KEY,
  fingerprint     text NOT NULL,
  receiver        text NOT NULL,
  channel         text NOT NULL,
  alertname       text NOT NULL DEFAULT '',
  alert_status    text NOT NULL CHECK (alert_status IN ('firing', 'resolved')),
  title           text NOT NULL,
  body            text NOT NULL,
  attempts        int  NOT NULL DEFAULT 0,
  state           text NOT NULL DEFAULT 'pending'
                  CHECK (state IN ('pending', 'delivered', 'failed', 'throttled')),
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  received_at     timestamptz NOT NULL DEFAULT now(),
  finished_at     timestamptz
);
CREATE INDEX IF NOT EXISTS notification_queue_due
  ON ops.notification_queue (next_attempt_at) WHERE state = 'pending';
CREATE TABLE IF NOT EXISTS ops.notification_logs (
  id            bigserial PRIMARY KEY,
  queue_id      bigint NOT NULL,
  fingerprint   text NOT NULL,
  receiver      text NOT NULL,
  channel       text NOT NULL,
  alertname     text NOT NULL DEFAULT '',
  alert_status  text NOT NULL,
  attempt       int  NOT NULL,
  status        text NOT NULL CHECK (status IN ('delivered', 'failed', 'throttled', 'retrying')),
  latency_ms    double precision,
  error         text,
  received_at   timestamptz NOT NULL,
  attempted_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS notification_logs_channel_time
  ON ops.notification_logs (channel, attempted_at);
CREATE INDEX IF NOT EXISTS notification_logs_fingerprint
  ON ops.notification_logs (fingerprint);
"""


@dataclass
class Notification:
    fingerprint: str
    receiver: str
    channel: str
    alertname: str
    alert_status: str
    title: str
    body: str


class Store:
    def __init__(self, conninfo: str = "", max_size: int = 7):
        self.pool = ConnectionPool(conninfo, min_size=2, max_size=max_size, open=False,
                                   kwargs={"autocommit": False, "row_factory": dict_row})

    def open(self, timeout: float) -> None:
        self.pool.open(wait=True, timeout=timeout)
        with self.pool.connection() as conn:
            # one migrator at a time when several notifiers start together
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('ops.notifier.migration'))")
            conn.execute(MIGRATION)

    def close(self) -> None:
        self.pool.close()

    def ping(self) -> None:
        with self.pool.connection(timeout=3) as conn:
            conn.execute("SELECT 1")

    def enqueue(self, items: list[Notification]) -> None:
        """All or nothing: the webhook is acknowledged only after this commits."""
        with self.pool.connection() as conn, conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO ops.notification_queue (fingerprint, receiver, channel, alertname, alert_status, title, body)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s)",
                [(n.fingerprint, n.receiver, n.channel, n.alertname, n.alert_status, n.title, n.body) for n in items])

    def queue_depth(self) -> dict[str, int]:
        with self.pool.connection() as conn:
            rows = conn.execute("SELECT channel, count(*) AS n FROM ops.notification_queue"
                                " WHERE state = 'pending' GROUP BY channel").fetchall()
        return {r["channel"]: r["n"] for r in rows}
