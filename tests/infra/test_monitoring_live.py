"""The monitoring configuration against the target's live Prometheus: every rule of the
repository loaded and healthy, every dashboard panel's query executing and returning data
(except the panels monitoring.NO_DATA_ON_LOCAL_STACK names, on the local stack)."""
import pytest

from suite.checks import monitoring as mon
from suite.clients import http_get
from suite.waiting import poll

# One rule evaluation interval (15 s) and a margin: a Prometheus that just (re)loaded its
# rules has not recorded every series yet.
FRESH_RULES_S = 40


@pytest.fixture(scope="module")
def prometheus(infra_target):
    if not infra_target.has("prometheus"):
        pytest.skip(f"prometheus: {infra_target.absent.get('prometheus', 'not declared by the target')}")
    return infra_target.url("prometheus")


def make_query(url):
    def query(expr: str) -> list:
        r = http_get("prometheus", url, "/api/v1/query", params={"query": expr})
        body = r.json() if r.headers.get("Content-Type", "").startswith("application/json") else {}
        if r.status_code != 200 or body.get("status") != "success":
            raise mon.QueryError(body.get("error") or f"HTTP {r.status_code}")
        return body["data"]["result"]
    return query


def test_every_rule_is_loaded_and_healthy(prometheus):
    """Catches: a target running other rules than the repository (stale deploy, a file not
    mounted) or a rule whose evaluation fails (an alert that can never fire)."""
    groups = http_get("prometheus", prometheus, "/api/v1/rules").json()["data"]["groups"]
    problems = mon.check_live_rules(groups, mon.load_rules())
    assert not problems, "\n".join(problems)


def test_every_dashboard_query_runs_and_has_data(prometheus, infra_target):
    """Catches: a panel query Prometheus rejects, or one returning no data because its series
    is missing or renamed (the panel shows "No data" when it is needed)."""
    dashboards, query = mon.load_dashboards(), make_query(prometheus)
    allowed = mon.NO_DATA_ON_LOCAL_STACK if infra_target.is_local else {}
    last: list[str] = []

    def clean():
        last[:] = mon.check_panel_queries(dashboards, query, allowed)
        return not last or any("fails:" in p for p in last)  # a rejected query will not heal
    try:
        poll(clean, what="every panel query returns data", timeout=FRESH_RULES_S, interval=2)
    except AssertionError:
        pass
    assert not last, "\n".join(last)
