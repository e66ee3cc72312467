"""The official Supabase Python Realtime client (`realtime`, as `supabase` uses it) against
the stack, through the gateway: broadcast, presence, and postgres changes under RLS.

The smoke layer checks the wire protocol with a minimal client; this checks that the
library applications actually use accepts every reply the stack sends (join replies,
presence shapes, postgres_changes ids and payloads). Non-destructive: its users, rows and
channels live in the run's namespace and are removed afterwards.
"""
from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

import pytest
from realtime import AsyncRealtimeClient, RealtimeSubscribeStates

from suite.thresholds import LIMITS

JOIN = LIMITS.smoke.realtime_join_s
DELIVERY = LIMITS.smoke.realtime_delivery_s
SILENCE = LIMITS.smoke.realtime_silence_s


@asynccontextmanager
async def official_client(target, access_token: str | None = None):
    """The official client on ws://<gateway>/realtime/v1 with the anon key, signed in as a
    user when `access_token` is given (what supabase-py does after sign-in)."""
    client = AsyncRealtimeClient(f"{target.url('gateway')}/realtime/v1", target.anon_key,
                                 auto_reconnect=False, max_retries=1, timeout=int(JOIN))
    await client.connect()
    if access_token:
        await client.set_auth(access_token)
    try:
        yield client
    finally:
        await client.close()


async def subscribed(channel):
    """Subscribe and require SUBSCRIBED (not CHANNEL_ERROR / TIMED_OUT)."""
    states: list = []
    await asyncio.wait_for(channel.subscribe(lambda state, err: states.append((state, err))), JOIN)
    assert states and states[-1][0] == RealtimeSubscribeStates.SUBSCRIBED, \
        f"join of {channel.topic} ended in {states}"
    return channel


async def first(future: asyncio.Future, what: str, timeout: float = DELIVERY):
    try:
        return await asyncio.wait_for(future, timeout)
    except asyncio.TimeoutError:
        raise AssertionError(f"{what}: nothing within {timeout:g} s") from None


def resolve(future: asyncio.Future, value) -> None:
    if not future.done():
        future.set_result(value)


def test_broadcast_reaches_second_client(target, user_a, user_b, run_id):
    """Catches: the gateway not upgrading /realtime/v1/websocket, the stand-in's join reply
    or broadcast frames in a shape the official client rejects, or fan-out broken."""
    async def flow():
        topic = f"{run_id}-official-broadcast"
        async with official_client(target, user_a.access_token) as a, \
                official_client(target, user_b.access_token) as b:
            got = asyncio.get_running_loop().create_future()
            receiver = b.channel(topic, {"config": {"broadcast": {"self": False}}})
            receiver.on_broadcast("greeting", lambda payload: resolve(got, payload))
            await subscribed(receiver)
            sender = await subscribed(a.channel(topic, {"config": {"broadcast": {"self": False, "ack": True}}}))
            await sender.send_broadcast("greeting", {"run": run_id, "text": "hello"})
            payload = await first(got, f"broadcast on {topic}")
            assert payload["event"] == "greeting"
            assert payload["payload"]["run"] == run_id and payload["payload"]["text"] == "hello"
    asyncio.run(flow())


def test_presence_tracked_by_one_is_seen_by_another(target, user_a, user_b, run_id):
    """Catches: presence track not accepted, or presence_state / presence_diff not sent or
    not in Phoenix.Presence's shape (the client's presence_state() stays empty)."""
    async def flow():
        topic = f"{run_id}-official-presence"
        async with official_client(target, user_a.access_token) as a, \
                official_client(target, user_b.access_token) as b:
            seen = asyncio.get_running_loop().create_future()
            watcher = b.channel(topic, {"config": {"presence": {"key": "watcher"}}})

            def on_sync():
                if "tracker" in watcher.presence_state():
                    resolve(seen, watcher.presence_state()["tracker"])
            watcher.on_presence_sync(on_sync)
            await subscribed(watcher)
            tracker = a.channel(topic, {"config": {"presence": {"key": "tracker"}}})
            tracker.on_presence_sync(lambda: None)  # the client enables presence only with a callback
            await subscribed(tracker)
            await tracker.track({"status": "online", "run": run_id})
            metas = await first(seen, f"presence of 'tracker' on {topic}")
            assert any(m.get("status") == "online" and m.get("run") == run_id for m in metas), metas
    asyncio.run(flow())


def test_postgres_changes_follow_rls(target, user_a, user_b, as_a, as_service, run_id):
    """Catches: changes of public.messages not published (publication or wal2json slot
    broken), INSERT/UPDATE payloads the official client cannot parse, binding ids that do
    not match the join reply, and RLS ignored: user B must not see A's row."""
    room = f"{run_id}-official-changes"

    async def flow():
        loop = asyncio.get_running_loop()
        async with official_client(target, user_a.access_token) as a, \
                official_client(target, user_b.access_token) as b:
            events = {"a": [], "b": []}
            inserted, updated, leaked = loop.create_future(), loop.create_future(), loop.create_future()
            ready = {"a": loop.create_future(), "b": loop.create_future()}

            def on_change(who, payload):
                events[who].append(payload)
                if who == "a":
                    resolve(inserted if payload["data"]["type"] == "INSERT" else updated, payload["data"])
                else:
                    resolve(leaked, payload["data"])

            for who, client in (("a", a), ("b", b)):
                channel = client.channel(f"{room}-{who}")
                for event in ("INSERT", "UPDATE"):
                    channel.on_postgres_changes(event, lambda p, w=who: on_change(w, p), table="messages",
                                                schema="public", filter=f"room=eq.{room}")
                channel.on_system(lambda p, w=who: resolve(ready[w], p))
                await subscribed(channel)
            for who in ready:  # rows written before "Subscribed to PostgreSQL" may be missed
                await first(ready[who], f"system 'Subscribed to PostgreSQL' for user {who}", JOIN)

            r = await asyncio.to_thread(as_a.insert, "messages", {"room": room, "body": "first"})
            assert r.status_code == 201, f"insert as A: HTTP {r.status_code} {r.text[:300]}"
            row_id = r.json()[0]["id"]
            got = await first(inserted, "INSERT event for A's own row")
            assert got["table"] == "messages" and got["record"]["id"] == row_id
            assert got["record"]["body"] == "first" and got["record"]["owner_id"] == user_a.id

            r = await asyncio.to_thread(as_a.update, f"messages?id=eq.{row_id}", {"body": "second"})
            assert r.status_code == 200 and r.json(), f"update as A: HTTP {r.status_code} {r.text[:300]}"
            got = await first(updated, "UPDATE event for A's own row")
            assert got["record"]["id"] == row_id and got["record"]["body"] == "second"
            assert got["old_record"].get("body") == "first", "replica identity full: old row expected"

            # B subscribed to the same filter: its silence is the RLS check (A's events above
            # prove the changes were dispatched in the meantime). Ends early on a leak.
            done, _ = await asyncio.wait({leaked}, timeout=SILENCE)
            assert not done and events["b"] == [], f"user B received A's private rows: {events['b']}"
    try:
        asyncio.run(flow())
    finally:
        r = as_service.delete(f"messages?room=eq.{room}")
        assert r.status_code in (200, 204), f"cleanup of {room}: HTTP {r.status_code}"
