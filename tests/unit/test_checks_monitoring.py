"""The monitoring checks catch each seeded misconfiguration, named with its alert, rule,
route, dashboard or panel, in broken copies of the real files."""
import copy
import shutil

import pytest
import yaml

from suite.checks import monitoring as mon
from suite.stack import tools


@pytest.fixture(scope="module")
def real_rules():
    return mon.load_rules()


@pytest.fixture
def rules(real_rules):
    return copy.deepcopy(real_rules)


@pytest.fixture
def dashboards():
    return mon.load_dashboards()


def rule(rules, name):
    return next(r for r in rules if r.get("alert") == name or r.get("record") == name)


def test_the_real_files_pass(rules, dashboards):
    tests = mon.load_rule_tests()
    am = mon.load_yaml(mon.ALERTMANAGER_YML)
    assert (mon.check_rule_counts(rules) + mon.check_alert_metadata(rules) + mon.check_unique_names(rules)
            + mon.check_alert_tests(rules, tests) + mon.check_dead_recording_rules(rules, dashboards)
            + mon.check_recording_rules_defined(rules, dashboards) + mon.check_alertmanager(am)
            + mon.check_route_tests_cover_alerts(rules, mon.parse_routes_test(mon.ROUTES_TEST.read_text()))
            + mon.check_dashboards(dashboards, {"prometheus"})) == []


def test_alert_that_can_never_fire_fails_its_promtool_test(tmp_path):
    """Seeded: TargetDown's expression `up == 0` changed to `up == 2` (never true); its
    promtool test (copied from the real alerts.test.yml) fails and the check names it."""
    shutil.copytree(mon.RULES_DIR, tmp_path / "rules")
    platform = tmp_path / "rules" / "platform.yml"
    text = platform.read_text()
    assert "expr: up == 0\n" in text
    platform.write_text(text.replace("expr: up == 0\n", "expr: up == 2\n", 1))
    real = yaml.safe_load((mon.RULE_TESTS_DIR / "alerts.test.yml").read_text())
    only = {**real, "rule_files": ["rules/recording.yml", "rules/platform.yml"],
            "tests": [t for t in real["tests"] if t["name"].startswith("TargetDown:")]}
    (tmp_path / "t.yml").write_text(yaml.safe_dump(only))
    try:
        [result] = tools.run_batch("promtool", [["promtool", "test", "rules", "t.yml"]], folder=tmp_path)
    except tools.ToolUnavailable as exc:
        pytest.skip(str(exc))
    broken = mon.load_rules([platform])
    problems = mon.check_promtool_tests(result.returncode, result.output, broken)
    assert result.returncode != 0
    assert problems[0] == (f"{mon.rel(platform)}: alert TargetDown: its promtool unit test fails "
                           f"(expected firing/silent state or labels/annotations not met)")
    assert problems[1].startswith("promtool says:") and "TargetDown" in problems[1] and len(problems) == 2


def test_promtool_failure_output_is_read_per_alert():
    """promtool 2.x failure output (as printed for a failing alert_rule_test)."""
    out = """Unit Testing:  tests/alerts.test.yml
  FAILED:
    name: TargetDown: silent before 2m, firing after,
    alertname: TargetDown, time: 5m,
        exp:[...],
        got:[]
    alertname: RedisDown, time: 3m,
"""
    assert mon.promtool_test_failures(out) == {"TargetDown", "RedisDown"}


def test_alert_without_runbook_url(rules):
    """Seeded: RedisDown's runbook_url removed."""
    del rule(rules, "RedisDown")["annotations"]["runbook_url"]
    assert mon.check_alert_metadata(rules) == ["stack/prometheus/rules/database.yml: alert RedisDown: no runbook_url annotation"]


def test_alert_with_missing_runbook_file(rules):
    """Seeded: GatewayDown's runbook_url names a file that does not exist."""
    rule(rules, "GatewayDown")["annotations"]["runbook_url"] = "docs/runbooks/GatewayGone.md"
    assert mon.check_alert_metadata(rules) == [
        "stack/prometheus/rules/api.yml: alert GatewayDown: runbook_url docs/runbooks/GatewayGone.md "
        "names a file that does not exist"]


def test_alert_without_team_or_severity(rules):
    """Seeded: NodeHighCPU without team, with severity "page"."""
    labels = rule(rules, "NodeHighCPU")["labels"]
    del labels["team"]
    labels["severity"] = "page"
    assert mon.check_alert_metadata(rules) == [
        "stack/prometheus/rules/platform.yml: alert NodeHighCPU: label severity='page', not one of ['critical', 'info', 'warning']",
        "stack/prometheus/rules/platform.yml: alert NodeHighCPU: label team=None, not one of ['api', 'database', 'platform']"]


def test_dead_recording_rule(rules, dashboards):
    """Seeded: a recording rule nobody reads; and a used rule whose only reader is removed."""
    rules.append({"record": "instance:node_unused:ratio", "expr": "node_load5", "file": "x.yml", "group": "g"})
    for d in dashboards.values():
        d["panels"] = [p for p in d["panels"] if p["title"] != "Major page faults"]
    assert mon.check_dead_recording_rules(rules, dashboards) == [
        "stack/prometheus/rules/recording.yml: recording rule instance:node_vmstat_pgmajfault:rate5m is read by "
        "no alert, dashboard panel or used rule",
        "x.yml: recording rule instance:node_unused:ratio is read by no alert, dashboard panel or used rule"]


def test_alert_without_a_silent_test(rules):
    """Seeded: RedisDown's test file loses its silent (pending) case."""
    tests = mon.load_rule_tests()
    doc = tests["stack/prometheus/tests/alerts.test.yml"]
    t = next(t for t in doc["tests"] if t["name"].startswith("RedisDown:"))
    t["alert_rule_test"] = [a for a in t["alert_rule_test"] if a["exp_alerts"]]
    assert mon.check_alert_tests(rules, tests) == [
        "stack/prometheus/rules/database.yml: alert RedisDown: no test expects it silent (pending) before its for: 20s ends"]


def test_dashboard_querying_a_missing_series(dashboards):
    """Seeded: a panel's query renamed to a series Prometheus does not have; the live check
    (here against a fake Prometheus knowing every real series) names dashboard and panel."""
    panel = next(p for p in dashboards["stack/grafana/dashboards/database.json"]["panels"] if p["title"] == "Redis keys")
    panel["targets"][0]["expr"] = "instance:redis_keys_total:sum"

    def query(expr):
        if "redis_keys_total" in expr:
            return []
        if "bogus(" in expr:
            raise mon.QueryError('parse error: unknown function with name "bogus"')
        return [{"metric": {}, "value": [0, "1"]}]
    assert mon.check_panel_queries(dashboards, query, {}) == [
        "stack/grafana/dashboards/database.json: dashboard 'Database' panel 'Redis keys' (id 28): query "
        "'instance:redis_keys_total:sum' returns no data (a missing or renamed series)"]
    assert mon.check_panel_queries(dashboards, query, {("sa-database", "Redis keys"): "reason"}) == []
    panel["targets"][0]["expr"] = "bogus(up)"
    assert mon.check_panel_queries(dashboards, query, {})[0].endswith(
        "query 'bogus(up)' fails: parse error: unknown function with name \"bogus\"")


def test_duplicate_dashboard_uid(dashboards):
    """Seeded: the realtime dashboard reuses the gateway dashboard's uid."""
    dashboards["stack/grafana/dashboards/realtime.json"]["uid"] = "sa-gateway"
    assert mon.check_dashboards(dashboards, {"prometheus"}) == [
        "stack/grafana/dashboards/realtime.json: dashboard uid 'sa-gateway' is also used by "
        "stack/grafana/dashboards/gateway.json (Grafana provisions only one of them)"]


def test_alertmanager_route_to_missing_receiver():
    """Seeded: the database route points at receiver db-oncall, which is not defined."""
    cfg = mon.load_yaml(mon.ALERTMANAGER_YML)
    route = next(r for r in cfg["route"]["routes"] if r["receiver"] == "database-team")
    route["receiver"] = "db-oncall"
    problems = mon.check_alertmanager(cfg)
    assert problems == ["stack/alertmanager/alertmanager.yml: route.routes[3] routes to receiver 'db-oncall', "
                        "which is not defined"]


def test_alertmanager_without_inhibition_or_repeat_interval():
    """Seeded: inhibit rules and repeat_interval removed."""
    cfg = mon.load_yaml(mon.ALERTMANAGER_YML)
    del cfg["inhibit_rules"], cfg["route"]["repeat_interval"]
    assert mon.check_alertmanager(cfg) == [
        "stack/alertmanager/alertmanager.yml: route has no repeat_interval",
        "stack/alertmanager/alertmanager.yml: no inhibit rule where severity=critical silences "
        "severity=warning with equal: [service]"]


def test_alert_without_a_route_test(rules):
    """Seeded: a new alert with no routes-test.txt line."""
    rules.append({"alert": "NewAlert", "expr": "up", "labels": {"severity": "warning", "team": "api"},
                  "file": "x.yml", "group": "g"})
    cases = mon.parse_routes_test(mon.ROUTES_TEST.read_text())
    assert mon.check_route_tests_cover_alerts(rules, cases) == [
        "stack/alertmanager/routes-test.txt: no line for alert NewAlert (severity=warning team=api)"]


def test_bad_routes_test_line_is_named():
    with pytest.raises(ValueError, match=r"routes-test.txt:2: expected '<receivers> \| <label=value ...>'"):
        mon.parse_routes_test("# c\napi-team alertname=X\n")


@pytest.mark.parametrize("text,expected", [("1m", 60), ("1d3h", 97200), ("0s", 0), (None, 0), ("90s", 90)])
def test_durations(text, expected):
    assert mon.seconds(text) == expected


def test_reference_is_a_whole_token():
    assert mon.references("sum(service:http_requests:rate5m)", "service:http_requests:rate5m")
    assert not mon.references("service:http_requests:rate5m_x", "service:http_requests:rate5m")
    assert not mon.references("x_service:http_requests:rate5m", "service:http_requests:rate5m")
