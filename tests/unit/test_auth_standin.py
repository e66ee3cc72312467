"""Pure logic of the auth stand-in (GoTrue-compatible): no database, no network."""
import datetime as dt
import time
import uuid
import warnings

import pytest

jwt = pytest.importorskip("jwt")

from standins.auth import errors, passwords, serialize, tokens, validation  # noqa: E402
from standins.auth.config import Config, libpq_conninfo, parse_go_duration  # noqa: E402

pytestmark = pytest.mark.unit

SECRET = "unit-test-secret-unit-test-secret-0123456789"
USER = {
    "id": uuid.UUID("11111111-2222-3333-4444-555555555555"), "aud": "authenticated", "role": "authenticated",
    "email": "ann@example.com", "phone": None, "raw_app_meta_data": {"provider": "email", "providers": ["email"]},
    "raw_user_meta_data": {"name": "Ann"}, "is_anonymous": False,
}


# ---------------------------------------------------------------- config

def test_config_reads_gotrue_env():
    cfg = Config.from_env({
        "GOTRUE_JWT_SECRET": SECRET, "GOTRUE_DB_DATABASE_URL": "postgres://a:b@db:5432/postgres",
        "API_EXTERNAL_URL": "http://localhost:8000", "GOTRUE_JWT_EXP": "120", "GOTRUE_DISABLE_SIGNUP": "true",
        "GOTRUE_MAILER_AUTOCONFIRM": "false", "GOTRUE_JWT_ADMIN_ROLES": "service_role, supabase_admin",
        "GOTRUE_PASSWORD_MIN_LENGTH": "10", "GOTRUE_METRICS_ENABLED": "true",
    })
    assert cfg.api_port == 9999 and cfg.jwt_exp == 120 and cfg.disable_signup and not cfg.mailer_autoconfirm
    assert cfg.jwt_admin_roles == ("service_role", "supabase_admin")
    assert cfg.password_min_length == 10 and cfg.metrics_enabled and cfg.metrics_port == 9100
    assert cfg.issuer == "http://localhost:8000/auth/v1"


def test_config_min_password_never_below_six_and_secret_required():
    cfg = Config.from_env({"GOTRUE_JWT_SECRET": SECRET, "GOTRUE_DB_DATABASE_URL": "postgres://x",
                           "GOTRUE_PASSWORD_MIN_LENGTH": "2"})
    assert cfg.password_min_length == 6
    with pytest.raises(ValueError):
        Config.from_env({"GOTRUE_DB_DATABASE_URL": "postgres://x"})


def test_libpq_conninfo_translates_search_path():
    out = libpq_conninfo("postgres://u:p%40ss@db:5432/postgres?search_path=auth&sslmode=disable&pool=5")
    assert out.startswith("postgresql://u:p%40ss@db:5432/postgres?")
    assert "sslmode=disable" in out and "pool" not in out and "search_path%3Dauth" in out


@pytest.mark.parametrize("text,seconds", [("24h", 86400), ("1h30m", 5400), ("90s", 90), ("0", 0), ("1.5h", 5400)])
def test_go_duration(text, seconds):
    assert parse_go_duration(text) == seconds


def test_go_duration_rejects_garbage():
    with pytest.raises(ValueError):
        parse_go_duration("tomorrow")


# ---------------------------------------------------------------- tokens

def test_access_token_claims_like_gotrue():
    claims = tokens.access_token_claims(user=USER, session_id="s-1", issuer="http://x/auth/v1", exp_seconds=3600,
                                        amr=[{"method": "password", "timestamp": 1}], now=1000)
    assert claims == {
        "iss": "http://x/auth/v1", "sub": str(USER["id"]), "aud": "authenticated", "exp": 4600, "iat": 1000,
        "email": "ann@example.com", "phone": "", "app_metadata": USER["raw_app_meta_data"],
        "user_metadata": {"name": "Ann"}, "role": "authenticated", "aal": "aal1",
        "amr": [{"method": "password", "timestamp": 1}], "session_id": "s-1", "is_anonymous": False,
    }


def test_token_roundtrip_and_header():
    claims = tokens.access_token_claims(user=USER, session_id="s", issuer="i", exp_seconds=60, amr=[])
    tok = tokens.encode(claims, SECRET)
    assert jwt.get_unverified_header(tok)["alg"] == "HS256"
    assert tokens.decode(tok, SECRET)["sub"] == str(USER["id"])


def _decode_error(token):
    with pytest.raises(errors.APIError) as ei:
        tokens.decode(token, SECRET)
    return ei.value


def test_expired_wrong_key_tampered_and_none_alg_are_refused():
    now = int(time.time())
    expired = jwt.encode({"sub": "x", "exp": now - 5}, SECRET, algorithm="HS256")
    e = _decode_error(expired)
    assert (e.status, e.error_code) == (403, "bad_jwt") and "expired" in e.msg
    wrong = jwt.encode({"sub": "x", "exp": now + 60}, "another-key-another-key-another-key!", algorithm="HS256")
    assert _decode_error(wrong).error_code == "bad_jwt"
    good = jwt.encode({"sub": "x", "role": "authenticated", "exp": now + 60}, SECRET, algorithm="HS256")
    h, p, s = good.split(".")
    forged_payload = jwt.utils.base64url_encode(b'{"sub":"x","role":"service_role"}').decode()
    assert _decode_error(f"{h}.{forged_payload}.{s}").error_code == "bad_jwt"
    none_header = jwt.utils.base64url_encode(b'{"alg":"none","typ":"JWT"}').decode()
    assert _decode_error(f"{none_header}.{p}.").error_code == "bad_jwt"
    with warnings.catch_warnings():  # short key for HS512: irrelevant, the algorithm is refused
        warnings.simplefilter("ignore")
        hs512 = jwt.encode({"sub": "x"}, SECRET, algorithm="HS512")
    assert _decode_error(hs512).error_code == "bad_jwt"
    assert _decode_error("not-a-jwt").error_code == "bad_jwt"


def test_refresh_tokens_are_random_and_opaque():
    seen = {tokens.new_refresh_token() for _ in range(200)}
    assert len(seen) == 200 and all(t.isalnum() and len(t) == 22 for t in seen)


def test_token_response_shape():
    body = tokens.token_response(access_token="a", refresh_token="r", expires_in=3600, expires_at=99,
                                 user={"id": "u"}, weak_password=None)
    assert body == {"access_token": "a", "token_type": "bearer", "expires_in": 3600, "expires_at": 99,
                    "refresh_token": "r", "user": {"id": "u"}}


# ---------------------------------------------------------------- passwords

def test_password_too_short_is_weak_password_422():
    with pytest.raises(errors.APIError) as ei:
        passwords.check_strength("12345", 6)
    e = ei.value
    assert (e.status, e.error_code, e.reasons) == (422, "weak_password", ["length"])
    assert e.msg == "Password should be at least 6 characters."


def test_password_required_characters_and_length_limit():
    with pytest.raises(errors.APIError) as ei:
        passwords.check_strength("abcdefgh", 6, ("abcdefghijklmnopqrstuvwxyz", "0123456789"))
    assert ei.value.reasons == ["characters"]
    with pytest.raises(errors.APIError) as ei:
        passwords.check_strength("x" * 73, 6)
    assert (ei.value.status, ei.value.error_code) == (400, "validation_failed")
    passwords.check_strength("abcdef1", 6, ("abcdefghijklmnopqrstuvwxyz", "0123456789"))


def test_weakness_is_reported_on_sign_in():
    assert passwords.weakness("abc", 6) == {"message": "Password should be at least 6 characters.",
                                            "reasons": ["length"]}
    assert passwords.weakness("abcdefgh", 6) is None


def test_bcrypt_hash_cost_10_go_prefix_and_verify():
    pytest.importorskip("bcrypt")
    h = passwords.hash_password("s3cret-pass", cost=4)
    assert h.startswith("$2a$04$")
    assert passwords.verify_password("s3cret-pass", h)
    assert not passwords.verify_password("wrong", h)
    assert not passwords.verify_password("x", None) and not passwords.verify_password("x", "garbage")
    assert passwords.BCRYPT_COST == 10


# ---------------------------------------------------------------- errors

def test_legacy_error_body():
    e = errors.bad_request(errors.INVALID_CREDENTIALS, errors.INVALID_LOGIN_MESSAGE)
    assert errors.error_body(e) == {"code": 400, "error_code": "invalid_credentials",
                                    "msg": "Invalid login credentials"}


def test_2024_error_body_and_weak_password():
    e = errors.weak_password("Password should be at least 6 characters.", ["length"])
    assert errors.error_body(e, "2024-01-01") == {"code": "weak_password",
                                                  "message": "Password should be at least 6 characters.",
                                                  "weak_password": {"reasons": ["length"]}}
    assert errors.error_body(e, None)["weak_password"] == {"reasons": ["length"]}
    assert errors.error_body(e, "garbage")["code"] == 422  # invalid header: legacy format


def test_oauth_and_500_bodies():
    assert errors.error_body(errors.OAuthError("unsupported_grant_type")) == {"error": "unsupported_grant_type"}
    assert errors.error_body(errors.OAuthError("invalid_request", "refresh_token required")) == {
        "error": "invalid_request", "error_description": "refresh_token required"}
    body = errors.error_body(errors.internal(), None, "eid")
    assert body["code"] == 500 and body["error_code"] == "unexpected_failure" and body["error_id"] == "eid"


# ---------------------------------------------------------------- validation

def test_email_validation():
    assert validation.validate_email("Ann@Example.COM") == "ann@example.com"
    for bad, msg in [("", "An email address is required"), ("no-at-sign", "Unable to validate"),
                     ("a@" + "b" * 260 + ".com", "too long")]:
        with pytest.raises(errors.APIError) as ei:
            validation.validate_email(bad)
        assert ei.value.error_code == "validation_failed" and msg in ei.value.msg


def test_phone_validation():
    assert validation.validate_phone("+1 (555) 010-9999") == "15550109999"
    with pytest.raises(errors.APIError):
        validation.validate_phone("abc")


def test_params_like_go_json_unmarshal():
    spec = {"email": str, "password": str, "data": dict, "email_confirm": bool}
    assert validation.params({"email": "a", "data": None, "extra": 1}, spec, "X") == {"email": "a"}
    for body in ([1], "s", {"email": 5}, {"data": [1]}, {"email_confirm": "yes"}):
        with pytest.raises(errors.APIError) as ei:
            validation.params(body, spec, "X")
        assert (ei.value.status, ei.value.error_code) == (400, "bad_json")


# ---------------------------------------------------------------- serialisation

def test_user_json_shape_and_timestamps():
    t = dt.datetime(2025, 1, 2, 3, 4, 5, 120000, tzinfo=dt.timezone.utc)
    row = dict(USER, created_at=t, updated_at=t, email_confirmed_at=t, confirmed_at=t, last_sign_in_at=None,
               email_change="", banned_until=None)
    out = serialize.user_json(row, [])
    assert list(out)[:4] == ["id", "aud", "role", "email"]
    assert out["email_confirmed_at"] == "2025-01-02T03:04:05.12Z" and out["phone"] == ""
    assert "last_sign_in_at" not in out and "new_email" not in out and "banned_until" not in out
    assert out["identities"] == [] and out["is_anonymous"] is False
    assert serialize.ts(dt.datetime(2025, 1, 1)) == "2025-01-01T00:00:00Z"


def test_identity_json():
    t = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
    out = serialize.identity_json({"id": uuid.UUID(int=1), "provider_id": "p", "user_id": uuid.UUID(int=2),
                                   "identity_data": {"sub": "p"}, "provider": "email", "last_sign_in_at": t,
                                   "created_at": t, "updated_at": t, "email": "a@b.c"})
    assert out["identity_id"] == str(uuid.UUID(int=1)) and out["id"] == "p" and out["email"] == "a@b.c"


def test_merge_metadata_null_deletes():
    assert serialize.merge_metadata({"a": 1, "b": 2}, {"b": None, "c": 3}) == {"a": 1, "c": 3}
    assert serialize.merge_metadata(None, {"x": 1}) == {"x": 1}
