"""One load run's state, constructed at each test start (a web UI session may hold several
runs): what this process recorded, the master's merged view, the run's times (start, hold,
stop), the connections held, and the verdict. _hub.py wires Locust's events to it; the
verdict is computed here from plain data, so tests/unit/test_load_verdict.py can judge runs
without Locust."""
from __future__ import annotations

import bisect
import time
from typing import Callable

import gevent.event

from . import _verdict
from ._samples import SampleBook, buckets
from ._settings import LOAD
from ._verdict import Check

HELD = "ws held "  # + process: the series of its held-connection count, one sample per change


class LoadRun:
    def __init__(self, process: str, started: float | None = None) -> None:
        self.process = process
        self.book = SampleBook()       # this process's recordings
        self.merged = SampleBook()     # the master's (or standalone's) merged view
        self.ramped = gevent.event.Event()  # set when the whole run's users are spawned (the hold begins)
        self.times = {"start": time.time() if started is None else started}
        self.open = self.peak = 0
        self.stopping = False          # connections closed from here on are ours, not drops
        self.user_classes: dict[str, int] = {}  # class -> most users it had at once
        self.nodes: dict[str, bool] = {}        # node -> sent its final report
        self.costs: dict[str, dict] = {}
        self.verdict: dict | None = None

    # ---- recording ------------------------------------------------------------------
    def held(self, change: int, at: float | None = None) -> None:
        """An established WebSocket opened (+1) or closed (-1)."""
        self.open += change
        self.peak = max(self.peak, self.open)
        self.book.add(HELD + self.process, self.open, at)

    def spawned(self, counts: dict[str, int], at: float | None = None) -> None:
        """Every user of the ramp is running: the hold phase starts at the first such moment."""
        self.times.setdefault("hold", time.time() if at is None else at)
        for name, n in counts.items():
            self.user_classes[name] = max(self.user_classes.get(name, 0), n)

    def stop(self, at: float | None = None) -> None:
        self.stopping = True
        self.times.setdefault("stop", time.time() if at is None else at)

    def delta(self, final: bool, cost: dict | None = None) -> dict:
        self.book.gauge("ws peak open", self.process, self.peak)
        return {**self.book.delta(), "final": final, "cost": {self.process: cost} if cost else {}}

    def receive(self, node: str, data: dict) -> None:
        self.merged.merge(data)
        self.costs.update(data.get("cost", {}))
        self.nodes[node] = self.nodes.get(node, False) or data.get("final", False)

    # ---- reading --------------------------------------------------------------------
    def phases(self, now: float | None = None) -> dict[str, tuple[float, float]]:
        """ramp: start -> every user spawned; hold: from there to the stop (plus the last
        replies in flight); run: both. A run stopped before the ramp ended has no hold."""
        end = self.times.get("stop", time.time() if now is None else now)
        hold = self.times.get("hold", end)
        return {"ramp": (self.times["start"], hold), "hold": (hold, end + 60), "run": (self.times["start"], end + 60)}

    def held_throughout(self, t0: float, t1: float) -> int:
        """The fewest connections all generator processes together held during [t0, t1]."""
        series = [(list(self.merged.times[n]), list(self.merged.values[n]))
                  for n in list(self.merged.values) if n.startswith(HELD)]

        def at(t: float) -> float:
            total = 0.0
            for times, values in series:
                i = bisect.bisect_right(times, t) - 1  # the last change at or before t
                total += values[i] if i >= 0 else 0
            return total

        instants = [t0] + [t for times, _ in series for t in times if t0 < t <= t1]
        return int(min(at(t) for t in instants)) if series else 0

    def timeline(self, bucket_s: float) -> dict:
        """Latency over time, for the report's chart (suite/load_report.py): per WebSocket
        message type with samples, p50/p99 per `bucket_s` from the run's start, and where the
        hold starts (None: stopped during the ramp), so the ramp is told apart from the hold."""
        start = self.times["start"]
        end = self.times.get("stop", time.time())
        series = {}
        for kind in _verdict.WS_TYPES:
            name = f"ws {kind}"
            if len(self.merged.values.get(name, ())):
                series[kind] = buckets(self.merged.times[name], self.merged.values[name], start, bucket_s)
        hold = self.times.get("hold")
        return {"bucket_s": bucket_s, "hold_start_s": None if hold is None else round(hold - start, 1),
                "end_s": round(end - start, 1), "series": series}

    # ---- the verdict ----------------------------------------------------------------
    def judge(self, *, entries: list, exceptions: int, ws_classes: set[str], produced: frozenset[str],
              expect_ws: int = 0, target_name: str = "", evidence: Callable | None = None,
              evidence_skipped: str = "") -> dict:
        """The whole run's verdict. `entries`: Locust's request statistics; `evidence(start,
        end, expected_ws, held)` -> (checks, facts): the server's side, None when the target
        declares no Prometheus (`evidence_skipped` says why)."""
        phases = self.phases()
        start, end = self.times["start"], self.times.get("stop", phases["hold"][1] - 60)
        ws_users = sum(n for name, n in self.user_classes.items() if name in ws_classes)
        expected = expect_ws or ws_users
        checks, ws = (_verdict.websocket_checks(self.merged, phases, expected, produced)
                      if (ws_users or expected) else ([], {}))
        api_checks, api = _verdict.request_checks(self.merged, entries, phases, "api", "api ")
        db_checks, db = _verdict.request_checks(self.merged, entries, phases, "database", "db ")
        checks += api_checks + db_checks
        samples = sum(len(v) for name, v in self.merged.values.items() if name.startswith("ws "))
        traffic = sum(e.num_requests for e in entries) + samples
        checks.append(Check("generator traffic (requests + samples)", 1, traffic, traffic >= 1,
                            detail="a run that sent nothing proves nothing", bound="min"))
        checks.append(_verdict.at_most("generator exceptions in user code", exceptions, 0))
        server: dict = {"skipped": evidence_skipped}
        if evidence is not None:
            server_checks, server = evidence(start, end, expected, self.held_throughout)
            checks += server_checks
        total_conns = sum(c["connections"] for c in self.costs.values())
        grown = sum((c["peak_rss_mb"] - c["baseline_rss_mb"]) for c in self.costs.values())
        hold = phases["hold"][0]
        self.verdict = _verdict.summary(checks)
        return {
            "target": target_name, "window": {"start": start, "hold_start": hold, "end": end,
                                              "hold_s": round(end - hold, 1)},
            "user_classes": self.user_classes, "verdict": self.verdict,
            "websocket": ws, "api": api, "database": db, "server": server,
            "counters": dict(self.merged.counters), "timeline": self.timeline(LOAD.report.timeline_bucket_s),
            "generator": {"processes": self.costs, "connections": total_conns,
                          "kb_per_connection": round(grown * 1024 / total_conns, 1) if total_conns else None},
        }

