"""Run the suite itself in a subprocess (to prove it fails on a broken stack) and read
its verdicts from the JUnit report, test by test."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from .redaction import redact
from .target import ROOT


@dataclass
class Verdict:
    outcome: str          # passed, failed, error, skipped
    message: str = ""     # the failure's message and details, redacted

    @property
    def reason(self) -> str:
        """The assertion lines ("E ...") only: for messages, without the test's locals."""
        lines = [line for line in self.message.splitlines() if line.startswith("E ")]
        return "\n".join(lines[:12]) if lines else self.message[:600]


@dataclass
class SuiteRun:
    returncode: int
    output: str
    seconds: float
    cases: dict[str, Verdict] = field(default_factory=dict)  # "module.py::test_name[param]" -> verdict

    def failed(self) -> dict[str, Verdict]:
        return {k: v for k, v in self.cases.items() if v.outcome in ("failed", "error")}

    def summary(self) -> str:
        """For assertion messages: the exit status and the tail of the output."""
        return f"exit {self.returncode} after {self.seconds:.1f} s; output tail:\n{self.output[-3000:]}"


def run_suite(args: list[str], reports: Path, env: dict[str, str] | None = None,
              timeout: float = 600) -> SuiteRun:
    """`pytest ARGS` from the project root, its HTML and JUnit reports in `reports` (so the
    project's own reports/ are left alone)."""
    reports.mkdir(parents=True, exist_ok=True)
    xml = reports / "run.xml"
    cmd = [sys.executable, "-m", "pytest", *args, "-p", "no:cacheprovider",
           f"--junitxml={xml}", f"--html={reports / 'run.html'}"]
    started = time.monotonic()
    out = subprocess.run(cmd, cwd=ROOT, env={**os.environ, **(env or {})}, capture_output=True,
                         text=True, timeout=timeout)
    seconds = time.monotonic() - started
    run = SuiteRun(out.returncode, redact(out.stdout + out.stderr), seconds)
    if xml.exists():
        run.cases = _verdicts(xml)
    return run


def _verdicts(xml: Path) -> dict[str, Verdict]:
    cases = {}
    for case in ET.parse(xml).getroot().iter("testcase"):
        name = f"{case.get('classname', '').rsplit('.', 1)[-1]}.py::{case.get('name')}"
        outcome, message = "passed", ""
        for tag in ("failure", "error", "skipped"):
            node = case.find(tag)
            if node is not None:
                outcome = "failed" if tag == "failure" else tag
                message = redact(f"{node.get('message', '')}\n{node.text or ''}")
                break
        cases[name] = Verdict(outcome, message)
    return cases
