"""Supabase-Realtime-compatible server: Phoenix channels over aiohttp WebSockets.

Outgoing frames are built once (see protocol.ws_text_frame) and written straight to
each member's transport: a broadcast to N sockets costs N `transport.write` calls.
"""
from __future__ import annotations

import asyncio
import gc
import ipaddress
import logging
import time
import uuid
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from . import auth, changes as C, protocol as P
from .cdc import PostgresChanges
from .config import Config
from .limits import RateCounter
from .metrics import Metrics
from .presence import TopicPresence

log = logging.getLogger("realtime")


def _json(status: int, body: Any) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")


class Topic:
    __slots__ = ("name", "members", "presence")

    def __init__(self, name: str):
        self.name = name
        self.members: dict[Channel, Any] = {}  # channel -> transport
        self.presence = TopicPresence()


class Channel:
    __slots__ = (
        "conn", "topic", "name", "join_ref", "self_broadcast", "ack", "presence_key",
        "presence_enabled", "private", "access_token", "claims", "claims_key", "bindings",
        "closed", "expiry_handle", "__weakref__",
    )

    def __init__(self, conn: "Conn", topic: str, join_ref: Any):
        self.conn = conn
        self.topic = topic
        self.name = topic[len("realtime:"):]
        self.join_ref = join_ref
        self.closed = False
        self.expiry_handle = None
        self.bindings: list[C.Binding] = []

    def set_claims(self, token: str, claims: dict) -> None:
        self.access_token = token
        self.claims = claims
        self.claims_key = (str(claims.get("role")), orjson.dumps(claims).decode())

    def deliver(self, frame: bytes) -> None:
        self.conn.send(frame)
        self.conn.hub.metrics.events_out += 1

    def push(self, event: str, payload: Any) -> None:
        self.conn.send(P.frame(self.topic, event, payload, None, self.join_ref))

    def push_system(self, extension: str, status: str, message: str) -> None:
        self.push("system", {"extension": extension, "status": status, "message": message, "channel": self.name})


class Conn:
    __slots__ = ("hub", "ws", "transport", "tenant", "token", "claims", "channels", "last_seen", "closed", "peer")

    def __init__(self, hub: "Hub", ws, transport, tenant: str, token: str, claims: dict, peer: str):
        self.hub = hub
        self.ws = ws
        self.transport = transport
        self.tenant = tenant
        self.token = token
        self.claims = claims
        self.channels: dict[str, Channel] = {}
        self.last_seen = time.monotonic()
        self.closed = False
        self.peer = peer

    def send(self, frame: bytes) -> None:
        tr = self.transport
        if tr is None or tr.is_closing():
            return
        tr.write(frame)


class Hub:
    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.metrics = Metrics(cfg.tenant)
        self.conns: set[Conn] = set()
        self.topics: dict[str, Topic] = {}
        self.joins_rate = RateCounter()
        self.events_rate = RateCounter()
        self.joined_channels = 0
        self.shutting_down = False
        self.cdc = PostgresChanges(cfg, self.metrics)
        self.node = f"realtime@{uuid.uuid4().hex[:8]}"

    # ---------------------------------------------------------------- tenant
    def tenant_of(self, host: str | None) -> str:
        """Upstream takes the first label of the Host header; locally any host maps to
        the configured tenant, but a host whose first label names it is reported as is."""
        h = (host or "").split(":")[0].strip("[]")
        label = h.split(".", 1)[0] if h else ""
        try:
            ipaddress.ip_address(h)
            return self.cfg.tenant
        except ValueError:
            pass
        return self.cfg.tenant if label != self.cfg.tenant else label

    # ---------------------------------------------------------------- http
    async def handle_ws(self, request: web.Request) -> web.StreamResponse:
        if self.shutting_down:
            return _json(503, {"error": "RealtimeRestarting: Realtime is restarting, please standby"})
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return _json(400, {"error": "WebSocket upgrade required"})
        tenant = self.tenant_of(request.headers.get("Host"))
        token = (
            request.headers.get("x-api-key")
            or request.query.get("apikey")
            or request.headers.get("apikey")
        )
        if not token:
            authz = request.headers.get("Authorization", "")
            if authz.lower().startswith("bearer "):
                token = authz[7:]
        if not token:
            return _json(403, {"error": "InvalidJWTToken: Token is missing"})
        try:
            claims = auth.verify(token, self.cfg.api_jwt_secret)
        except auth.AuthError as exc:
            return _json(403, {"error": exc.reason})
        if len(self.conns) >= self.cfg.limits.max_concurrent_users:
            self.metrics.rate_limited["users"] += 1
            return _json(429, {"error": "ConnectionRateLimitReached: Too many connected users"})
        ws = web.WebSocketResponse(
            autoping=True, heartbeat=None, compress=False, max_msg_size=1024 * 1024, timeout=3.0
        )
        await ws.prepare(request)
        conn = Conn(self, ws, request.transport, tenant, token, claims, request.remote or "")
        self.conns.add(conn)
        self.metrics.connections_total += 1
        try:
            async for msg in ws:
                conn.last_seen = time.monotonic()
                if msg.type == WSMsgType.TEXT or msg.type == WSMsgType.BINARY:
                    try:
                        self.on_message(conn, msg.data)
                    except P.ProtocolError as exc:
                        log.debug("MalformedWebSocketMessage: %s", exc)
                    except Exception:  # noqa: BLE001 - one bad message must not kill the socket
                        log.exception("UnknownErrorOnWebSocketMessage")
                elif msg.type == WSMsgType.ERROR:
                    break
        finally:
            self.drop_conn(conn)
        return ws

    def drop_conn(self, conn: Conn) -> None:
        if conn.closed:
            return
        conn.closed = True
        self.conns.discard(conn)
        for ch in list(conn.channels.values()):
            self.leave(ch, notify_client=False)
        conn.transport = None
        conn.ws = None
        self.metrics.disconnects += 1

    # ---------------------------------------------------------------- messages
    def on_message(self, conn: Conn, data) -> None:
        topic, event, payload, ref, join_ref = P.parse(data)
        if topic == P.PHOENIX:
            if event == "heartbeat":
                conn.send(P.heartbeat_reply_frame(ref))
            return
        if event == "phx_join":
            self.join(conn, topic, payload, ref, join_ref if join_ref is not None else ref)
            return
        ch = conn.channels.get(topic)
        if ch is None:
            conn.send(P.error_reply_frame(topic, ref, "unmatched topic", join_ref))
            return
        if event == "phx_leave":
            conn.send(P.reply_frame(topic, ref, "ok", {}, ch.join_ref))
            self.leave(ch, notify_client=True)
            return
        if event == "access_token":
            self.metrics.events_in += 1
            self.refresh_token(ch, payload.get("access_token"))
            return
        # every other client event counts against the tenant's events per second
        self.events_rate.add()
        self.metrics.events_in += 1
        if self.events_rate.rate() > self.cfg.limits.max_events_per_second:
            self.metrics.rate_limited["events"] += 1
            self.shutdown_channel(ch, "Too many messages per second")
            return
        if event == "broadcast":
            self.broadcast(ch, payload, ref)
        elif event == "presence":
            self.presence(ch, payload, ref)
        # other events are ignored, as upstream does (logged at info there)

    # ---------------------------------------------------------------- join / leave
    def join(self, conn: Conn, topic: str, payload: dict, ref, join_ref) -> None:
        def refuse(reason: str) -> None:
            conn.send(P.error_reply_frame(topic, ref, reason, join_ref))

        if not topic.startswith("realtime:"):
            refuse("unmatched topic")
            return
        if topic == "realtime:":
            refuse("TopicNameRequired: You must provide a topic name")
            return
        if self.shutting_down:
            refuse("RealtimeRestarting: Realtime is restarting, please standby")
            return
        old = conn.channels.get(topic)
        if old is not None:  # Phoenix: a duplicate join closes the previous channel
            self.leave(old, notify_client=True)
        lim = self.cfg.limits
        self.joins_rate.add()
        if self.joins_rate.rate() > lim.max_joins_per_second:
            self.metrics.rate_limited["joins"] += 1
            refuse("ClientJoinRateLimitReached: Too many joins per second")
            return
        if len(conn.channels) + 1 > lim.max_channels_per_client:
            self.metrics.rate_limited["channels"] += 1
            refuse("ChannelRateLimitReached: Too many channels")
            return
        if len(self.conns) > lim.max_concurrent_users:
            self.metrics.rate_limited["users"] += 1
            refuse("ConnectionRateLimitReached: Too many connected users")
            return
        token = payload.get("user_token") or payload.get("access_token") or conn.token
        try:
            claims = auth.verify(token, self.cfg.api_jwt_secret)
        except auth.AuthError as exc:
            refuse(exc.reason)
            return
        config = payload.get("config") if isinstance(payload.get("config"), dict) else {}
        bcast = config.get("broadcast") if isinstance(config.get("broadcast"), dict) else {}
        pres = config.get("presence") if isinstance(config.get("presence"), dict) else {}
        pg = config.get("postgres_changes") or []
        bindings: list[C.Binding] = []
        bad: list = []
        if isinstance(pg, list):
            for params in pg:
                try:
                    bindings.append(C.parse_binding(params))
                except C.BindingError:
                    bad.append(params)
        ch = Channel(conn, topic, join_ref)
        ch.set_claims(token, claims)
        ch.self_broadcast = bool(bcast.get("self"))
        ch.ack = bool(bcast.get("ack"))
        key = pres.get("key")
        ch.presence_key = key if isinstance(key, str) and key else str(uuid.uuid1())
        ch.presence_enabled = pres.get("enabled", True) is not False
        ch.private = bool(config.get("private"))
        ch.bindings = bindings
        conn.channels[topic] = ch
        t = self.topics.get(topic)
        if t is None:
            t = self.topics[topic] = Topic(topic)
        t.members[ch] = conn.transport
        self.joined_channels += 1
        self.metrics.joins += 1
        exp = claims.get("exp")
        if isinstance(exp, (int, float)):
            loop = asyncio.get_running_loop()
            ch.expiry_handle = loop.call_later(max(0.0, exp - time.time()), self._expire, ch)
        conn.send(P.reply_frame(topic, ref, "ok", {"postgres_changes": [b.echo for b in bindings]}, join_ref))
        if ch.presence_enabled:
            ch.push("presence_state", t.presence.state())
        if bindings:
            self.cdc.subscribe(ch, bindings)
        for params in bad:
            ch.push_system("postgres_changes", "error", C.binding_error_message(params))

    def leave(self, ch: Channel, notify_client: bool) -> None:
        if ch.closed:
            return
        ch.closed = True
        conn = ch.conn
        if conn.channels.get(ch.topic) is ch:
            del conn.channels[ch.topic]
        if ch.expiry_handle is not None:
            ch.expiry_handle.cancel()
            ch.expiry_handle = None
        if ch.bindings:
            self.cdc.unsubscribe(ch)
        t = self.topics.get(ch.topic)
        if t is not None:
            t.members.pop(ch, None)
            diff = t.presence.untrack(ch)
            if diff is not None:
                self.fanout(t, P.frame(t.name, "presence_diff", diff), None)
            if not t.members and not len(t.presence):
                del self.topics[ch.topic]
        self.joined_channels -= 1
        if notify_client:
            conn.send(P.frame(ch.topic, "phx_close", {}, ch.join_ref, ch.join_ref))

    def shutdown_channel(self, ch: Channel, message: str) -> None:
        """Upstream's shutdown_response: a system error message, then the channel stops."""
        ch.push_system("system", "error", message)
        self.leave(ch, notify_client=True)

    def _expire(self, ch: Channel) -> None:
        ch.expiry_handle = None
        if ch.closed:
            return
        exp = ch.claims.get("exp", 0)
        if exp > time.time():
            ch.expiry_handle = asyncio.get_running_loop().call_later(exp - time.time(), self._expire, ch)
            return
        self.shutdown_channel(ch, f"Token has expired {int(time.time() - exp)} seconds ago")

    def refresh_token(self, ch: Channel, token) -> None:
        if token is None or token == ch.access_token:
            return
        try:
            claims = auth.verify(token, self.cfg.api_jwt_secret)
        except auth.AuthError as exc:
            self.shutdown_channel(ch, exc.message)
            return
        ch.set_claims(token, claims)
        if ch.expiry_handle is not None:
            ch.expiry_handle.cancel()
        exp = claims.get("exp")
        ch.expiry_handle = asyncio.get_running_loop().call_later(max(0.0, exp - time.time()), self._expire, ch)

    # ---------------------------------------------------------------- broadcast
    def fanout(self, t: Topic, frame: bytes, skip: Channel | None) -> int:
        n = 0
        for ch, tr in t.members.items():
            if ch is skip:
                continue
            try:
                tr.write(frame)
            except Exception:  # noqa: BLE001 - a closing transport
                continue
            n += 1
        self.metrics.events_out += n
        return n

    def broadcast(self, ch: Channel, payload: dict, ref) -> None:
        t0 = time.perf_counter()
        t = self.topics.get(ch.topic)
        if t is not None:
            frame = P.frame(ch.topic, "broadcast", payload)
            n = self.fanout(t, frame, None if ch.self_broadcast else ch)
            self.events_rate.add(n)
            self.metrics.fanout.observe(time.perf_counter() - t0)
        if ch.ack:
            ch.conn.send(P.reply_frame(ch.topic, ref, "ok", {}, ch.join_ref))

    def http_broadcast(self, messages: list) -> int:
        sent = 0
        for m in messages:
            if not isinstance(m, dict) or not isinstance(m.get("topic"), str):
                continue
            topic = "realtime:" + m["topic"]
            t = self.topics.get(topic)
            if t is None:
                continue
            payload = {"type": "broadcast", "event": m.get("event"), "payload": m.get("payload") or {}}
            sent += self.fanout(t, P.frame(topic, "broadcast", payload), None)
        self.events_rate.add(max(sent, 1))
        return sent

    # ---------------------------------------------------------------- presence
    def presence(self, ch: Channel, payload: dict, ref) -> None:
        t = self.topics.get(ch.topic)
        event = payload.get("event")
        diff = None
        if t is not None:
            if event == "track":
                diff = t.presence.track(ch, ch.presence_key, payload.get("payload") or {})
            elif event == "untrack":
                diff = t.presence.untrack(ch)
        if diff is not None:
            self.metrics.presence_events += 1
            self.fanout(t, P.frame(ch.topic, "presence_diff", diff), None)
        conn = ch.conn
        if ref is not None:
            if event in ("track", "untrack"):
                conn.send(P.reply_frame(ch.topic, ref, "ok", {}, ch.join_ref))
            else:
                conn.send(P.error_reply_frame(ch.topic, ref, "UnknownPresenceEvent", ch.join_ref))

    # ---------------------------------------------------------------- housekeeping
    async def sweeper(self) -> None:
        """Close sockets that sent nothing for idle_timeout; drop stuck slow readers."""
        while True:
            await asyncio.sleep(5)
            now = time.monotonic()
            limit = self.cfg.idle_timeout
            for conn in list(self.conns):
                tr = conn.transport
                if now - conn.last_seen > limit:
                    asyncio.create_task(self._close(conn, 1000, b"heartbeat timeout"))
                elif tr is not None and tr.get_write_buffer_size() > self.cfg.max_write_buffer:
                    log.warning("closing slow client %s (write buffer %d)", conn.peer, tr.get_write_buffer_size())
                    tr.abort()

    async def _close(self, conn: Conn, code: int, message: bytes) -> None:
        ws = conn.ws
        if ws is None:
            return
        try:
            await ws.close(code=code, message=message)
        except Exception:  # noqa: BLE001
            pass
        finally:
            self.drop_conn(conn)

    async def gc_manager(self) -> None:
        """gc.freeze() long-lived objects regularly; a full collection now and then."""
        last_full = time.monotonic()
        while True:
            await asyncio.sleep(self.cfg.gc_freeze_interval)
            if time.monotonic() - last_full > self.cfg.gc_full_interval:
                gc.unfreeze()
                gc.collect()
                last_full = time.monotonic()
            gc.freeze()

    # ---------------------------------------------------------------- endpoints
    def _bearer(self, request: web.Request) -> str | None:
        authz = request.headers.get("Authorization", "")
        if authz.lower().startswith("bearer "):
            return authz[7:].strip()
        return None

    async def handle_health(self, request: web.Request) -> web.Response:
        token = self._bearer(request)
        if not token:
            return _json(401, {"message": "Unauthorized"})
        try:
            import jwt as pyjwt

            pyjwt.decode(token, self.cfg.api_jwt_secret, algorithms=auth.ALGORITHMS, options={"verify_aud": False})
        except Exception:  # noqa: BLE001
            return _json(403, {"message": "Forbidden"})
        tenant = request.match_info["tenant"]
        if tenant != self.cfg.tenant:
            return _json(404, {"message": "not found"})
        db = self.cdc.db_connected
        repl = self.cdc.replication_connected and (time.monotonic() - self.cdc.last_poll_ok) < 10
        return _json(200, {
            "message": None,
            "data": {
                "healthy": bool(db and repl and not self.shutting_down),
                "db_connected": bool(db),
                "replication_connected": bool(repl),
                "connected_cluster": len(self.conns),
                "region": self.cfg.region,
                "node": self.node,
            },
        })

    async def handle_metrics(self, request: web.Request) -> web.Response:
        token = self._bearer(request)
        if not token:
            return _json(401, {"message": "Unauthorized"})
        try:
            import jwt as pyjwt

            pyjwt.decode(token, self.cfg.metrics_jwt_secret, algorithms=auth.ALGORITHMS, options={"verify_aud": False})
        except Exception:  # noqa: BLE001
            return _json(403, {"message": "Forbidden"})
        return web.Response(text=self.metrics.render(self), content_type="text/plain", charset="utf-8",
                            headers={"X-Content-Type": "text/plain; version=0.0.4"})

    async def handle_broadcast_api(self, request: web.Request) -> web.Response:
        token = request.headers.get("apikey") or self._bearer(request) or request.query.get("apikey")
        try:
            auth.verify(token, self.cfg.api_jwt_secret)
        except auth.AuthError as exc:
            return _json(401, {"message": exc.reason})
        try:
            body = await request.json(loads=orjson.loads)
        except Exception:  # noqa: BLE001
            return _json(400, {"message": "invalid JSON"})
        msgs = body.get("messages") if isinstance(body, dict) else None
        if not isinstance(msgs, list):
            return _json(422, {"message": "messages must be a list"})
        self.http_broadcast(msgs)
        return web.Response(status=202)

    async def handle_healthcheck(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    # ---------------------------------------------------------------- lifecycle
    async def on_startup(self, app: web.Application) -> None:
        await self.cdc.start()
        self._bg = [asyncio.create_task(self.sweeper()), asyncio.create_task(self.gc_manager())]
        gc.collect()
        gc.freeze()
        log.info("realtime listening on %s:%d tenant=%s limits=%s", self.cfg.host, self.cfg.port,
                 self.cfg.tenant, self.cfg.limits)

    async def on_shutdown(self, app: web.Application) -> None:
        """SIGTERM: refuse new work, stop polling (the slot stays), close sockets with 1001."""
        self.shutting_down = True
        log.info("shutting down: closing %d sockets with 1001", len(self.conns))
        await self.cdc.stop()
        conns = list(self.conns)
        if conns:
            await asyncio.wait(
                [asyncio.create_task(self._close(c, 1001, b"server shutting down")) for c in conns], timeout=5
            )
        for task in getattr(self, "_bg", []):
            task.cancel()


def make_app(cfg: Config) -> web.Application:
    hub = Hub(cfg)
    app = web.Application(client_max_size=8 * 1024 * 1024)
    app["hub"] = hub
    for path in ("/socket/websocket", "/socket/websocket/", "/realtime/v1/websocket"):
        app.router.add_get(path, hub.handle_ws)
    app.router.add_get("/api/tenants/{tenant}/health", hub.handle_health)
    app.router.add_get("/metrics", hub.handle_metrics)
    app.router.add_post("/api/broadcast", hub.handle_broadcast_api)
    app.router.add_get("/healthcheck", hub.handle_healthcheck)
    app.on_startup.append(hub.on_startup)
    app.on_shutdown.append(hub.on_shutdown)
    return app


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover
        pass
    gc.set_threshold(50_000, 50, 100)
    cfg = Config.from_env()
    if not cfg.api_jwt_secret:
        raise SystemExit("API_JWT_SECRET is required")
    web.run_app(make_app(cfg), host=cfg.host, port=cfg.port, backlog=4096, access_log=None,
                handle_signals=True, shutdown_timeout=10, print=None)


if __name__ == "__main__":
    main()
