"""Server-side evidence for the run's window, from the target's Prometheus: what the server
saw is judged with the same verdict as what the generator measured.

Every check is judged over the raw scrapes inside the run's window, so it knows the sampling
it relies on: a run shorter than the scrape interval, or a gauge scraped before the
generator's count could show in it, gives a check "not enough samples to judge" (shown,
neither a pass nor a breach), never a verdict read from samples that cannot carry it.
`fetch` reads, `judge` decides (pure: tests/unit/test_load_verdict.py feeds it facts)."""
from __future__ import annotations

from typing import Callable

from prometheus_api_client import PrometheusConnect

from suite.thresholds import LIMITS

from ._settings import LOAD
from ._verdict import Check, at_most, not_judged

Series = list[tuple[float, float]]  # raw (scrape time, value) samples


def totals(series: list[Series]) -> Series:
    """Several series summed at each of their scrape instants (each one's latest value so far)."""
    instants = sorted({t for samples in series for t, _ in samples})
    out = []
    for t in instants:
        latest = [[v for at, v in samples if at <= t] for samples in series]
        if all(latest):  # every series has been scraped once by then
            out.append((t, sum(values[-1] for values in latest)))
    return out


def _raw(prom: PrometheusConnect, selector: str, start: float, end: float) -> dict[str, Series]:
    window = f"{max(1, int((end - start) * 1000))}ms"
    result = prom.custom_query(f"{selector}[{window}] @ {end:.3f}")
    return {r["metric"].get("instance", r["metric"].get("job", "?")) + _extra(r["metric"]):
            [(float(t), float(v)) for t, v in r["values"]] for r in result}


def _extra(labels: dict) -> str:
    return f" ({labels['datname']})" if "datname" in labels else ""


def fetch(url: str, start: float, end: float) -> dict:
    """Raw facts for [start, end]. Raises on an unreachable Prometheus (the caller says so)."""
    prom = PrometheusConnect(url=url, disable_ssl=True)
    at = f"@ {end:.3f}"
    max_conns = prom.custom_query(f"max(pg_settings_max_connections {at})")
    fired = prom.custom_query(f'count by (alertname) (max_over_time(ALERTS{{alertstate="firing"}}'
                              f'[{max(1, int(end - start) + 1)}s] {at}))')
    # An alert already pending or firing when the run began was not caused by it (e.g. left by an
    # earlier destructive test): reported, but not held against this run.
    before = prom.custom_query(f'count by (alertname) (ALERTS{{alertstate=~"firing|pending"}} @ {start:.3f})')
    already = {r["metric"].get("alertname", "?") for r in before}
    return {
        "window": [start, end],
        "realtime_connections": totals(list(_raw(prom, "realtime_connections_connected", start, end).values())),
        "process_starts": _raw(prom, "process_start_time_seconds", start, end),
        "up": _raw(prom, "up", start, end),
        "db_backends": totals(list(_raw(prom, "pg_stat_database_numbackends", start, end).values())),
        "db_max_connections": float(max_conns[0]["value"][1]) if max_conns else None,
        "alerts_firing_before": sorted(already),
        "alerts_fired": sorted(r["metric"].get("alertname", "?") for r in fired
                               if r["metric"].get("alertname", "?") not in already),
    }


def gather(url: str, start: float, end: float, expected_ws: int,
           held: Callable[[float, float], int]) -> tuple[list[Check], dict]:
    """Checks and raw facts. Prometheus unreachable is a failed check that says so (the run
    claimed evidence it could not get)."""
    try:
        facts = fetch(url, start, end)
    except Exception as exc:  # noqa: BLE001 - any failure to read evidence is reported as such
        return [Check("server evidence (Prometheus)", 0, None, False,
                      detail=f"could not query {url}: {type(exc).__name__}: {str(exc)[:200]}")], {}
    return judge(facts, expected_ws, held), facts


def judge(facts: dict, expected_ws: int, held: Callable[[float, float], int]) -> list[Check]:
    """`held(t0, t1)`: the fewest WebSocket connections the generator held throughout [t0, t1]."""
    slo = LOAD.slo.server
    start, end = facts["window"]
    checks = [_restarts(facts["process_starts"], start, slo.restarts), _down(facts["up"], slo.restarts)]
    if expected_ws:
        checks.append(_realtime(facts["realtime_connections"], held, slo.realtime_gauge_resolution_s))
    checks.append(_db_connections(facts["db_backends"], facts["db_max_connections"], slo.db_connections_max_ratio))
    allowed = set(slo.alerts_allowed or []) | set(LIMITS.monitoring.expected_firing)
    unexpected = [a for a in facts["alerts_fired"] if a not in allowed]
    checks.append(Check("server alerts fired", 0, len(unexpected), not unexpected,
                        detail=", ".join(unexpected) or "none"))
    return checks


def _restarts(starts: dict[str, Series], run_start: float, limit: float) -> Check:
    """process_start_time_seconds is the start time itself: any scrape in the window showing
    a start inside the run is a restart, whatever the scrape interval."""
    name = "server process restarts"
    if not starts:
        return not_judged(name, limit, "no process_start_time_seconds scrape inside the run's window")
    restarted = sorted(who for who, samples in starts.items() if any(v >= run_start for _, v in samples))
    return at_most(name, len(restarted), limit, detail=", ".join(restarted) or f"{len(starts)} processes scraped")


def _down(up: dict[str, Series], limit: float) -> Check:
    name = "server scrape targets seen down"
    if not up:
        return not_judged(name, limit, "no `up` scrape inside the run's window")
    down = sorted(who for who, samples in up.items() if any(v == 0 for _, v in samples))
    scrapes = min(len(s) for s in up.values())
    return at_most(name, len(down), limit, detail=", ".join(down) or f"{len(up)} targets, >= {scrapes} scrapes each")


def _realtime(seen: Series, held: Callable[[float, float], int], resolution: float) -> Check:
    """At each scrape, the server must count at least the connections the generator held
    throughout the gauge's resolution before it (other clients may add to the server's count)."""
    name = "server realtime connections seen / generator held"
    judged = [(t, v, held(t - resolution, t)) for t, v in seen]
    judged = [(t, v, h) for t, v, h in judged if h > 0]
    if not judged:
        return not_judged(name, 1, f"{len(seen)} scrape(s) of realtime_connections_connected in the run, none "
                                   f"{resolution:g} s after the generator's first connection (the gauge's "
                                   "resolution); the generator-side held / requested check still applies")
    t, v, h = min(judged, key=lambda x: x[1] / x[2])
    return Check(name, 1.0, round(v / h, 4), v >= h,
                 detail=f"realtime_connections_connected {v:g} while the generator held {h} "
                        f"(worst of {len(judged)} scrape(s))", bound="min")


def _db_connections(backends: Series, max_connections: float | None, limit: float) -> Check:
    name = "server database connections / max_connections"
    if not backends or not max_connections:
        return not_judged(name, limit, "no pg_stat_database_numbackends / pg_settings_max_connections scrape "
                                       "inside the run's window")
    peak = max(v for _, v in backends)
    return at_most(name, round(peak / max_connections, 3), limit,
                   detail=f"peak {peak:g} of {max_connections:g} over {len(backends)} scrape(s)")
