"""Alert delivery end to end: fault -> Prometheus rule -> Alertmanager route -> notifier
-> channel (the test sink), with retries, throttling and a durable queue.

Runs on the local stack only (destructive: it stops Redis and kills the notifier). The
module applies the test-time overlay stack/compose.alerts-fast.yaml (shorter intervals,
suite/alerting.py) and restores the production configuration afterwards.
"""
from __future__ import annotations

import time
import uuid

import pytest

from psycopg.rows import dict_row

from suite.alerting import FAST_OVERLAY, Notifier, Sink, alert, attempts, write_fast_configs
from suite.checks.monitoring import fetch_query
from suite.thresholds import LIMITS
from suite.waiting import poll

pytestmark = [pytest.mark.destructive, pytest.mark.slow]
A = LIMITS.alerting


@pytest.fixture(scope="module")
def delivery(stack, target):
    write_fast_configs()
    started = time.time()
    # --no-deps: never recreate the database or anything else the test does not own
    stack.compose("up", "-d", "--wait", "--no-deps", "prometheus", "alertmanager", "notifier", "alert-sink",
                overlays=(FAST_OVERLAY,), profiles=("test",))
    env = {"stack": stack, "target": target,
           "sink": Sink(f"http://{stack.address('alert-sink')}:8080"),
           "notifier": Notifier(f"http://{stack.address('notifier')}:8080"),
           "db": stack.connect(row_factory=dict_row), "run": f"suite-{uuid.uuid4().hex[:8]}"}
    yield env
    try:
        stack.compose("up", "-d", "--wait", "--no-deps", "redis", "notifier")  # whatever a failed test left stopped
        # production timings back; the sink goes away
        stack.compose("up", "-d", "--wait", "--no-deps", "prometheus", "alertmanager")
        stack.compose("rm", "-sf", "alert-sink", profiles=("test",))
    finally:
        # the rows this module caused (its own alerts and the fault's), not older history
        env["db"].execute("DELETE FROM ops.notification_logs WHERE received_at >= to_timestamp(%s)", (started,))
        env["db"].execute("DELETE FROM ops.notification_queue WHERE received_at >= to_timestamp(%s)", (started,))
        env["db"].close()


@pytest.fixture
def sink(delivery):
    delivery["sink"].reset()
    return delivery["sink"]


def _final(rows: list[dict], n: int) -> bool:
    """True when `n` notifications each have a final attempt (not `retrying`)."""
    return len({r["queue_id"] for r in rows if r["status"] != "retrying"}) >= n


def test_fault_fires_routes_delivers_and_resolves(delivery, sink, record_property):
    """Catches: a rule that does not fire, a wrong Alertmanager route or receiver URL, a
    notifier that does not deliver to the configured webhook and push channels, a
    resolved notification that never comes, and fault-to-delivery above one minute."""
    stack, db = delivery["stack"], delivery["db"]
    assert stack.running("redis"), "redis must run before the fault is induced"
    fault_at = time.time()  # the sink stamps arrivals with the same host clock
    stack.stop("redis")
    try:
        webhook = poll(lambda: sink.messages(path="/database", text="[FIRING] RedisDown"),
                       what="RedisDown firing delivered to database-team's webhook",
                       timeout=A.fault_to_delivery_s, interval=0.25, service="notifier", target=delivery["target"])
        latency = webhook[0]["at"] - fault_at
        push = poll(lambda: sink.messages(topic="pager", text="[FIRING] RedisDown"),
                    what="RedisDown firing pushed to critical-pager (ntfy topic pager)", timeout=A.notifier_step_s)
    finally:
        clear_at = time.time()
        stack.start("redis")
    resolved = poll(lambda: sink.messages(path="/database", text="[RESOLVED] RedisDown"),
                    what="RedisDown resolved delivered after redis came back",
                    timeout=A.resolve_to_delivery_s, interval=0.25, service="notifier", target=delivery["target"])
    resolve_latency = resolved[0]["at"] - clear_at
    record_property("fault_to_delivery_s", round(latency, 1))
    record_property("clear_to_resolved_s", round(resolve_latency, 1))
    print(f"fault-to-delivery {latency:.1f} s, clear-to-resolved {resolve_latency:.1f} s")
    assert push and latency < A.fault_to_delivery_s
    want = {("database-webhook", "firing"), ("pager-push", "firing"), ("pager-webhook", "firing"),
            ("database-webhook", "resolved")}

    def logged() -> set:  # the sink sees a delivery just before the notifier commits its log row
        rows = db.execute("SELECT channel, alert_status FROM ops.notification_logs"
                          " WHERE alertname = 'RedisDown' AND status = 'delivered'"
                          " AND attempted_at > to_timestamp(%s)", (fault_at,)).fetchall()
        return want <= (got := {(r["channel"], r["alert_status"]) for r in rows}) or got
    assert poll(logged, what="RedisDown deliveries in notification_logs", timeout=A.notifier_step_s) is True


def test_receiver_failing_twice_gets_the_third_attempt(delivery, sink):
    """Catches: no retry (first failure final), retries without a limit or without the
    attempt being logged, and an attempt log that does not show all three attempts."""
    fp = f"{delivery['run']}-retry"
    sink.fail_next("/platform", 2, contains=fp)
    assert delivery["notifier"].post("platform-default", [alert("SuiteRetry", fp, team="platform")]).status_code == 200
    rows = poll(lambda: (r := attempts(delivery["db"], [fp])) and _final(r, 1) and r,
                what="retried notification reached a final state", timeout=A.retry_delivery_s, interval=0.25)
    assert [(r["attempt"], r["status"]) for r in rows] == [(1, "retrying"), (2, "retrying"), (3, "delivered")]
    assert all(r["error"] for r in rows[:2]), "failed attempts must say why"
    got = [e["status"] for e in sink.received() if e["path"] == "/platform" and fp in e.get("json", {}).get("message", "")]
    assert got == [503, 503, 200]


def test_burst_is_throttled_to_the_configured_rate(delivery, sink):
    """Catches: no rate limit (a storm pages 50 times), a limit that drops notifications
    silently (each must be logged throttled with its reason), or a limit not applied."""
    db, notifier = delivery["db"], delivery["notifier"]
    throttle = notifier.health()["channels"]["api-webhook"]["throttle"]
    prior = db.execute("SELECT count(*) AS n FROM ops.notification_logs WHERE channel = 'api-webhook'"
                       " AND status = 'delivered' AND attempted_at > now() - make_interval(secs => %s)",
                       (throttle["per_s"],)).fetchone()["n"]
    fps = [f"{delivery['run']}-burst-{i}" for i in range(50)]
    start = time.monotonic()
    for i, fp in enumerate(fps):  # 50 webhooks paced over 10 s, one alert each
        assert notifier.post("api-team", [alert("SuiteBurst", fp, team="api")]).status_code == 200
        time.sleep(max(0.0, start + (i + 1) * 0.2 - time.monotonic()))  # pacing, not synchronisation
    rows = poll(lambda: (r := attempts(db, fps)) and _final(r, 50) and r,
                what="all 50 burst notifications final", timeout=A.burst_settle_s, interval=0.5)
    delivered = [r for r in rows if r["status"] == "delivered"]
    throttled = [r for r in rows if r["status"] == "throttled"]
    expected = max(0, throttle["rate"] - prior)
    assert len(delivered) == min(expected, 50), f"{len(delivered)} delivered; rate {throttle}, {prior} already sent"
    assert len(delivered) + len(throttled) == 50, "every notification ends delivered or throttled"
    assert all(r["error"].startswith("rate limit") for r in throttled)
    assert len(sink.messages(path="/api", text="SuiteBurst")) == len(delivered)


def test_duplicate_within_window_is_suppressed(delivery, sink):
    """Catches: the same alert re-sent (Alertmanager repeats, regrouping) paging twice."""
    fp = f"{delivery['run']}-dup"
    for _ in range(2):
        assert delivery["notifier"].post("platform-default", [alert("SuiteDup", fp, team="platform")]).status_code == 200
    rows = poll(lambda: (r := attempts(delivery["db"], [fp])) and _final(r, 2) and r,
                what="both copies final", timeout=A.notifier_step_s, interval=0.25)
    assert [r["status"] for r in rows] == ["delivered", "throttled"]
    assert rows[1]["error"].startswith("duplicate")
    assert len(sink.messages(path="/platform", text=fp)) == 1


def test_notifier_restart_loses_no_queued_notification(delivery, sink):
    """Catches: a queue held only in memory (a crash loses pending notifications)."""
    stack, db = delivery["stack"], delivery["db"]
    fps = [f"{delivery['run']}-restart-{i}" for i in range(5)]
    sink.fail_next("/platform", 1000, contains="SuiteRestart")  # the receiver is down: everything waits for a retry
    assert delivery["notifier"].post("platform-default", [alert("SuiteRestart", fp, team="platform") for fp in fps]).status_code == 200
    poll(lambda: len({r["fingerprint"] for r in attempts(db, fps)}) == 5,
         what="first attempt of all 5 made", timeout=A.notifier_step_s, interval=0.1)
    stack.kill("notifier")
    pending = db.execute("SELECT count(*) AS n FROM ops.notification_queue WHERE fingerprint = ANY(%s)"
                         " AND state = 'pending'", (fps,)).fetchone()["n"]
    assert pending == 5, f"{pending} of 5 notifications still queued after the notifier was killed"
    sink.reset()  # the receiver is back
    stack.compose("up", "-d", "--wait", "--no-deps", "notifier")
    rows = poll(lambda: (r := attempts(db, fps)) and _final(r, 5) and r,
                what="queued notifications delivered after the restart", timeout=A.redelivery_after_restart_s, interval=0.25,
                service="notifier", target=delivery["target"])
    assert {r["fingerprint"] for r in rows if r["status"] == "delivered"} == set(fps)
    assert {e["json"]["message"].split("fingerprint: ")[1].split("\n")[0]
            for e in sink.messages(path="/platform", text="SuiteRestart")} == set(fps)


def test_notifier_metrics_scraped(delivery, sink):
    """Catches: missing notifier metrics or a Prometheus without the notifier scrape job."""
    text = delivery["notifier"].metrics()
    for name in ("notifications_total{", "notification_queue_depth{", "notification_delivery_seconds_bucket{"):
        assert name in text, f"notifier /metrics lacks {name}"
    prom = delivery["target"].url("prometheus")
    # poll for up == 1: the previous test restarted the notifier, and the last scrape may
    # predate its return
    def scraped_up():
        result = fetch_query(prom, 'up{job="notifier"}')
        return result and result[0]["value"][1] == "1"

    poll(scraped_up, what="Prometheus scrapes the notifier and sees it up", timeout=LIMITS.stack.prometheus_scrape_s,
         interval=1)
