"""Infra fixtures: the repository's configs resolved with a generated env file, and the
target read without bringing anything up (file checks need no running stack), and the
promtool and amtool batches started in the background as soon as tests need them."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from suite import redaction
from suite.checks import compose
from suite.checks import monitoring as mon
from suite.stack import tools
from suite.target import Target, TargetConfigError, load, local_env_file, secret_values


@pytest.fixture(scope="session")
def test_env(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    path = tmp_path_factory.mktemp("infra") / "test.env"
    values = compose.write_test_env(path)
    redaction.register(*secret_values(values))
    return path, values


@pytest.fixture(scope="session")
def compose_config(test_env):
    """compose_config(overlay, interpolate=True): `docker compose config` of stack/compose.yaml
    plus the overlay's files, resolved with the test env (or, interpolate=False, with the
    ${VAR}s as written). A config compose refuses fails the test with compose's message."""
    cache: dict = {}

    def _config(overlay: str, interpolate: bool = True) -> dict:
        key = (overlay, interpolate)
        if key not in cache:
            try:
                cache[key] = compose.config(overlay, test_env[0], interpolate=interpolate)
            except compose.ComposeError as exc:
                cache[key] = exc
        if isinstance(cache[key], Exception):
            pytest.fail(f"overlay {overlay}: {cache[key]}", pytrace=False)
        return cache[key]
    return _config


@pytest.fixture(scope="session")
def target_env_path(pytestconfig) -> Path:
    named = pytestconfig.getoption("target") or os.environ.get("SUITE_TARGET")
    return Path(named) if named else local_env_file()


@pytest.fixture(scope="session")
def infra_target(pytestconfig, target_env_path) -> Target:
    """The target's configuration only (never starts the local stack)."""
    local = target_env_path == local_env_file()
    if not target_env_path.exists() and local:
        pytest.skip(f"{target_env_path} does not exist yet (created by `make env` / `make up`)")
    try:
        tgt = Target.local() if local else load(str(target_env_path))
    except TargetConfigError as exc:
        pytest.fail(f"target configuration: {exc}", pytrace=False)
    redaction.register(*tgt.secrets())
    return tgt


# promtool: check config, check rules, test rules (one container start for the three)
PROMTOOL_COMMANDS = [
    # --syntax-only: the targets and secrets files it names exist only in the container
    ["promtool", "check", "config", "--syntax-only", "prometheus.yml"],
    ["promtool", "check", "rules", *(f"rules/{f.name}" for f in mon.rule_files())],
    ["promtool", "test", "rules", *(f"tests/{f.name}" for f in mon.rule_test_files())],
]
ROUTE_CASES = mon.route_cases()
AMTOOL_CONFIG = "alertmanager.yml"
# amtool: the config, then one `routes test --verify.receivers` per routes-test.txt line
AMTOOL_COMMANDS = [["amtool", "check-config", AMTOOL_CONFIG]] + [
    ["amtool", "config", "routes", "test", f"--config.file={AMTOOL_CONFIG}",
     f"--verify.receivers={expected}", *labels] for _, expected, labels in ROUTE_CASES]
TOOL_COMMANDS = {"promtool": PROMTOOL_COMMANDS, "amtool": AMTOOL_COMMANDS}
_runs = pytest.StashKey[dict]()


def pytest_collection_finish(session):
    """Start each tool's batch when a collected test uses its fixture: promtool's unit tests
    take seconds of CPU, which then overlap the live checks instead of adding to them."""
    used = {name for item in session.items for name in getattr(item, "fixturenames", ())}
    session.config.stash[_runs] = {tool: tools.start_batch(tool, commands)
                                   for tool, commands in TOOL_COMMANDS.items() if tool in used}


def tool_results(config, tool: str) -> list:
    """The batch's results (waiting for it); skips the tests when the tool is unavailable."""
    run = config.stash.get(_runs, {}).get(tool) or tools.start_batch(tool, TOOL_COMMANDS[tool])
    try:
        return run.result()
    except tools.ToolUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def promtool(pytestconfig):
    config, check, test = tool_results(pytestconfig, "promtool")
    return {"config": config, "check": check, "test": test}


@pytest.fixture(scope="session")
def amtool(pytestconfig):
    results = tool_results(pytestconfig, "amtool")
    return {"check": results[0], "routes": dict(zip((n for n, _, _ in ROUTE_CASES), results[1:]))}
