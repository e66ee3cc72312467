"""Pure logic of the Realtime stand-in (stack/standins/standins/realtime): wire frames,
JWT reasons, filters, presence diffs, rate counters, wal2json decoding. No network."""
import json
import time

import jwt
import pytest
from standins.realtime import auth, changes as C, filters as F, protocol as P
from standins.realtime.config import Config
from standins.realtime.limits import RateCounter
from standins.realtime.presence import TopicPresence

pytestmark = pytest.mark.unit

SECRET = "super-secret-jwt-token-with-at-least-32-characters-long"


def token(secret=SECRET, **claims):
    base = {"role": "authenticated", "exp": int(time.time()) + 60}
    base.update(claims)
    return jwt.encode({k: v for k, v in base.items() if v is not None}, secret, algorithm="HS256")


def unframe(frame: bytes):
    assert frame[0] == 0x81
    n = frame[1]
    off = 2
    if n == 126:
        n, off = int.from_bytes(frame[2:4], "big"), 4
    elif n == 127:
        n, off = int.from_bytes(frame[2:10], "big"), 10
    body = frame[off:]
    assert len(body) == n
    return json.loads(body)


# ------------------------------------------------------------------ frames
@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536, 200_000])
def test_text_frame_lengths(size):
    data = b"x" * size
    f = P.ws_text_frame(data)
    assert f.endswith(data)
    assert len(f) - size == (2 if size < 126 else 4 if size < 65536 else 10)


def test_reply_and_heartbeat_frames():
    m = unframe(P.heartbeat_reply_frame("7"))
    assert m == {"topic": "phoenix", "event": "phx_reply", "payload": {"status": "ok", "response": {}},
                 "ref": "7", "join_ref": None}
    m = unframe(P.error_reply_frame("realtime:a", "2", "ChannelRateLimitReached: Too many channels", "1"))
    assert m["payload"] == {"status": "error", "response": {"reason": "ChannelRateLimitReached: Too many channels"}}
    assert (m["ref"], m["join_ref"]) == ("2", "1")


def test_parse_v1_and_v2_and_errors():
    assert P.parse('{"topic":"phoenix","event":"heartbeat","payload":{},"ref":"1"}') == ("phoenix", "heartbeat", {}, "1", None)
    assert P.parse('["1","2","realtime:x","phx_join",{"a":1}]') == ("realtime:x", "phx_join", {"a": 1}, "2", "1")
    assert P.parse('{"topic":"t","event":"e","payload":null,"ref":null}')[2] == {}
    for bad in ("not json", "[1,2]", '{"topic":1,"event":"e"}', '{"topic":"t","event":"e","payload":[1]}'):
        with pytest.raises(P.ProtocolError):
            P.parse(bad)


# ------------------------------------------------------------------ JWT
def test_jwt_valid_and_reasons():
    assert auth.verify(token(sub="u"), SECRET)["sub"] == "u"
    cases = {
        token(secret="another-secret-another-secret-another-secret"): "JwtSignatureError: Failed to validate JWT signature",
        token(exp=int(time.time()) - 30): "InvalidJWTToken: Token has expired",
        token(role=None): "InvalidJWTToken: Fields `role` and `exp` are required in JWT",
        "garbage": "MalformedJWT: The token provided is not a valid JWT",
    }
    for tok, reason in cases.items():
        with pytest.raises(auth.AuthError) as e:
            auth.verify(tok, SECRET)
        assert e.value.reason.startswith(reason)
    header, payload, sig = token().split(".")
    tampered = ".".join([header, token(role="service_role").split(".")[1], sig])
    with pytest.raises(auth.AuthError, match="JwtSignatureError"):
        auth.verify(tampered, SECRET)


# ------------------------------------------------------------------ filters
ROW = {"id": 5, "room": "r1", "score": 2.5, "ok": True, "owner": "6F9619FF-8B86-D011-B42D-00C04FC964FF", "n": None}


@pytest.mark.parametrize("flt,expected", [
    ("room=eq.r1", True), ("room=eq.r2", False), ("room=neq.r2", True),
    ("id=gt.4", True), ("id=gt.5", False), ("id=gte.5", True), ("id=lt.10", True), ("id=lte.4", False),
    ("score=lt.3", True), ("id=in.(1,5,9)", True), ("id=in.(1,2)", False), ("room=in.(r1,\"r2\")", True),
    ("ok=eq.true", True), ("ok=eq.false", False), ("n=eq.1", False), ("n=is.null", True), ("id=not.is.null", True),
    ("owner=eq.6f9619ff-8b86-d011-b42d-00c04fc964ff", True), ("room=like.r%", True), ("room=ilike.R_", True),
    ("room=not.eq.r1", False), ("id=eq.5,room=eq.r1", True), ("id=eq.5,room=eq.r2", False),
    ("missing=eq.1", False), ("id=eq.abc", False),
])
def test_filters(flt, expected):
    assert F.matches(F.parse(flt), ROW) is expected


@pytest.mark.parametrize("bad", ["room", "room=zz.1", "room=eq", "=eq.1", "id=in.1,2"])
def test_filter_parse_errors(bad):
    with pytest.raises(F.FilterError):
        F.parse(bad)


def test_binding_echo_and_id_stable():
    params = {"event": "INSERT", "schema": "public", "table": "messages", "filter": "room=eq.r1"}
    b1, b2 = C.parse_binding(params), C.parse_binding(dict(params))
    assert b1.id == b2.id and 0 <= b1.id < 2 ** 27
    assert b1.echo == {**params, "id": b1.id}
    assert C.parse_binding({"event": "*", "schema": "public"}).echo.get("filter") is None
    with pytest.raises(C.BindingError):
        C.parse_binding({"event": "TRUNCATE", "schema": "public"})


# ------------------------------------------------------------------ presence
def test_presence_track_update_untrack():
    p = TopicPresence()
    d1 = p.track("a", "alice", {"status": "online"})
    meta = d1["joins"]["alice"]["metas"][0]
    assert d1["leaves"] == {} and meta["status"] == "online" and meta["phx_ref"]
    p.track("b", "alice", {"status": "away"})  # same key, second connection
    assert len(p.state()["alice"]["metas"]) == 2
    d2 = p.track("a", "alice", {"status": "busy"})
    assert d2["leaves"]["alice"]["metas"][0]["phx_ref"] == meta["phx_ref"]
    assert d2["joins"]["alice"]["metas"][0]["phx_ref_prev"] == meta["phx_ref"]
    d3 = p.untrack("a")
    assert d3 == {"joins": {}, "leaves": {"alice": {"metas": [d2["joins"]["alice"]["metas"][0]]}}}
    assert p.untrack("a") is None
    assert [m["status"] for m in p.state()["alice"]["metas"]] == ["away"]


# ------------------------------------------------------------------ limits and config
def test_rate_counter_window():
    now = [100.0]
    rc = RateCounter(window=3, clock=lambda: now[0])
    for _ in range(10):
        rc.add()
    assert rc.rate() == 10 and rc.avg() == 0
    now[0] = 101.2
    assert rc.avg() == 10 and rc.last_second() == 0
    now[0] = 105.0  # long idle: the window empties
    assert rc.avg() == 0
    assert rc.total == 10


def test_config_upstream_names_and_defaults():
    cfg = Config.from_env({})
    assert (cfg.port, cfg.db_user, cfg.tenant) == (4000, "supabase_admin", "realtime-dev")
    lim = cfg.limits
    assert (lim.max_concurrent_users, lim.max_events_per_second, lim.max_joins_per_second,
            lim.max_channels_per_client) == (200, 100, 100, 100)
    cfg = Config.from_env({"TENANT_MAX_CONCURRENT_USERS": "12000", "TENANT_MAX_CHANNELS_PER_CLIENT": "7", "PORT": "4001"})
    assert (cfg.limits.max_concurrent_users, cfg.limits.max_channels_per_client, cfg.port) == (12000, 7, 4001)


# ------------------------------------------------------------------ wal2json decoding
W2J_UPDATE = {
    "action": "U", "schema": "public", "table": "messages", "timestamp": "2026-01-02 10:11:12.345678+02",
    "columns": [
        {"name": "id", "type": "bigint", "typeoid": 20, "value": 1},
        {"name": "body", "type": "text", "typeoid": 25, "value": "new"},
        {"name": "meta", "type": "jsonb", "typeoid": 3802, "value": "{\"a\": 1}"},
        {"name": "created_at", "type": "timestamp with time zone", "typeoid": 1184, "value": "2026-01-02 08:00:00.5+00"},
    ],
    "identity": [
        {"name": "id", "type": "bigint", "typeoid": 20, "value": 1},
        {"name": "body", "type": "text", "typeoid": 25, "value": "old"},
        {"name": "meta", "type": "jsonb", "typeoid": 3802, "value": "{}"},
        {"name": "created_at", "type": "timestamp with time zone", "typeoid": 1184, "value": "2026-01-02 08:00:00.5+00"},
    ],
    "pk": [{"name": "id", "type": "bigint", "typeoid": 20}],
}


def test_decode_update_payload_shape():
    ch = C.decode_wal2json(W2J_UPDATE, {20: "int8", 25: "text", 3802: "jsonb", 1184: "timestamptz"})
    assert ch.type == "UPDATE" and ch.pk_values == (1,)
    data = C.payload_data(ch, rls_enabled=True)
    assert set(data) == {"schema", "table", "commit_timestamp", "type", "columns", "errors", "record", "old_record"}
    assert data["commit_timestamp"] == "2026-01-02T08:11:12.345Z"
    assert data["columns"][0] == {"name": "id", "type": "int8"}
    assert data["record"] == {"id": 1, "body": "new", "meta": {"a": 1}, "created_at": "2026-01-02T08:00:00.5+00:00"}
    assert data["old_record"]["body"] == "old" and data["errors"] is None


def test_decode_delete_rls_keeps_only_pk_and_skips_transactions():
    doc = dict(W2J_UPDATE, action="D")
    doc.pop("columns")
    ch = C.decode_wal2json(doc)
    assert C.payload_data(ch, rls_enabled=True)["old_record"] == {"id": 1}
    assert "record" not in C.payload_data(ch, rls_enabled=True)
    assert C.payload_data(ch, rls_enabled=False)["old_record"]["body"] == "old"
    assert C.decode_wal2json({"action": "B"}) is None and C.decode_wal2json({"action": "C"}) is None


def test_binding_matches_event_table_filter():
    ch = C.decode_wal2json(dict(W2J_UPDATE, action="I", identity=None))
    assert ch.type == "INSERT"
    yes = [{"event": "*", "schema": "public"}, {"event": "INSERT", "schema": "public", "table": "messages"},
           {"event": "INSERT", "schema": "public", "table": "messages", "filter": "body=eq.new"}]
    no = [{"event": "UPDATE", "schema": "public", "table": "messages"}, {"event": "*", "schema": "other"},
          {"event": "*", "schema": "public", "table": "notes"},
          {"event": "*", "schema": "public", "table": "messages", "filter": "id=neq.1"}]
    assert all(C.binding_matches(C.parse_binding(p), ch) for p in yes)
    assert not any(C.binding_matches(C.parse_binding(p), ch) for p in no)
