"""Each promise invariant catches its seeded broken input, and its message names the promise,
the setting, the live value and the bound. Inputs are shaped like the live facts
suite/checks/promises_fetch.py reads (Prometheus /api/v1/rules, Alertmanager's live config,
pg_settings, pg_stat_archiver, pgbackrest info, Redis CONFIG GET, pg_stat_activity)."""
import copy

import pytest

from suite.checks import promises as P
from suite.target import Target, TargetConfigError

SEED = P.Promises(alert_latency_s=60, rpo_s=300, rto_s=3600, ws_connections=10000, api_concurrency=20, api_p95_ms=200)
ALERTS, RECOVERY, DURABLE = "alerts within 60 s", "RPO 300 s / RTO 3600 s", "no acknowledged write lost"
API, WS = "API p95 under 200 ms at 20 concurrent requests", "10000 concurrent WebSocket connections"


def rule(name, severity, duration=0, query="vector(1)"):
    return {"type": "alerting", "name": name, "query": query, "duration": duration, "labels": {"severity": severity}}


GROUPS = [
    {"name": "platform", "interval": 10, "rules": [rule("Watchdog", "none"), rule("TargetDown", "critical", 20, "up == 0")]},
    {"name": "recording", "interval": 10, "rules": [
        {"type": "recording", "name": "instance:probe_success:avg1h", "query": "avg_over_time(probe_success[1h])"}]},
]
AM_CONFIG = {
    "route": {"receiver": "default", "group_wait": "10s", "routes": [
        {"receiver": "watchdog", "matchers": ['alertname="Watchdog"'], "group_wait": "0s"},
        {"receiver": "null", "matchers": ['severity="info"']},
        {"receiver": "pager", "matchers": ['severity="critical"'], "continue": True},
        {"receiver": "team", "matchers": ['team="database"']}]},
    "receivers": [{"name": "default", "webhook_configs": [{"url": "http://notifier:8080/hooks/default"}]},
                  {"name": "watchdog", "webhook_configs": [{"url": "http://notifier:8080/hooks/watchdog"}]},
                  {"name": "pager", "webhook_configs": [{"url": "http://notifier:8080/hooks/pager"}]},
                  {"name": "team", "webhook_configs": [{"url": "http://notifier:8080/hooks/team"}]},
                  {"name": "null"}],
}
AM_ALERTS = [{"labels": {"alertname": "Watchdog"}, "status": {"state": "active"}}]
FLAGS = {"storage.tsdb.retention.time": "15d", "storage.tsdb.retention": "0s"}
REPO = {"db": [{"id": 1}],
        "archive": [{"id": "15-1", "database": {"id": 1}, "min": "000000010000000000000002",
                     "max": "000000010000000000000004"}],
        "backup": [{"type": "full", "database": {"id": 1},
                    "archive": {"start": "000000010000000000000003", "stop": "000000010000000000000003"}}]}
SETTINGS = {"fsync": "on", "full_page_writes": "on", "synchronous_commit": "on", "autovacuum": "on",
            "max_connections": "200", "superuser_reserved_connections": "3"}
POOLS = {"rest": 20, "auth": 10, "realtime": 5, "meta": 4, "postgres-exporter": 1, "backup": 2}
LIMITS = {"max_concurrent_users": 12000, "max_joins_per_second": 5000, "max_channels_per_client": 100,
          "max_events_per_second": 100000}
REDIS = {"maxmemory": "536870912", "maxmemory-policy": "noeviction"}


def test_the_healthy_shapes_pass():
    assert P.check_alert_latency(10, GROUPS, AM_CONFIG, SEED) == []
    assert P.check_watchdog(GROUPS, AM_ALERTS, AM_CONFIG, SEED) == []
    assert P.check_retention(FLAGS, GROUPS, SEED) == []
    assert P.check_archive_timeout({"archive_timeout": "30"}, SEED) == []
    assert P.check_base_backup_age(3600, SEED) == []
    assert P.check_backup_retention(2, REPO, SEED) == []
    for check in (P.check_fsync, P.check_full_page_writes, P.check_synchronous_commit, P.check_autovacuum):
        assert check(SETTINGS, SEED) == []
    assert P.check_inactive_slots([{"name": "s", "active": True, "retained_bytes": 5 << 30}], SEED) == []
    assert P.check_invalid_indexes([], SEED) == []
    assert P.check_pg_stat_statements(["plpgsql", "pg_stat_statements"], "pg_stat_statements", SEED) == []
    assert P.check_max_connections(200, 3, POOLS, SEED) == []
    assert P.check_rest_pool(20, SEED) == [] and P.check_auth_pool(10, SEED) == []
    assert P.check_realtime_limits(LIMITS, SEED) == []
    assert P.check_redis_maxmemory(REDIS, SEED) == [] and P.check_redis_eviction_policy(REDIS, SEED) == []
    assert P.check_idle_in_transaction([{"pid": 7, "user": "a", "age_s": 3, "query": "x"}], SEED) == []
    assert P.check_lock_waits([{"pid": 7, "user": "a", "lock": "l", "age_s": 3, "query": "x"}], SEED) == []


# ---- alerts within a minute -------------------------------------------------------------
def test_slow_critical_path_names_every_term_and_the_alert():
    """Seeded: the intervals of the bundled stack with a 10 m `for:` on a critical alert."""
    groups = copy.deepcopy(GROUPS)
    groups[0]["interval"] = 15
    groups[0]["rules"].append(rule("BackupTooOld", "critical", 600))
    assert P.check_alert_latency(15, groups, AM_CONFIG, SEED) == [
        f"{ALERTS}: scrape_interval 15 s + evaluation_interval 15 s + `for:` 600 s (BackupTooOld) + group_wait 10 s "
        "is 640 s, bound 60 s (shorten the critical alerts' `for:`, the intervals or the critical route's group_wait)"]


def test_group_wait_of_the_critical_route_counts():
    """Seeded: Alertmanager's critical route waiting 45 s before its first notification."""
    cfg = copy.deepcopy(AM_CONFIG)
    cfg["route"]["routes"][2]["group_wait"] = "45s"
    [problem] = P.check_alert_latency(10, GROUPS, cfg, SEED)
    assert problem.startswith(f"{ALERTS}: scrape_interval 10 s + evaluation_interval 10 s + `for:` 20 s (TargetDown) "
                              "+ group_wait 45 s is 85 s, bound 60 s")


def test_route_without_group_wait_inherits_alertmanagers_default():
    cfg = copy.deepcopy(AM_CONFIG)
    del cfg["route"]["group_wait"]
    [problem] = P.check_alert_latency(10, GROUPS, cfg, SEED)
    assert "group_wait 30 s is 70 s, bound 60 s" in problem


def test_no_critical_alert_loaded():
    assert P.check_alert_latency(10, [GROUPS[1]], AM_CONFIG, SEED) == [
        f"{ALERTS}: the number of loaded alerts with severity=critical is 0, bound >= 1 "
        "(load the critical alert rules: nothing would page)"]


def test_watchdog_absent():
    groups = [{"name": "g", "interval": 10, "rules": [rule("TargetDown", "critical", 20)]}]
    assert P.check_watchdog(groups, AM_ALERTS, AM_CONFIG, SEED) == [
        f"{ALERTS}: the Watchdog alert rule is absent, bound loaded "
        "(load the dead man's switch: a dead alerting path would go unnoticed)"]


def test_watchdog_not_reaching_alertmanager():
    [problem] = P.check_watchdog(GROUPS, [], AM_CONFIG, SEED)
    assert problem.startswith(f"{ALERTS}: Watchdog in Alertmanager is not active, bound active (always firing)")


def test_watchdog_routed_to_a_receiver_without_integration():
    """Seeded: the watchdog route sent to the `null` receiver."""
    cfg = copy.deepcopy(AM_CONFIG)
    cfg["route"]["routes"][0]["receiver"] = "null"
    [problem] = P.check_watchdog(GROUPS, AM_ALERTS, cfg, SEED)
    assert problem.startswith(f"{ALERTS}: the receiver of Watchdog is 'null', bound a receiver with at least one integration")


def test_retention_shorter_than_a_rule_window():
    groups = copy.deepcopy(GROUPS)
    groups[1]["rules"][0]["query"] = "avg_over_time(probe_success[30d:1h])"
    [problem] = P.check_retention(FLAGS, groups, SEED)
    assert problem.startswith(f"{ALERTS}: Prometheus storage.tsdb.retention.time is 1296000 s, bound 2592000 s "
                              "(rule instance:probe_success:avg1h's window)")


def test_retention_shorter_than_the_dashboards_range():
    """Seeded: --storage.tsdb.retention.time=2d."""
    [problem] = P.check_retention({"storage.tsdb.retention.time": "2d"}, GROUPS, SEED)
    assert problem.startswith(f"{ALERTS}: Prometheus storage.tsdb.retention.time is 172800 s, bound 604800 s "
                              "(the dashboards' range)")


def test_unset_retention_is_prometheus_default():
    assert P.retention_seconds({"storage.tsdb.retention.time": "0s", "storage.tsdb.retention": "0s"}) == 15 * 86400


# ---- RPO / RTO ------------------------------------------------------------------------
def test_wal_archive_is_the_shared_judge_bound_by_the_declared_rpo():
    """Seeded: three completed segments waiting 400 s: past a 300 s RPO (db_security's judge)."""
    server = {"settings": {"archive_mode": "on", "archive_command": "pgbackrest archive-push %p"},
              "archiver": {"last_archived_wal": "000000010000000000000004", "last_archived_time": "2026-01-01T00:00:00+00:00",
                           "last_failed_time": None},
              "current_wal": "000000010000000000000008", "now": "2026-01-01T00:06:40+00:00"}
    [problem] = P.check_wal_archive(server, SEED)
    assert problem.startswith(f"{RECOVERY}: WAL archiving is stuck: 3 completed segment(s) after "
                              "000000010000000000000004 not archived, last success 400 s ago (bound 300 s")
    assert P.check_wal_archive(server, P.Promises(**{**SEED.__dict__, "rpo_s": 600})) == []


@pytest.mark.parametrize("timeout", ["0", "600"])
def test_archive_timeout_within_the_rpo(timeout):
    assert P.check_archive_timeout({"archive_timeout": timeout}, SEED) == [
        f"{RECOVERY}: archive_timeout is {timeout} s, bound 1..300 s (set archive_timeout in postgresql.conf and "
        "reload: the last writes stay unarchived)"]


def test_declared_rpo_is_the_bound():
    tight = P.Promises(**{**SEED.__dict__, "rpo_s": 20})
    [problem] = P.check_archive_timeout({"archive_timeout": "30"}, tight)
    assert problem.startswith("RPO 20 s / RTO 3600 s: archive_timeout is 30 s, bound 1..20 s")


def test_no_backup_recorded():
    assert P.check_base_backup_age(None, SEED) == [
        f'{RECOVERY}: backup_last_success_timestamp_seconds{{kind="pgbackrest"}} is absent, bound younger than 93600 s '
        "(no successful backup recorded: run `make backup` and install its schedule (stack/backup/crontab.example))"]


def test_backup_too_old():
    [problem] = P.check_base_backup_age(200000, SEED)
    assert problem.startswith(f"{RECOVERY}: the last successful pgbackrest backup's age is 200000 s, bound 93600 s")


def test_retention_keeps_no_full_backup():
    """Seeded: repo1-retention-full unset, and an empty repository."""
    assert P.check_backup_retention(None, {"archive": REPO["archive"], "backup": []}, SEED) == [
        f"{RECOVERY}: pgBackRest repo1-retention-full is None, bound >= 1 (set repo1-retention-full in "
        "pgbackrest.conf: expiry could remove every full backup)",
        f"{RECOVERY}: full backups of the current cluster in the pgBackRest repository is 0, bound >= 1 "
        "(take one: `make backup "
        "KIND=pgbackrest` (the WAL archive alone restores nothing))"]


def test_a_reinitialised_cluster_has_no_backup_of_its_own():
    """Seeded: the db volume initialised anew over the repository: its predecessor's full
    backup is listed, but cannot restore this cluster."""
    repo = copy.deepcopy(REPO)
    repo["db"].append({"id": 2})
    repo["archive"].append({"id": "15-2", "database": {"id": 2}, "min": "000000010000000000000001",
                            "max": "000000010000000000000002"})
    [problem] = P.check_backup_retention(2, repo, SEED)
    assert problem.startswith(f"{RECOVERY}: full backups of the current cluster in the pgBackRest repository is 0")


def test_no_backup_schedule():
    assert P.check_backup_schedule(True, None, SEED) == [] and P.check_backup_schedule(False, "/etc/cron.d/x", SEED) == []
    [problem] = P.check_backup_schedule(False, "", SEED)
    assert problem.startswith(f"{RECOVERY}: the backup schedule is none running (no backup-scheduler.sh in the db "
                              "container, no BACKUP_CRON_FILE declared), bound one active schedule")


def test_wal_to_replay_the_kept_backup_expired():
    repo = copy.deepcopy(REPO)
    repo["archive"][0]["min"] = "000000010000000000000004"
    [problem] = P.check_backup_retention(2, repo, SEED)
    assert problem.startswith(f"{RECOVERY}: the WAL archive's oldest segment is 000000010000000000000004, "
                              "bound <= 000000010000000000000003 (the oldest full backup's start)")


# ---- no acknowledged write lost ----------------------------------------------------------
@pytest.mark.parametrize("check, setting, value, bound", [
    (P.check_fsync, "fsync", "off", "on"),
    (P.check_full_page_writes, "full_page_writes", "off", "on"),
    (P.check_synchronous_commit, "synchronous_commit", "off", "local or on or remote_apply or remote_write"),
    (P.check_autovacuum, "autovacuum", "off", "on"),
])
def test_durability_settings(check, setting, value, bound):
    [problem] = check({**SETTINGS, setting: value}, SEED)
    assert problem.startswith(f"{DURABLE}: {setting} is {value}, bound {bound} (ALTER SYSTEM RESET {setting}")


def test_inactive_slot_retaining_wal():
    slots = [{"name": "suite_fault_slot", "active": False, "retained_bytes": 2 << 30},
             {"name": "supabase_realtime", "active": False, "retained_bytes": 1000}]
    assert P.check_inactive_slots(slots, SEED) == [
        f"{DURABLE}: WAL retained by inactive replication slot suite_fault_slot is 2147483648 bytes, bound "
        "268435456 bytes (SELECT pg_drop_replication_slot('suite_fault_slot') if nothing will resume it: "
        "pg_wal fills the disk)"]


def test_invalid_index():
    assert P.check_invalid_indexes(["public.notes_body_idx"], SEED) == [
        f"{DURABLE}: index public.notes_body_idx is invalid, bound valid "
        "(DROP INDEX CONCURRENTLY public.notes_body_idx and create it again)"]


def test_pg_stat_statements_missing():
    assert P.check_pg_stat_statements(["plpgsql"], "", SEED) == [
        f"{API}: shared_preload_libraries is '', bound includes pg_stat_statements "
        "(add it in postgresql.conf and restart: slow queries stay invisible)",
        f"{API}: extension pg_stat_statements is absent, bound created "
        "(CREATE EXTENSION pg_stat_statements: the Database dashboard's query panels are empty)"]


# ---- capacity ----------------------------------------------------------------------------
def test_max_connections_below_the_pools():
    """Seeded: max_connections=50 for pools summing 42 plus 20 headroom."""
    assert P.check_max_connections(50, 3, POOLS, SEED) == [
        f"{API}: max_connections - superuser_reserved_connections is 47, bound 62 (auth 10 + backup 2 + meta 4 + "
        "postgres-exporter 1 + realtime 5 + rest 20 + headroom 20) (raise max_connections or shrink the pools: "
        "connections beyond it are refused)"]


def test_rest_pool_below_the_declared_api_load():
    assert P.check_rest_pool(5, SEED) == [
        f"{API}: rest PGRST_DB_POOL is 5, bound >= 20 (raise PGRST_DB_POOL: requests queue for a connection)"]


def test_auth_pool_too_small():
    [problem] = P.check_auth_pool(2, SEED)
    assert problem.startswith(f"{API}: auth GOTRUE_DB_MAX_POOL_SIZE is 2, bound >= 5")


def test_realtime_limits_below_the_declared_load():
    """Seeded: TENANT_MAX_CONCURRENT_USERS=200 (the stand-in's own default) and no joins limit read."""
    limits = {**LIMITS, "max_concurrent_users": 200}
    del limits["max_joins_per_second"]
    assert P.check_realtime_limits(limits, SEED) == [
        f"{WS}: realtime tenant max_concurrent_users is 200, bound >= 10000 (raise TENANT_MAX_CONCURRENT_USERS "
        "(or the tenant's row): the server refuses the rest)",
        f"{WS}: realtime tenant max_joins_per_second is None, bound >= 250 (raise TENANT_MAX_JOINS_PER_SECOND "
        "(or the tenant's row): the server refuses the rest)"]


def test_redis_without_maxmemory():
    [problem] = P.check_redis_maxmemory({**REDIS, "maxmemory": "0"}, SEED)
    assert problem.startswith(f"{DURABLE}: Redis maxmemory is 0, bound > 0")


def test_redis_evicting_policy():
    assert P.check_redis_eviction_policy({**REDIS, "maxmemory-policy": "allkeys-lru"}, SEED) == [
        f"{DURABLE}: Redis maxmemory-policy is allkeys-lru, bound noeviction (Redis holds data here (AOF on): "
        "an evicting policy drops acknowledged writes)"]


# ---- runtime ---------------------------------------------------------------------------
def test_idle_in_transaction_names_the_session_its_age_and_masked_query():
    sessions = [{"pid": 4242, "user": "postgres", "application": "psql", "age_s": 125.4,
                 "query": "UPDATE notes SET body = 'secret text'\n WHERE id = 1"}]
    assert P.check_idle_in_transaction(sessions, SEED) == [
        f"{API}: session 4242 (postgres, psql) idle in transaction is 125 s, bound 30 s (it holds its locks and the "
        "vacuum horizon; last query: UPDATE notes SET body = '?' WHERE id = 1; end it with "
        "pg_terminate_backend(4242) and set idle_in_transaction_session_timeout)"]


def test_long_query_is_truncated():
    assert P.shown_query("select " + "x, " * 100) .endswith("...")
    assert len(P.shown_query("select " + "x, " * 100)) == P.QUERY_SHOWN_CHARS + 3


def test_lock_wait():
    waits = [{"pid": 99, "user": "authenticator", "lock": "RowExclusiveLock on relation public.notes",
              "age_s": 45, "query": "insert into notes values ('a')", "blockers": "4242"}]
    assert P.check_lock_waits(waits, SEED) == [
        f"{API}: session 99 (authenticator) waiting for RowExclusiveLock on relation public.notes is 45 s, bound 30 s "
        "(blocked by pid(s) 4242; query: insert into notes values ('?'))"]


# ---- declared promises -----------------------------------------------------------------------
def test_target_declares_promises(tmp_path):
    env = tmp_path / "t.env"
    env.write_text("SUPABASE_URL=http://127.0.0.1:8000\nANON_KEY=a\nSERVICE_ROLE_KEY=s\n"
                   "RPO_S=60\nCAPACITY_WS_CONNECTIONS=500\n")
    p = P.Promises.of(Target.from_file(env))
    assert (p.rpo_s, p.ws_connections, p.alert_latency_s) == (60, 500, 60)
    assert p.recovery == "RPO 60 s / RTO 3600 s" and p.websockets == "500 concurrent WebSocket connections"


def test_target_refuses_a_promise_that_is_not_a_number(tmp_path):
    env = tmp_path / "t.env"
    env.write_text("SUPABASE_URL=http://127.0.0.1:8000\nANON_KEY=a\nSERVICE_ROLE_KEY=s\nRPO_S=5min\n")
    with pytest.raises(TargetConfigError, match="RPO_S='5min' is not a number"):
        P.Promises.of(Target.from_file(env))


def test_routes_follow_continue_and_inheritance():
    routes = P.routes_for(AM_CONFIG["route"], {"alertname": "X", "severity": "critical", "team": "database"})
    assert [(r["receiver"], r["group_wait"]) for r in routes] == [("pager", "10s"), ("team", "10s")]


def test_equality_matcher_value_is_not_read_as_a_regex():
    """Seeded: a route matching team="db[" (an unterminated character set as a regex)."""
    route = {"receiver": "default", "routes": [{"receiver": "odd", "matchers": ['team="db["']}]}
    assert [r["receiver"] for r in P.routes_for(route, {"team": "db["})] == ["odd"]
    assert [r["receiver"] for r in P.routes_for(route, {"team": "db"})] == ["default"]
