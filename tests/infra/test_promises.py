"""Every promise the stack makes, checked on the live target: the configuration invariants
that must hold for it to be keepable (alert latency, RPO/RTO, the declared WebSocket and API
load, no acknowledged write lost), read from the running services' APIs, the database and
the containers, judged by suite/checks/promises.py against the promises the target
declares (docs/targets.md) or thresholds.yaml's. The cheapest database invariants run in
smoke (tests/smoke/test_durability.py); nofile and somaxconn in tests/infra/test_hosts.py."""
import pytest
import redis

from suite.checks import db_security, promises
from suite.checks import promises_fetch as fetch
from suite.checks.containers import unreachable_reason
from suite.clients import TargetUnreachable, connect_db, safe_url
from suite.thresholds import LIMITS
from suite.waiting import poll


def _assert_none(problems):
    assert not problems, "\n".join(problems)


@pytest.fixture(scope="module")
def declared(target):
    return promises.Promises.of(target)


@pytest.fixture(scope="module")
def prometheus(target, require):
    require("prometheus")
    return fetch.fetch_prometheus(target.url("prometheus"))


@pytest.fixture(scope="module")
def alertmanager(target, require):
    require("alertmanager")
    return fetch.fetch_alertmanager(target.url("alertmanager"))


@pytest.fixture(scope="module")
def db_facts(db):
    return fetch.fetch_db_facts(db)


@pytest.fixture(scope="module")
def monitor(target, require):
    require("db")
    url = target.db_monitor_url
    if not url:
        pytest.skip(f"{target.name} declares no DB_MONITOR_URL (a pg_monitor role: other sessions are hidden "
                    "from the API role)")
    with connect_db(target, url, "connect as the monitoring role") as conn:
        yield fetch.fetch_monitor_facts(conn)


@pytest.fixture(scope="module")
def containers(stack):
    """The stack layer, where the services' containers can be read (local, or SUITE_HOST)."""
    reason = unreachable_reason(stack)
    if reason:
        pytest.skip(reason)
    return stack


@pytest.fixture(scope="module")
def pools(containers):
    return fetch.fetch_pools(containers)


# ---- alerts within a minute ----------------------------------------------------------------
def test_alert_latency_fits_the_promise(prometheus, alertmanager, declared):
    """Catches: a scrape or evaluation interval, a critical alert's `for:` or the critical
    route's group_wait that together exceed the alert latency promise."""
    scrape_s = max(prometheus["scrape_intervals"].values(), default=0)
    _assert_none(promises.check_alert_latency(scrape_s, prometheus["groups"], alertmanager["config"], declared))


def test_watchdog_loaded_firing_and_routed(target, prometheus, alertmanager, declared):
    """Catches: the dead man's switch missing, not reaching Alertmanager, or routed to a
    receiver that sends nothing (a dead alerting path would go unnoticed). A stack started a
    moment ago sends it after its first evaluation: re-read within stack.prometheus_scrape_s."""
    last = promises.check_watchdog(prometheus["groups"], alertmanager["alerts"], alertmanager["config"], declared)

    def clean() -> bool:
        alerts = fetch.fetch_alertmanager(target.url("alertmanager"))["alerts"]
        last[:] = promises.check_watchdog(prometheus["groups"], alerts, alertmanager["config"], declared)
        return not last
    if last:
        poll(clean, what="Watchdog active in Alertmanager", timeout=LIMITS.stack.prometheus_scrape_s, interval=2,
             raise_on_timeout=False)
    _assert_none(last)


def test_retention_covers_rule_windows_and_dashboards(prometheus, declared):
    """Catches: --storage.tsdb.retention.time shorter than a rule's range or the dashboards'."""
    _assert_none(promises.check_retention(prometheus["flags"], prometheus["groups"], declared))


# ---- RPO / RTO --------------------------------------------------------------------------
def test_wal_archive_within_the_rpo(db, declared):
    """Catches: archiving off or a no-op, the archiver failing, or completed WAL waiting past
    the declared RPO (the one archive judge, shared with tests/smoke/test_db_security.py)."""
    _assert_none(promises.check_wal_archive(db_security.fetch_server(db), declared))


def test_archive_timeout_within_the_rpo(db_facts, declared):
    """Catches: archive_timeout 0 or above the RPO (a quiet database's last commits are never archived)."""
    _assert_none(promises.check_archive_timeout(db_facts["settings"], declared))


def test_base_backup_recent(target, require, declared):
    """Catches: no successful base backup recorded, or the schedule stopped (the last one
    older than a day and its slack)."""
    require("prometheus")
    ages = fetch.fetch_backup_ages(target.url("prometheus"))
    _assert_none(promises.check_base_backup_age(ages.get("pgbackrest"), declared))


def test_backup_retention_keeps_a_restorable_backup(containers, declared):
    """Catches: repo1-retention-full unset or 0, an empty repository, or the WAL needed to
    replay the oldest kept full backup expired."""
    found = fetch.fetch_pgbackrest(containers)
    if found is None:
        pytest.skip("the db container has no pgBackRest (IMAGES=upstream: pg_dump backups only)")
    _assert_none(promises.check_backup_retention(*found, declared))


def test_backup_schedule_active(containers, declared):
    """Catches: no schedule taking base backups: the db image's scheduler not running and no
    cron file declared (a fresh backup today, none tomorrow)."""
    _assert_none(promises.check_backup_schedule(fetch.fetch_scheduler_running(containers),
                                                containers.target.env.get("BACKUP_CRON_FILE"), declared))


# ---- capacity -----------------------------------------------------------------------------
def test_pg_stat_statements_available(db_facts, monitor, declared):
    """Catches: pg_stat_statements not preloaded or not created (the dashboards' query panels
    are empty: slow queries stay invisible)."""
    _assert_none(promises.check_pg_stat_statements(db_facts["extensions"], monitor["shared_preload_libraries"], declared))


def test_max_connections_covers_every_pool(db_facts, pools, declared):
    """Catches: max_connections below the sum of every service's pool plus headroom."""
    s = db_facts["settings"]
    _assert_none(promises.check_max_connections(int(s["max_connections"]), int(s["superuser_reserved_connections"]),
                                                pools, declared))


def test_rest_pool_carries_the_declared_api_load(pools, declared):
    """Catches: PGRST_DB_POOL below the declared concurrent API requests."""
    _assert_none(promises.check_rest_pool(pools["rest"], declared))


def test_auth_pool_carries_sign_ins(pools, declared):
    """Catches: GOTRUE_DB_MAX_POOL_SIZE too small for sign-ins."""
    _assert_none(promises.check_auth_pool(pools["auth"], declared))


def test_realtime_limits_carry_the_declared_load(target, stack, require, declared):
    """Catches: TENANT_MAX_CONCURRENT_USERS (or joins, channels, events) below the declared
    WebSocket load: the server refuses the users beyond it. The running container's
    environment on a stack whose containers are readable, else the server's
    realtime_tenant_limit series."""
    if stack.reachable:
        limits = fetch.fetch_realtime_limits_env(stack)
    else:
        require("prometheus")
        limits = fetch.fetch_realtime_limits_metric(target.url("prometheus"))
        if not limits:
            pytest.skip("the target's realtime reports no realtime_tenant_limit series")
    _assert_none(promises.check_realtime_limits(limits, declared))


@pytest.fixture(scope="module")
def redis_memory(target, require):
    require("redis")
    url = target.url("redis")
    client = redis.Redis.from_url(url, socket_connect_timeout=LIMITS.http.connect_timeout_s,
                                  socket_timeout=LIMITS.http.read_timeout_s)
    try:
        return fetch.fetch_redis_memory(client)
    except redis.ConnectionError as exc:
        raise TargetUnreachable("redis", safe_url(url), "CONFIG GET maxmemory", exc) from None


def test_redis_maxmemory_set(redis_memory, declared):
    """Catches: Redis without maxmemory (it grows until the kernel kills it with its data)."""
    _assert_none(promises.check_redis_maxmemory(redis_memory, declared))


def test_redis_eviction_policy_keeps_data(redis_memory, declared):
    """Catches: an evicting maxmemory-policy on a Redis that holds data (CONFIG SET leaves no
    trace in redis.conf)."""
    _assert_none(promises.check_redis_eviction_policy(redis_memory, declared))


# ---- runtime -------------------------------------------------------------------------------
def test_no_long_idle_in_transaction_session(monitor, declared):
    """Catches: a session idle inside a transaction beyond the bound (it holds locks and the
    vacuum horizon), named with its pid, age and query."""
    _assert_none(promises.check_idle_in_transaction(monitor["idle_in_transaction"], declared))


def test_no_long_lock_wait(monitor, declared):
    """Catches: a session waiting for a lock beyond the bound, named with its blockers."""
    _assert_none(promises.check_lock_waits(monitor["lock_waits"], declared))
