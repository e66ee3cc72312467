"""Numbers for the realtime benchmarks: percentiles, and `docker stats` memory figures."""
from __future__ import annotations

import re

_UNITS = {"b": 1, "kib": 1024, "mib": 1024**2, "gib": 1024**3, "kb": 1000, "mb": 1000**2, "gb": 1000**3}


def percentile(samples: list[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100); None without samples."""
    if not samples:
        return None
    ordered = sorted(samples)
    rank = max(1, -(-len(ordered) * p // 100))  # ceil
    return ordered[int(rank) - 1]


def fmt_ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.1f}"


def parse_mem_usage(text: str) -> int:
    """Bytes used from `docker stats` MemUsage ("123.4MiB / 2GiB")."""
    m = re.match(r"\s*([\d.]+)\s*([KMG]i?B|B)\b", text, re.I)
    if not m:
        raise ValueError(f"unexpected docker stats MemUsage {text!r}")
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])
