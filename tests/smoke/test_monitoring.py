"""Monitoring: Prometheus scrapes everything, its rules evaluate, nothing unexpected fires,
Alertmanager is wired; Grafana and Loki answer where the target has them."""
import pytest

from suite.checks.monitoring import fetch_alerts, fetch_query
from suite.clients import http_get
from suite.thresholds import LIMITS
from suite.waiting import poll

EXPECTED_FIRING = set(LIMITS.monitoring.expected_firing)  # the dead man's switch


@pytest.fixture(scope="module")
def prometheus_url(target, require):
    require("prometheus")
    return target.url("prometheus")


def test_prometheus_ready(prometheus_url):
    """Catches: Prometheus down or still replaying its WAL."""
    r = http_get("prometheus", prometheus_url, "/-/ready")
    assert r.status_code == 200, f"/-/ready: HTTP {r.status_code}"


def test_every_scrape_target_up(prometheus_url, target):
    """Catches: an exporter stopped, a service whose metrics endpoint moved, or a wrong scrape
    config (dashboards and alerts go blind)."""
    def all_up():
        series = fetch_query(prometheus_url, "up")
        return series if series and all(s["value"][1] == "1" for s in series) else None

    series = poll(all_up, what="every Prometheus target up", timeout=LIMITS.stack.prometheus_scrape_s,
                  interval=2, raise_on_timeout=False)
    if not series:
        targets = http_get("prometheus", prometheus_url, "/api/v1/targets").json()["data"]["activeTargets"]
        down = [f"{t['labels'].get('job')}/{t['labels'].get('instance')}: {t.get('lastError') or t['health']}"
                for t in targets if t["health"] != "up"]
        pytest.fail(f"scrape targets not up: {down}", pytrace=False)
    jobs = {s["metric"]["job"] for s in series}
    want = LIMITS.monitoring.min_scrape_jobs
    assert len(jobs) >= want, f"only {len(jobs)} scrape jobs, fewer than {want}: {sorted(jobs)}"


def test_no_rule_group_has_evaluation_errors(prometheus_url):
    """Catches: a rule referencing a broken expression or a series type mismatch (alerts silently dead)."""
    groups = http_get("prometheus", prometheus_url, "/api/v1/rules").json()["data"]["groups"]
    assert groups, "Prometheus has no rule groups loaded"
    broken = [f"{g['name']}/{r['name']}: {r.get('lastError')}" for g in groups for r in g["rules"]
              if r.get("health") == "err"]
    assert not broken, f"rules with evaluation errors: {broken}"


def test_no_unexpected_alert_firing(prometheus_url):
    """Catches: a stack that is already alerting after a deploy (something is down or misconfigured)."""
    firing = {a["labels"]["alertname"] for a in fetch_alerts(prometheus_url) if a["state"] == "firing"}
    firing = sorted(firing - EXPECTED_FIRING)
    assert not firing, f"alerts firing: {firing}"


def test_alertmanager_ready_and_wired(prometheus_url, target, require):
    """Catches: Alertmanager down, or Prometheus not sending to it (alerts never page anyone)."""
    require("alertmanager")
    r = http_get("alertmanager", target.url("alertmanager"), "/-/ready")
    assert r.status_code == 200, f"alertmanager /-/ready: HTTP {r.status_code}"
    active = http_get("prometheus", prometheus_url, "/api/v1/alertmanagers").json()["data"]["activeAlertmanagers"]
    assert active, "Prometheus has no active Alertmanager"


def test_grafana_healthy(target, require):
    """Catches: Grafana down or its database broken (dashboards unavailable)."""
    require("grafana")
    r = http_get("grafana", target.url("grafana"), "/api/health")
    assert r.status_code == 200 and r.json().get("database") == "ok", r.text[:200]


def test_loki_ready(target, require):
    """Catches: Loki down (logs are not collected)."""
    require("loki")
    r = http_get("loki", target.url("loki"), "/ready")
    assert r.status_code == 200, f"loki /ready: HTTP {r.status_code} {r.text[:200]}"
