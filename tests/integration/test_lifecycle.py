"""Lifecycle of the local stack: restarts, a killed Postgres under write load, realtime
clients across a realtime restart, and `make down` / `make up`, each without data loss."""
from __future__ import annotations

import pytest
from websockets.exceptions import ConnectionClosed

from suite import recovery, write_log
from suite.clients import RealtimeSocket
from suite.thresholds import LIMITS
from suite.waiting import poll

pytestmark = [pytest.mark.destructive, pytest.mark.slow]
LIMIT = LIMITS.recovery
# every service of the local image set; absent ones (upstream-only) are not started locally
SERVICES = ["db", "gateway", "gateway-exporter", "auth", "rest", "realtime", "meta", "redis", "prometheus",
            "alertmanager", "node-exporter", "postgres-exporter", "redis-exporter", "blackbox-exporter", "notifier",
            "acme-ca", "certbot"]


def test_every_running_service_has_a_restart_test(stack):
    """Catches: a service added to the stack without a restart check here."""
    untested = sorted(set(stack.services()) - set(SERVICES))
    assert not untested, f"services without a restart test (add them to SERVICES): {untested}"


@pytest.fixture
def admin(stack):
    with stack.connect() as conn:
        write_log.ensure_table(conn)
    return stack.connect


@pytest.fixture
def marker_rows(admin, run_id):
    """100 committed rows of this test: present before, must be present after."""
    run = f"{run_id}-mark"
    with admin() as conn:
        conn.execute(f"insert into {write_log.TABLE} (run, n, payload) select %s, g, '' from generate_series(1, 100) g",
                     (run,))
    yield run
    with poll(admin, what="superuser connection for cleanup", timeout=LIMIT.db_connect_s, interval=1) as conn:
        write_log.drop_run(conn, run)


def _marker_count(admin, run: str) -> int:
    with poll(admin, what="superuser connection", timeout=LIMIT.db_connect_s, interval=1) as conn:
        return conn.execute(f"select count(*) from {write_log.TABLE} where run = %s", (run,)).fetchone()[0]


@pytest.mark.parametrize("service", SERVICES)
def test_restart_returns_to_healthy_without_data_loss(target, stack, service, admin, marker_rows):
    """Catches: a service that does not come back healthy after a restart (missing restart
    policy, broken healthcheck, dependency that never reconnects to the database) and data
    kept outside a volume (lost on restart)."""
    if not stack.health(service):
        pytest.skip(f"{service} is not part of this stack")
    stack.restart(service)
    recovery.wait_all_healthy(target, LIMIT.restart_healthy_s, f"after restarting {service}")
    assert _marker_count(admin, marker_rows) == 100, f"committed rows lost across a restart of {service}"


def test_kill_9_postgres_loses_no_acknowledged_write(target, stack, admin, run_id):
    """Catches: fsync/synchronous_commit off or a data directory outside the volume: commits
    acknowledged to clients disappear after Postgres is killed without warning."""
    writer = write_log.Writer(admin, f"{run_id}-kill").start()
    try:
        poll(lambda: writer.last >= 100, what="writer committing", timeout=LIMIT.writer_start_s)
        errors = writer.errors
        stack.kill_main_process("db")  # a crash: the engine applies the restart policy
        poll(lambda: writer.errors > errors, what="writer sees the database go away", timeout=LIMIT.writer_sees_outage_s)
        n_back = writer.last
        poll(lambda: writer.last >= n_back + 50, what="writes resume after the crash", timeout=LIMIT.restart_healthy_s,
             service="db", target=target)
    finally:
        writer.stop()
    with stack.connect() as conn:
        present, _ = write_log.db_state(conn, writer.run)
        write_log.drop_run(conn, writer.run)
    lost = sorted(set(writer.acked) - set(present))
    assert not lost, f"{len(lost)} acknowledged writes lost after kill -9 of Postgres: {lost[:10]}"
    recovery.wait_all_healthy(target, LIMIT.restart_healthy_s, "after kill -9 of Postgres")


def _joined(target, topic):
    sock = RealtimeSocket(target)
    ref, reply = sock.join(topic, {"broadcast": {"self": False}})
    assert reply and reply["payload"]["status"] == "ok", f"join {topic}: {reply}"
    return sock, ref


def test_realtime_restart_clients_reconnect_and_resume(target, stack, run_id):
    """Catches: realtime not closing sockets on shutdown (clients hang on a dead socket),
    refusing reconnects after a restart, or channels that do not deliver after a rejoin."""
    topic = f"realtime:{run_id}-restart"
    client, _ = _joined(target, topic)
    stack.restart("realtime")

    def sees_close():
        try:
            client.ws.recv(timeout=1)
        except ConnectionClosed:
            return True
        except TimeoutError:
            return False
        return False
    poll(sees_close, what="client sees realtime's close", timeout=LIMIT.reconnect_s)
    client, _ = poll(lambda: _joined(target, topic), what="client reconnects and rejoins",
                     timeout=LIMIT.reconnect_s, interval=1, service="realtime", target=target)
    sender, sender_ref = _joined(target, topic)
    try:
        sender.send(topic, "broadcast", {"type": "broadcast", "event": "resume", "payload": {"run": run_id}},
                    join_ref=sender_ref)
        got = client.wait_for(lambda m: m.get("event") == "broadcast", LIMITS.smoke.realtime_delivery_s)
        assert got and got["payload"]["payload"]["run"] == run_id, "no broadcast after the rejoin"
    finally:
        client.close()
        sender.close()


def test_make_down_then_up_keeps_all_data(target, stack, gateway, users, admin, marker_rows, run_id):
    """Catches: volumes not declared (data in the container layer, lost on `make down`), or
    a `down` that removes volumes: rows, auth users and Redis keys must survive."""
    import redis as redis_lib
    user = users.create("downup")
    r = redis_lib.Redis.from_url(target.url("redis"), socket_timeout=3)
    r.set(f"{run_id}:downup", "kept")
    r.save()   # Redis persists on shutdown too; SAVE makes the check independent of that
    stack.make("down")
    assert stack.health("db") is None, "make down left the db container"
    stack.make("up")
    recovery.wait_all_healthy(target, LIMIT.restart_healthy_s, "after make down / make up")
    assert _marker_count(admin, marker_rows) == 100, "rows lost across make down / make up"
    users.sign_in(user.email, user.password)
    r = redis_lib.Redis.from_url(target.url("redis"), socket_timeout=3)
    assert r.get(f"{run_id}:downup") == b"kept", "redis key lost across make down / make up"
    r.delete(f"{run_id}:downup")
