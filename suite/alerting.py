"""Alert delivery under test: short test-time intervals, the test sink, the notifier and
its attempt log (ops.notification_logs).

Test-time intervals (compose overlay stack/compose.alerts-fast.yaml, files generated here
into stack/.alerts-fast/ from the production files, so routes and rules stay the same):
Prometheus scrape and evaluation every FAST.scrape_s, each rule's `for:` capped at
FAST.for_cap_s, Alertmanager group_wait / group_interval FAST.group_wait_s /
FAST.group_interval_s. Production values are untouched (docs/benchmarks.md, "Alert delivery").
"""
from __future__ import annotations

import shutil
from pathlib import Path

import psycopg
import requests
import yaml

from .checks.monitoring import seconds
from .target import STACK
from .thresholds import LIMITS

FAST = LIMITS.alerting.test_intervals
FAST_DIR = STACK / ".alerts-fast"
FAST_OVERLAY = STACK / "compose.alerts-fast.yaml"


def write_fast_configs(out: Path = FAST_DIR) -> Path:
    """Copies of prometheus.yml, rules/*.yml and alertmanager.yml with only the timings shortened."""
    shutil.rmtree(out, ignore_errors=True)
    (out / "rules").mkdir(parents=True)
    prom = yaml.safe_load((STACK / "prometheus" / "prometheus.yml").read_text())
    prom["global"].update(scrape_interval=f"{FAST.scrape_s}s", evaluation_interval=f"{FAST.scrape_s}s",
                          scrape_timeout=f"{FAST.scrape_s}s")
    for job in prom["scrape_configs"]:
        for key in ("scrape_interval", "scrape_timeout"):
            job.pop(key, None)
    (out / "prometheus.yml").write_text(yaml.safe_dump(prom, sort_keys=False))
    for path in sorted((STACK / "prometheus" / "rules").glob("*.yml")):
        rules = yaml.safe_load(path.read_text())
        for group in rules["groups"]:
            group.pop("interval", None)
            for rule in group["rules"]:
                if "for" in rule and seconds(rule["for"]) > FAST.for_cap_s:
                    rule["for"] = f"{FAST.for_cap_s}s"
        (out / "rules" / path.name).write_text(yaml.safe_dump(rules, sort_keys=False))
    am = yaml.safe_load((STACK / "alertmanager" / "alertmanager.yml").read_text())
    am["route"].update(group_wait=f"{FAST.group_wait_s}s", group_interval=f"{FAST.group_interval_s}s")
    (out / "alertmanager.yml").write_text(yaml.safe_dump(am, sort_keys=False))
    for path in [out, out / "rules", *out.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)  # the services run as uid 65534
    return out


class Sink:
    """The test receiver (notifier.sink): what it got, and failures on demand."""

    def __init__(self, base: str):
        self.base = base

    def reset(self) -> None:
        requests.post(f"{self.base}/_sink/reset", timeout=5).raise_for_status()

    def fail_next(self, path: str, count: int, contains: str = "") -> None:
        """Fail the next `count` requests on `path` whose body contains `contains`
        (other alerts routed there meanwhile are not affected)."""
        requests.post(f"{self.base}/_sink/fail", json={"path": path, "count": count, "contains": contains},
                      timeout=5).raise_for_status()

    def received(self) -> list[dict]:
        r = requests.get(f"{self.base}/_sink/received", timeout=5)
        r.raise_for_status()
        return r.json()

    def messages(self, *, path: str | None = None, topic: str | None = None, text: str = "",
                 ok_only: bool = True) -> list[dict]:
        """Recorded deliveries on a webhook path or push topic whose title/message contain `text`."""
        out = []
        for entry in self.received():
            body = entry.get("json") or {}
            if ok_only and entry["status"] != 200:
                continue
            if path is not None and entry["path"] != path:
                continue
            if topic is not None and body.get("topic") != topic:
                continue
            if text in f"{body.get('title', '')}\n{body.get('message', '')}":
                out.append(entry)
        return out


class Notifier:
    def __init__(self, base: str):
        self.base = base

    def post(self, receiver: str, alerts: list[dict]) -> requests.Response:
        return requests.post(f"{self.base}/hooks/{receiver}", timeout=10,
                             json={"version": "4", "status": "firing", "receiver": receiver, "alerts": alerts})

    def health(self) -> dict:
        r = requests.get(f"{self.base}/health", timeout=5)
        r.raise_for_status()
        return r.json()

    def metrics(self) -> str:
        return requests.get(f"{self.base}/metrics", timeout=5).text


def alert(name: str, fingerprint: str, **labels: str) -> dict:
    return {"status": "firing", "fingerprint": fingerprint,
            "labels": {"alertname": name, "severity": "warning", **labels},
            "annotations": {"summary": f"{name} raised by the suite"}}


def attempts(conn: psycopg.Connection, fingerprints: list[str]) -> list[dict]:
    return conn.execute("SELECT * FROM ops.notification_logs WHERE fingerprint = ANY(%s) ORDER BY id",
                        (fingerprints,)).fetchall()
