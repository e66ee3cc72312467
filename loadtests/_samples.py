"""Raw latency samples and counters, kept per process and merged on the master.

Every sample keeps its wall-clock time so the master can split a run into phases (ramp,
hold) after the fact: whole-run statistics would mix a connect storm with the steady state.
Workers ship what they gathered since their last report (deltas), so nothing is counted twice.
"""
from __future__ import annotations

import math
import time
from array import array
from collections import defaultdict


class SampleBook:
    def __init__(self) -> None:
        self.times: dict[str, array] = defaultdict(lambda: array("d"))
        self.values: dict[str, array] = defaultdict(lambda: array("d"))
        self.counters: dict[str, int] = defaultdict(int)
        self.gauges: dict[str, dict[str, float]] = defaultdict(dict)  # name -> {process: value}
        self._sent: dict[str, int] = defaultdict(int)
        self._counters_sent: dict[str, int] = defaultdict(int)

    # ---- recording (generator side) -------------------------------------------------
    def add(self, name: str, ms: float, at: float | None = None) -> None:
        self.times[name].append(time.time() if at is None else at)
        self.values[name].append(ms)

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] += n

    def gauge(self, name: str, process: str, value: float) -> None:
        self.gauges[name][process] = value

    # ---- shipping (worker -> master) ---------------------------------------------------
    def delta(self) -> dict:
        samples = {}
        for name, values in list(self.values.items()):
            start = self._sent[name]
            if len(values) > start:
                samples[name] = [self.times[name][start:].tolist(), values[start:].tolist()]
                self._sent[name] = len(values)
        counters = {}
        for name, n in list(self.counters.items()):
            if n != self._counters_sent[name]:
                counters[name] = n - self._counters_sent[name]
                self._counters_sent[name] = n
        gauges = {name: dict(by) for name, by in self.gauges.items()}
        return {"samples": samples, "counters": counters, "gauges": gauges}

    def merge(self, delta: dict) -> None:
        for name, (times, values) in delta.get("samples", {}).items():
            self.times[name].extend(times)
            self.values[name].extend(values)
        for name, n in delta.get("counters", {}).items():
            self.counters[name] += n
        for name, by in delta.get("gauges", {}).items():
            self.gauges[name].update(by)

    # ---- reading (master side) -----------------------------------------------------------
    def window(self, name: str, start: float, end: float) -> list[float]:
        return sorted(v for t, v in zip(self.times[name], self.values[name]) if start <= t < end)


def percentile(ordered: list[float], p: float) -> float | None:
    """Nearest-rank percentile of an ascending list (None when empty)."""
    if not ordered:
        return None
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def buckets(times, values, origin: float, width: float) -> list[dict]:
    """Samples in consecutive `width`-second buckets from `origin`: each non-empty bucket's
    start (s after origin), count, p50 and p99 (nearest rank). Empty buckets are left out
    (a gap is no measurement, not a zero latency)."""
    by_bucket: dict[int, list[float]] = defaultdict(list)
    for t, v in zip(times, values):
        if t >= origin:
            by_bucket[int((t - origin) // width)].append(v)
    rows = []
    for i, found in sorted(by_bucket.items()):
        found.sort()
        rows.append({"start_s": round(i * width, 3), "count": len(found),
                     "p50": _round(percentile(found, 50)), "p99": _round(percentile(found, 99))})
    return rows


def describe(ordered: list[float]) -> dict:
    return {"count": len(ordered), **{f"p{p}": _round(percentile(ordered, p)) for p in (50, 95, 99)},
            "max": _round(ordered[-1] if ordered else None)}


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 2)
