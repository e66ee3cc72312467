"""The delivery loop: claim one due notification (FOR UPDATE SKIP LOCKED), decide
throttling from the attempt log, send through Apprise, record the attempt, commit.

A notification's row stays locked while it is sent: if the process dies mid-send the
transaction rolls back and the row is due again (at-least-once, never lost).
"""
from __future__ import annotations

import logging
import threading
import time

import apprise

from . import metrics
from .config import Channel, Config
from .policy import backoff_s, throttle_reason
from .store import Store

log = logging.getLogger("notifier.worker")
# Apprise's messages may quote URLs with tokens: kept out of the process log; send()
# reads each attempt's own messages from Apprise's result into the attempt's `error`.
logging.getLogger("apprise").propagate = False

CLAIM = """
SELECT * FROM ops.notification_queue
 WHERE state = 'pending' AND next_attempt_at <= now()
 ORDER BY next_attempt_at, id
 LIMIT 1
 FOR UPDATE SKIP LOCKED
"""
HISTORY = """
SELECT
  (SELECT count(*) FROM ops.notification_logs
    WHERE channel = %(channel)s AND status = 'delivered'
      AND attempted_at > now() - make_interval(secs => %(per_s)s)) AS in_window,
  (SELECT alert_status || ' ' || extract(epoch FROM now() - attempted_at)::text
     FROM ops.notification_logs
    WHERE channel = %(channel)s AND fingerprint = %(fingerprint)s AND status = 'delivered'
    ORDER BY attempted_at DESC LIMIT 1) AS last_same
"""
LOG = """
INSERT INTO ops.notification_logs (queue_id, fingerprint, receiver, channel, alertname, alert_status,
                                   attempt, status, latency_ms, error, received_at)
VALUES (%(id)s, %(fingerprint)s, %(receiver)s, %(channel)s, %(alertname)s, %(alert_status)s,
        %(attempt)s, %(status)s, %(latency_ms)s, %(error)s, %(received_at)s)
"""


def send(channel: Channel, title: str, body: str, firing: bool) -> tuple[bool, str | None]:
    """One Apprise delivery; the error text is Apprise's own log of this attempt."""
    client = apprise.Apprise()
    client.add(channel.url)
    result = client.notify(body=body, title=title,
                           notify_type=apprise.NotifyType.FAILURE if firing else apprise.NotifyType.SUCCESS)
    if result:
        return True, None
    text = " | ".join(e.message for e in result.logs() if str(e.level).upper() in ("WARNING", "ERROR", "30", "40"))
    # Apprise's messages may quote the URL, which may hold a token: never store it.
    return False, (text.replace(channel.url, f"{channel.kind}://…") or "delivery failed")[-1000:]


class Worker(threading.Thread):
    def __init__(self, store: Store, config: Config, poll_s: float = 0.2, name: str = "delivery"):
        super().__init__(name=name, daemon=True)
        self.store, self.config, self.poll_s = store, config, poll_s
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                if not self.step():
                    self.stopping.wait(self.poll_s)
            except Exception:  # noqa: BLE001 - the database may be briefly gone: keep going
                log.exception("delivery step failed; retrying in 1 s")
                self.stopping.wait(1)

    def step(self) -> bool:
        """Handle one due notification; False when none is due."""
        with self.store.pool.connection() as conn:
            row = conn.execute(CLAIM).fetchone()
            if row is None:
                conn.rollback()
                return False
            channel = self.config.channels.get(row["channel"])
            attempt = row["attempts"] + 1
            entry = {**row, "attempt": attempt, "latency_ms": None, "error": None}
            if channel is None:
                entry.update(status="failed", error=f"channel {row['channel']!r} is no longer in channels.yml")
            else:
                entry.update(self._attempt(conn, channel, row, attempt))
            conn.execute(LOG, entry)
            final = {"retrying": "pending"}.get(entry["status"], entry["status"])
            delay = backoff_s(channel.retry, attempt) if entry["status"] == "retrying" else 0
            conn.execute(
                "UPDATE ops.notification_queue SET attempts = %s, state = %s,"
                " next_attempt_at = now() + make_interval(secs => %s),"
                " finished_at = CASE WHEN %s = 'pending' THEN NULL ELSE now() END WHERE id = %s",
                (attempt, final, delay, final, row["id"]))
            conn.commit()
        metrics.NOTIFICATIONS.labels(row["receiver"], row["channel"], entry["status"]).inc()
        if entry["latency_ms"] is not None and entry["status"] == "delivered":
            metrics.LATENCY.labels(row["channel"]).observe(entry["latency_ms"] / 1000)
        log.info("%s %s/%s %s attempt %d: %s%s", row["alertname"], row["receiver"], row["channel"],
                 row["alert_status"], attempt, entry["status"], f" ({entry['error']})" if entry["error"] else "")
        return True

    def _attempt(self, conn, channel: Channel, row: dict, attempt: int) -> dict:
        if attempt == 1:
            # one decision at a time per channel, across notifier replicas
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('ops.notifier.channel.' || %s))", (channel.name,))
            h = conn.execute(HISTORY, {"channel": channel.name, "per_s": channel.throttle.per_s,
                                       "fingerprint": row["fingerprint"]}).fetchone()
            last = None
            if h["last_same"]:
                status, age = h["last_same"].split(" ", 1)
                last = (status, float(age))
            reason = throttle_reason(channel.throttle, delivered_in_window=h["in_window"],
                                     last_same_alert=last, alert_status=row["alert_status"])
            if reason:
                return {"status": "throttled", "error": reason}
        started = time.monotonic()
        ok, error = send(channel, row["title"], row["body"], row["alert_status"] == "firing")
        latency_ms = (time.monotonic() - started) * 1000
        if ok:
            return {"status": "delivered", "latency_ms": latency_ms}
        if attempt >= channel.retry.max_attempts:
            return {"status": "failed", "latency_ms": latency_ms,
                    "error": f"gave up after {attempt} attempts: {error}"}
        return {"status": "retrying", "latency_ms": latency_ms, "error": error}
