"""Headless Locust runs for the load tests (tests/load): one at a time on the machine, each
judged on its master, the JSON summary and the Locust HTML/CSV left in reports/."""
from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path

from .target import ROOT
from .thresholds import LIMITS

REPORTS = ROOT / "reports"
LOCUST = str(Path(sys.executable).with_name("locust"))


def run_locust(name: str, files: str, users: int, rate: int, seconds: int, *extra: str,
               env: dict | None = None) -> tuple[int, dict, str]:
    """One headless run under /tmp/capacity.lock (two capacity runs never overlap):
    (exit code, summary, stderr)."""
    summary = REPORTS / f"load-{name}.json"
    summary.unlink(missing_ok=True)
    cmd = [LOCUST, "-f", files, "--headless", "-u", str(users), "-r", str(rate), "-t", f"{seconds}s",
           "--only-summary", "--summary-json", str(summary), "--html", str(REPORTS / f"load-{name}-locust.html"),
           "--csv", str(REPORTS / f"load-{name}"), "--stop-timeout", "5", *extra]
    with open("/tmp/capacity.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        proc = subprocess.run(cmd, cwd=ROOT, env={**os.environ, **(env or {})}, capture_output=True, text=True,
                              timeout=seconds + LIMITS.load.generator.exit_margin_s)
    assert summary.exists(), f"locust wrote no summary (exit {proc.returncode}):\n{proc.stderr[-3000:]}"
    return proc.returncode, json.loads(summary.read_text()), proc.stderr


def explain(result: dict) -> str:  # the run's verdict, one SLO check a line
    return "\n".join(result["verdict"]["checks_text"])
