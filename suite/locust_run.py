"""Headless Locust runs for the load tests (tests/load): one at a time on the machine, each
judged on its master, the JSON summary and the Locust HTML/CSV left in reports/. A run is a
local Locust process (`run_locust`) or a master with workers as containers beside the local
stack (`run_cluster`; also `make load-cluster`, i.e. `python -m suite.locust_run`)."""
from __future__ import annotations

import argparse
import csv
import fcntl
import json
import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .target import ROOT
from .thresholds import LIMITS

REPORTS = ROOT / "reports"
LOCUST = str(Path(sys.executable).with_name("locust"))


@contextmanager
def capacity_lock() -> Iterator[None]:
    """Two capacity runs never overlap on the machine."""
    with open("/tmp/capacity.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def run_locust(name: str, files: str, users: int, rate: int, seconds: int, *extra: str,
               env: dict | None = None) -> tuple[int, dict, str]:
    """One headless run under /tmp/capacity.lock (two capacity runs never overlap):
    (exit code, summary, stderr)."""
    summary = REPORTS / f"load-{name}.json"
    summary.unlink(missing_ok=True)
    cmd = [LOCUST, "-f", files, "--headless", "-u", str(users), "-r", str(rate), "-t", f"{seconds}s",
           "--only-summary", "--summary-json", str(summary), "--html", str(REPORTS / f"load-{name}-locust.html"),
           "--csv", str(REPORTS / f"load-{name}"), "--csv-full-history", "--stop-timeout", "5", *extra]
    with capacity_lock():
        proc = subprocess.run(cmd, cwd=ROOT, env={**os.environ, **(env or {})}, capture_output=True, text=True,
                              timeout=seconds + LIMITS.load.generator.exit_margin_s)
    assert summary.exists(), f"locust wrote no summary (exit {proc.returncode}):\n{proc.stderr[-3000:]}"
    return proc.returncode, json.loads(summary.read_text()), proc.stderr


def locust_stats(name: str) -> dict[str, dict]:
    """Request name -> its row of Locust's own statistics for run `name` (reports/load-NAME_stats.csv:
    what Locust's HTML report shows)."""
    with open(REPORTS / f"load-{name}_stats.csv", newline="") as f:
        return {row["Name"]: row for row in csv.DictReader(f)}


def explain(result: dict) -> str:  # the run's verdict, one SLO check a line
    return "\n".join(result["verdict"]["checks_text"])


def run_cluster(stack, name: str, locustfile: str, users: int, rate: int, seconds: int, workers: int = 4,
                env: dict | None = None) -> tuple[int, dict, str, dict]:
    """A master and `workers` workers as containers beside the local `stack` (loadtests/compose.yaml)
    under /tmp/capacity.lock, after the plain asyncio floor (loadtests/floor.py) holding one
    worker's share of the connections: (the master's exit code, its summary, the floor's and
    the master's output, the floor's figure). LOAD_* settings of this process and `env` pass
    through; the reports are those of run_locust, plus reports/floor-<name>.json."""
    from .stack import generators

    summary, floor = REPORTS / f"load-{name}.json", REPORTS / f"floor-{name}.json"
    for stale in (summary, floor):
        stale.unlink(missing_ok=True)
    load_env = {**{k: v for k, v in os.environ.items() if k.startswith("LOAD_")}, **(env or {})}
    with capacity_lock():
        run = generators.run_cluster(stack, name=name, locustfile=locustfile, users=users, rate=rate,
                                     seconds=seconds, workers=workers,
                                     floor_connections=max(1, users // workers), load_env=load_env,
                                     timeout=seconds + LIMITS.load.generator.exit_margin_s)
    assert floor.exists(), f"the floor wrote no figure:\n{run.log[-3000:]}"
    assert summary.exists(), f"the master wrote no summary (exit {run.exit_code}):\n{run.log[-3000:]}"
    return run.exit_code, json.loads(summary.read_text()), run.log, json.loads(floor.read_text())


def main(argv: list[str] | None = None) -> int:
    """`make load-cluster`: one containerised run against the local stack, judged as in tests/load."""
    from .checks.load_cluster import check_cluster, describe
    from .stack import Stack, StackError
    from .target import TargetConfigError, load

    parser = argparse.ArgumentParser(prog="python -m suite.locust_run",
                                     description="Locust master + workers as containers beside the local stack")
    parser.add_argument("--name", default="cluster", help="reports/load-NAME*.json|html|csv (default cluster)")
    parser.add_argument("-f", "--locustfile", default="loadtests/ws_users.py")
    parser.add_argument("-u", "--users", type=int, default=10_000)
    parser.add_argument("-r", "--rate", type=int, default=250, help="users started per second")
    parser.add_argument("-t", "--seconds", type=int, default=110, help="run time, ramp included")
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args(argv)
    if min(args.users, args.rate, args.seconds, args.workers) < 1:
        parser.error("-u, -r, -t and --workers must be positive")
    try:
        code, result, _, floor = run_cluster(Stack(load(None)), args.name, args.locustfile, args.users, args.rate,
                                             args.seconds, args.workers)
    except (StackError, TargetConfigError, AssertionError) as exc:
        print(f"load cluster: {exc}", file=sys.stderr)
        return 2
    print(explain(result))
    print(describe(result, floor))
    problems = check_cluster(args.name, result, floor, args.workers, LIMITS.load.generator.floor_ratio_max)
    for problem in problems:
        print(f"FAIL {problem}", file=sys.stderr)
    return code or (1 if problems else 0)


if __name__ == "__main__":
    sys.exit(main())
