"""Backup and restore of the local stack's database under a continuous write load: the
database volume is destroyed, then restored (pgBackRest point-in-time recovery, then a
pg_dump logical dump); acknowledged rows, checksums, users, API rows and realtime are
verified, and RPO / RTO are measured and reported (record_property, HTML extras). Left as
found: WAL archiving never failed on the restored cluster, and no database alert is pending
or firing that was not before (a restore must not page the operator)."""
from __future__ import annotations

import time

import pytest
import pytest_html

from suite import recovery, write_log
from suite.checks.monitoring import fetch_alerts
from suite.stack import StackError
from suite.thresholds import LIMITS
from suite.waiting import poll

pytestmark = [pytest.mark.destructive, pytest.mark.slow]
LIMIT = LIMITS.recovery


@pytest.fixture
def admin(stack):
    conn = stack.connect()
    write_log.ensure_table(conn)
    yield stack.connect
    conn.close()


def _database_alerts(target, since: str = "") -> set[str]:
    """Database alerts pending or firing (pending: the test is shorter than their `for:`) since
    `since` or earlier (ISO UTC time, compared with Prometheus' activeAt)."""
    alerts = fetch_alerts(target.url("prometheus"))
    return {a["labels"]["alertname"] for a in alerts
            if a["labels"].get("team") == "database" and a["activeAt"] >= since}


@pytest.fixture
def alerts_before(target) -> tuple[set[str], str]:
    """The database alerts pending or firing before the test, and when it started."""
    return _database_alerts(target), time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())


def _left_as_found(target, conn, alerts_before: tuple[set[str], str]) -> None:
    """No archive failure, and no database alert the test started (e.g. an archiving failure
    would page the operator after every restore) still pending or firing after it."""
    failed = conn.execute("select failed_count, last_failed_wal from pg_stat_archiver").fetchone()
    assert failed[0] == 0, f"WAL archiving failed on the restored cluster: {failed[0]} times, last {failed[1]}"
    before, since = alerts_before
    poll(lambda: not (_database_alerts(target, since) - before), what="alerts as found", interval=5,
         timeout=LIMITS.stack.fault_recovery_s, raise_on_timeout=False)  # pending ones clear at the next evaluation
    new = _database_alerts(target, since) - before
    assert not new, f"database alerts the restore started, still pending or firing: {sorted(new)}"


@pytest.fixture
def seeded(gateway, users, run_id):
    """A user with a note and a message, made through the API before the backup."""
    user = users.create("backup")
    tag = f"{run_id}-bk"
    for table, row in (("notes", {"body": f"{tag} note"}), ("messages", {"room": tag, "body": f"{tag} before"})):
        r = gateway.post(f"/rest/v1/{table}", token=user.access_token, json=row, headers={"Prefer": "return=minimal"})
        assert r.status_code == 201, f"seed {table}: HTTP {r.status_code} {r.text[:200]}"
    yield user, tag
    for path in (f"notes?body=like.{tag}*", f"messages?room=like.{tag}*"):
        gateway.request("DELETE", f"/rest/v1/{path}", token=user.access_token)


def _destroy_db(stack) -> float:
    """The database's volume is lost: the container is killed and the volume removed."""
    stack.kill("db")
    destroyed = time.time()
    stack.compose("rm", "--force", "--stop", "db")
    stack.remove_volume("db-data")
    return destroyed


def _verify(target, writer: write_log.Writer, admin_connect, source: str) -> tuple[list[int], int]:
    """The run's rows back from `source`, and the last of them: every row acknowledged up to
    it is back (no hole below it) with the right payload (checksum)."""
    conn = poll(admin_connect, what="superuser connection after restore", timeout=LIMIT.db_connect_s, interval=1,
                service="db", target=target)
    with conn:
        present, payloads = write_log.db_state(conn, writer.run)
    upto = max(present, default=0)
    assert upto, f"no row of the run came back from {source}"
    expected = [n for n in writer.acked if n <= upto]
    missing = sorted(set(expected) - set(present))
    assert not missing, f"{len(missing)} acknowledged rows up to {upto} missing after restore, first {missing[:10]}"
    got = [n for n in present if n <= upto]
    assert write_log.checksum(writer.run, got) == write_log.checksum(writer.run, expected), "row checksum differs"
    wrong = [n for n, p in payloads.items() if p != write_log.payload(writer.run, n)]
    assert not wrong, f"rows with a corrupted payload: {wrong[:10]}"
    return present, upto


def _report(record_property, extras, kind: str, rpo: float, rto: float, rows: int) -> None:
    record_property(f"{kind}_rpo_s", round(rpo, 1))
    record_property(f"{kind}_rto_s", round(rto, 1))
    record_property(f"{kind}_rows_verified", rows)
    extras.append(pytest_html.extras.text(f"{kind}: RPO {rpo:.1f} s, RTO {rto:.1f} s, {rows} rows verified",
                                          name=f"{kind} RPO/RTO"))
    print(f"\n{kind}: RPO {rpo:.1f} s  RTO {rto:.1f} s  rows verified {rows}")


def _stack_promises_kept(target, gateway, users, user, tag: str) -> None:
    # auth users restored; auth may still be replacing connections to the old database
    session = poll(lambda: users.sign_in(user.email, user.password), what="sign-in on the restored database",
                   timeout=LIMITS.recovery.reconnect_s, interval=1, service="auth", target=target)
    user.access_token = session["access_token"]
    r = gateway.get(f"/rest/v1/notes?body=like.{tag}*&select=body", token=user.access_token)
    assert r.status_code == 200 and len(r.json()) == 1, f"the user's note after restore: {r.status_code} {r.text[:200]}"
    recovery.realtime_change_delivered(target, gateway, user, f"{tag}-{int(time.time())}")


def test_pitr_restore_after_volume_loss(target, stack, gateway, users, admin, seeded, run_id, record_property, extras,
                                        alerts_before):
    """Catches: WAL archiving broken (archive_command, stanza, repository volume), base
    backups that do not restore, recovery that loses acknowledged commits beyond the RPO,
    services that do not come back after the database returns, and realtime left without
    its replication slot after a point-in-time restore, and a restored cluster (new timeline)
    whose archiving fails or that leaves alerts pending."""
    user, tag = seeded
    writer = write_log.Writer(admin, f"{run_id}-pitr").start()
    try:
        poll(lambda: writer.last >= 50, what="writer committing", timeout=LIMIT.writer_start_s)
        stack.script("pgbackrest-backup.sh")         # incr, or full on a new repository
        n_after = writer.last
        poll(lambda: writer.last >= n_after + 100, what="writes after the backup", timeout=LIMIT.writer_progress_s)
        destroyed = _destroy_db(stack)
    finally:
        writer.stop()
    last_acked = writer.last
    stack.script("pgbackrest-restore.sh", timeout=LIMIT.restore_script_s)
    recovery.wait_all_healthy(target, LIMIT.restart_healthy_s, "after the PITR restore")
    present, recovered = _verify(target, writer, admin, "the backup and WAL archive")
    # RPO: acknowledged work (in time) the restore could not bring back
    rpo = writer.acked[last_acked] - writer.acked[recovered]
    _stack_promises_kept(target, gateway, users, user, tag)
    rto = time.time() - destroyed
    _report(record_property, extras, "pitr", rpo, rto, len(present))
    with stack.connect() as conn:
        slots = conn.execute("select slot_name from pg_replication_slots where slot_name like 'supabase_realtime%'").fetchall()
        write_log.drop_run(conn, writer.run)
        _left_as_found(target, conn, alerts_before)
    assert slots, "realtime's logical replication slot was not recreated after the restore"
    assert rpo <= LIMIT.rpo_max_s, f"PITR RPO {rpo:.1f} s above {LIMIT.rpo_max_s} s"
    assert rto <= LIMIT.rto_max_s, f"PITR RTO {rto:.1f} s above {LIMIT.rto_max_s} s"


def test_logical_dump_restore_into_fresh_database(target, stack, gateway, users, admin, seeded, run_id,
                                                  record_property, extras, alerts_before):
    """Catches: pg_dump backups that do not restore into a freshly initialised database
    (roles, auth schema, publication), a restore script that silently overwrites live data,
    and archiving left broken by the new cluster (system id), or failing once at its
    initialisation (paging the operator), after the restore."""
    user, tag = seeded
    writer = write_log.Writer(admin, f"{run_id}-dump").start()
    try:
        poll(lambda: writer.last >= 50, what="writer committing", timeout=LIMIT.writer_start_s)
        dump = stack.script("pg-dump-backup.sh").strip().splitlines()[-1]
        dumped_at = time.time()
        with pytest.raises(StackError, match="refusing to overwrite live data"):
            stack.script("pg-dump-restore.sh", dump)
        n_after = writer.last
        poll(lambda: writer.last >= n_after + 50, what="writes after the dump", timeout=LIMIT.writer_progress_s)
        destroyed = _destroy_db(stack)
    finally:
        writer.stop()
    last_acked = writer.last
    stack.compose("up", "-d", "--wait", "--wait-timeout", "300")   # a fresh, initialised db
    stack.script("pg-dump-restore.sh", dump)                       # restarts the services
    recovery.wait_all_healthy(target, LIMIT.restart_healthy_s, "after the pg_dump restore")
    present, recovered = _verify(target, writer, admin, "the dump")
    rpo = writer.acked[last_acked] - writer.acked[recovered]
    _stack_promises_kept(target, gateway, users, user, tag)
    rto = time.time() - destroyed
    _report(record_property, extras, "pg_dump", rpo, rto, len(present))
    # archiving adopted the new cluster: a segment switch is archived without failure
    with stack.connect() as conn:
        before = conn.execute("select archived_count from pg_stat_archiver").fetchone()[0]
        conn.execute("select pg_switch_wal()")
        poll(lambda: conn.execute("select archived_count from pg_stat_archiver").fetchone()[0] > before,
             what="WAL archived after the dump restore", timeout=LIMIT.db_connect_s, interval=1)
        write_log.drop_run(conn, writer.run)
        _left_as_found(target, conn, alerts_before)
    assert rpo <= time.time() - dumped_at, "the dump restore lost rows acknowledged before the dump"
    assert rpo <= LIMIT.rpo_max_s, f"pg_dump RPO {rpo:.1f} s above {LIMIT.rpo_max_s} s"
    assert rto <= LIMIT.rto_max_s, f"pg_dump RTO {rto:.1f} s above {LIMIT.rto_max_s} s"
