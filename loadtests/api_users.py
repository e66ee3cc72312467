"""API users: REST through the gateway as signed-in users under RLS, on the application
schema (reads of own notes and public announcements, note writes), and auth sign-in and
refresh at a configurable rate.

Settings (Locust options, each also an environment variable): --api-write-share (0.2: share of
REST calls that write), --auth-rate (0.2: sign-ins + refreshes per second per AuthUser; each
sign-in costs a bcrypt). ApiUsers keep their sessions refreshed before the JWT expires
(_session.Session)."""
from __future__ import annotations

import random
import sys
from pathlib import Path

# `locust -f` imports this file by path, with only its own folder on sys.path: the
# repository root makes the packages `loadtests` and `suite` importable.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from locust import FastHttpUser, constant_throughput, task  # noqa: E402

from loadtests import _hub  # noqa: E402  (registers the verdict)
from loadtests._accounts import RUN, session  # noqa: E402
from loadtests._settings import S, target  # noqa: E402


class _Signed(_hub.SetUp, FastHttpUser):  # SetUp first: FastHttpUser requires the host
    abstract = True

    def on_start(self) -> None:
        self.session = session()
        self.user = self.session.user

    @property
    def headers(self) -> dict:
        return {"apikey": target().anon_key, "Authorization": f"Bearer {self.session.token()}"}


class ApiUser(_Signed):
    wait_time = constant_throughput(2)
    mix_parts, mix_cap = 2, 40  # two users in 10 of the run, at most 40 (80 requests/s): _mix.py

    @task(5)
    def read_own_notes(self) -> None:
        if random.random() < S.api_write_share:
            self.write_note()
            return
        self.client.get("/rest/v1/notes?select=id,body&order=id.desc&limit=20", headers=self.headers,
                        name="api GET notes")

    @task(2)
    def read_announcements(self) -> None:
        self.client.get("/rest/v1/announcements?select=id,title&limit=20", headers=self.headers,
                        name="api GET announcements")

    @task(1)
    def read_team_docs(self) -> None:
        self.client.get("/rest/v1/team_docs?select=id,title&limit=20", headers=self.headers,
                        name="api GET team_docs")

    def write_note(self) -> None:
        self.client.post("/rest/v1/notes", json={"body": f"{RUN} note"},
                         headers={**self.headers, "Prefer": "return=minimal"}, name="api POST notes")


class AuthUser(_Signed):
    """Sign-in and refresh at LOAD_AUTH_RATE per user: the auth service's bcrypt is the cost."""

    def wait_time(self) -> float:
        return constant_throughput(S.auth_rate)(self)
    mix_parts, mix_cap = 1, 5  # one user in 10, at most 5: a bcrypt a second in all at the default rate

    @task
    def sign_in_and_refresh(self) -> None:
        anon = {"apikey": target().anon_key}
        with self.client.post("/auth/v1/token?grant_type=password", headers=anon, name="api auth sign-in",
                              json={"email": self.user.email, "password": self.user.password},
                              catch_response=True) as r:
            refresh = (r.json() or {}).get("refresh_token") if r.status_code == 200 else None
            if not refresh:
                r.failure(f"sign-in: HTTP {r.status_code}, no refresh token")
                return
        self.client.post("/auth/v1/token?grant_type=refresh_token", headers=anon, name="api auth refresh",
                         json={"refresh_token": refresh})
