"""The negative checks: a stack capped below the load, or one whose postgres changes never
arrive, must fail the run, naming the SLO."""
from __future__ import annotations

import pytest

from suite import stack
from suite.faults import CATALOGUE, LocalStack, injected
from suite.target import ROOT
from suite.waiting import poll

from test_capacity import run_locust

pytestmark = [pytest.mark.destructive, pytest.mark.slow]
COMPOSE = [str(stack.COMPOSE_BINARY), "--project-directory", "stack"]


def _recreate_realtime(target, env_file, extra_env: dict):
    import os
    import subprocess
    files = ["-f", "stack/compose.yaml", "-f", "stack/compose.local.yaml"]
    subprocess.run([*COMPOSE, "--env-file", str(env_file), *files, "up", "-d", "--no-deps", "--wait", "realtime"],
                   cwd=ROOT, env={**os.environ, **extra_env}, check=True, capture_output=True, timeout=180)
    poll(lambda: stack.running(target.compose_project, "realtime"), what="realtime running again",
         timeout=60, service="realtime", target=target)


def test_realtime_capped_at_200_users_fails_the_run(target, gateway):
    """Realtime limited to 200 users (TENANT_MAX_CONCURRENT_USERS) under 400 WebSocket users:
    catches a verdict that passes a stack refusing connections (the SLO must be named)."""
    if not target.is_local:
        pytest.skip("recreates realtime: local stack only")
    from suite.target import local_env_file
    env_file = local_env_file()
    _recreate_realtime(target, env_file, {"TENANT_MAX_CONCURRENT_USERS": "200"})
    try:
        code, result, _ = run_locust("capped", "loadtests/ws_users.py", 400, 200, 15, env={"LOAD_WS_PG_USERS": "0"})
    finally:
        _recreate_realtime(target, env_file, {})
    assert code != 0, "the run passed against a stack capped at 200 users"
    breached = "\n".join(result["verdict"]["breached"])
    assert "websocket connect failures" in breached and "connections held" in breached, breached


def test_unpublished_table_fails_the_run_on_postgres_changes(target, gateway):
    """public.messages dropped from publication supabase_realtime while postgres-changes users
    insert and wait: catches a verdict that passes a run whose changes never arrive (their
    latency SLO would be judged over no samples)."""
    if not target.is_local:
        pytest.skip("alters the database's publication: local stack only")
    with injected(LocalStack(target), [CATALOGUE["messages-unpublished"]]):
        code, result, _ = run_locust("pg-unpublished", "loadtests/ws_users.py", 30, 30, 20,
                                     env={"LOAD_WS_PG_USERS": "5", "LOAD_WS_PG_INSERT_S": "2",
                                          "LOAD_WS_PG_LOST_S": "4"})
    assert code != 0, "the run passed while no postgres change could be delivered"
    breached = "\n".join(result["verdict"]["breached"])
    assert "websocket postgres_changes samples" in breached or "postgres changes lost" in breached, breached
