"""Prometheus monitoring as code: stack/prometheus/ (config, rules, promtool unit tests) and
the runbooks the alerts link to. promtool runs once per session for all its commands (from
PATH, else from the local prometheus image), started in the background (conftest)."""
import pytest

from suite.checks import monitoring as mon


@pytest.fixture(scope="module")
def rules():
    return mon.load_rules()


def test_prometheus_config_is_valid(promtool):
    """Catches: a prometheus.yml Prometheus refuses (it would not start or not reload)."""
    r = promtool["config"]
    assert r.returncode == 0, f"stack/prometheus/prometheus.yml: {r.command}:\n{r.output}"


def test_rules_are_valid_and_counted(promtool, rules):
    """Catches: a rule file promtool refuses, fewer than 30 alerts / 80 recording rules, or
    promtool reading a different number of rules than the files hold."""
    r = promtool["check"]
    assert r.returncode == 0, f"{r.command}:\n{r.output}"
    problems = mon.check_rule_counts(rules) + mon.check_promtool_rule_count(rules, r.output)
    assert not problems, "\n".join(problems)


def test_every_alert_passes_its_promtool_unit_test(promtool, rules):
    """Catches: an alert that never fires, fires too early (before its for:), or with other
    labels/annotations than its test expects; a recording rule computing the wrong value."""
    r = promtool["test"]
    problems = mon.check_promtool_tests(r.returncode, r.output, rules)
    assert not problems, "\n".join(problems)


def test_every_alert_has_a_silent_and_a_firing_test(rules):
    """Catches: an alert without a promtool test, or whose test never checks the silent
    (pending) state before its for:, or does not expect severity, team and annotations."""
    problems = mon.check_alert_tests(rules, mon.load_rule_tests())
    assert not problems, "\n".join(problems)


def test_every_alert_is_labelled_and_has_a_runbook(rules):
    """Catches: an alert without severity/team (Alertmanager cannot route it), without
    summary/description, or whose runbook_url names a missing docs/runbooks file."""
    problems = mon.check_unique_names(rules) + mon.check_alert_metadata(rules)
    assert not problems, "\n".join(problems)


def test_no_dead_recording_rules(rules):
    """Catches: a recording rule no alert, dashboard panel or used rule reads (a dead rule,
    often left behind by a rename)."""
    problems = mon.check_dead_recording_rules(rules, mon.load_dashboards())
    assert not problems, "\n".join(problems)


def test_recording_rule_names_read_are_defined(rules):
    """Catches: an alert, rule or panel reading a level:metric:op name no rule records (a
    typo: the query silently returns nothing, the alert can never fire)."""
    problems = mon.check_recording_rules_defined(rules, mon.load_dashboards())
    assert not problems, "\n".join(problems)
