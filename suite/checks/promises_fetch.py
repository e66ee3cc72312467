"""Live facts for the promise judges (suite/checks/promises.py): the database's settings and
catalogs in one query, its sessions through a pg_monitor role, Prometheus' and
Alertmanager's running configuration through their APIs, the containers' pool settings
through the stack layer, pgBackRest's repository and Redis' memory settings."""
from __future__ import annotations

import json
import re
import time

import yaml

from ..clients import http_get
from ..stack import Stack, StackError
from .monitoring import fetch_query, seconds

# One round trip: settings, slots, invalid indexes, extensions (the archiver:
# db_security.fetch_server, with the one archive judge). Every catalog
# here is readable by the API login role `authenticator`.
DB_FACTS_SQL = """
select json_build_object(
  'settings', (select json_object_agg(name, setting) from pg_settings where name in
      ('fsync', 'full_page_writes', 'synchronous_commit', 'autovacuum', 'max_connections',
       'superuser_reserved_connections', 'archive_timeout')),
  'slots', (select coalesce(json_agg(json_build_object('name', slot_name, 'active', active,
      'retained_bytes', case when pg_is_in_recovery() then 0
                             else pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn) end)), '[]')
    from pg_replication_slots),
  'invalid_indexes', (select coalesce(json_agg(i.indexrelid::regclass::text order by 1), '[]')
    from pg_index i where not i.indisvalid),
  'extensions', (select coalesce(json_agg(extname), '[]') from pg_extension))
"""

# Through a pg_monitor role: other sessions' state and query, and shared_preload_libraries,
# are hidden from the rest.
MONITOR_SQL = """
select json_build_object(
  'shared_preload_libraries', current_setting('shared_preload_libraries'),
  'idle_in_transaction', (select coalesce(json_agg(json_build_object('pid', pid, 'user', usename,
      'application', application_name, 'age_s', extract(epoch from now() - state_change), 'query', query)), '[]')
    from pg_stat_activity where state like 'idle in transaction%' and pid <> pg_backend_pid()),
  'lock_waits', (select coalesce(json_agg(json_build_object('pid', l.pid, 'user', a.usename,
      'lock', l.mode || ' on ' || l.locktype || coalesce(' ' || l.relation::regclass::text, ''),
      'age_s', extract(epoch from now() - l.waitstart), 'query', a.query,
      'blockers', array_to_string(pg_blocking_pids(l.pid), ', '))), '[]')
    from pg_locks l join pg_stat_activity a using (pid) where not l.granted and l.waitstart is not null))
"""


def fetch_db_facts(conn) -> dict:
    return conn.execute(DB_FACTS_SQL).fetchone()[0]


def fetch_monitor_facts(conn) -> dict:
    return conn.execute(MONITOR_SQL).fetchone()[0]


# ---- Prometheus and Alertmanager --------------------------------------------------------
def _json(service: str, url: str, path: str) -> dict:
    r = http_get(service, url, path)
    if r.status_code != 200:
        raise AssertionError(f"{service} {path}: HTTP {r.status_code} {r.text[:200]}")
    return r.json()


def fetch_prometheus(url: str) -> dict:
    """The running configuration (scrape intervals), rule groups and flags."""
    config = yaml.safe_load(_json("prometheus", url, "/api/v1/status/config")["data"]["yaml"])
    default = (config.get("global") or {}).get("scrape_interval", "1m")
    intervals = {job.get("job_name"): seconds(job.get("scrape_interval", default))
                 for job in config.get("scrape_configs") or []}
    return {"scrape_intervals": intervals,
            "groups": _json("prometheus", url, "/api/v1/rules")["data"]["groups"],
            "flags": _json("prometheus", url, "/api/v1/status/flags")["data"]}


def fetch_backup_ages(url: str) -> dict[str, float]:
    """kind -> seconds since the last successful backup of that kind (backup metrics)."""
    now = time.time()
    return {s["metric"].get("kind", "?"): now - float(s["value"][1])
            for s in fetch_query(url, "max by (kind) (backup_last_success_timestamp_seconds)")}


def fetch_realtime_limits_metric(url: str) -> dict[str, int]:
    """The realtime tenant's limits as the running server reports them (realtime_tenant_limit)."""
    return {s["metric"]["limit"]: int(float(s["value"][1])) for s in fetch_query(url, "realtime_tenant_limit")}


def fetch_alertmanager(url: str) -> dict:
    """The live configuration (what Alertmanager loaded, not the repository's file) and its alerts."""
    status = _json("alertmanager", url, "/api/v2/status")
    r = http_get("alertmanager", url, "/api/v2/alerts")
    return {"config": yaml.safe_load(status["config"]["original"]), "alerts": r.json() if r.status_code == 200 else []}


# ---- the containers ----------------------------------------------------------------------
# Each service's DB pool: the variable setting it and the upstream default when it is unset;
# services without a setting hold a fixed number of connections (documented upstream).
POOL_SETTINGS = {
    "rest": ("PGRST_DB_POOL", 10),
    "auth": ("GOTRUE_DB_MAX_POOL_SIZE", 10),
    "realtime": ("DB_POOL_SIZE", 5),
}
FIXED_CONNECTIONS = {
    "realtime replication": 4,   # the tenant's replication slot reader and its subscription pool
    "meta": 4,                   # postgres-meta's pool
    "postgres-exporter": 1,
    "backup": 2,                 # pgBackRest's backup connection and pg_dump
}
REALTIME_LIMIT_KEYS = {"TENANT_MAX_CONCURRENT_USERS": "max_concurrent_users",
                       "TENANT_MAX_JOINS_PER_SECOND": "max_joins_per_second",
                       "TENANT_MAX_CHANNELS_PER_CLIENT": "max_channels_per_client",
                       "TENANT_MAX_EVENTS_PER_SECOND": "max_events_per_second"}


def service_env(stack: Stack, service: str, keys: tuple[str, ...]) -> dict[str, str]:
    """The named settings of a service from its running container's environment."""
    values = stack.env_values(service, keys)
    if values is None:
        raise AssertionError(f"service {service} has no container in Compose project {stack.project}")
    return values


def _int(value: str | None, default: int, what: str) -> int:
    if value in (None, ""):
        return default
    if not re.fullmatch(r"\s*\d+\s*", value):
        raise AssertionError(f"{what}={value!r} is not a whole number")
    return int(value)


def fetch_pools(stack: Stack) -> dict[str, int]:
    """service -> DB connections it may hold (live settings, upstream defaults when unset)."""
    pools = {svc: _int(service_env(stack, svc, (key,)).get(key), default, f"{svc} {key}")
             for svc, (key, default) in POOL_SETTINGS.items()}
    return {**pools, **FIXED_CONNECTIONS}


def fetch_realtime_limits_env(stack: Stack) -> dict[str, int]:
    env = service_env(stack, "realtime", tuple(REALTIME_LIMIT_KEYS))
    return {limit: _int(env.get(key), 0, f"realtime {key}") for key, limit in REALTIME_LIMIT_KEYS.items() if key in env}


PGBACKREST_CONF = "/etc/pgbackrest/pgbackrest.conf"


def fetch_pgbackrest(stack: Stack) -> tuple[int | None, dict] | None:
    """(repo1-retention-full from the db container's pgbackrest.conf, `pgbackrest info`'s
    stanza); None when the db container has no pgBackRest (the upstream image set). Only the
    retention line leaves the container: the file may hold repo1-cipher-pass or S3 keys, and
    a failing `info` puts the output in the error message."""
    try:
        out = stack.exec("db", "command -v pgbackrest >/dev/null || exit 0; "
                               f"grep -E '^[[:space:]]*repo1-retention-full[[:space:]]*=' {PGBACKREST_CONF}; "
                               "echo '#--info--'; pgbackrest --stanza=main info --output=json",
                         what="reading pgBackRest's configuration and repository")
    except StackError as exc:
        raise AssertionError(str(exc)) from None
    if "#--info--" not in out:
        return None
    conf, _, info = out.partition("#--info--")
    m = re.search(r"^\s*repo1-retention-full\s*=\s*(\d+)\s*$", conf, re.M)
    stanzas = json.loads(info)
    return (int(m[1]) if m else None), (stanzas[0] if stanzas else {})


def fetch_scheduler_running(stack: Stack) -> bool:
    """Whether stack/db/backup-scheduler.sh runs in the db container (its processes' command lines)."""
    try:
        out = stack.exec("db", "for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < \"$f\"; echo; done 2>/dev/null",
                         what="listing the db container's processes")
    except StackError as exc:
        raise AssertionError(str(exc)) from None
    return "backup-scheduler.sh" in out


def fetch_redis_memory(client) -> dict:
    return {**client.config_get("maxmemory"), **client.config_get("maxmemory-policy")}
