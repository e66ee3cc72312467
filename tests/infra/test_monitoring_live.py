"""The monitoring configuration against the target's live Prometheus: every rule of the
repository loaded and healthy, every dashboard panel's query executing and returning data
(except the panels monitoring.NO_DATA_ON_LOCAL_STACK names, on the local stack)."""
import functools

import pytest

from suite.checks import monitoring as mon
from suite.clients import http_get
from suite.thresholds import LIMITS
from suite.waiting import poll


@pytest.fixture(scope="module")
def prometheus(infra_target):
    if not infra_target.has("prometheus"):
        pytest.skip(f"prometheus: {infra_target.absent.get('prometheus', 'not declared by the target')}")
    return infra_target.url("prometheus")


def test_every_rule_is_loaded_and_healthy(prometheus):
    """Catches: a target running other rules than the repository (stale deploy, a file not
    mounted) or a rule whose evaluation fails (an alert that can never fire)."""
    groups = http_get("prometheus", prometheus, "/api/v1/rules").json()["data"]["groups"]
    problems = mon.check_live_rules(groups, mon.load_rules())
    assert not problems, "\n".join(problems)


def test_every_dashboard_query_runs_and_has_data(prometheus, infra_target):
    """Catches: a panel query Prometheus rejects, or one returning no data because its series
    is missing or renamed (the panel shows "No data" when it is needed)."""
    dashboards, query = mon.load_dashboards(), functools.partial(mon.fetch_query, prometheus)
    allowed = mon.NO_DATA_ON_LOCAL_STACK if infra_target.is_local else {}
    last: list[str] = []

    def clean():
        last[:] = mon.check_panel_queries(dashboards, query, allowed)
        return not last or any("fails:" in p for p in last)  # a rejected query will not heal
    poll(clean, what="every panel query returns data", timeout=LIMITS.monitoring.fresh_rules_s, interval=2,
         raise_on_timeout=False)
    assert not last, "\n".join(last)
