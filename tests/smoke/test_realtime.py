"""Realtime through the gateway: connect, join, heartbeat, broadcast, presence and
postgres changes under RLS (Phoenix channels, vsn 1.0.0)."""
import time

import pytest

from suite.clients import RealtimeRefused, RealtimeSocket
from suite.thresholds import LIMITS

DELIVERY = LIMITS.smoke.realtime_delivery_s


@pytest.fixture
def socket_pair(target):
    first, second = RealtimeSocket(target), RealtimeSocket(target)
    yield first, second
    first.close()
    second.close()


def joined(sock, topic, config, token=None):
    ref, reply = sock.join(topic, config, access_token=token)
    assert reply is not None, f"no phx_reply to phx_join on {topic}"
    assert reply["payload"]["status"] == "ok", f"join {topic}: {reply['payload']}"
    return ref, reply


def test_handshake_without_apikey_is_refused(target):
    """Catches: the websocket route open without key-auth."""
    with pytest.raises(RealtimeRefused) as refused:
        RealtimeSocket(target, apikey="not-a-key-of-this-stack")
    assert refused.value.status == 401


def test_join_and_heartbeat(target, run_id):
    """Catches: websocket upgrade broken in the gateway, realtime down, or heartbeats unanswered
    (clients would reconnect every 60 s)."""
    sock = RealtimeSocket(target)
    try:
        joined(sock, f"realtime:{run_id}-hb", {"broadcast": {"self": False}})
        ref = sock.send("phoenix", "heartbeat", {})
        reply = sock.reply(ref, DELIVERY)
        assert reply is not None, "no reply to heartbeat"
        assert reply["topic"] == "phoenix" and reply["payload"]["status"] == "ok"
    finally:
        sock.close()


def test_broadcast_round_trip_with_ack(socket_pair, run_id):
    """Catches: broadcast fan-out broken, ack not sent, or `self: false` ignored."""
    sender, receiver = socket_pair
    topic = f"realtime:{run_id}-broadcast"
    join_ref, _ = joined(sender, topic, {"broadcast": {"self": False, "ack": True}})
    joined(receiver, topic, {"broadcast": {"self": False}})
    sent_at = time.time()
    ref = sender.send(topic, "broadcast", {"type": "broadcast", "event": "ping",
                                           "payload": {"sent_at": sent_at, "run": run_id}}, join_ref=join_ref)
    ack = sender.reply(ref, DELIVERY)
    assert ack is not None and ack["payload"]["status"] == "ok", f"no ack for broadcast: {ack}"
    got = receiver.wait_for(lambda m: m["event"] == "broadcast" and m["topic"] == topic, DELIVERY)
    assert got is not None, f"broadcast not delivered within {DELIVERY} s"
    assert got["payload"]["event"] == "ping" and got["payload"]["payload"]["run"] == run_id
    echo = sender.wait_for(lambda m: m["event"] == "broadcast", 0.5)
    assert echo is None, "sender received its own broadcast although self is false"


def test_presence_seen_by_second_client(socket_pair, run_id):
    """Catches: presence not tracked or not fanned out (online indicators stay empty)."""
    tracker, watcher = socket_pair
    topic = f"realtime:{run_id}-presence"
    join_ref, _ = joined(tracker, topic, {"presence": {"key": "tracker"}})
    joined(watcher, topic, {"presence": {"key": "watcher"}})
    tracker.send(topic, "presence", {"type": "presence", "event": "track", "payload": {"status": "online"}},
                 join_ref=join_ref)

    def shows_tracker(m):
        if m["topic"] != topic or m["event"] not in ("presence_state", "presence_diff"):
            return False
        entries = m["payload"] if m["event"] == "presence_state" else m["payload"].get("joins", {})
        return "tracker" in entries

    seen = watcher.wait_for(shows_tracker, DELIVERY)
    assert seen is not None, f"watcher did not see the tracked presence within {DELIVERY} s"


def test_insert_delivered_to_owner_and_not_to_other_user(target, as_a, user_a, user_b, world):
    """Catches: the table dropped from publication supabase_realtime (no events), or changes
    delivered without the RLS check (another user receives private rows)."""
    owner, other = RealtimeSocket(target), RealtimeSocket(target)
    try:
        room = f"{world.tag}-live"  # a room of its own: no row written before the subscription
        topic = f"realtime:{room}"
        config = {"postgres_changes": [{"event": "INSERT", "schema": "public", "table": "messages",
                                        "filter": f"room=eq.{room}"}]}
        for sock, user in ((owner, user_a), (other, user_b)):
            joined(sock, topic, config, token=user.access_token)
            ready = sock.wait_for(lambda m: m["event"] == "system" and m["payload"].get("status") == "ok"
                                  and m["payload"].get("extension") == "postgres_changes", DELIVERY)
            assert ready is not None, "no 'Subscribed to PostgreSQL' system message"
        r = as_a.insert("messages", {"room": room, "body": f"{world.tag} live"})
        assert r.status_code == 201, r.text[:200]
        event = owner.wait_for(lambda m: m["event"] == "postgres_changes", DELIVERY)
        assert event is not None, f"INSERT not delivered to its owner within {DELIVERY} s"
        data = event["payload"]["data"]
        assert data["type"] == "INSERT" and data["table"] == "messages"
        assert data["record"]["body"] == f"{world.tag} live"
        leaked = other.wait_for(lambda m: m["event"] == "postgres_changes", LIMITS.smoke.realtime_silence_s)
        assert leaked is None, "a user without access to the row received it"
    finally:
        owner.close()
        other.close()
