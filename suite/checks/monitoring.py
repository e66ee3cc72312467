"""Monitoring checks on the Prometheus rules and their promtool tests, the Alertmanager
routes, the Grafana provisioning and dashboards, and (live) on the target's Prometheus.

Every check takes parsed files (or a query function for the live ones) and returns
problem strings naming the alert, rule, route, dashboard or panel. The tools' runs
(promtool, amtool) run in `suite.stack.tools`; their output is judged here.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Callable, Iterable

import yaml

from suite.clients import http_get
from suite.target import ROOT, STACK
from suite.thresholds import LIMITS

PROMETHEUS = STACK / "prometheus"
RULES_DIR = PROMETHEUS / "rules"
RULE_TESTS_DIR = PROMETHEUS / "tests"
ALERTMANAGER_YML = STACK / "alertmanager" / "alertmanager.yml"
ROUTES_TEST = STACK / "alertmanager" / "routes-test.txt"
GRAFANA = STACK / "grafana"
DASHBOARDS_DIR = GRAFANA / "dashboards"
DATASOURCES_YML = GRAFANA / "provisioning" / "datasources" / "datasources.yml"

SEVERITIES = frozenset({"critical", "warning", "info"})
TEAMS = frozenset({"platform", "database", "api"})
REQUIRED_ANNOTATIONS = ("summary", "description", "runbook_url")
# The one webhook contract of the notifier service (docs/architecture.md).
WEBHOOK_URL = "http://notifier:8080/hooks/{receiver}"
# Grafana's own macros, replaced by what Grafana would send for a 15 s scrape interval.
GRAFANA_MACROS = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "1h"}
# Dashboards' five subjects (issue 6): file stem -> what it must cover.
EXPECTED_DASHBOARDS = {"system", "database", "realtime", "gateway", "business"}


# ---- loading ---------------------------------------------------------------------------
def rel(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def rule_files() -> list[Path]:
    return sorted(RULES_DIR.glob("*.yml"))


def rule_test_files() -> list[Path]:
    return sorted(RULE_TESTS_DIR.glob("*.yml"))


def route_cases() -> list[tuple[int, str, list[str]]]:
    """The lines of routes-test.txt: (line number, expected receivers, labels)."""
    return parse_routes_test(ROUTES_TEST.read_text())


def load_rules(files: Iterable[Path] | None = None) -> list[dict]:
    """Every rule of the rule files, each with `file` and `group` added."""
    out = []
    for f in sorted(files if files is not None else rule_files()):
        for group in (yaml.safe_load(Path(f).read_text()) or {}).get("groups") or []:
            for rule in group.get("rules") or []:
                out.append({**rule, "file": rel(f), "group": group.get("name")})
    return out


def alerts(rules: list[dict]) -> list[dict]:
    return [r for r in rules if "alert" in r]


def recordings(rules: list[dict]) -> list[dict]:
    return [r for r in rules if "record" in r]


def load_rule_tests(files: Iterable[Path] | None = None) -> dict[str, dict]:
    """promtool unit-test files by repository path."""
    return {rel(f): yaml.safe_load(Path(f).read_text()) or {}
            for f in sorted(files if files is not None else rule_test_files())}


def load_dashboards(folder: Path = DASHBOARDS_DIR) -> dict[str, dict]:
    """Dashboards by repository path; a file that is not JSON is reported, not raised."""
    out = {}
    for f in sorted(folder.glob("*.json")):
        try:
            out[rel(f)] = json.loads(f.read_text())
        except json.JSONDecodeError as exc:
            out[rel(f)] = {"__error__": f"not valid JSON: {exc}"}
    return out


def load_yaml(path: Path) -> dict:
    return yaml.safe_load(Path(path).read_text()) or {}


# ---- PromQL helpers (no parser needed: recording rule names contain colons) -------------
def references(expr: str, name: str) -> bool:
    """True when `expr` reads the series `name` (as a whole token, not a prefix)."""
    return re.search(rf"(?<![\w:]){re.escape(name)}(?![\w:])", expr) is not None


_DURATION = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_UNIT_S = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def seconds(duration: str | int | None) -> float:
    """A Prometheus duration ("1m", "1d3h", "0s") in seconds; None -> 0."""
    if duration in (None, "", 0):
        return 0.0
    text = str(duration)
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a Prometheus duration: {duration!r}")
    return sum(int(n) * _UNIT_S[u] for n, u in parts)


def panel_queries(dashboard: dict) -> list[tuple[dict, str]]:
    """(panel, expr) for every Prometheus query of every panel, rows included."""
    out = []

    def walk(panels):
        for p in panels or []:
            for t in p.get("targets") or []:
                if t.get("expr"):
                    out.append((p, t["expr"]))
            walk(p.get("panels"))
    walk(dashboard.get("panels"))
    return out


def panel_label(path: str, dashboard: dict, panel: dict) -> str:
    return f"{path}: dashboard {dashboard.get('title')!r} panel {panel.get('title')!r} (id {panel.get('id')})"


def grafana_expr(expr: str) -> str:
    """The query as Grafana sends it to Prometheus (its macros replaced)."""
    for macro, value in GRAFANA_MACROS.items():
        expr = expr.replace(macro, value)
    return expr


# ---- rules ------------------------------------------------------------------------------
def check_rule_counts(rules: list[dict], min_alerts: int = LIMITS.monitoring.min_alerts,
                      min_recording: int = LIMITS.monitoring.min_recording_rules) -> list[str]:
    problems = []
    n_alerts, n_rec = len(alerts(rules)), len(recordings(rules))
    if n_alerts < min_alerts:
        problems.append(f"{rel(RULES_DIR)}: {n_alerts} alerting rules, fewer than {min_alerts}")
    if n_rec < min_recording:
        problems.append(f"{rel(RULES_DIR)}: {n_rec} recording rules, fewer than {min_recording}")
    return problems


def check_promtool_rule_count(rules: list[dict], promtool_output: str) -> list[str]:
    """promtool's own count ("SUCCESS: N rules found" per file) equals the rules parsed here:
    a file promtool skipped or read differently would make every other check moot."""
    found = sum(int(n) for n in re.findall(r"SUCCESS: (\d+) rules found", promtool_output))
    if found != len(rules):
        return [f"{rel(RULES_DIR)}: promtool check rules found {found} rules, the files hold {len(rules)}"]
    return []


def check_unique_names(rules: list[dict]) -> list[str]:
    seen: dict[str, str] = {}
    problems = []
    for r in alerts(rules):
        if r["alert"] in seen:
            problems.append(f"{r['file']}: alert {r['alert']} defined twice (also in {seen[r['alert']]}): "
                            f"its tests and runbook cannot tell them apart")
        seen[r["alert"]] = r["file"]
    return problems


def check_alert_metadata(rules: list[dict], root: Path = ROOT) -> list[str]:
    """Every alert: severity and team from the known sets, summary, description and a
    runbook_url naming a runbook file that exists in the repository."""
    problems = []
    for r in alerts(rules):
        where = f"{r['file']}: alert {r['alert']}"
        labels, ann = r.get("labels") or {}, r.get("annotations") or {}
        if labels.get("severity") not in SEVERITIES:
            problems.append(f"{where}: label severity={labels.get('severity')!r}, not one of {sorted(SEVERITIES)}")
        if labels.get("team") not in TEAMS:
            problems.append(f"{where}: label team={labels.get('team')!r}, not one of {sorted(TEAMS)}")
        for key in REQUIRED_ANNOTATIONS:
            if not str(ann.get(key) or "").strip():
                problems.append(f"{where}: no {key} annotation")
        url = str(ann.get("runbook_url") or "").strip()
        if url and not url.startswith(("http://", "https://")):
            if not (root / url.split("#", 1)[0]).is_file():
                problems.append(f"{where}: runbook_url {url} names a file that does not exist")
    return problems


def check_dead_recording_rules(rules: list[dict], dashboards: dict[str, dict]) -> list[str]:
    """Every recording rule is read by an alert, a dashboard panel, or another recording
    rule that is itself read (a dead rule costs evaluations and hides renamed metrics)."""
    readers = [r["expr"] for r in alerts(rules)]
    readers += [expr for d in dashboards.values() for _, expr in panel_queries(d)]
    records = {r["record"]: r for r in recordings(rules)}
    used: set[str] = set()
    frontier = readers
    while frontier:
        newly = {name for name in records if name not in used and any(references(e, name) for e in frontier)}
        used |= newly
        frontier = [records[n]["expr"] for n in newly]
    return [f"{r['file']}: recording rule {r['record']} is read by no alert, dashboard panel or used rule"
            for r in recordings(rules) if r["record"] not in used]


def check_recording_rules_defined(rules: list[dict], dashboards: dict[str, dict]) -> list[str]:
    """A `level:metric:op` name read by an alert or a panel is a recording rule of the repo
    (a typo there is a query that silently returns nothing)."""
    names = {r["record"] for r in recordings(rules)}
    readers = [(f"{r['file']}: alert {r['alert']}", r["expr"]) for r in alerts(rules)]
    readers += [(f"{r['file']}: recording rule {r['record']}", r["expr"]) for r in recordings(rules)]
    readers += [(panel_label(f, d, p), expr) for f, d in dashboards.items() for p, expr in panel_queries(d)]
    problems = []
    for where, expr in readers:
        for token in re.findall(r"(?<![\w:])([a-zA-Z_]\w*:[\w:]+)(?![\w:(])", _strip_strings(expr)):
            if token not in names:
                problems.append(f"{where}: reads {token}, which no recording rule defines")
    return problems


def _strip_strings(expr: str) -> str:
    return re.sub(r'"(?:[^"\\]|\\.)*"', '""', re.sub(r"\[[^\]]*\]", "[]", expr))


# ---- promtool unit tests ------------------------------------------------------------------
def _alert_tests(tests: dict[str, dict]) -> dict[str, list[tuple[str, float, list]]]:
    """alertname -> [(test file and name, eval seconds, exp_alerts)]."""
    out: dict[str, list] = {}
    for f, doc in tests.items():
        for t in doc.get("tests") or []:
            for a in t.get("alert_rule_test") or []:
                out.setdefault(a.get("alertname"), []).append(
                    (f"{f}: test {t.get('name')!r}", seconds(a.get("eval_time")), a.get("exp_alerts") or []))
    return out


def check_alert_tests(rules: list[dict], tests: dict[str, dict]) -> list[str]:
    """Every alert has a promtool test that expects it silent before its `for:` (when it has
    one) and firing after, with severity, team and the three annotations expected."""
    by_alert = _alert_tests(tests)
    problems = []
    for r in alerts(rules):
        where = f"{r['file']}: alert {r['alert']}"
        cases = by_alert.get(r["alert"], [])
        if not cases:
            problems.append(f"{where}: no promtool test (alert_rule_test) in {rel(RULE_TESTS_DIR)}")
            continue
        # promtool proves the states; here: the test asks for both (silent first, then firing)
        hold = seconds(r.get("for"))
        firing_times = [t for _, t, exp in cases if exp and t >= hold]
        if not firing_times:
            problems.append(f"{where}: no test expects it firing after its for: {r.get('for', '0s')}")
            continue
        if hold and not any(not exp and t < max(firing_times) for _, t, exp in cases):
            problems.append(f"{where}: no test expects it silent (pending) before its for: {r['for']} ends")
        firing = [exp for _, t, exp in cases if exp and t >= hold]
        for exp in firing:
            for alert in exp:
                labels, ann = alert.get("exp_labels") or {}, alert.get("exp_annotations") or {}
                missing = [k for k in ("severity", "team") if k not in labels]
                missing += [k for k in REQUIRED_ANNOTATIONS if k not in ann]
                if missing:
                    problems.append(f"{where}: a firing test does not expect {', '.join(missing)}")
    return problems


def promtool_test_failures(output: str) -> set[str]:
    """Alert names whose promtool test failed, read from `promtool test rules` output."""
    return set(re.findall(r"alertname: ([A-Za-z_][\w]*), time:", output))


def check_promtool_tests(returncode: int, output: str, rules: list[dict]) -> list[str]:
    """`promtool test rules` passed; on failure, name each failing alert with its rule file."""
    if returncode == 0:
        return []
    failed = promtool_test_failures(output)
    files = {r["alert"]: r["file"] for r in alerts(rules)}
    problems = [f"{files.get(a, rel(RULES_DIR))}: alert {a}: its promtool unit test fails "
                f"(expected firing/silent state or labels/annotations not met)" for a in sorted(failed)]
    if failed:  # promtool's expected/got, once, for the reader of the report
        problems.append("promtool says:\n" + output.strip()[-3000:])
    expr_fail = re.findall(r"expr: \"?(.+?)\"?, time:", output)
    problems += [f"{rel(RULE_TESTS_DIR)}: promql_expr_test of {e} fails" for e in expr_fail]
    if not problems:
        problems.append(f"promtool test rules failed: {output.strip()[-2000:]}")
    return problems


# ---- Alertmanager -----------------------------------------------------------------------
def _routes(route: dict, path: str = "route"):
    yield path, route
    for i, child in enumerate(route.get("routes") or []):
        yield from _routes(child, f"{path}.routes[{i}]")


def check_alertmanager(cfg: dict, where: str = "stack/alertmanager/alertmanager.yml") -> list[str]:
    """Routes only to defined receivers, webhook receivers on the notifier, grouping and a
    repeat interval on the root, and critical inhibiting warning of the same service."""
    problems = []
    receivers = {r.get("name"): r for r in cfg.get("receivers") or []}
    root = cfg.get("route") or {}
    for path, route in _routes(root):
        name = route.get("receiver")
        if path == "route" and not name:
            problems.append(f"{where}: {path} has no receiver")
        if name is not None and name not in receivers:
            problems.append(f"{where}: {path} routes to receiver {name!r}, which is not defined")
    for name, r in receivers.items():
        for hook in r.get("webhook_configs") or []:
            if hook.get("url") != WEBHOOK_URL.format(receiver=name):
                problems.append(f"{where}: receiver {name}: webhook {hook.get('url')} is not "
                                f"{WEBHOOK_URL.format(receiver=name)}")
    for key in ("group_by", "group_wait", "group_interval", "repeat_interval"):
        if not root.get(key):
            problems.append(f"{where}: route has no {key}")
    inhibits = [i for i in cfg.get("inhibit_rules") or []
                if 'severity="critical"' in (i.get("source_matchers") or [])
                and 'severity="warning"' in (i.get("target_matchers") or [])
                and "service" in (i.get("equal") or [])]
    if not inhibits:
        problems.append(f"{where}: no inhibit rule where severity=critical silences severity=warning "
                        f"with equal: [service]")
    return problems


def parse_routes_test(text: str) -> list[tuple[int, str, list[str]]]:
    """routes-test.txt lines as (line number, expected receivers, label=value list)."""
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        expected, sep, labels = line.partition("|")
        if not sep:
            raise ValueError(f"{rel(ROUTES_TEST)}:{n}: expected '<receivers> | <label=value ...>', got {line!r}")
        out.append((n, expected.replace(" ", ""), labels.split()))
    return out


def check_route_tests_cover_alerts(rules: list[dict], cases: list[tuple[int, str, list[str]]]) -> list[str]:
    """Every alert's own severity and team are proven by a routes-test line."""
    proven = {tuple(sorted(labels)) for _, _, labels in cases}
    problems = []
    for r in alerts(rules):
        labels = r.get("labels") or {}
        want = tuple(sorted([f"alertname={r['alert']}", f"severity={labels.get('severity')}",
                             f"team={labels.get('team')}"]))
        if want not in proven:
            problems.append(f"{rel(ROUTES_TEST)}: no line for alert {r['alert']} "
                            f"(severity={labels.get('severity')} team={labels.get('team')})")
    return problems


# ---- Grafana ----------------------------------------------------------------------------
def check_datasources(provisioning: dict, where: str = rel(DATASOURCES_YML)) -> list[str]:
    sources = provisioning.get("datasources") or []
    prom = [d for d in sources if d.get("type") == "prometheus"]
    if not prom:
        return [f"{where}: no Prometheus data source"]
    if not any(d.get("url") == "http://prometheus:9090" for d in prom):
        return [f"{where}: the Prometheus data source does not point at http://prometheus:9090"]
    return []


def check_dashboards(dashboards: dict[str, dict], datasource_uids: set[str]) -> list[str]:
    """Parseable, the five expected dashboards, unique uids and titles, every panel with a
    query on a provisioned data source."""
    problems = []
    uids: dict[str, str] = {}
    stems = {Path(f).stem for f in dashboards}
    for missing in sorted(EXPECTED_DASHBOARDS - stems):
        problems.append(f"{rel(DASHBOARDS_DIR)}: no {missing}.json dashboard")
    for f, d in dashboards.items():
        if "__error__" in d:
            problems.append(f"{f}: {d['__error__']}")
            continue
        uid = d.get("uid")
        if not uid:
            problems.append(f"{f}: dashboard {d.get('title')!r} has no uid")
        elif uid in uids:
            problems.append(f"{f}: dashboard uid {uid!r} is also used by {uids[uid]} "
                            f"(Grafana provisions only one of them)")
        else:
            uids[uid] = f
        for p in d.get("panels") or []:
            if p.get("type") == "row":
                continue
            label = panel_label(f, d, p)
            if not any(t.get("expr") for t in p.get("targets") or []):
                problems.append(f"{label}: no query")
            uid_ds = (p.get("datasource") or {}).get("uid")
            if uid_ds not in datasource_uids:
                problems.append(f"{label}: data source uid {uid_ds!r} is not provisioned")
    return problems


# ---- live checks against a Prometheus ----------------------------------------------------
# Panels allowed to show no data, by (dashboard uid, panel title), with the reason. Every
# other panel must return data: an empty panel is a renamed or missing series.
NO_DATA_ON_LOCAL_STACK = {
    **{("sa-database", t): "no backup has run on a fresh local stack yet: backup_* series appear "
                            "after the first run of the backup scripts"
       for t in ("Backup age", "Backup last attempt failed", "Backup size", "Backup duration")},
    ("sa-business", "Hours since the last backup"): "no backup has run on a fresh local stack yet",
    ("sa-gateway", "Gateway 5xx ratio"): "the local nginx gateway's stub_status has no status codes "
                                         "(Kong exports them: required on an upstream target)",
    ("sa-business", "REST writes per minute"): "nobody writes through REST on an idle local stack",
}
Query = Callable[[str], list]  # returns the result vector; raises QueryError on a bad query


class QueryError(Exception):
    """Prometheus refused the query (the message is Prometheus's)."""


def fetch_query(url: str, expr: str) -> list:
    """An instant query's result vector on the Prometheus at `url` (a Query, with the url bound)."""
    r = http_get("prometheus", url, "/api/v1/query", params={"query": expr})
    body = r.json() if r.headers.get("Content-Type", "").startswith("application/json") else {}
    if r.status_code != 200 or body.get("status") != "success":
        raise QueryError(body.get("error") or f"HTTP {r.status_code}")
    return body["data"]["result"]


def fetch_alerts(url: str) -> list[dict]:
    """The pending and firing alerts of the Prometheus at `url`."""
    return http_get("prometheus", url, "/api/v1/alerts").json()["data"]["alerts"]


def check_panel_queries(dashboards: dict[str, dict], query: Query,
                        may_be_empty: dict[tuple[str, str], str]) -> list[str]:
    """Every panel query executes; it returns data unless (dashboard uid, panel title) is
    in `may_be_empty` (with the reason it has no data on this target)."""
    problems = []
    for f, d in dashboards.items():
        for panel, expr in panel_queries(d):
            where = panel_label(f, d, panel)
            try:
                result = query(grafana_expr(expr))
            except QueryError as exc:
                problems.append(f"{where}: query {expr!r} fails: {exc}")
                continue
            if not result and (d.get("uid"), panel.get("title")) not in may_be_empty:
                problems.append(f"{where}: query {expr!r} returns no data (a missing or renamed series)")
    return problems


def check_live_rules(groups: list[dict], rules: list[dict]) -> list[str]:
    """Every rule of the repository is loaded on the target and evaluates without error."""
    problems = []
    loaded = {}
    for g in groups:
        for r in g.get("rules") or []:
            loaded[r.get("name")] = r
            if r.get("health") not in ("ok", "unknown"):
                problems.append(f"group {g.get('name')}: rule {r.get('name')} health {r.get('health')}: "
                                f"{r.get('lastError')}")
    for r in rules:
        name = r.get("alert") or r.get("record")
        if name not in loaded:
            problems.append(f"{r['file']}: rule {name} is not loaded on the target's Prometheus "
                            f"(it runs other rules than the repository)")
    return problems
