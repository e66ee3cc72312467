"""Backup and restore of the local stack's database under a continuous write load: the
database volume is destroyed, then restored (pgBackRest point-in-time recovery, then a
pg_dump logical dump); acknowledged rows, checksums, users, API rows and realtime are
verified, and RPO / RTO are measured and reported (record_property, HTML extras)."""
from __future__ import annotations

import time

import pytest

from suite import local_stack, recovery, write_log
from suite.thresholds import LIMITS
from suite.waiting import poll

pytestmark = [pytest.mark.destructive, pytest.mark.slow]
LIMIT = LIMITS.recovery


@pytest.fixture
def admin(target):
    conn = local_stack.admin_connect(target)
    write_log.ensure_table(conn)
    yield lambda: local_stack.admin_connect(target)
    conn.close()


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


def _destroy_db(target) -> float:
    """The database's volume is lost: the container is killed and the volume removed."""
    cid = local_stack.container(target, "db")
    local_stack.docker("kill", "--signal", "KILL", cid)
    destroyed = time.time()
    local_stack.compose(target, "rm", "--force", "--stop", "db")
    local_stack.docker("volume", "rm", local_stack.volume(target, "db-data"))
    return destroyed


def _verify(target, writer: write_log.Writer, admin_connect, upto: int) -> list[int]:
    """Every row acknowledged up to `upto` is back with the right payload (checksum)."""
    conn = poll(admin_connect, what="superuser connection after restore", timeout=120, interval=1,
                service="db", target=target)
    with conn:
        present, payloads = write_log.db_state(conn, writer.run)
    expected = [n for n in writer.acked if n <= upto]
    missing = sorted(set(expected) - set(present))
    assert not missing, f"{len(missing)} acknowledged rows up to {upto} missing after restore, first {missing[:10]}"
    got = [n for n in present if n <= upto]
    assert write_log.checksum(writer.run, got) == write_log.checksum(writer.run, expected), "row checksum differs"
    wrong = [n for n, p in payloads.items() if p != write_log.payload(writer.run, n)]
    assert not wrong, f"rows with a corrupted payload: {wrong[:10]}"
    return present


def _report(record_property, extras, kind: str, rpo: float, rto: float, rows: int) -> None:
    record_property(f"{kind}_rpo_s", round(rpo, 1))
    record_property(f"{kind}_rto_s", round(rto, 1))
    record_property(f"{kind}_rows_verified", rows)
    try:
        import pytest_html
        extras.append(pytest_html.extras.text(f"{kind}: RPO {rpo:.1f} s, RTO {rto:.1f} s, {rows} rows verified",
                                              name=f"{kind} RPO/RTO"))
    except ImportError:
        pass
    print(f"\n{kind}: RPO {rpo:.1f} s  RTO {rto:.1f} s  rows verified {rows}")


def _stack_promises_kept(target, gateway, users, user, tag: str) -> None:
    # auth users restored; auth may still be replacing connections to the old database
    session = poll(lambda: users.sign_in(user.email, user.password), what="sign-in on the restored database",
                   timeout=LIMITS.recovery.reconnect_s, interval=1, service="auth", target=target)
    user.access_token = session["access_token"]
    r = gateway.get(f"/rest/v1/notes?body=like.{tag}*&select=body", token=user.access_token)
    assert r.status_code == 200 and len(r.json()) == 1, f"the user's note after restore: {r.status_code} {r.text[:200]}"
    recovery.realtime_change_delivered(target, gateway, user, f"{tag}-{int(time.time())}")


def test_pitr_restore_after_volume_loss(target, gateway, users, admin, seeded, run_id, record_property, extras):
    """Catches: WAL archiving broken (archive_command, stanza, repository volume), base
    backups that do not restore, recovery that loses acknowledged commits beyond the RPO,
    services that do not come back after the database returns, and realtime left without
    its replication slot after a point-in-time restore."""
    user, tag = seeded
    writer = write_log.Writer(admin, f"{run_id}-pitr").start()
    try:
        poll(lambda: writer.last >= 50, what="writer committing", timeout=60)
        local_stack.script(target, "pgbackrest-backup.sh")         # incr, or full on a new repository
        n_after = writer.last
        poll(lambda: writer.last >= n_after + 100, what="writes after the backup", timeout=120)
        destroyed = _destroy_db(target)
    finally:
        writer.stop()
    last_acked = writer.last
    local_stack.script(target, "pgbackrest-restore.sh", timeout=900)
    recovery.wait_all_healthy(target, LIMIT.restart_healthy_s, "after the PITR restore")
    with local_stack.admin_connect(target) as conn:
        present, _ = write_log.db_state(conn, writer.run)
    recovered = max(present, default=0)
    assert recovered, "no row of the run came back from the backup and WAL archive"
    _verify(target, writer, admin, upto=recovered)    # no hole below the last recovered row
    # RPO: acknowledged work (in time) the restore could not bring back
    rpo = writer.acked[last_acked] - writer.acked[recovered]
    _stack_promises_kept(target, gateway, users, user, tag)
    rto = time.time() - destroyed
    _report(record_property, extras, "pitr", rpo, rto, len(present))
    with local_stack.admin_connect(target) as conn:
        slots = conn.execute("select slot_name from pg_replication_slots where slot_name like 'supabase_realtime%'").fetchall()
        write_log.drop_run(conn, writer.run)
    assert slots, "realtime's logical replication slot was not recreated after the restore"
    assert rpo <= LIMIT.rpo_max_s, f"PITR RPO {rpo:.1f} s above {LIMIT.rpo_max_s} s"
    assert rto <= LIMIT.rto_max_s, f"PITR RTO {rto:.1f} s above {LIMIT.rto_max_s} s"


def test_logical_dump_restore_into_fresh_database(target, gateway, users, admin, seeded, run_id,
                                                  record_property, extras):
    """Catches: pg_dump backups that do not restore into a freshly initialised database
    (roles, auth schema, publication), a restore script that silently overwrites live data,
    and archiving left broken by the new cluster (system id) after the restore."""
    user, tag = seeded
    writer = write_log.Writer(admin, f"{run_id}-dump").start()
    try:
        poll(lambda: writer.last >= 50, what="writer committing", timeout=60)
        dump = local_stack.script(target, "pg-dump-backup.sh").stdout.strip().splitlines()[-1]
        dumped_at = time.time()
        with pytest.raises(local_stack.StackCommandFailed, match="refusing to overwrite live data"):
            local_stack.script(target, "pg-dump-restore.sh", dump)
        n_after = writer.last
        poll(lambda: writer.last >= n_after + 50, what="writes after the dump", timeout=120)
        destroyed = _destroy_db(target)
    finally:
        writer.stop()
    last_acked = writer.last
    local_stack.compose(target, "up", "-d", "--wait", "--wait-timeout", "300")   # a fresh, initialised db
    local_stack.script(target, "pg-dump-restore.sh", dump)                       # restarts the services
    recovery.wait_all_healthy(target, LIMIT.restart_healthy_s, "after the pg_dump restore")
    with local_stack.admin_connect(target) as conn:
        present, _ = write_log.db_state(conn, writer.run)
    recovered = max(present, default=0)
    assert recovered, "no row of the run came back from the dump"
    _verify(target, writer, admin, upto=recovered)
    rpo = writer.acked[last_acked] - writer.acked[recovered]
    _stack_promises_kept(target, gateway, users, user, tag)
    rto = time.time() - destroyed
    _report(record_property, extras, "pg_dump", rpo, rto, len(present))
    # archiving adopted the new cluster: a segment switch is archived without failure
    with local_stack.admin_connect(target) as conn:
        before = conn.execute("select archived_count from pg_stat_archiver").fetchone()[0]
        conn.execute("select pg_switch_wal()")
        poll(lambda: conn.execute("select archived_count from pg_stat_archiver").fetchone()[0] > before,
             what="WAL archived after the dump restore", timeout=120, interval=1)
        write_log.drop_run(conn, writer.run)
    assert rpo <= time.time() - dumped_at, "the dump restore lost rows acknowledged before the dump"
    assert rpo <= LIMIT.rpo_max_s, f"pg_dump RPO {rpo:.1f} s above {LIMIT.rpo_max_s} s"
    assert rto <= LIMIT.rto_max_s, f"pg_dump RTO {rto:.1f} s above {LIMIT.rto_max_s} s"
