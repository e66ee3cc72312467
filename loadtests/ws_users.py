"""WebSocket users through the gateway (Phoenix channels, vsn 1.0.0): one Locust user holds
one connection, joins its group's topic, sends heartbeats on a fixed timetable, publishes
broadcasts carrying their send time, and (some) track presence.

Every measurement is recorded twice: as a raw sample for the verdict (_run.py) and as a
Locust request event of type WS named by message type and phase (`heartbeat [hold]`,
`connect [ramp]`, ...), so Locust's tables, CSV files and charts show each one over time.

Settings (`locust --help`, group "load scenarios"; each also an environment variable):
--ws-heartbeat-s (25, as supabase-js), --ws-topic-size (100 connections share a topic: the
fan-out per broadcast), --ws-broadcast-s (10: each topic's publisher period),
--ws-presence-every (50: one connection in N tracks presence; 0 = none), --ws-presence-s (20:
trackers update their presence on this timetable, so the hold has presence samples too),
--ws-connect-spread-s (1: random delay before connecting, so Locust's per-second spawn burst
does not become a connect storm).

PostgresChangesUser (one user in 10 of the run, at most --ws-pg-users, default 20; 0 = none;
the mix: _mix.py; they connect once the ramp is over): a signed-in account subscribed to
INSERTs on its own room of public.messages (RLS: owner only), inserting a row through REST
every --ws-pg-insert-s (10) on a fixed timetable; each insert's event is timed from the
insert's send, and one not delivered within --ws-pg-lost-s (15) counts as lost. Its session
is refreshed before the JWT expires and the new token sent on its channel (`access_token`),
as supabase-js does, so soak runs outlive the token."""
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
from loadtests._accounts import RUN, session  # noqa: E402
from loadtests._session import RETRY_S  # noqa: E402
from loadtests._settings import S, target  # noqa: E402
from suite.clients import Gateway  # noqa: E402

_index = itertools.count()


class Dropped(Exception):
    """The server or the path closed an established connection."""


class WebSocketUser(_hub.SetUp, User):
    abstract = False
    mix_bulk = True  # the connection count: the run's users left after the bounded classes (_mix)
    holds_websocket = True  # counted in the connections the run must hold (_hub)
    produces = ("connect", "join", "heartbeat")  # message types every run of it measures (_verdict)

    def on_start(self) -> None:
        self.load_run = _hub.run()
        self.n = next(_index)
        self.topic = f"realtime:load-{_hub.PROCESS}-{self.n // S.ws_topic_size}"
        self.publisher = self.n % S.ws_topic_size == 0
        self.presence_key = f"p{self.n}" if S.ws_presence_every and self.n % S.ws_presence_every == 1 else ""
        self.refs = itertools.count(1)
        self.pending: dict[str, tuple[str, float]] = {}  # ref -> (message type, scheduled send time)
        self.ws = None
        self.next_insert = float("inf")  # PostgresChangesUser: set once subscribed
        self.next_token = float("inf")   # PostgresChangesUser: its session's refresh time

    def join_payload(self) -> dict:
        return {"config": {"broadcast": {"self": False, "ack": False}, "presence": {"key": self.presence_key}}}

    def subscribed(self, now: float) -> None:
        """The server confirmed the postgres_changes subscription (PostgresChangesUser)."""

    def insert(self) -> None:
        """Insert a row whose change this user awaits (PostgresChangesUser)."""

    def changed(self, record: dict, now: float) -> None:
        """A postgres_changes event arrived (PostgresChangesUser)."""

    def renew_token(self) -> None:
        """Send the refreshed session's token on the channel (PostgresChangesUser)."""

    # ---- what is measured: the verdict's samples and Locust's request events ---------
    def measured(self, kind: str, ms: float, at: float) -> None:
        self.load_run.book.add(f"ws {kind}", ms, at)
        self.event(kind, ms)

    def failed(self, counter: str, kind: str, error: Exception, ms: float = 0) -> None:
        self.load_run.book.count(counter)
        self.event(kind, ms, error)

    def event(self, kind: str, ms: float, error: Exception | None = None) -> None:
        """One Locust request event, named by message type and phase (ramp, hold) so a
        connect storm never blurs the steady state in Locust's tables and charts."""
        phase = "hold" if self.load_run.ramped.is_set() else "ramp"
        self.environment.events.request.fire(request_type="WS", name=f"{kind} [{phase}]", response_time=ms,
                                             response_length=0, context={}, exception=error)

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
        gevent.sleep(random.uniform(0, S.ws_connect_spread_s))  # spreads connects over the second (docstring)
        if not _hub.reserve_descriptor():
            self.failed("ws connect failed", "connect",
                        RuntimeError("generator open-file budget exhausted: add --processes or workers"))
            gevent.sleep(S.ws_heartbeat_s)
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
            self.failed("ws connect failed", "connect", exc, (time.time() - t0) * 1000)
            gevent.sleep(1)  # a refused user retries once a second, not in a tight loop
            return
        connected = time.time()
        self.load_run.held(+1, connected)
        self.measured("connect", (connected - t0) * 1000, connected)
        self.join_ref = str(next(self.refs))
        self.pending[self.join_ref] = ("join", time.time())
        self.ws.send(json.dumps({"topic": self.topic, "event": "phx_join", "payload": self.join_payload(),
                                 "ref": self.join_ref, "join_ref": self.join_ref}))
        # Fixed timetables: a slow reply never delays the next send (no coordinated omission).
        heartbeat_s, broadcast_s, presence_s = S.ws_heartbeat_s, S.ws_broadcast_s, S.ws_presence_s
        next_beat = connected + random.uniform(0, heartbeat_s)
        next_pub = connected + random.uniform(0, broadcast_s) if self.publisher else float("inf")
        track_at = connected if self.presence_key else float("inf")
        joined = False
        while True:
            now = time.time()
            due = min(next_beat, next_pub, track_at if joined else float("inf"), self.next_insert, self.next_token)
            if due <= now:
                if due == next_beat:
                    self.send("phoenix", "heartbeat", {}, "heartbeat", next_beat)
                    next_beat += heartbeat_s
                elif due == self.next_token:
                    self.renew_token()
                elif due == self.next_insert:
                    self.insert()
                    self.next_insert += S.ws_pg_insert_s
                elif due == next_pub:
                    payload = {"type": "broadcast", "event": "load", "payload": {"t": time.time()}}
                    self.send(self.topic, "broadcast", payload)
                    next_pub += broadcast_s
                else:
                    self.track_sent = time.time()
                    self.send(self.topic, "presence", {"type": "presence", "event": "track",
                                                       "payload": {"t": self.track_sent}})
                    track_at += presence_s
                continue
            self.ws.settimeout(due - now)
            try:
                raw = self.ws.recv()
            except websocket.WebSocketTimeoutException:
                continue
            except Exception as exc:  # noqa: BLE001 - closed, reset: the connection is gone
                if not self.load_run.stopping:
                    self.failed("ws dropped", "connection", Dropped(type(exc).__name__))
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
                    self.measured(kind, (now - sent) * 1000, now)
                else:
                    self.failed(f"ws {kind} refused", kind, RuntimeError(str(msg.get("payload"))[:200]),
                                (now - sent) * 1000)
                return kind == "join" and ok
        elif event == "broadcast":
            sent = msg.get("payload", {}).get("payload", {}).get("t")
            if sent:
                self.measured("broadcast", (now - sent) * 1000, now)
        elif event == "presence_diff" and self.presence_key:
            if self.presence_key in msg.get("payload", {}).get("joins", {}) and getattr(self, "track_sent", None):
                self.measured("presence", (now - self.track_sent) * 1000, now)
                self.track_sent = None
        elif event == "postgres_changes":
            self.changed(msg.get("payload", {}).get("data", {}).get("record") or {}, now)
        elif (event == "system" and msg.get("payload", {}).get("extension") == "postgres_changes"
              and msg.get("payload", {}).get("status") == "ok"):
            self.subscribed(now)
        elif event in ("phx_error", "phx_close", "system") and msg.get("payload", {}).get("status") == "error":
            # the server closed the channel (an expired token, a refused subscription)
            self.failed("ws channel errors", "channel", RuntimeError(str(msg.get("payload"))[:200]))
        return False


class PostgresChangesUser(WebSocketUser):
    """Heartbeats like every user, plus: subscribed to INSERTs on its own room of
    public.messages with its account's JWT (the database's RLS decides what it may see),
    inserting a row through REST on a fixed timetable and timing the row's event."""
    mix_bulk = False
    mix_parts, mix_cap_setting = 1, "ws_pg_users"  # one user in 10, at most --ws-pg-users; 0: none (_mix)
    produces = (*WebSocketUser.produces, "postgres_changes")

    def on_start(self) -> None:
        super().on_start()
        self.topic = f"realtime:load-pg-{_hub.PROCESS}-{self.n}"
        self.publisher, self.presence_key = False, ""
        self.session = None
        self.room = f"{RUN}-{_hub.PROCESS}-{self.n}"
        self.gateway = Gateway(target())
        self.inserts: dict[str, float] = {}  # row body -> insert send time

    def before_connect(self) -> None:
        # After the ramp: an account costs a bcrypt or two in auth, which would tax the
        # ramp's handshakes on a small box; these few users join the hold instead.
        self.load_run.ramped.wait()
        if self.session is None:
            self.session = session()

    def join_payload(self) -> dict:
        payload = super().join_payload()
        payload["config"]["postgres_changes"] = [{"event": "INSERT", "schema": "public", "table": "messages",
                                                  "filter": f"room=eq.{self.room}"}]
        payload["access_token"] = self.session.token()
        self.next_token = self.session.refresh_at
        return payload

    def subscribed(self, now: float) -> None:
        if self.next_insert == float("inf"):  # the first insert soon: short runs measure too
            self.next_insert = now + random.uniform(0, min(S.ws_pg_insert_s, 2))

    def renew_token(self) -> None:
        self.send(self.topic, "access_token", {"access_token": self.session.token()})
        # a session whose refresh failed keeps its time: never resend in a tight loop
        self.next_token = max(self.session.refresh_at, time.time() + RETRY_S)

    def insert(self) -> None:
        now = time.time()
        for body, sent in list(self.inserts.items()):
            if now - sent > S.ws_pg_lost_s:
                del self.inserts[body]
                self.failed("ws postgres_changes lost", "postgres_changes",
                            RuntimeError(f"not delivered within {S.ws_pg_lost_s:g} s"), (now - sent) * 1000)
        body = f"{self.room}-{next(self.refs)}"
        self.inserts[body] = now
        gevent.spawn(self._post, body)  # the socket keeps being read while REST answers

    def _post(self, body: str) -> None:
        t0 = time.time()
        try:
            r = self.gateway.post("/rest/v1/messages", token=self.session.token(),
                                  json={"room": self.room, "body": body}, headers={"Prefer": "return=minimal"})
            error = None if r.status_code == 201 else f"HTTP {r.status_code} {r.text[:200]}"
        except Exception as exc:  # noqa: BLE001 - unreachable gateway, timeout: a failed insert
            error = str(exc)[:200]
        ms = (time.time() - t0) * 1000
        if error:
            self.inserts.pop(body, None)
            self.failed("ws postgres_changes insert failed", "postgres_changes insert", RuntimeError(error), ms)
        else:
            self.event("postgres_changes insert", ms)

    def changed(self, record: dict, now: float) -> None:
        sent = self.inserts.pop(record.get("body"), None)
        if sent is not None:
            self.measured("postgres_changes", (now - sent) * 1000, now)
