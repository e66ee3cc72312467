"""A signed-in account's session, kept alive the way supabase-js's auto-refresh does: the access
token is refreshed with the refresh token when less than --session-margin-s (60 s), or half the
token's lifetime if that is shorter, is left before the JWT expires. Runs longer than
JWT_EXPIRY (soak) keep their users signed in. Each refresh is reported as a Locust request
("api auth session refresh"), so its latency and failures are in the tables and the verdict."""
from __future__ import annotations

import time
from typing import Callable

import jwt
from gevent.lock import Semaphore

from suite.clients import Gateway, TestUser

from ._settings import S

RETRY_S = 5  # a refused refresh is retried this soon: the old token may still have a while


class Session:
    """`token()` is the access token to send now; `refresh_at` when it will next be refreshed."""

    def __init__(self, user: TestUser, gateway: Gateway, report: Callable = lambda **_: None) -> None:
        self.user, self.gateway, self.report = user, gateway, report
        self._lock = Semaphore()
        self._use(user.access_token, user.refresh_token)

    def _use(self, access: str, refresh: str) -> None:
        claims = jwt.decode(access, options={"verify_signature": False})
        lifetime = claims["exp"] - claims.get("iat", time.time())
        self.access, self.refresh = access, refresh
        self.refresh_at = claims["exp"] - min(S.session_margin_s, lifetime / 2)

    def token(self) -> str:
        """The access token, refreshed first when its refresh time has come."""
        if time.time() >= self.refresh_at:
            with self._lock:  # one refresh for every user of the account
                if time.time() >= self.refresh_at:
                    self._refresh()
        return self.access

    def _refresh(self) -> None:
        t0 = time.time()
        error = None
        try:
            r = self.gateway.post("/auth/v1/token?grant_type=refresh_token", json={"refresh_token": self.refresh})
            if r.status_code == 200:
                body = r.json()
                self._use(body["access_token"], body["refresh_token"])
            else:
                error = RuntimeError(f"HTTP {r.status_code} {r.text[:200]}")
        except Exception as exc:  # noqa: BLE001 - unreachable gateway, timeout: a failed refresh
            error = exc
        if error is not None:
            self.refresh_at = time.time() + RETRY_S
        self.report(request_type="POST", name="api auth session refresh", response_time=(time.time() - t0) * 1000,
                    response_length=0, context={}, exception=error)
