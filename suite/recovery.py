"""Checks shared by the restore and lifecycle tests: the whole stack healthy, and the
stack's promises (sign-in, API rows, realtime changes) kept after a fault."""
from __future__ import annotations

from .clients import Gateway, RealtimeSocket
from .stack import Stack
from .target import Target
from .thresholds import LIMITS
from .waiting import poll


def wait_all_healthy(target: Target, timeout: float, what: str) -> None:
    """Every service of the local stack running and (where it has a healthcheck) healthy,
    and the gateway answering."""
    stack = Stack(target)
    names = list(stack.services())

    def all_healthy():
        now = stack.services()
        bad = {s: now.get(s) for s in names if now.get(s) not in ("running/healthy", "running")}
        if bad:
            raise AssertionError(f"not healthy: {bad}")
        return True
    poll(all_healthy, what=f"{what}: every service healthy", timeout=timeout, interval=1)
    gw = Gateway(target)
    poll(lambda: gw.get("/rest/v1/announcements?limit=1").status_code == 200,
         what=f"{what}: REST through the gateway", timeout=timeout, interval=1)


def realtime_change_delivered(target: Target, gateway: Gateway, user, tag: str) -> None:
    """A postgres_changes subscriber (the user, under RLS) receives the user's new message:
    the realtime service reads the database's logical replication slot again."""
    sock = RealtimeSocket(target)
    try:
        topic = f"realtime:{tag}"
        _, reply = sock.join(topic, {"postgres_changes": [{"event": "INSERT", "schema": "public",
                                                            "table": "messages", "filter": f"room=eq.{tag}"}]},
                             access_token=user.access_token)
        assert reply and reply["payload"]["status"] == "ok", f"postgres_changes join refused: {reply}"
        sub = sock.wait_for(lambda m: m.get("event") == "system", LIMITS.smoke.realtime_join_s)
        assert sub and sub["payload"].get("status") == "ok", f"no 'Subscribed to PostgreSQL': {sub}"
        r = gateway.post("/rest/v1/messages", token=user.access_token, json={"room": tag, "body": f"{tag} after"},
                         headers={"Prefer": "return=minimal"})
        assert r.status_code == 201, f"insert message: HTTP {r.status_code} {r.text[:200]}"
        got = sock.wait_for(lambda m: m.get("event") == "postgres_changes", LIMITS.smoke.realtime_delivery_s * 2)
        assert got is not None, "realtime delivered no postgres change after the fault (replication slot lost?)"
        assert got["payload"]["data"]["record"]["room"] == tag
    finally:
        sock.close()
