"""The stack's promises and the configuration invariants that must hold for it to keep them
(issue 18): alerts within a minute, RPO/RTO, the declared WebSocket and API load, and no
acknowledged write lost. Every judge is pure: it takes live facts (read by
suite/checks/promises_fetch.py from the running services, the database and the
containers) and returns problem strings of one shape,

    "<promise>: <setting> is <live value>, bound <bound> (<fix>)"

so that a failure names the promise it breaks. Bounds: thresholds.yaml `promises:`; the
promises themselves may be declared by the target (docs/targets.md)."""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..thresholds import LIMITS
from . import db_security
from .monitoring import seconds

BOUNDS = LIMITS.promises.invariants
# Prometheus' retention when neither retention flag is set.
DEFAULT_RETENTION = "15d"
# Alertmanager's group_wait when no route sets one.
DEFAULT_GROUP_WAIT = "30s"
QUERY_SHOWN_CHARS = 120


# ---- the promises --------------------------------------------------------------------------
@dataclass(frozen=True)
class Promises:
    alert_latency_s: float
    rpo_s: float
    rto_s: float
    ws_connections: int
    api_concurrency: int
    api_p95_ms: float

    @classmethod
    def of(cls, target=None) -> "Promises":
        """The promises the target declares, thresholds.yaml's for the keys it does not."""
        d = LIMITS.promises
        get = (lambda key, default: target.promise(key, default)) if target else (lambda key, default: default)
        return cls(alert_latency_s=get("ALERT_LATENCY_S", d.alert_latency_s), rpo_s=get("RPO_S", d.rpo_s),
                   rto_s=get("RTO_S", d.rto_s), ws_connections=int(get("CAPACITY_WS_CONNECTIONS", d.ws_connections)),
                   api_concurrency=int(get("CAPACITY_API_CONCURRENCY", d.api_concurrency)),
                   api_p95_ms=get("API_P95_MS", d.api_p95_ms))

    @property
    def alerts(self) -> str:
        return f"alerts within {self.alert_latency_s:g} s"

    @property
    def recovery(self) -> str:
        return f"RPO {self.rpo_s:g} s / RTO {self.rto_s:g} s"

    @property
    def websockets(self) -> str:
        return f"{self.ws_connections} concurrent WebSocket connections"

    @property
    def api(self) -> str:
        return f"API p95 under {self.api_p95_ms:g} ms at {self.api_concurrency} concurrent requests"

    durability = "no acknowledged write lost"


def finding(promise: str, setting: str, value, bound, fix: str) -> str:
    return f"{promise}: {setting} is {value}, bound {bound} ({fix})"


# ---- Alertmanager routing (the live config) -----------------------------------------------
_MATCHER = re.compile(r'^\s*([A-Za-z_]\w*)\s*(=~|!~|!=|=)\s*"?(.*?)"?\s*$')
# Only the regex operators compile their value: an equality value may hold "[" or "(".
_OPERATORS = {"=": lambda got, value: got == value, "!=": lambda got, value: got != value,
              "=~": lambda got, value: re.fullmatch(value, got) is not None,
              "!~": lambda got, value: re.fullmatch(value, got) is None}


def _matches(route: dict, labels: dict[str, str]) -> bool:
    tests = [_MATCHER.match(m) for m in route.get("matchers") or []]
    tests = [(m[1], m[2], m[3]) for m in tests if m]
    tests += [(k, "=", v) for k, v in (route.get("match") or {}).items()]
    tests += [(k, "=~", v) for k, v in (route.get("match_re") or {}).items()]
    return all(_OPERATORS[op](labels.get(name, ""), value) for name, op, value in tests)


def routes_for(route: dict, labels: dict[str, str], inherited: dict | None = None) -> list[dict]:
    """The routes an alert with `labels` is delivered by, as Alertmanager walks its tree
    (children in order, `continue`, settings inherited from the parent)."""
    keys = ("receiver", "group_wait", "group_interval", "repeat_interval", "group_by")
    node = {**(inherited or {}), **{k: route[k] for k in keys if k in route}}
    found = []
    for child in route.get("routes") or []:
        if _matches(child, labels):
            found += routes_for(child, labels, node)
            if not child.get("continue"):
                break
    return found or [node]


# ---- alerts within a minute ----------------------------------------------------------------
def alerting_rules(groups: list[dict]) -> list[tuple[dict, dict]]:
    """(group, rule) for every alerting rule of Prometheus' /api/v1/rules groups."""
    return [(g, r) for g in groups for r in g.get("rules") or [] if r.get("type") == "alerting"]


def check_alert_latency(scrape_s: float, groups: list[dict], am_config: dict, p: Promises) -> list[str]:
    """scrape interval + evaluation interval + `for:` + group_wait of the slowest critical
    alert's route <= the promise. `scrape_s`: the longest live scrape interval."""
    critical = [(g, r) for g, r in alerting_rules(groups) if (r.get("labels") or {}).get("severity") == "critical"]
    if not critical:
        return [finding(p.alerts, "the number of loaded alerts with severity=critical", 0, ">= 1",
                        "load the critical alert rules: nothing would page")]

    def terms(group: dict, rule: dict) -> tuple[str, tuple[float, float, float, float]]:
        labels = {"alertname": rule["name"], **(rule.get("labels") or {})}
        wait = max(seconds(r.get("group_wait", DEFAULT_GROUP_WAIT)) for r in routes_for(am_config.get("route") or {}, labels))
        return rule["name"], (scrape_s, float(group.get("interval") or 0), float(rule.get("duration") or 0), wait)
    name, parts = max((terms(g, r) for g, r in critical), key=lambda named: sum(named[1]))
    if sum(parts) <= p.alert_latency_s:
        return []
    scrape, evaluation, for_s, wait = parts
    return [finding(p.alerts, f"scrape_interval {scrape:g} s + evaluation_interval {evaluation:g} s + "
                              f"`for:` {for_s:g} s ({name}) + group_wait {wait:g} s",
                    f"{sum(parts):g} s", f"{p.alert_latency_s:g} s",
                    "shorten the critical alerts' `for:`, the intervals or the critical route's group_wait")]


def check_watchdog(groups: list[dict], am_alerts: list[dict], am_config: dict, p: Promises,
                   name: str = "Watchdog") -> list[str]:
    """The dead man's switch is loaded, firing into Alertmanager, and routed to a receiver
    that sends it somewhere (a receiver with no integration drops it)."""
    rules = [r for _, r in alerting_rules(groups) if r["name"] == name]
    if not rules:
        return [finding(p.alerts, f"the {name} alert rule", "absent", "loaded",
                        "load the dead man's switch: a dead alerting path would go unnoticed")]
    problems = []
    active = [a for a in am_alerts if a.get("labels", {}).get("alertname") == name
              and (a.get("status") or {}).get("state", "active") == "active"]
    if not active:
        problems.append(finding(p.alerts, f"{name} in Alertmanager", "not active", "active (always firing)",
                                "check that Prometheus sends alerts to Alertmanager and the rule's expr is vector(1)"))
    receivers = {r.get("name"): r for r in am_config.get("receivers") or []}
    labels = {"alertname": name, **(rules[0].get("labels") or {})}
    for route in routes_for(am_config.get("route") or {}, labels):
        receiver = receivers.get(route.get("receiver"), {})
        if not any(k.endswith("_configs") and v for k, v in receiver.items()):
            problems.append(finding(p.alerts, f"the receiver of {name}", repr(route.get("receiver")),
                                    "a receiver with at least one integration",
                                    "route the dead man's switch to the receiver that alarms when it stops"))
    return problems


# Range selectors and subquery ranges: rate(x[5m]), max_over_time(x[1h:1m]).
_RANGE = re.compile(r"\[\s*(\d+(?:ms|s|m|h|d|w|y)(?:\d+(?:ms|s|m|h|d|w|y))*)\s*(?::[^\]]*)?\]")


def longest_rule_window(groups: list[dict]) -> tuple[float, str]:
    """The largest range selector in any loaded rule: (seconds, rule name)."""
    best = (0.0, "")
    for g in groups:
        for r in g.get("rules") or []:
            for window in _RANGE.findall(r.get("query", "")):
                best = max(best, (seconds(window), r.get("name", "")))
    return best


def retention_seconds(flags: dict) -> float:
    """Prometheus' time retention from /api/v1/status/flags (0 and unset mean the default)."""
    for key in ("storage.tsdb.retention.time", "storage.tsdb.retention"):
        value = seconds(flags.get(key) or "0s")
        if value:
            return value
    return seconds(DEFAULT_RETENTION)


def check_retention(flags: dict, groups: list[dict], p: Promises,
                    dashboard_range_s: float = BOUNDS.dashboard_range_s) -> list[str]:
    """Retention covers the longest rule window and the dashboards' range."""
    window, rule = longest_rule_window(groups)
    need = max(window, dashboard_range_s)
    have = retention_seconds(flags)
    if have >= need:
        return []
    why = f"rule {rule}'s window" if window >= dashboard_range_s else "the dashboards' range"
    return [finding(p.alerts, "Prometheus storage.tsdb.retention.time", f"{have:.0f} s", f"{need:.0f} s ({why})",
                    "raise --storage.tsdb.retention.time: rules and dashboards would read a truncated history")]


# ---- RPO / RTO ---------------------------------------------------------------------------
def check_wal_archive(server: dict, p: Promises) -> list[str]:
    """WAL archiving on, not a no-op, not failing and not behind by more than the RPO: the
    one archive judge (db_security.check_wal_archiving, issue 13) bound by the declared RPO
    and named with the promise. `server`: db_security.fetch_server's facts."""
    return [f"{p.recovery}: {problem}" for problem in db_security.check_wal_archiving(server, p.rpo_s)]


def check_archive_timeout(settings: dict, p: Promises) -> list[str]:
    """archive_timeout forces a segment switch: without it (or above the RPO) a quiet
    database keeps its last commits in a segment that is never archived."""
    timeout = float(settings.get("archive_timeout") or 0)
    if 0 < timeout <= p.rpo_s:
        return []
    return [finding(p.recovery, "archive_timeout", f"{timeout:g} s", f"1..{p.rpo_s:g} s",
                    "set archive_timeout in postgresql.conf and reload: the last writes stay unarchived")]


def check_base_backup_age(age_s: float | None, p: Promises, kind: str = "pgbackrest",
                          bound_s: float = BOUNDS.base_backup_max_age_s) -> list[str]:
    """The last successful base backup (backup_last_success_timestamp_seconds) is recent: a
    restore replays every WAL segment since it, which bounds the RTO, and no PITR exists
    without one."""
    if age_s is None:
        return [finding(p.recovery, f'backup_last_success_timestamp_seconds{{kind="{kind}"}}', "absent",
                        f"younger than {bound_s:g} s", "no successful backup recorded: run `make backup` "
                        "and install its schedule (stack/backup/crontab.example)")]
    if age_s > bound_s:
        return [finding(p.recovery, f"the last successful {kind} backup's age", f"{age_s:.0f} s", f"{bound_s:g} s",
                        "the backup schedule is not running: check BACKUP_CRON_FILE and its log")]
    return []


def check_backup_schedule(scheduler_running: bool, cron_file: str | None, p: Promises) -> list[str]:
    """A schedule takes the base backups: the db container's own (stack/db/backup-scheduler.sh)
    running, or a cron file declared (BACKUP_CRON_FILE; tests/infra/test_hosts.py checks it is
    installed and read by cron)."""
    if scheduler_running or cron_file:
        return []
    return [finding(p.recovery, "the backup schedule", "none running (no backup-scheduler.sh in the db container, "
                    "no BACKUP_CRON_FILE declared)", "one active schedule",
                    "start the db image's scheduler (BACKUP_INTERVAL_S unset or > 0) or install "
                    "stack/backup/crontab.example and declare BACKUP_CRON_FILE")]


def _wal_position(name: str | None) -> int | None:
    """A WAL file name's order (log and segment; timeline ignored); None for other names."""
    return int(name[8:24], 16) if name and re.fullmatch(r"[0-9A-F]{24}", name) else None


def check_backup_retention(retention_full: int | None, repo: dict, p: Promises,
                           minimum: int = BOUNDS.min_full_backups_kept) -> list[str]:
    """pgBackRest keeps at least `minimum` full backups, has one of the CURRENT cluster (a
    re-initialised cluster cannot be restored from its predecessor's), and holds the WAL
    from the oldest one onward. `repo`: `pgbackrest info --output=json`'s stanza."""
    problems = []
    if retention_full is None or retention_full < minimum:
        problems.append(finding(p.recovery, "pgBackRest repo1-retention-full", retention_full, f">= {minimum}",
                                "set repo1-retention-full in pgbackrest.conf: expiry could remove every full backup"))
    current = max((d.get("id", 0) for d in repo.get("db") or []), default=None)
    of_current = lambda items: [x for x in items or [] if (x.get("database") or {}).get("id", current) == current]  # noqa: E731
    fulls = [b for b in of_current(repo.get("backup")) if b.get("type") == "full"]
    if len(fulls) < minimum:
        problems.append(finding(p.recovery, "full backups of the current cluster in the pgBackRest repository",
                                len(fulls), f">= {minimum}", "take one: `make backup KIND=pgbackrest` "
                                "(the WAL archive alone restores nothing)"))
        return problems
    archive = (of_current(repo.get("archive")) or [{}])[-1]
    start = (fulls[0].get("archive") or {}).get("start")
    oldest, needed = _wal_position(archive.get("min")), _wal_position(start)
    if oldest is None or needed is None or oldest > needed:
        problems.append(finding(p.recovery, "the WAL archive's oldest segment", archive.get("min"),
                                f"<= {start} (the oldest full backup's start)",
                                "the WAL to replay the kept backup has expired: take a new full backup"))
    return problems


# ---- no acknowledged write lost ----------------------------------------------------------
def _setting(settings: dict, name: str, want: set[str], p: Promises, fix: str) -> list[str]:
    value = settings.get(name)
    if value in want:
        return []
    return [finding(p.durability, name, value, " or ".join(sorted(want)), fix)]


def check_fsync(settings: dict, p: Promises) -> list[str]:
    return _setting(settings, "fsync", {"on"}, p, "ALTER SYSTEM RESET fsync: a crash can corrupt the cluster")


def check_full_page_writes(settings: dict, p: Promises) -> list[str]:
    return _setting(settings, "full_page_writes", {"on"}, p,
                    "ALTER SYSTEM RESET full_page_writes: torn pages after a crash")


def check_synchronous_commit(settings: dict, p: Promises,
                             allowed: tuple[str, ...] = tuple(BOUNDS.synchronous_commit)) -> list[str]:
    return _setting(settings, "synchronous_commit", set(allowed), p,
                    "ALTER SYSTEM RESET synchronous_commit: commits are acknowledged before they are on disk")


def check_autovacuum(settings: dict, p: Promises) -> list[str]:
    return _setting(settings, "autovacuum", {"on"}, p,
                    "ALTER SYSTEM RESET autovacuum: without it transaction ID wraparound stops every write")


def check_inactive_slots(slots: list[dict], p: Promises,
                         bound: int = BOUNDS.inactive_slot_max_wal_bytes) -> list[str]:
    """`slots`: name, active, retained_bytes (WAL held back by the slot's restart_lsn)."""
    return [finding(p.durability, f"WAL retained by inactive replication slot {s['name']}",
                    f"{s['retained_bytes']} bytes", f"{bound} bytes",
                    f"SELECT pg_drop_replication_slot('{s['name']}') if nothing will resume it: pg_wal fills the disk")
            for s in slots if not s["active"] and (s["retained_bytes"] or 0) > bound]


def check_invalid_indexes(indexes: list[str], p: Promises) -> list[str]:
    """Indexes left invalid by a failed CREATE INDEX CONCURRENTLY: never used by queries,
    and a unique one does not guard its constraint."""
    return [finding(p.durability, f"index {name}", "invalid", "valid",
                    f"DROP INDEX CONCURRENTLY {name} and create it again") for name in indexes]


def check_pg_stat_statements(extensions: list[str], preload: str, p: Promises) -> list[str]:
    """The dashboards' query statistics: the library preloaded and the extension created."""
    problems = []
    if "pg_stat_statements" not in [x.strip() for x in (preload or "").split(",")]:
        problems.append(finding(p.api, "shared_preload_libraries", repr(preload), "includes pg_stat_statements",
                                "add it in postgresql.conf and restart: slow queries stay invisible"))
    if "pg_stat_statements" not in extensions:
        problems.append(finding(p.api, "extension pg_stat_statements", "absent", "created",
                                "CREATE EXTENSION pg_stat_statements: the Database dashboard's query panels are empty"))
    return problems


# ---- capacity --------------------------------------------------------------------------
def check_max_connections(max_connections: int, reserved: int, pools: dict[str, int], p: Promises,
                          headroom: int = BOUNDS.db_connection_headroom) -> list[str]:
    """max_connections - superuser_reserved_connections >= every service's pool + headroom."""
    need = sum(pools.values()) + headroom
    have = max_connections - reserved
    if have >= need:
        return []
    parts = " + ".join(f"{svc} {n}" for svc, n in sorted(pools.items()))
    return [finding(p.api, "max_connections - superuser_reserved_connections", have,
                    f"{need} ({parts} + headroom {headroom})",
                    "raise max_connections or shrink the pools: connections beyond it are refused")]


def check_rest_pool(pool: int, p: Promises) -> list[str]:
    if pool >= p.api_concurrency:
        return []
    return [finding(p.api, "rest PGRST_DB_POOL", pool, f">= {p.api_concurrency}",
                    "raise PGRST_DB_POOL: requests queue for a connection")]


def check_auth_pool(pool: int, p: Promises, minimum: int = BOUNDS.min_auth_pool) -> list[str]:
    if pool >= minimum:
        return []
    return [finding(p.api, "auth GOTRUE_DB_MAX_POOL_SIZE", pool, f">= {minimum}",
                    "raise GOTRUE_DB_MAX_POOL_SIZE: sign-ins queue for a connection")]


def check_realtime_limits(limits: dict[str, int], p: Promises) -> list[str]:
    """The realtime tenant's limits (max_concurrent_users, max_joins_per_second,
    max_channels_per_client, max_events_per_second) carry the declared load."""
    bounds = {"max_concurrent_users": p.ws_connections,
              "max_joins_per_second": BOUNDS.realtime_min_joins_per_second,
              "max_channels_per_client": BOUNDS.realtime_min_channels_per_client,
              "max_events_per_second": BOUNDS.realtime_min_events_per_second}
    problems = []
    for limit, bound in bounds.items():
        value = limits.get(limit)
        if value is None or value < bound:
            problems.append(finding(p.websockets, f"realtime tenant {limit}", value, f">= {bound}",
                                    f"raise TENANT_{limit.upper()} (or the tenant's row): the server refuses the rest"))
    return problems


def check_redis_maxmemory(config: dict, p: Promises) -> list[str]:
    """A memory cap, so Redis is refused writes before the kernel kills it with its data."""
    value = int(config.get("maxmemory") or 0)
    if value > 0:
        return []
    return [finding(p.durability, "Redis maxmemory", 0, "> 0 (a cap below the container's memory limit)",
                    "set maxmemory in redis.conf: an OOM kill loses every write since the last fsync")]


def check_redis_eviction_policy(config: dict, p: Promises,
                                allowed: tuple[str, ...] = tuple(BOUNDS.redis_eviction_policies)) -> list[str]:
    policy = config.get("maxmemory-policy")
    if policy in allowed:
        return []
    return [finding(p.durability, "Redis maxmemory-policy", policy, " or ".join(allowed),
                    "Redis holds data here (AOF on): an evicting policy drops acknowledged writes")]


# ---- runtime -------------------------------------------------------------------------------
def shown_query(query: str | None) -> str:
    """A session's query for a message: one line, string literals masked, truncated."""
    text = re.sub(r"'(?:[^']|'')*'", "'?'", " ".join((query or "").split()))
    return text[:QUERY_SHOWN_CHARS] + ("..." if len(text) > QUERY_SHOWN_CHARS else "")


def check_idle_in_transaction(sessions: list[dict], p: Promises,
                              bound_s: float = BOUNDS.idle_in_transaction_max_s) -> list[str]:
    """`sessions`: pid, user, application, age_s (since the state began), query (the last one)."""
    return [finding(p.api, f"session {s['pid']} ({s['user']}, {s.get('application') or 'no application_name'}) "
                           f"idle in transaction", f"{s['age_s']:.0f} s", f"{bound_s:g} s",
                    f"it holds its locks and the vacuum horizon; last query: {shown_query(s.get('query'))}; "
                    f"end it with pg_terminate_backend({s['pid']}) and set idle_in_transaction_session_timeout")
            for s in sessions if s["age_s"] > bound_s]


def check_lock_waits(waits: list[dict], p: Promises, bound_s: float = BOUNDS.lock_wait_max_s) -> list[str]:
    """`waits`: pid, user, lock (mode and type), age_s (pg_locks.waitstart), query, blockers."""
    return [finding(p.api, f"session {w['pid']} ({w['user']}) waiting for {w['lock']}", f"{w['age_s']:.0f} s",
                    f"{bound_s:g} s", f"blocked by pid(s) {w.get('blockers') or '?'}; query: {shown_query(w.get('query'))}")
            for w in waits if w["age_s"] > bound_s]
