"""WebSocket users through the gateway (Phoenix channels, vsn 1.0.0): one Locust user holds
one connection, joins its group's topic, sends heartbeats on a fixed timetable, publishes
broadcasts carrying their send time, and (some) track presence.

Settings: LOAD_WS_HEARTBEAT_S (25, as supabase-js), LOAD_WS_TOPIC_SIZE (100 connections
share a topic: fan-out per broadcast), LOAD_WS_BROADCAST_S (10: each topic's publisher
period), LOAD_WS_PRESENCE_EVERY (50: one connection in N tracks presence; 0 = none),
LOAD_WS_PRESENCE_S (20: trackers update their presence on this timetable, so the hold phase
has presence samples too, not only the ramp's first tracks),
LOAD_WS_CONNECT_SPREAD_S (1: random delay before connecting, so Locust's per-second spawn
burst does not become a connect storm)."""
from __future__ import annotations

import itertools
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import gevent  # noqa: E402
import websocket  # noqa: E402  (websocket-client: works under gevent, as Locust's Socket.IO user)
from locust import User, task  # noqa: E402

from loadtests import _hub  # noqa: E402
from loadtests._settings import integer, number, target  # noqa: E402

HEARTBEAT_S = number("LOAD_WS_HEARTBEAT_S", 25, minimum=0.1)
TOPIC_SIZE = integer("LOAD_WS_TOPIC_SIZE", 100, minimum=1)
BROADCAST_S = number("LOAD_WS_BROADCAST_S", 10, minimum=0.1)
PRESENCE_EVERY = integer("LOAD_WS_PRESENCE_EVERY", 50)
PRESENCE_S = number("LOAD_WS_PRESENCE_S", 20, minimum=0.1)
SPREAD_S = number("LOAD_WS_CONNECT_SPREAD_S", 1)
_index = itertools.count()


class Dropped(Exception):
    """The server or the path closed an established connection."""


class WebSocketUser(User):
    abstract = False

    def on_start(self) -> None:
        self.n = next(_index)
        self.topic = f"realtime:load-{_hub.PROCESS}-{self.n // TOPIC_SIZE}"
        self.publisher = self.n % TOPIC_SIZE == 0
        self.presence_key = f"p{self.n}" if PRESENCE_EVERY and self.n % PRESENCE_EVERY == 1 else ""
        self.refs = itertools.count(1)
        self.pending: dict[str, tuple[str, float]] = {}  # ref -> (message type, scheduled send time)
        self.ws = None

    def url(self) -> str:
        tgt = target()
        return f"{tgt.url('gateway').replace('http', 'ws', 1)}/realtime/v1/websocket?apikey={tgt.anon_key}&vsn=1.0.0"

    def send(self, topic: str, event: str, payload: dict, kind: str | None = None,
             scheduled: float | None = None) -> None:
        ref = str(next(self.refs))
        if kind:
            self.pending[ref] = (kind, scheduled or time.time())
        self.ws.send(json.dumps({"topic": topic, "event": event, "payload": payload, "ref": ref,
                                 "join_ref": self.join_ref if topic == self.topic else None}))

    @task
    def hold(self) -> None:
        gevent.sleep(random.uniform(0, SPREAD_S))  # spreads connects over the second (see docstring)
        if not _hub.reserve_descriptor():
            _hub.BOOK.count("ws connect failed")
            self.environment.events.request.fire(
                request_type="WS", name="ws connect", response_time=0, response_length=0, context={},
                exception=RuntimeError("generator open-file budget exhausted: add --processes or workers"))
            gevent.sleep(HEARTBEAT_S)
            return
        try:
            self._connect_and_hold()
        finally:
            _hub.release_descriptor()
            if self.ws is not None:
                _hub.held(-1)
                self.ws.close(timeout=0)
                self.ws = None

    def _connect_and_hold(self) -> None:
        t0 = time.time()
        try:
            self.ws = websocket.create_connection(self.url(), timeout=15, skip_utf8_validation=True,
                                                  enable_multithread=False)
        except Exception as exc:  # noqa: BLE001 - every handshake failure is a connect failure
            _hub.BOOK.count("ws connect failed")
            self.environment.events.request.fire(request_type="WS", name="ws connect",
                                                 response_time=(time.time() - t0) * 1000, response_length=0,
                                                 context={}, exception=exc)
            gevent.sleep(1)  # a refused user retries once a second, not in a tight loop
            return
        connected = time.time()
        _hub.held(+1)
        _hub.BOOK.add("ws connect", (connected - t0) * 1000, connected)
        self.environment.events.request.fire(request_type="WS", name="ws connect",
                                             response_time=(connected - t0) * 1000, response_length=0,
                                             context={}, exception=None)
        self.join_ref = str(next(self.refs))
        config = {"broadcast": {"self": False, "ack": False}, "presence": {"key": self.presence_key}}
        self.pending[self.join_ref] = ("join", time.time())
        self.ws.send(json.dumps({"topic": self.topic, "event": "phx_join", "payload": {"config": config},
                                 "ref": self.join_ref, "join_ref": self.join_ref}))
        # Fixed timetables: a slow reply never delays the next send (no coordinated omission).
        next_beat = connected + random.uniform(0, HEARTBEAT_S)
        next_pub = connected + random.uniform(0, BROADCAST_S) if self.publisher else float("inf")
        track_at = connected if self.presence_key else float("inf")
        joined = False
        while True:
            now = time.time()
            due = min(next_beat, next_pub, track_at if joined else float("inf"))
            if due <= now:
                if due == next_beat:
                    self.send("phoenix", "heartbeat", {}, "heartbeat", next_beat)
                    next_beat += HEARTBEAT_S
                elif due == next_pub:
                    payload = {"type": "broadcast", "event": "load", "payload": {"t": time.time()}}
                    self.send(self.topic, "broadcast", payload)
                    next_pub += BROADCAST_S
                else:
                    self.track_sent = time.time()
                    self.send(self.topic, "presence", {"type": "presence", "event": "track",
                                                       "payload": {"t": self.track_sent}})
                    track_at += PRESENCE_S
                continue
            self.ws.settimeout(due - now)
            try:
                raw = self.ws.recv()
            except websocket.WebSocketTimeoutException:
                continue
            except Exception as exc:  # noqa: BLE001 - closed, reset: the connection is gone
                if not _hub.STATE["stopping"]:
                    _hub.BOOK.count("ws dropped")
                    self.environment.events.request.fire(request_type="WS", name="ws dropped", response_time=0,
                                                         response_length=0, context={},
                                                         exception=Dropped(type(exc).__name__))
                return
            if not raw:
                continue
            joined |= self.handle(json.loads(raw), time.time())

    def handle(self, msg: dict, now: float) -> bool:
        """Record what the message measures; True when it is our join's ok reply."""
        event = msg.get("event")
        if event == "phx_reply":
            kind, sent = self.pending.pop(msg.get("ref"), (None, 0))
            if kind:
                ok = msg.get("payload", {}).get("status") == "ok"
                if ok:
                    _hub.BOOK.add(f"ws {kind}", (now - sent) * 1000, now)
                else:
                    _hub.BOOK.count(f"ws {kind} refused")
                    self.environment.events.request.fire(
                        request_type="WS", name=f"ws {kind}", response_time=(now - sent) * 1000, response_length=0,
                        context={}, exception=RuntimeError(str(msg.get("payload"))[:200]))
                return kind == "join" and ok
        elif event == "broadcast":
            sent = msg.get("payload", {}).get("payload", {}).get("t")
            if sent:
                _hub.BOOK.add("ws broadcast", (now - sent) * 1000, now)
        elif event == "presence_diff" and self.presence_key:
            if self.presence_key in msg.get("payload", {}).get("joins", {}) and getattr(self, "track_sent", None):
                _hub.BOOK.add("ws presence", (now - self.track_sent) * 1000, now)
                self.track_sent = None
        elif event in ("phx_error", "phx_close", "system") and msg.get("payload", {}).get("status") == "error":
            _hub.BOOK.count("ws channel errors")
        return False
