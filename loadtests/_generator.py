"""The generator process's own limits and cost: open files, garbage collector, CPU, memory."""
from __future__ import annotations

import gc
import logging
import resource

import psutil

from ._settings import LOAD

log = logging.getLogger("loadtests.generator")


def raise_open_files() -> int:
    """Soft open-file limit up to the hard limit (Locust stops at 10,000); the budget left
    for WebSocket connections in this process."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return soft - LOAD.generator.fd_reserve


class Cost:
    """CPU share and memory of this process, against the connections it holds."""

    def __init__(self) -> None:
        self.proc = psutil.Process()
        self.proc.cpu_percent(None)
        self.baseline_rss = self.proc.memory_info().rss
        self.peak_rss = self.baseline_rss
        self.cpu_samples: list[float] = []
        self.warned = False

    def tick(self) -> float:
        cpu = self.proc.cpu_percent(None)
        self.cpu_samples.append(cpu)
        self.peak_rss = max(self.peak_rss, self.proc.memory_info().rss)
        if cpu > LOAD.generator.cpu_warn_percent and not self.warned:
            self.warned = True
            log.warning("generator process at %.0f%% of a core (warning above %s%%): latencies now include "
                        "the generator's own queueing; add --processes or workers", cpu,
                        LOAD.generator.cpu_warn_percent)
        return cpu

    def report(self, connections: int) -> dict:
        cpu = sorted(self.cpu_samples)
        grown = self.peak_rss - self.baseline_rss
        return {"baseline_rss_mb": round(self.baseline_rss / 2**20, 1), "peak_rss_mb": round(self.peak_rss / 2**20, 1),
                "connections": connections,
                "kb_per_connection": round(grown / 1024 / connections, 1) if connections else None,
                "cpu_percent_median": cpu[len(cpu) // 2] if cpu else None, "cpu_percent_max": cpu[-1] if cpu else None,
                "cpu_warned": self.warned}


def freeze_heap() -> None:
    """Move everything alive into the permanent generation: with 10,000 connections' objects
    the collector's full passes are the worst source of tail latency. Called after the ramp."""
    gc.collect()
    gc.freeze()
