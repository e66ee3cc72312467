"""Root of the suite: target selection, reports, redaction, and the reporting of
unreachable services apart from failed assertions."""
from __future__ import annotations

import os
import re
import subprocess
import uuid
from pathlib import Path

import pytest

from suite import redaction
from suite.clients import Gateway, TargetUnreachable, Users, connect_db
from suite.stack import Stack, StackError, refusal
from suite.target import ROOT, Target, TargetConfigError, load, local_env_file

REPORTS = ROOT / "reports"


def _report_name(config) -> str:
    expr = (config.getoption("markexpr") or "").strip()
    if not expr:
        return "suite"
    return re.sub(r"[^A-Za-z0-9]+", "-", expr).strip("-") or "suite"


@pytest.hookimpl(tryfirst=True)  # before pytest-html and junitxml read their options
def pytest_configure(config):
    # Reports land under reports/ by default, named after the -m selection.
    name = _report_name(config)
    REPORTS.mkdir(exist_ok=True)
    if not config.getoption("htmlpath", None):
        config.option.htmlpath = str(REPORTS / f"{name}.html")
    if not config.getoption("xmlpath", None):
        config.option.xmlpath = str(REPORTS / f"{name}.xml")
    config._suite_unreachable = []


# ---- the target ----------------------------------------------------------------------
def _gateway_answers(target: Target) -> bool:
    import requests
    try:
        requests.get(target.url("gateway") + "/", timeout=3)
        return True
    except requests.RequestException:
        return False


@pytest.fixture(scope="session")
def target(pytestconfig) -> Target:
    target_file = pytestconfig.getoption("target")
    try:
        if not target_file and not os.environ.get("SUITE_TARGET"):
            _ensure_local_stack(pytestconfig)
        tgt = load(target_file)
    except TargetConfigError as exc:
        pytest.exit(f"target configuration: {exc}", returncode=4)
    redaction.register(*tgt.secrets())
    pytestconfig.stash[TARGET_KEY] = tgt
    return tgt


TARGET_KEY = pytest.StashKey[Target]()


def _ensure_local_stack(config) -> None:
    """Bring the bundled stack up when it is not running; leave it as found otherwise."""
    env = local_env_file()
    if env.exists() and _gateway_answers(Target.local()):
        return
    if config.getoption("no_up"):
        pytest.exit("the local stack is not running (gateway does not answer) and --no-up was given; "
                    "run `make up`", returncode=4)
    print("\nlocal stack not running: bringing it up with `make up`")
    result = subprocess.run(["make", "-C", str(ROOT), "up", f"STACK_ENV={env.resolve()}"], text=True)
    if result.returncode != 0:
        pytest.exit("`make up` failed: the bundled stack did not become healthy (see its output above)",
                    returncode=4)


@pytest.fixture(scope="session")
def gateway(target) -> Gateway:
    if not target.has("gateway"):
        pytest.skip(target.absent["gateway"])
    gw = Gateway(target)
    try:
        gw.get("/", key=None)
    except TargetUnreachable as exc:
        # Fail every test that needs the gateway at once, with the same message.
        pytest.fail(str(exc), pytrace=False)
    return gw


@pytest.fixture(scope="session")
def run_id() -> str:
    """Namespace for everything a run creates (users, rows, channels)."""
    return f"suite-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def users(gateway, run_id):
    pool = Users(gateway, run_id)
    yield pool
    problems = pool.delete_all()
    assert not problems, f"could not delete the suite's users: {problems}"


@pytest.fixture(scope="session")
def require(target):
    """require("grafana"): skip when the target declares the service absent."""
    def _require(service: str) -> None:
        if not target.has(service):
            pytest.skip(f"{service}: {target.absent.get(service, 'not declared by the target')}")
    return _require


@pytest.fixture(scope="session")
def db(target, require):
    """Postgres through the published endpoint, as the API's login role (never the superuser)."""
    require("db")
    conn = connect_db(target)
    yield conn
    conn.close()


# ---- layers: a test's folder is its marker ----------------------------------------------
LAYERS = ("unit", "infra", "smoke", "integration", "load")


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(config, items):
    for item in items:
        parts = Path(str(item.fspath)).relative_to(ROOT).parts
        if len(parts) > 2 and parts[0] == "tests" and parts[1] in LAYERS:
            item.add_marker(parts[1])


# ---- guards --------------------------------------------------------------------------
def pytest_runtest_setup(item):
    """The one destructive guard (suite.stack.refusal): the local stack, or --allow-destructive."""
    if item.get_closest_marker("destructive"):
        tgt = item.config.stash.get(TARGET_KEY, None)
        target_file = item.config.getoption("target") or os.environ.get("SUITE_TARGET")
        name = tgt.name if tgt else Path(target_file).name if target_file else "local"
        reason = refusal(name, tgt.is_local if tgt else not target_file, item.config.getoption("allow_destructive"))
        if reason:
            pytest.skip(reason)


@pytest.fixture(scope="session")
def stack(target, pytestconfig) -> Stack:
    """The target's stack (suite/stack/): changes refused unless local or --allow-destructive."""
    return Stack(target, allow_destructive=pytestconfig.getoption("allow_destructive"))


# ---- reports: redaction and unreachable ------------------------------------------------
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if call.excinfo is not None and call.excinfo.errisinstance(TargetUnreachable):
        report.longrepr = str(call.excinfo.value)
        item.config._suite_unreachable.append(item.nodeid)
        report.user_properties.append(("outcome_kind", "unreachable"))
    elif call.excinfo is not None and call.excinfo.errisinstance(StackError):
        report.longrepr = str(call.excinfo.value)  # names the command, the machine and the cause
    if isinstance(report.longrepr, tuple) and len(report.longrepr) == 3:
        # a skip: (file, line, reason); junitxml needs the tuple kept
        path, lineno, reason = report.longrepr
        report.longrepr = (path, lineno, redaction.redact(str(reason)))
    elif report.longrepr is not None:
        report.longrepr = redaction.redact(str(report.longrepr))
    report.sections = [(title, redaction.redact(body)) for title, body in report.sections]


def pytest_html_report_title(report):
    report.title = "Supabase stack acceptance"


def pytest_metadata(metadata, config):
    for key in list(metadata):
        if isinstance(metadata[key], str):
            metadata[key] = redaction.redact(metadata[key])
    metadata["Target"] = config.getoption("target") or os.environ.get("SUITE_TARGET") or "local stack"


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    unreachable = getattr(config, "_suite_unreachable", [])
    if unreachable:
        terminalreporter.section("unreachable services (not assertion failures)", red=True)
        for nodeid in unreachable:
            terminalreporter.write_line(f"UNREACHABLE {nodeid}")
