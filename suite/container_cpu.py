"""CPU time a local Compose service's container has used (cgroup v1 cpuacct or v2 cpu.stat).

Benchmarks read it before and after a phase: CPU per request is the stack's cost, and it
stays meaningful on a busy machine where wall-clock latency does not.
"""
from __future__ import annotations

from pathlib import Path

from . import stack

_CGROUP = Path("/sys/fs/cgroup")


def cpu_seconds(project: str, service: str) -> float | None:
    """Total CPU seconds of the service's container; None when it cannot be read."""
    cid = stack.container_id(project, service)
    if not cid:
        return None
    full = stack._docker("inspect", "-f", "{{.Id}}", cid).strip()
    v1 = _CGROUP / "cpuacct" / "docker" / full / "cpuacct.usage"
    if v1.exists():
        return int(v1.read_text()) / 1e9
    for v2 in (_CGROUP / "system.slice" / f"docker-{full}.scope" / "cpu.stat", _CGROUP / "docker" / full / "cpu.stat"):
        if v2.exists():
            for line in v2.read_text().splitlines():
                if line.startswith("usage_usec "):
                    return int(line.split()[1]) / 1e6
    return None
