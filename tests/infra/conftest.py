"""Infra fixtures: the repository's configs resolved with a generated env file, and the
target read without bringing anything up (file checks need no running stack)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from suite import redaction
from suite.checks import compose
from suite.target import Target, TargetConfigError, load, local_env_file


@pytest.fixture(scope="session")
def test_env(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    path = tmp_path_factory.mktemp("infra") / "test.env"
    values = compose.write_test_env(path)
    redaction.register(*(v for k, v in values.items() if k in
                         ("POSTGRES_PASSWORD", "JWT_SECRET", "ANON_KEY", "SERVICE_ROLE_KEY", "REDIS_PASSWORD")))
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
