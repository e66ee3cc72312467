"""Grafana as code: provisioned data source and the five dashboards (files only; the
queries run against the live Prometheus in test_monitoring_live.py)."""
from suite.checks import monitoring as mon


def test_prometheus_datasource_is_provisioned():
    """Catches: no Prometheus data source, or one pointing elsewhere than the stack's Prometheus."""
    problems = mon.check_datasources(mon.load_yaml(mon.DATASOURCES_YML))
    assert not problems, "\n".join(problems)


def test_dashboards_are_valid_and_unique():
    """Catches: a dashboard file that is not JSON, a missing one of the five, a duplicate uid
    (Grafana provisions only one), a panel without a query or on an unprovisioned data source."""
    uids = {d.get("uid") for d in mon.load_yaml(mon.DATASOURCES_YML).get("datasources") or []}
    problems = mon.check_dashboards(mon.load_dashboards(), uids)
    assert not problems, "\n".join(problems)
