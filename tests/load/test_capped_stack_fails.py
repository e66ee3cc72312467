"""The negative checks: a stack capped below the load, or one whose postgres changes never
arrive, must fail the run, naming the SLO."""
from __future__ import annotations

import pytest

from suite.faults import CATALOGUE, injected
from suite.locust_run import run_locust

pytestmark = [pytest.mark.destructive, pytest.mark.slow]


def test_realtime_capped_below_the_users_fails_a_short_run(stack, gateway, load_report):
    """Realtime limited to 3 users (TENANT_MAX_CONCURRENT_USERS) under the plain mix of 10 users
    for 15 s (`locust -f loadtests/ -u 10 -r 10 -t 15s`: 6 of them hold a WebSocket): catches a
    verdict that passes a stack refusing connections, even in the smallest run (the SLO must
    be named)."""
    with stack.changes() as changes:  # realtime recreated as configured however the run ends
        changes.recreate(["realtime"], env={"TENANT_MAX_CONCURRENT_USERS": "3"})
        code, result, _ = run_locust("capped", "loadtests/", 10, 10, 15)
    load_report("capped", result, expected="failed")
    assert code == 3, f"exit code {code} (3: SLOs breached) against a stack capped at 3 users"
    assert all(result["user_classes"].values()), f"a class ran no user: {result['user_classes']}"
    breached = "\n".join(result["verdict"]["breached"])
    assert "websocket connect failures" in breached and "connections held" in breached, breached


def test_unpublished_table_fails_the_run_on_postgres_changes(stack, gateway, load_report):
    """public.messages dropped from publication supabase_realtime while postgres-changes users
    insert and wait: catches a verdict that passes a run whose changes never arrive (their
    latency SLO would be judged over no samples)."""
    with injected(stack, [CATALOGUE["messages-unpublished"]]):
        code, result, _ = run_locust("pg-unpublished", "loadtests/ws_users.py", 30, 30, 20,
                                     env={"LOAD_WS_PG_USERS": "5", "LOAD_WS_PG_INSERT_S": "2",
                                          "LOAD_WS_PG_LOST_S": "4"})
    load_report("pg-unpublished", result, expected="failed")
    assert code != 0, "the run passed while no postgres change could be delivered"
    breached = "\n".join(result["verdict"]["breached"])
    assert "websocket postgres_changes samples" in breached or "postgres changes lost" in breached, breached
