"""Load settings as Locust options (loadtests/_settings.py), the mix leaving out a class capped
at 0 (_mix.py), and session refresh before the JWT expires (_session.py)."""
from __future__ import annotations

import re
import time

import jwt
import pytest
import configargparse

from loadtests import _mix, _session, _settings
from loadtests._settings import SETTINGS, S
from suite import clients
from suite.target import ROOT


def parser():
    p = configargparse.ArgumentParser()  # what Locust's parser is built on (importing locust patches the process)
    _settings.add_options(p)
    return p


def test_every_setting_is_an_option_with_its_environment_variable(monkeypatch):
    monkeypatch.setenv("LOAD_WS_HEARTBEAT_S", "5")
    options = parser().parse_args(["--ws-pg-users", "0"])
    assert (options.ws_heartbeat_s, options.ws_pg_users, options.accounts) == (5.0, 0, 20)
    assert all(hasattr(options, name) for name in SETTINGS)


@pytest.mark.parametrize("args, message", [
    (["--ws-topic-size", "0"], "--ws-topic-size / LOAD_WS_TOPIC_SIZE='0' must be >= 1"),
    (["--api-write-share", "2"], "--api-write-share / LOAD_API_WRITE_SHARE='2' must be >= 0 and <= 1"),
    (["--auth-rate", "fast"], "--auth-rate / LOAD_AUTH_RATE='fast' is not a number"),
])
def test_a_bad_value_names_the_option_and_its_variable(args, message, capsys):
    with pytest.raises(SystemExit):
        parser().parse_args(args)
    assert message in capsys.readouterr().err


def test_settings_follow_the_parsed_options_once_bound(monkeypatch):
    monkeypatch.setenv("LOAD_WS_PG_INSERT_S", "abc")
    with pytest.raises(_settings.SettingError, match="LOAD_WS_PG_INSERT_S='abc' is not a number"):
        S.ws_pg_insert_s
    _settings.bind(parser().parse_args(["--ws-pg-insert-s", "3"]))
    try:
        assert S.ws_pg_insert_s == 3  # a worker's options, updated with the master's at each spawn
    finally:
        _settings.bind(None)


def test_the_readme_lists_every_option():
    readme = (ROOT / "loadtests" / "README.md").read_text()
    listed = set(re.findall(r"`(--[a-z-]+)`", readme))
    assert {s.flag for s in SETTINGS.values()} <= listed, "loadtests/README.md: the settings table is not complete"


def test_a_class_capped_at_zero_leaves_the_run():
    capped = type("PostgresChangesUser", (), {"mix_parts": 1, "mix_cap_setting": "ws_pg_users"})
    plain = type("WebSocketUser", (), {"mix_bulk": True})
    _settings.bind(parser().parse_args(["--ws-pg-users", "0"]))
    try:
        assert _mix.wanted([capped, plain]) == [plain]
    finally:
        _settings.bind(None)
    assert _mix.wanted([capped, plain]) == [capped, plain]


# ---- sessions ------------------------------------------------------------------------------
def token(lifetime: float, now: float | None = None) -> str:
    now = time.time() if now is None else now
    return jwt.encode({"sub": "u", "iat": int(now), "exp": int(now + lifetime)}, "k" * 32)


class Gateway:
    def __init__(self, status: int):
        self.status, self.calls = status, 0

    def post(self, path, json):
        self.calls += 1
        status = self.status

        class Reply:
            status_code = status
            text = "refused"

            @staticmethod
            def json():
                return {"access_token": token(3600), "refresh_token": f"r{status}"}
        return Reply()


def session(lifetime: float, gateway) -> _session.Session:
    return _session.Session(clients.TestUser("id", "e", "p", token(lifetime), "r0"), gateway)


@pytest.mark.parametrize("lifetime, margin", [(3600, 60), (20, 10)])
def test_a_session_is_refreshed_before_its_token_expires(lifetime, margin):
    """A margin of 60 s, or half the lifetime of a short token (JWT_EXPIRY=20: every 10 s)."""
    s = session(lifetime, Gateway(200))
    exp = jwt.decode(s.access, options={"verify_signature": False})["exp"]
    assert s.refresh_at == exp - margin


def test_a_due_session_refreshes_once_and_a_refused_refresh_is_retried_soon():
    gw = Gateway(200)
    s = session(20, gw)
    s.refresh_at = time.time() - 1
    first = s.token()
    assert (gw.calls, s.refresh) == (1, "r200") and s.token() == first
    refused = session(20, Gateway(401))
    old = refused.access
    refused.refresh_at = time.time() - 1
    assert refused.token() == old  # the old token is used while it lasts
    assert refused.refresh_at == pytest.approx(time.time() + _session.RETRY_S, abs=1)
