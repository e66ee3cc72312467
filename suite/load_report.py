"""The load runs in the pytest HTML report (reports/load.html, wired in tests/load/conftest.py):
from a run's name and its JSON summary (suite.locust_run), a headline, the verdict table with
breached SLOs first, relative links to the files the run left beside the report (so they open
from a CI artifact folder too), and p99 latency over time (suite.load_chart). Every value is
redacted and escaped: the summary carries the target's names and free-text details."""
from __future__ import annotations

import os
from dataclasses import dataclass
from html import escape
from pathlib import Path

from . import redaction
from .load_chart import chart

ORDER = ("FAIL", "n/a", "ok")
COLOURS = {"FAIL": "#c62828", "n/a": "#8d6e00", "ok": "#2e7d32", "FAILED": "#c62828", "PASSED": "#2e7d32"}
# what suite.locust_run.run_locust leaves in reports/ for a run named NAME: load-NAME<suffix>
FILES = (("Locust HTML report", "-locust.html"), ("statistics CSV", "_stats.csv"),
         ("statistics over time CSV", "_stats_history.csv"), ("failures CSV", "_failures.csv"),
         ("exceptions CSV", "_exceptions.csv"), ("JSON summary", ".json"))
STYLE = ("<style>table.load-verdict{border-collapse:collapse;margin:4px 0 10px}"
         "table.load-verdict th,table.load-verdict td{border:1px solid #ccc;padding:2px 6px;text-align:left;"
         "vertical-align:top}.load-headline{font-weight:bold}</style>")


@dataclass(frozen=True)
class Row:
    state: str
    slo: str
    limit: str
    measured: str
    margin: str
    detail: str


@dataclass(frozen=True)
class Run:
    """A run shown at the top of the report: `expected` is the verdict its test wants
    ("failed" for the runs against a deliberately broken stack)."""
    name: str
    test: str
    result: dict
    expected: str = "passed"

    @property
    def outcome(self) -> str:
        return "passed" if self.result["verdict"]["passed"] else "failed"

    @property
    def surprising(self) -> bool:
        return self.outcome != self.expected


def _e(value) -> str:
    return escape(redaction.redact(str(value)))


def state(check: dict) -> str:
    return "n/a" if not check["judged"] else "ok" if check["ok"] else "FAIL"


def margin(check: dict) -> str:
    """Headroom to the limit with its unit and as a share of the limit: positive within the
    SLO, negative beyond it (limit - measured; measured - limit for a minimum)."""
    if not check["judged"] or check["measured"] is None:
        return ""
    limit, measured = check["limit"], check["measured"]
    room = round(measured - limit if check.get("bound") == "min" else limit - measured, 6)
    text = f"{room:+g}{check['unit']}"
    return f"{text} ({room / abs(limit):+.0%})" if limit else text


def row(check: dict) -> Row:
    unit = check["unit"]
    bound = "at least" if check.get("bound") == "min" else "at most"
    if check["measured"] is not None:
        measured = f"{check['measured']:g}{unit}"
    else:
        measured = "" if not check["judged"] else "no data"
    return Row(state(check), check["slo"], f"{bound} {check['limit']:g}{unit}", measured, margin(check),
               check["detail"])


def rows(result: dict) -> list[Row]:
    """Every check of the verdict: FAIL first, then n/a (not judged), then ok, each in run order."""
    return sorted((row(c) for c in result["verdict"]["checks"]), key=lambda r: ORDER.index(r.state))


def headline(result: dict) -> str:
    table = rows(result)
    failed = [r.slo for r in table if r.state == "FAIL"]
    if failed:
        return f"FAILED: {len(failed)} SLO{'s' if len(failed) > 1 else ''} breached: {', '.join(failed)}"
    text = f"PASSED: {sum(r.state == 'ok' for r in table)} SLOs met"
    unjudged = sum(r.state == "n/a" for r in table)
    return text + (f", {unjudged} not judged (too few samples)" if unjudged else "")


def links(name: str, reports: Path, page_dir: Path) -> list[tuple[str, str]]:
    """(label, href) for each file of the run that exists, relative to the report's folder."""
    found = []
    for label, suffix in FILES:
        path = Path(reports) / f"load-{name}{suffix}"
        if path.is_file():
            found.append((label, Path(os.path.relpath(path, page_dir)).as_posix()))
    return found


# ---- HTML ---------------------------------------------------------------------------------
def headline_html(name: str, result: dict, note: str = "") -> str:
    text = headline(result)
    colour = COLOURS["FAILED" if text.startswith("FAILED") else "PASSED"]
    return (f'<span class="load-headline">run {_e(name)}: <span style="color:{colour}">{_e(text)}</span>'
            f'{_e(note)}</span>')


def table_html(result: dict) -> str:
    head = "".join(f"<th>{h}</th>" for h in ("state", "SLO", "limit", "measured", "margin", "detail"))
    body = "".join(f'<tr><td style="color:{COLOURS[r.state]};font-weight:bold">{_e(r.state)}</td>'
                   f"<td>{_e(r.slo)}</td><td>{_e(r.limit)}</td><td>{_e(r.measured)}</td>"
                   f"<td>{_e(r.margin)}</td><td>{_e(r.detail)}</td></tr>" for r in rows(result))
    return f'<table class="load-verdict"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def links_html(name: str, reports: Path, page_dir: Path) -> str:
    found = links(name, reports, page_dir)
    if not found:
        return f"<div>no files of run {_e(name)} in {_e(reports)}</div>"
    return "<div>files: " + " · ".join(f'<a href="{_e(href)}">{_e(label)}</a>' for label, href in found) + "</div>"


def fragment(name: str, result: dict, reports: Path, page_dir: Path) -> str:
    """For the test's row: headline, links, verdict table, latency chart."""
    return (f'<div class="load-run">{STYLE}<div>{headline_html(name, result)}</div>'
            f"{links_html(name, reports, page_dir)}{table_html(result)}{chart(result.get('timeline'))}</div>")


def overview(runs: list[Run], reports: Path, page_dir: Path) -> str:
    """The top of the report: every run's headline and table. Runs whose verdict their test
    did not expect come first, then the other failed verdicts, then the passed; a failed
    verdict's table is open, a passed one's folded."""
    ordered = sorted(runs, key=lambda r: (not r.surprising, r.outcome == "passed"))
    parts = [f'<div class="load-overview">{STYLE}<h3>Load runs</h3>']
    for run in ordered:
        note = f" (expected: {run.expected}, the run of a deliberately broken stack)" \
            if run.expected != "passed" else ""
        opened = " open" if run.outcome == "failed" else ""
        parts.append(f"<details{opened}><summary>{headline_html(run.name, run.result, note)}</summary>"
                     f"<div>test {_e(run.test)}</div>{links_html(run.name, reports, page_dir)}"
                     f"{table_html(run.result)}</details>")
    return "".join(parts) + "</div>"
