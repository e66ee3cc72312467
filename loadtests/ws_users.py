"""WebSocket users through the gateway (Phoenix channels, vsn 1.0.0): one Locust user holds
one connection, joins its group's topic, sends heartbeats on a fixed timetable, publishes
broadcasts carrying their send time, and (some) track presence.

Settings: LOAD_WS_HEARTBEAT_S (25, as supabase-js), LOAD_WS_TOPIC_SIZE (100 connections
share a topic: fan-out per broadcast), LOAD_WS_BROADCAST_S (10: each topic's publisher
period), LOAD_WS_PRESENCE_EVERY (50: one connection in N tracks presence; 0 = none),
LOAD_WS_PRESENCE_S (20: trackers update their presence on this timetable, so the hold phase
has presence samples too, not only the ramp's first tracks),
LOAD_WS_CONNECT_SPREAD_S (1: random delay before connecting, so Locust's per-second spawn
burst does not become a connect storm).

PostgresChangesUser (one user in 10 of the run, at most LOAD_WS_PG_USERS, default 20; 0 = none;
the mix: _mix.py; they connect once the ramp is over): a signed-in account subscribed to
INSERTs on its own room of public.messages (RLS: owner only), inserting a row through REST every LOAD_WS_PG_INSERT_S
(10) on a fixed timetable; each insert's event is timed from the insert's send
("ws postgres_changes"), and one not delivered within LOAD_WS_PG_LOST_S (15) counts as lost."""
from __future__ import annotations

import itertools
import json
import random
import sys
import time
from pathlib import Path

# `locust -f` imports this file by path, with only its own folder on sys.path: the
# repository root makes the packages `loadtests` and `suite` importable.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import gevent  # noqa: E402
import websocket  # noqa: E402  (websocket-client: works under gevent, as Locust's Socket.IO user)
from locust import User, task  # noqa: E402

from loadtests import _hub  # noqa: E402
from loadtests._accounts import RUN, account  # noqa: E402
from loadtests._settings import integer, number, target  # noqa: E402
from suite.clients import Gateway  # noqa: E402

HEARTBEAT_S = number("LOAD_WS_HEARTBEAT_S", 25, minimum=0.1)
TOPIC_SIZE = integer("LOAD_WS_TOPIC_SIZE", 100, minimum=1)
BROADCAST_S = number("LOAD_WS_BROADCAST_S", 10, minimum=0.1)
PRESENCE_EVERY = integer("LOAD_WS_PRESENCE_EVERY", 50)
PRESENCE_S = number("LOAD_WS_PRESENCE_S", 20, minimum=0.1)
SPREAD_S = number("LOAD_WS_CONNECT_SPREAD_S", 1)
PG_USERS = integer("LOAD_WS_PG_USERS", 20)
PG_INSERT_S = number("LOAD_WS_PG_INSERT_S", 10, minimum=0.5)
PG_LOST_S = number("LOAD_WS_PG_LOST_S", 15, minimum=1)
_index = itertools.count()


class Dropped(Exception):
    """The server or the path closed an established connection."""


class WebSocketUser(User):
    abstract = False
    mix_bulk = True  # the connection count: the run's users left after the bounded classes (_mix)
    holds_websocket = True  # counted in the connections the run must hold (_hub)
    produces = ("connect", "join", "heartbeat")  # message types every run of it measures (_verdict)

    def on_start(self) -> None:
        self.load_run = _hub.run()
        self.n = next(_index)
        self.topic = f"realtime:load-{_hub.PROCESS}-{self.n // TOPIC_SIZE}"
        self.publisher = self.n % TOPIC_SIZE == 0
        self.presence_key = f"p{self.n}" if PRESENCE_EVERY and self.n % PRESENCE_EVERY == 1 else ""
        self.refs = itertools.count(1)
        self.pending: dict[str, tuple[str, float]] = {}  # ref -> (message type, scheduled send time)
        self.ws = None
        self.next_insert = float("inf")  # PostgresChangesUser: set once subscribed

    def join_payload(self) -> dict:
        return {"config": {"broadcast": {"self": False, "ack": False}, "presence": {"key": self.presence_key}}}

    def subscribed(self, now: float) -> None:
        """The server confirmed the postgres_changes subscription (PostgresChangesUser)."""

    def insert(self) -> None:
        """Insert a row whose change this user awaits (PostgresChangesUser)."""

    def changed(self, record: dict, now: float) -> None:
        """A postgres_changes event arrived (PostgresChangesUser)."""

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

    def before_connect(self) -> None:
        """Work a user does before its connection (PostgresChangesUser: its account)."""

    @task
    def hold(self) -> None:
        self.before_connect()
        gevent.sleep(random.uniform(0, SPREAD_S))  # spreads connects over the second (see docstring)
        if not _hub.reserve_descriptor():
            self.load_run.book.count("ws connect failed")
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
                self.load_run.held(-1)
                self.ws.close(timeout=0)
                self.ws = None

    def _connect_and_hold(self) -> None:
        t0 = time.time()
        try:
            self.ws = websocket.create_connection(self.url(), timeout=15, skip_utf8_validation=True,
                                                  enable_multithread=False)
        except Exception as exc:  # noqa: BLE001 - every handshake failure is a connect failure
            self.load_run.book.count("ws connect failed")
            self.environment.events.request.fire(request_type="WS", name="ws connect",
                                                 response_time=(time.time() - t0) * 1000, response_length=0,
                                                 context={}, exception=exc)
            gevent.sleep(1)  # a refused user retries once a second, not in a tight loop
            return
        connected = time.time()
        self.load_run.held(+1, connected)
        self.load_run.book.add("ws connect", (connected - t0) * 1000, connected)
        self.environment.events.request.fire(request_type="WS", name="ws connect",
                                             response_time=(connected - t0) * 1000, response_length=0,
                                             context={}, exception=None)
        self.join_ref = str(next(self.refs))
        self.pending[self.join_ref] = ("join", time.time())
        self.ws.send(json.dumps({"topic": self.topic, "event": "phx_join", "payload": self.join_payload(),
                                 "ref": self.join_ref, "join_ref": self.join_ref}))
        # Fixed timetables: a slow reply never delays the next send (no coordinated omission).
        next_beat = connected + random.uniform(0, HEARTBEAT_S)
        next_pub = connected + random.uniform(0, BROADCAST_S) if self.publisher else float("inf")
        track_at = connected if self.presence_key else float("inf")
        joined = False
        while True:
            now = time.time()
            due = min(next_beat, next_pub, track_at if joined else float("inf"), self.next_insert)
            if due <= now:
                if due == next_beat:
                    self.send("phoenix", "heartbeat", {}, "heartbeat", next_beat)
                    next_beat += HEARTBEAT_S
                elif due == self.next_insert:
                    self.insert()
                    self.next_insert += PG_INSERT_S
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
                if not self.load_run.stopping:
                    self.load_run.book.count("ws dropped")
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
                    self.load_run.book.add(f"ws {kind}", (now - sent) * 1000, now)
                else:
                    self.load_run.book.count(f"ws {kind} refused")
                    self.environment.events.request.fire(
                        request_type="WS", name=f"ws {kind}", response_time=(now - sent) * 1000, response_length=0,
                        context={}, exception=RuntimeError(str(msg.get("payload"))[:200]))
                return kind == "join" and ok
        elif event == "broadcast":
            sent = msg.get("payload", {}).get("payload", {}).get("t")
            if sent:
                self.load_run.book.add("ws broadcast", (now - sent) * 1000, now)
        elif event == "presence_diff" and self.presence_key:
            if self.presence_key in msg.get("payload", {}).get("joins", {}) and getattr(self, "track_sent", None):
                self.load_run.book.add("ws presence", (now - self.track_sent) * 1000, now)
                self.track_sent = None
        elif event == "postgres_changes":
            self.changed(msg.get("payload", {}).get("data", {}).get("record") or {}, now)
        elif (event == "system" and msg.get("payload", {}).get("extension") == "postgres_changes"
              and msg.get("payload", {}).get("status") == "ok"):
            self.subscribed(now)
        elif event in ("phx_error", "phx_close", "system") and msg.get("payload", {}).get("status") == "error":
            self.load_run.book.count("ws channel errors")
        return False


class PostgresChangesUser(WebSocketUser):
    """Heartbeats like every user, plus: subscribed to INSERTs on its own room of
    public.messages with its account's JWT (the database's RLS decides what it may see),
    inserting a row through REST on a fixed timetable and timing the row's event."""
    abstract = PG_USERS == 0  # none wanted: leave the class out
    mix_bulk = False
    mix_parts, mix_cap = 1, PG_USERS  # one user in 10, at most LOAD_WS_PG_USERS (_mix)
    produces = (*WebSocketUser.produces, "postgres_changes")

    def on_start(self) -> None:
        super().on_start()
        self.topic = f"realtime:load-pg-{_hub.PROCESS}-{self.n}"
        self.publisher, self.presence_key = False, ""
        self.account = None
        self.room = f"{RUN}-{_hub.PROCESS}-{self.n}"
        self.gateway = Gateway(target())
        self.inserts: dict[str, float] = {}  # row body -> insert send time

    def before_connect(self) -> None:
        # After the ramp: an account costs a bcrypt or two in auth, which would tax the
        # ramp's handshakes on a small box; these few users join the hold instead.
        self.load_run.ramped.wait()
        if self.account is None:
            self.account = account()

    def join_payload(self) -> dict:
        payload = super().join_payload()
        payload["config"]["postgres_changes"] = [{"event": "INSERT", "schema": "public", "table": "messages",
                                                  "filter": f"room=eq.{self.room}"}]
        payload["access_token"] = self.account.access_token
        return payload

    def subscribed(self, now: float) -> None:
        if self.next_insert == float("inf"):  # the first insert soon: short runs measure too
            self.next_insert = now + random.uniform(0, min(PG_INSERT_S, 2))

    def insert(self) -> None:
        now = time.time()
        for body, sent in list(self.inserts.items()):
            if now - sent > PG_LOST_S:
                del self.inserts[body]
                self.load_run.book.count("ws postgres_changes lost")
        body = f"{self.room}-{next(self.refs)}"
        self.inserts[body] = now
        gevent.spawn(self._post, body)  # the socket keeps being read while REST answers

    def _post(self, body: str) -> None:
        t0 = time.time()
        try:
            r = self.gateway.post("/rest/v1/messages", token=self.account.access_token,
                                  json={"room": self.room, "body": body}, headers={"Prefer": "return=minimal"})
            error = None if r.status_code == 201 else f"HTTP {r.status_code} {r.text[:200]}"
        except Exception as exc:  # noqa: BLE001 - unreachable gateway, timeout: a failed insert
            error = str(exc)[:200]
        if error:
            self.inserts.pop(body, None)
            self.load_run.book.count("ws postgres_changes insert failed")
            self.environment.events.request.fire(
                request_type="WS", name="ws postgres_changes insert", response_time=(time.time() - t0) * 1000,
                response_length=0, context={}, exception=RuntimeError(error))

    def changed(self, record: dict, now: float) -> None:
        sent = self.inserts.pop(record.get("body"), None)
        if sent is not None:
            self.load_run.book.add("ws postgres_changes", (now - sent) * 1000, now)
