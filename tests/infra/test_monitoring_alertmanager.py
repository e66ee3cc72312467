"""Alertmanager as code: stack/alertmanager/alertmanager.yml checked by amtool, and every
line of routes-test.txt proven by `amtool config routes test --verify.receivers` (one
container start for all of them)."""
import pytest

from suite.checks import monitoring as mon

CASES = mon.route_cases()


def test_config_is_valid(amtool):
    """Catches: an alertmanager.yml Alertmanager refuses (it keeps the old config or does not start)."""
    r = amtool["check"]
    assert r.returncode == 0, f"stack/alertmanager/alertmanager.yml: {r.command}:\n{r.output}"


def test_receivers_grouping_and_inhibition():
    """Catches: a route to a receiver that does not exist, a webhook not on the notifier, no
    grouping or repeat interval, no critical-inhibits-warning rule for the same service."""
    problems = mon.check_alertmanager(mon.load_yaml(mon.ALERTMANAGER_YML))
    assert not problems, "\n".join(problems)


def test_every_alert_has_a_route_test():
    """Catches: an alert whose severity/team combination no routes-test line proves."""
    problems = mon.check_route_tests_cover_alerts(mon.load_rules(), CASES)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("lineno,expected,labels", CASES, ids=[f"line{n}-{e}" for n, e, _ in CASES])
def test_route(amtool, lineno, expected, labels):
    """Catches: labels routed to other receivers than routes-test.txt says (a page lost, or
    sent to the wrong team)."""
    r = amtool["routes"][lineno]
    assert r.returncode == 0, (f"{mon.rel(mon.ROUTES_TEST)}:{lineno}: {' '.join(labels)} should reach "
                               f"{expected}; amtool: {r.output.strip()}")
