"""Clients for a target's services. Each turns "could not connect" into TargetUnreachable,
which names the service, the URL and what was tried, and which the suite reports apart
from assertion failures."""
from __future__ import annotations

import itertools
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import urlsplit, urlunsplit

import jwt
import psycopg
import requests
from websockets.exceptions import InvalidStatus, WebSocketException
from websockets.sync.client import ClientConnection, connect as ws_connect

from .redaction import redact
from .target import Target
from .thresholds import LIMITS

TIMEOUT = (LIMITS.http.connect_timeout_s, LIMITS.http.read_timeout_s)


class TargetUnreachable(Exception):
    """A declared service did not answer at all (distinct from a wrong answer)."""

    def __init__(self, service: str, url: str, tried: str, error: object):
        self.service, self.url, self.tried = service, url, tried
        super().__init__(redact(f"UNREACHABLE: {service} at {url} — tried {tried}: {error}"))


def safe_url(url: str) -> str:
    """The URL without credentials, for messages."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


# ---- HTTP through the gateway --------------------------------------------------------
class Gateway:
    """HTTP to the stack's gateway. `key` picks the apikey: "anon", "service", a literal
    string, or None for no apikey at all."""

    def __init__(self, target: Target):
        self.target = target
        self.base = target.url("gateway")
        self.http = requests.Session()

    def apikey(self, key: str | None) -> str | None:
        return {"anon": self.target.anon_key, "service": self.target.service_key}.get(key, key)

    def request(self, method: str, path: str, *, key: str | None = "anon", token: str | None = None,
                headers: dict | None = None, **kwargs) -> requests.Response:
        headers = dict(headers or {})
        apikey = self.apikey(key)
        if apikey is not None:
            headers.setdefault("apikey", apikey)
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        url = self.base + path
        try:
            return self.http.request(method, url, headers=headers, timeout=TIMEOUT, **kwargs)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise TargetUnreachable("gateway", self.base, f"{method} {path}", type(exc).__name__) from None

    def get(self, path: str, **kw) -> requests.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw) -> requests.Response:
        return self.request("POST", path, **kw)


def http_get(service: str, url: str, path: str, **kwargs) -> requests.Response:
    """A GET to a service other than the gateway (Prometheus, Alertmanager, Grafana, Loki)."""
    try:
        return requests.get(url + path, timeout=TIMEOUT, **kwargs)
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise TargetUnreachable(service, safe_url(url), f"GET {path}", type(exc).__name__) from None


# ---- users made by the suite, in its own namespace ------------------------------------
@dataclass
class TestUser:
    id: str
    email: str
    # kept out of repr: tracebacks in reports print fixtures' values
    password: str = field(repr=False)
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)


class Users:
    """Creates users through the auth admin API (no superuser) and deletes them after.
    Emails are namespaced per run so production data is never touched."""

    def __init__(self, gateway: Gateway, namespace: str):
        self.gateway = gateway
        self.namespace = namespace
        self.created: list[str] = []
        self._n = itertools.count(1)

    def create(self, label: str) -> TestUser:
        email = f"{self.namespace}-{label}-{next(self._n)}@suite.example.test"
        password = uuid.uuid4().hex
        r = self.gateway.post("/auth/v1/admin/users", key="service", token=self.gateway.target.service_key,
                              json={"email": email, "password": password, "email_confirm": True})
        assert r.status_code in (200, 201), f"auth admin create user: HTTP {r.status_code} {r.text[:300]}"
        user_id = r.json()["id"]
        self.created.append(user_id)
        session = self.sign_in(email, password)
        return TestUser(user_id, email, password, session["access_token"], session["refresh_token"])

    def sign_in(self, email: str, password: str) -> dict:
        r = self.gateway.post("/auth/v1/token?grant_type=password", json={"email": email, "password": password})
        assert r.status_code == 200, f"sign-in: HTTP {r.status_code} {r.text[:300]}"
        return r.json()

    def delete_all(self) -> list[str]:
        problems = []
        for user_id in self.created:
            r = self.gateway.request("DELETE", f"/auth/v1/admin/users/{user_id}", key="service",
                                     token=self.gateway.target.service_key)
            if r.status_code not in (200, 204, 404):
                problems.append(f"{user_id}: HTTP {r.status_code}")
        self.created.clear()
        return problems


# ---- tokens ------------------------------------------------------------------------------
def mint_jwt(secret: str, claims: dict, lifetime_s: int = 600) -> str:
    now = int(time.time())
    return jwt.encode({"iat": now, "exp": now + lifetime_s, **claims}, secret, algorithm="HS256")


def tamper(token: str) -> str:
    """The same token with its payload changed and the signature kept: must be refused."""
    header, payload, signature = token.split(".")
    claims = json.loads(jwt.utils.base64url_decode(payload))
    claims["role"] = "service_role"
    forged = jwt.utils.base64url_encode(json.dumps(claims).encode()).decode()
    return f"{header}.{forged}.{signature}"


# ---- Postgres through the published endpoint ----------------------------------------------
def connect_db(target: Target, url: str | None = None, what: str = "connect", **kwargs) -> psycopg.Connection:
    """The target's database (DB_URL, or `url`: another role of it); unreachable is TargetUnreachable."""
    url = url or target.url("db")
    try:
        return psycopg.connect(url, connect_timeout=LIMITS.http.connect_timeout_s, autocommit=True, **kwargs)
    except psycopg.OperationalError as exc:
        raise TargetUnreachable("db", safe_url(url), what, str(exc).splitlines()[0]) from None


# ---- Realtime (Phoenix channels, vsn 1.0.0) through the gateway ---------------------------
class RealtimeSocket:
    """A minimal Phoenix-channels client: enough to check the protocol, not a library."""

    def __init__(self, target: Target, apikey: str | None = None):
        base = target.url("gateway").replace("http", "ws", 1)
        self.url = f"{base}/realtime/v1/websocket?apikey={apikey or target.anon_key}&vsn=1.0.0"
        self.refs = itertools.count(1)
        self.inbox: list[dict] = []
        try:
            self.ws: ClientConnection = ws_connect(self.url, open_timeout=LIMITS.http.read_timeout_s,
                                                   close_timeout=2, max_size=2**22)
        except InvalidStatus as exc:
            raise RealtimeRefused(exc.response.status_code, exc.response.body) from None
        except (OSError, TimeoutError, WebSocketException) as exc:
            raise TargetUnreachable("realtime", f"{base}/realtime/v1/websocket", "websocket connect",
                                    type(exc).__name__) from None

    def send(self, topic: str, event: str, payload: dict, join_ref: str | None = None) -> str:
        ref = str(next(self.refs))
        self.ws.send(json.dumps({"topic": topic, "event": event, "payload": payload,
                                 "ref": ref, "join_ref": join_ref}))
        return ref

    def wait_for(self, match: Callable[[dict], bool], timeout: float) -> dict | None:
        """The first message (already received or arriving within `timeout`) that matches."""
        for i, msg in enumerate(self.inbox):
            if match(msg):
                return self.inbox.pop(i)
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                msg = json.loads(self.ws.recv(timeout=left))
            except TimeoutError:
                return None
            if match(msg):
                return msg
            self.inbox.append(msg)
        return None

    def reply(self, ref: str, timeout: float) -> dict | None:
        return self.wait_for(lambda m: m.get("event") == "phx_reply" and m.get("ref") == ref, timeout)

    def join(self, topic: str, config: dict, access_token: str | None = None,
             timeout: float = LIMITS.smoke.realtime_join_s) -> tuple[str, dict | None]:
        payload: dict[str, Any] = {"config": config}
        if access_token:
            payload["access_token"] = access_token
        ref = self.send(topic, "phx_join", payload)
        return ref, self.reply(ref, timeout)

    def close(self) -> None:
        self.ws.close()


class RealtimeRefused(Exception):
    """The realtime handshake was answered with an HTTP error (e.g. 401, 429)."""

    def __init__(self, status: int, body: bytes | None):
        self.status = status
        self.body = (body or b"").decode(errors="replace")
        super().__init__(redact(f"realtime handshake refused: HTTP {status} {self.body[:200]}"))
