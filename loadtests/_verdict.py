"""The verdict: every SLO of thresholds.yaml checked against the merged data of all
generator processes and against the server's own evidence. One breach fails the run; a check
whose data is too sparse to decide is shown as "not judged" and neither passes nor fails it."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from ._samples import SampleBook, describe, percentile
from ._settings import LOAD

WS_TYPES = ("connect", "join", "heartbeat", "broadcast", "presence", "postgres_changes")
RAMPED = ("connect", "join")  # happen during the ramp by nature: judged over the whole run
REQUEST = "req "  # + Locust request name: the samples of API and database requests (_hub books them)


@dataclass
class Check:
    slo: str
    limit: float
    measured: float | None
    ok: bool
    unit: str = ""
    detail: str = ""
    judged: bool = True  # False: not enough samples to judge (a non-verdict, never a pass)
    bound: str = "max"   # "max": measured at most the limit; "min": at least (the report's margin sign)

    def line(self) -> str:
        if not self.judged:
            return f"n/a  {self.slo}: not enough samples to judge; {self.detail}"
        if self.measured is None:
            return f"{'ok  ' if self.ok else 'FAIL'} {self.slo}: {self.detail or 'no data'}"
        state = "ok  " if self.ok else "FAIL"
        text = f"{state} {self.slo} = {self.measured:g}{self.unit} (limit {self.limit:g}{self.unit})"
        if not self.ok:
            over = self.measured - self.limit
            text += f", breached by {over:g}{self.unit}"
            if self.limit:
                text += f" ({over / self.limit:+.0%})"
        return text + (f"; {self.detail}" if self.detail else "")


def not_judged(slo: str, limit: float, why: str, unit: str = "") -> Check:
    return Check(slo, limit, None, True, unit, detail=why, judged=False)


def at_most(slo: str, measured: float | None, limit: float, unit: str = "", detail: str = "") -> Check:
    return Check(slo, limit, measured, measured is not None and measured <= limit, unit, detail)


def p95_check(slo: str, ordered: list[float], limit: float) -> Check:
    """The p95 of `ordered` (samples, ascending) against its limit, or with too few samples for
    a p95 the sound cases only: every sample within the limit passes, a median over it fails
    (p95 >= p50)."""
    least = LOAD.slo.min_samples_p95
    count, worst = len(ordered), ordered[-1]
    p50, p95 = percentile(ordered, 50), percentile(ordered, 95)
    if count >= least or worst <= limit:
        return at_most(slo, round(p95, 2), limit, " ms", detail="" if count >= least else f"all {count} samples")
    if p50 > limit:
        return at_most(slo, round(p50, 2), limit, " ms", detail=f"the median of {count} samples: p95 is higher still")
    return not_judged(slo, limit, f"{count} samples (a p95 needs {least}), median {p50:g} ms, worst {worst:g} ms "
                                  f"over the {limit:g} ms limit", " ms")


def by_phase(book: SampleBook, name: str, phases: dict) -> dict[str, list[float]]:
    """The samples of `name` in each phase, ascending."""
    return {ph: book.window(name, start, end) for ph, (start, end) in phases.items()}


def websocket_checks(book: SampleBook, phases: dict, expected: int,
                     produced: frozenset[str] = frozenset()) -> tuple[list[Check], dict]:
    """`produced`: message types the run's user classes always measure; a run where one of
    them has no sample at all fails (a latency SLO over no samples would pass silently)."""
    slo = LOAD.slo.websocket
    c = book.counters
    checks = [
        at_most("websocket connections dropped", c.get("ws dropped", 0), slo.connections_dropped),
        at_most("websocket connect failures", c.get("ws connect failed", 0), slo.connect_failures),
        at_most("websocket postgres changes lost", c.get("ws postgres_changes lost", 0), slo.postgres_changes_lost),
        at_most("websocket postgres changes inserts failed", c.get("ws postgres_changes insert failed", 0),
                slo.postgres_changes_insert_failures),
        at_most("websocket channels closed by the server", c.get("ws channel errors", 0), slo.channel_errors),
    ]
    peak = int(sum(book.gauges.get("ws peak open", {}).values()))  # per process peaks, summed
    if expected:
        ratio = peak / expected
        checks.append(Check("websocket connections held / requested", slo.min_held_ratio, round(ratio, 4),
                            ratio >= slo.min_held_ratio, detail=f"{peak} of {expected}", bound="min"))
    stats: dict = {"peak_open": peak, "expected": expected}
    limits = vars(slo.latency_p95_ms)
    for kind in WS_TYPES:
        name = f"ws {kind}"
        samples = by_phase(book, name, phases)
        stats[kind] = {ph: describe(values) for ph, values in samples.items()}
        judged = "run" if kind in RAMPED else "hold"
        values = samples[judged]
        if values and kind in limits:
            checks.append(p95_check(f"websocket {kind} p95 ({judged})", values, limits[kind]))
        elif not values and kind in produced:
            checks.append(Check(f"websocket {kind} samples ({judged})", 1, None, False,
                                detail="none, though users that measure it ran: the messages never arrived",
                                bound="min"))
    return checks, stats


def request_checks(book: SampleBook, stats_entries, phases: dict, group: str,
                   prefix: str) -> tuple[list[Check], dict]:
    """API or database requests: counts and failures from Locust's statistics (summed by the
    master over every worker, the whole run), latency from the raw samples every generator
    process ships (exact, not Locust's rounded buckets), judged over the hold like WebSocket
    messages: the ramp's connect storm is reported apart, not judged."""
    slo = getattr(LOAD.slo, group)
    limits = vars(slo.latency_p95_ms)
    checks, table = [], {}
    total = failures = 0
    for entry in stats_entries:
        if not entry.name.startswith(prefix) or not entry.num_requests:
            continue
        total += entry.num_requests
        failures += entry.num_failures
        samples = by_phase(book, REQUEST + entry.name, phases)
        table[entry.name] = {"method": entry.method, "requests": entry.num_requests, "failures": entry.num_failures,
                             **{ph: describe(values) for ph, values in samples.items()}}
        judged = "hold" if samples["hold"] else "run"  # a run stopped in its ramp: all of it
        if samples[judged]:  # none: every request failed, which the error ratio judges
            checks.append(p95_check(f"{group} {entry.name} p95 ({judged})", samples[judged],
                                    limits.get(entry.name, limits["default"])))
    if total:
        checks.append(at_most(f"{group} error ratio", round(failures / total, 4), slo.error_ratio,
                              detail=f"{failures} of {total}"))
    return checks, table


def summary(checks: list[Check]) -> dict:
    return {"passed": all(c.ok for c in checks), "breached": [c.line() for c in checks if not c.ok],
            "not_judged": [c.line() for c in checks if not c.judged], "checks": [asdict(c) for c in checks],
            "checks_text": [c.line() for c in checks]}
