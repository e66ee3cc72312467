"""Server-side evidence for the run's window, from the target's Prometheus: what the
server saw is judged with the same verdict as what the generator measured."""
from __future__ import annotations

from prometheus_api_client import PrometheusConnect

from suite.thresholds import LIMITS

from ._settings import LOAD
from ._verdict import Check, at_most


def _scalar(prom: PrometheusConnect, query: str) -> float | None:
    result = prom.custom_query(query)
    return float(result[0]["value"][1]) if result else None


def gather(url: str, start: float, end: float, expected_ws: int) -> tuple[list[Check], dict]:
    """Checks and raw facts for [start, end]. Prometheus unreachable is a failed check that
    says so (the run claimed evidence it could not get)."""
    slo = LOAD.slo.server
    w = f"{max(1, int(end - start) + 1)}s"
    at = f"@ {end:.3f}"
    prom = PrometheusConnect(url=url, disable_ssl=True)
    try:
        facts = {
            "realtime_connections_peak": _scalar(prom, f"max_over_time(sum(realtime_connections_connected)[{w}:5s] {at})"),
            "process_restarts": _scalar(prom, f"sum(changes(process_start_time_seconds[{w}] {at}))") or 0,
            "targets_seen_down": _scalar(prom, f"count(min_over_time(up[{w}] {at}) == 0)") or 0,
            "db_backends_peak": _scalar(prom, f"max_over_time(sum(pg_stat_database_numbackends)[{w}:5s] {at})"),
            "db_max_connections": _scalar(prom, f"max(pg_settings_max_connections {at})"),
        }
        fired = prom.custom_query(f'count by (alertname) (max_over_time(ALERTS{{alertstate="firing"}}[{w}] {at}))')
        # An alert already pending or firing when the run began was not caused by it (e.g. left by an
        # earlier destructive test): reported, but not held against this run.
        before = prom.custom_query(f'count by (alertname) (ALERTS{{alertstate=~"firing|pending"}} @ {start:.3f})')
        already = {r["metric"].get("alertname", "?") for r in before}
        facts["alerts_firing_before"] = sorted(already)
        facts["alerts_fired"] = sorted(r["metric"].get("alertname", "?") for r in fired
                                       if r["metric"].get("alertname", "?") not in already)
    except Exception as exc:  # noqa: BLE001 - any failure to read evidence is reported as such
        return [Check("server evidence (Prometheus)", 0, None, False,
                      detail=f"could not query {url}: {type(exc).__name__}: {str(exc)[:200]}")], {}
    checks = [
        at_most("server process restarts", facts["process_restarts"], slo.restarts,
                detail="changes of process_start_time_seconds"),
        at_most("server scrape targets seen down", facts["targets_seen_down"], slo.restarts,
                detail="min_over_time(up) == 0"),
    ]
    if expected_ws:
        peak = facts["realtime_connections_peak"]
        checks.append(Check("server realtime connections seen / requested", 1.0,
                            None if peak is None else round(peak / expected_ws, 4),
                            peak is not None and peak >= expected_ws,
                            detail=f"realtime_connections_connected peak {peak} of {expected_ws}"))
    if facts["db_backends_peak"] is not None and facts["db_max_connections"]:
        checks.append(at_most("server database connections / max_connections",
                              round(facts["db_backends_peak"] / facts["db_max_connections"], 3),
                              slo.db_connections_max_ratio,
                              detail=f"{facts['db_backends_peak']:g} of {facts['db_max_connections']:g}"))
    allowed = set(slo.alerts_allowed or []) | set(LIMITS.monitoring.expected_firing)
    unexpected = [a for a in facts["alerts_fired"] if a not in allowed]
    checks.append(Check("server alerts fired", 0, len(unexpected), not unexpected,
                        detail=", ".join(unexpected) or "none"))
    return checks, facts
