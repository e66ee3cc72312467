"""The load runs in the pytest HTML report (suite/load_report.py, suite/load_chart.py) on seeded
summaries: breached SLOs first, margins with their sign and unit, relative links only to files
that exist, one chart series per message type, and every value escaped and redacted."""
import re

from loadtests._verdict import Check, p95_check, summary
from suite import load_chart, load_report, redaction
from suite.load_report import Run


def result(*checks: Check, timeline: dict | None = None) -> dict:
    """A run's JSON summary as loadtests/_run.py writes it, with these checks."""
    return {"verdict": summary(list(checks)), "timeline": timeline}


HEALTHY = Check("websocket heartbeat p95 (hold)", 100, 9.0, True, " ms")
SLOW = Check("websocket broadcast p95 (hold)", 100, 250.0, False, " ms")
SPARSE = Check("websocket presence p95 (hold)", 100, None, True, judged=False, detail="3 samples")
SHORT = Check("websocket connections held / requested", 1.0, 0.7, False, detail="7 of 10", bound="min")
DROPPED = Check("websocket connections dropped", 0, 3, False)


def test_breached_slos_come_first_then_not_judged_then_ok():
    """Catches a report that buries a breach under passing rows: run order is kept within
    each state."""
    table = load_report.rows(result(HEALTHY, SPARSE, SLOW, DROPPED))
    assert [(r.state, r.slo) for r in table] == [
        ("FAIL", "websocket broadcast p95 (hold)"), ("FAIL", "websocket connections dropped"),
        ("n/a", "websocket presence p95 (hold)"), ("ok", "websocket heartbeat p95 (hold)")]


def test_margins_are_headroom_with_unit_and_share_of_the_limit():
    """Positive inside the SLO, negative beyond it, for a maximum and for a minimum (held
    connections); a limit of 0 has no share; a check not judged has no margin."""
    margins = {r.slo: (r.limit, r.measured, r.margin) for r in load_report.rows(result(HEALTHY, SLOW, SHORT,
                                                                                        DROPPED, SPARSE))}
    assert margins == {
        "websocket heartbeat p95 (hold)": ("at most 100 ms", "9 ms", "+91 ms (+91%)"),
        "websocket broadcast p95 (hold)": ("at most 100 ms", "250 ms", "-150 ms (-150%)"),
        "websocket connections held / requested": ("at least 1", "0.7", "-0.3 (-30%)"),
        "websocket connections dropped": ("at most 0", "3", "-3"),
        "websocket presence p95 (hold)": ("at most 100", "", "")}


def test_a_latency_not_judged_keeps_its_unit_and_has_no_margin():
    (row,) = load_report.rows(result(p95_check("api GET notes p95", [10.0, 50.0, 50.0, 900.0, 900.0], 200)))
    assert (row.state, row.limit, row.measured, row.margin) == ("n/a", "at most 200 ms", "", "")


def test_the_headline_names_the_breached_slos():
    assert load_report.headline(result(HEALTHY, SLOW, SHORT)) == (
        "FAILED: 2 SLOs breached: websocket broadcast p95 (hold), websocket connections held / requested")
    assert load_report.headline(result(HEALTHY, SPARSE)) == "PASSED: 1 SLOs met, 1 not judged (too few samples)"


def test_links_are_relative_and_only_to_files_that_exist(tmp_path):
    """Catches absolute hrefs (dead once CI keeps reports/ as an artifact) and links to files a
    run did not write (no CSV after a crash)."""
    reports = tmp_path / "reports"
    reports.mkdir()
    for name in ("load-api-db-locust.html", "load-api-db_stats.csv", "load-api-db.json", "load-other.json"):
        (reports / name).write_text("x")
    assert load_report.links("api-db", reports, reports) == [
        ("Locust HTML report", "load-api-db-locust.html"), ("statistics CSV", "load-api-db_stats.csv"),
        ("JSON summary", "load-api-db.json")]
    assert [href for _, href in load_report.links("api-db", reports, tmp_path)][0] == "reports/load-api-db-locust.html"
    html = load_report.links_html("api-db", reports, reports)
    assert re.findall(r'href="([^"]+)"', html) == ["load-api-db-locust.html", "load-api-db_stats.csv",
                                                    "load-api-db.json"]
    assert "no files of run gone" in load_report.links_html("gone", reports, reports)


def timeline(**series) -> dict:
    return {"bucket_s": 10, "hold_start_s": 40.0, "end_s": 100.0,
            "series": {kind: [{"start_s": 10.0 * i, "count": 5, "p50": v / 2, "p99": v} for i, v in enumerate(p99s)]
                       for kind, p99s in series.items()}}


def test_the_chart_draws_one_series_per_message_type_and_marks_the_hold(tmp_path):
    svg = load_chart.chart(timeline(heartbeat=[300, 200, 3, 4, 5], broadcast=[9, 8, 7], join=[40]))
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert re.findall(r'<g class="series" data-type="([^"]+)">', svg) == ["heartbeat", "broadcast", "join"]
    assert svg.count("<circle") == 9 and 'class="hold-start"' in svg and "hold from 40 s" in svg
    assert "log scale" in svg  # 3 ms .. 300 ms: a linear axis would flatten the hold
    assert "linear scale" in load_chart.chart(timeline(heartbeat=[3, 4, 5]))
    assert load_chart.chart({"bucket_s": 10, "series": {}}) == "" and load_chart.chart(None) == ""
    page = load_report.fragment("ws", result(HEALTHY, timeline=timeline(heartbeat=[3, 4])), tmp_path, tmp_path)
    assert page.count('<g class="series"') == 1


def test_every_value_is_escaped_and_redacted(tmp_path):
    """Catches a detail or a target name that injects markup into the report, or a token that
    reaches it."""
    token = "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoiYW5vbiJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
    redaction.register("s3cr3t-password-value")
    hostile = Check("api <b>GET</b> notes p95", 200, 250.0, False, " ms",
                    detail=f"<script>alert(1)</script> token {token} pw s3cr3t-password-value")
    run = result(hostile, timeline=timeline(**{"<img src=x>": [5, 6]}))
    page = load_report.fragment("<run>", run, tmp_path, tmp_path)
    top = load_report.overview([Run("<run>", "tests/load/x.py::t[<a>]", run)], tmp_path, tmp_path)
    for html in (page, top):
        assert "<script>" not in html and "<b>GET" not in html and "<img" not in html and "<run>" not in html
        assert token not in html and "s3cr3t-password-value" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt; token [REDACTED] pw [REDACTED]" in html
    assert 'data-type="&lt;img src=x&gt;"' in page


def test_the_overview_shows_unexpected_verdicts_first():
    """A run failing where its test expects a pass is the first thing shown; a negative run's
    expected failure comes after it and says it was expected; passed runs last, folded."""
    runs = [Run("processes", "t1", result(HEALTHY)), Run("capped", "t2", result(DROPPED), expected="failed"),
            Run("api-db", "t3", result(SLOW))]
    html = load_report.overview(runs, "/nowhere", "/nowhere")
    assert re.findall(r"run (\S+): ", html) == ["api-db", "capped", "processes"]
    assert "(expected: failed, the run of a deliberately broken stack)" in html
    assert html.count("<details open>") == 2 and html.count("<details>") == 1
