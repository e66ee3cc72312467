"""The load runs in the pytest HTML report (reports/load.html): each run's verdict table, links
to its Locust report and CSV files, and latency chart on its test's row; every run's headline
and table at the top of the report, unexpected verdicts first (suite/load_report.py)."""
from __future__ import annotations

from pathlib import Path

import pytest
import pytest_html

from suite import load_report as report
from suite.locust_run import REPORTS

RUNS = pytest.StashKey[list]()


def _page_dir(config) -> Path:
    """The folder of the HTML report: links are relative to it."""
    path = config.getoption("htmlpath", None)
    return Path(path).resolve().parent if path else REPORTS


@pytest.fixture
def load_report(request, extras):
    """load_report(name, result, expected="passed"): show run `name` (suite.locust_run's
    summary `result`) in the report; expected="failed" for a run against a broken stack."""
    def attach(name: str, result: dict, expected: str = "passed") -> None:
        extras.append(pytest_html.extras.html(report.fragment(name, result, REPORTS, _page_dir(request.config))))
        request.config.stash.setdefault(RUNS, []).append(report.Run(name, request.node.nodeid, result, expected))
    return attach


def pytest_html_results_summary(prefix, summary, postfix, session):
    runs = session.config.stash.get(RUNS, [])
    if runs:
        prefix.append(report.overview(runs, REPORTS, _page_dir(session.config)))
