"""Soak runs outlive the token: signed-in load users refresh their sessions before the JWT
expires and send the new token on their channels, as supabase-js does."""
from __future__ import annotations

import pytest

from suite.locust_run import explain, run_locust

pytestmark = [pytest.mark.destructive, pytest.mark.slow]

EXPIRY_S = 20  # auth's JWT_EXPIRY for this run: the run lasts several lifetimes


def test_a_soak_run_longer_than_the_jwt_expiry_keeps_every_channel_and_insert(stack, gateway, load_report):
    """Auth recreated with JWT_EXPIRY=20 s, then the soak profile for 60 s (every class; the
    postgres-changes users insert every 2 s): catches load users, or a stack, whose sessions
    end at expiry (channels closed by the server with "Token has expired", inserts refused
    with 401, events lost) and a refresh the auth service refuses."""
    with stack.changes() as changes:  # auth comes back as configured however the run ends
        changes.recreate(["auth"], env={"JWT_EXPIRY": str(EXPIRY_S)})
        code, result, _ = run_locust("soak-refresh", "loadtests/", 20, 20, 3 * EXPIRY_S,
                                     "--config", "loadtests/runs/soak.conf", "--ws-pg-insert-s", "2")
    load_report("soak-refresh", result)
    assert code == 0 and result["verdict"]["passed"], f"SLOs breached:\n{explain(result)}"
    assert result["window"]["end"] - result["window"]["start"] > 2 * EXPIRY_S, result["window"]
    refreshes = result["api"].get("api auth session refresh", {})
    assert refreshes.get("requests", 0) >= 2 and refreshes["failures"] == 0, \
        f"sessions were not refreshed before their {EXPIRY_S} s tokens expired: {refreshes}"
    counters = result["counters"]
    for counter in ("ws channel errors", "ws postgres_changes insert failed", "ws postgres_changes lost"):
        assert not counters.get(counter), f"{counter}: {counters[counter]}\n{explain(result)}"
    assert result["websocket"]["postgres_changes"]["hold"]["count"] > 0, "no postgres change was timed"
