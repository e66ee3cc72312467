"""Per-tenant rate counters: a sliding average over whole-second buckets."""
from __future__ import annotations

import time


class RateCounter:
    """Counts events in one-second buckets and reports the average rate over `window` s."""

    __slots__ = ("window", "buckets", "current_second", "current", "total", "_clock")

    def __init__(self, window: int = 5, clock=time.monotonic):
        self.window = window
        self.buckets: list[int] = []
        self.current_second = int(clock())
        self.current = 0
        self.total = 0
        self._clock = clock

    def _roll(self) -> None:
        sec = int(self._clock())
        if sec != self.current_second:
            gap = sec - self.current_second
            self.buckets.append(self.current)
            for _ in range(min(gap - 1, self.window)):
                self.buckets.append(0)
            del self.buckets[: max(0, len(self.buckets) - self.window)]
            self.current = 0
            self.current_second = sec

    def add(self, n: int = 1) -> None:
        self._roll()
        self.current += n
        self.total += n

    def last_second(self) -> int:
        self._roll()
        return self.current

    def avg(self) -> float:
        """Average per second over the completed buckets (upstream's RateCounter avg)."""
        self._roll()
        if not self.buckets:
            return 0.0
        return sum(self.buckets) / len(self.buckets)

    def rate(self) -> float:
        """The larger of the running second and the completed-bucket average."""
        self._roll()
        return max(float(self.current), self.avg())
