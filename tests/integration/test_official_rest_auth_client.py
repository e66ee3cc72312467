"""The official Supabase Python client (`supabase`, pinned in requirements.txt) against the
gateway: what an application does on day one (sign up, sign in, read and write its own rows,
refresh) works, other users' rows stay hidden, and the REST and Auth error contract the
client libraries parse (PostgREST error JSON, Content-Range, GoTrue error codes) holds.

Everything is namespaced by the run id: users are deleted through the auth admin API (the
`users` fixture) and rows by id with the service key, so the module is safe on any target.
"""
from __future__ import annotations

import uuid

import httpx
import pytest
from postgrest.exceptions import APIError as RestError
from supabase import Client, ClientOptions, create_client
from supabase_auth.errors import AuthApiError, AuthWeakPasswordError

from suite.thresholds import LIMITS


# ---- clients and the run's own users and rows ------------------------------------------------
def _client(target, key: str) -> Client:
    # The suite's timeouts instead of the library's 5 s: a busy CI box is not a broken stack.
    http = httpx.Client(timeout=httpx.Timeout(LIMITS.http.read_timeout_s, connect=LIMITS.http.connect_timeout_s))
    return create_client(target.url("gateway"), key, options=ClientOptions(httpx_client=http))


@pytest.fixture(scope="module")
def service_client(gateway, target) -> Client:
    return _client(target, target.service_key)


@pytest.fixture(scope="module", autouse=True)
def sweep_client_users(gateway, target, run_id):
    """Deletes the module's users by email prefix at the end: a sign-up whose answer timed
    out on the client still created a user whose id the suite never saw."""
    yield
    r = gateway.get("/auth/v1/admin/users?per_page=1000", key="service", token=target.service_key)
    assert r.status_code == 200, f"listing users for cleanup: HTTP {r.status_code}"
    prefix = f"{run_id}-client-"
    left = [u["id"] for u in r.json().get("users", []) if (u.get("email") or "").startswith(prefix)]
    failed = [uid for uid in left if gateway.request("DELETE", f"/auth/v1/admin/users/{uid}", key="service",
                                                     token=target.service_key).status_code not in (200, 204, 404)]
    assert not failed, f"could not delete the module's users: {failed}"


@pytest.fixture(scope="module")
def note_ids(service_client):
    """Ids of notes the module wrote; deleted with the service key at the end."""
    ids: list[int] = []
    yield ids
    if ids:
        gone = service_client.table("notes").delete().in_("id", ids).execute()
        assert {row["id"] for row in gone.data} == set(ids), f"notes left behind: {ids}"


class Account:
    """A user signed in through the official client with the anon key."""

    def __init__(self, client: Client, user_id: str, email: str, password: str):
        self.client, self.id, self.email, self.password = client, user_id, email, password


def _signup_allowed(gateway) -> bool:
    settings = gateway.get("/auth/v1/settings").json()
    return not settings.get("disable_signup") and settings.get("mailer_autoconfirm")


@pytest.fixture(scope="module")
def alice(gateway, target, users, run_id) -> Account:
    """Signed up through the client (autoconfirm), else made by the admin API and signed in."""
    client = _client(target, target.anon_key)
    email, password = f"{run_id}-client-alice@suite.example.test", uuid.uuid4().hex
    if _signup_allowed(gateway):
        res = client.auth.sign_up({"email": email, "password": password})
        users.created.append(res.user.id)
        assert res.session is not None, "autoconfirm is on, but sign-up returned no session"
        client.auth.sign_out()  # sign in below, as an app does on its next start
    else:
        made = users.create("client-alice")
        email, password = made.email, made.password
    res = client.auth.sign_in_with_password({"email": email, "password": password})
    return Account(client, res.user.id, email, password)


@pytest.fixture(scope="module")
def bob(target, users) -> Account:
    made = users.create("client-bob")
    client = _client(target, target.anon_key)
    client.auth.sign_in_with_password({"email": made.email, "password": made.password})
    return Account(client, made.id, made.email, made.password)


@pytest.fixture(scope="module")
def alices_note(alice, note_ids, run_id) -> dict:
    row = alice.client.table("notes").insert({"body": f"{run_id} alice private"}).execute().data[0]
    note_ids.append(row["id"])
    return row


# ---- the client's day-one flows --------------------------------------------------------------
def test_client_sign_up_creates_a_session(gateway, target, users, run_id):
    """Catches: sign-up through the gateway broken for the official client (auth route, anon
    key, migrations, or a response shape supabase-py cannot parse)."""
    if not _signup_allowed(gateway):
        pytest.skip("the target disables sign-up or autoconfirm; users are made by the admin API")
    client = _client(target, target.anon_key)
    email = f"{run_id}-client-signup@suite.example.test"
    res = client.auth.sign_up({"email": email, "password": uuid.uuid4().hex})
    users.created.append(res.user.id)
    assert res.user.email == email
    assert res.session and res.session.access_token and res.session.refresh_token
    assert client.auth.get_user().user.id == res.user.id


def test_signed_in_user_writes_and_reads_own_rows(alice, alices_note, note_ids, run_id):
    """Catches: RLS or grants locking owners out of their rows, or `owner_id default
    auth.uid()` not filled from the client's JWT (request.jwt.claims unset)."""
    assert alices_note["owner_id"] == alice.id
    updated = (alice.client.table("notes").update({"body": f"{run_id} alice edited"})
               .eq("id", alices_note["id"]).execute())
    assert [r["body"] for r in updated.data] == [f"{run_id} alice edited"]
    mine = alice.client.table("notes").select("id, owner_id").like("body", f"{run_id}*").execute()
    assert mine.data == [{"id": alices_note["id"], "owner_id": alice.id}]


def test_other_user_cannot_read_or_change_private_rows(bob, alices_note, service_client, run_id):
    """Catches: a permissive SELECT/UPDATE/DELETE policy on notes (users read or deface each
    other's private rows through the public API)."""
    seen = bob.client.table("notes").select("id").eq("id", alices_note["id"]).execute()
    assert seen.data == [], "bob read alice's private note"
    changed = bob.client.table("notes").update({"body": "defaced"}).eq("id", alices_note["id"]).execute()
    deleted = bob.client.table("notes").delete().eq("id", alices_note["id"]).execute()
    assert changed.data == [] and deleted.data == []
    still = service_client.table("notes").select("body").eq("id", alices_note["id"]).execute()
    assert still.data and still.data[0]["body"].startswith(run_id), "alice's note was changed by bob"


def test_other_user_cannot_write_as_someone_else(bob, alice, run_id):
    """Catches: an INSERT policy without WITH CHECK on owner_id (impersonation via the client)."""
    with pytest.raises(RestError) as err:
        bob.client.table("notes").insert({"body": f"{run_id} forged", "owner_id": alice.id}).execute()
    assert err.value.code == "42501", err.value


def test_refreshed_session_keeps_working(alice, alices_note):
    """Catches: refresh through the client broken (every app session ends after JWT_EXPIRY),
    or a refreshed token REST does not accept."""
    before = alice.client.auth.get_session()
    res = alice.client.auth.refresh_session()
    assert res.session.refresh_token != before.refresh_token, "refresh token not rotated"
    assert res.session.access_token != before.access_token or res.session.expires_at >= before.expires_at
    assert res.user.id == alice.id
    again = alice.client.table("notes").select("id").eq("id", alices_note["id"]).execute()
    assert again.data == [{"id": alices_note["id"]}], "REST refused or filtered the refreshed session"


def test_service_client_sees_every_users_rows(service_client, alice, bob, alices_note, note_ids, run_id):
    """Catches: service_role without BYPASSRLS, or the gateway passing the service key as anon."""
    bobs = bob.client.table("notes").insert({"body": f"{run_id} bob private"}).execute().data[0]
    note_ids.append(bobs["id"])
    rows = service_client.table("notes").select("id, owner_id").like("body", f"{run_id}*").execute()
    assert {(r["id"], r["owner_id"]) for r in rows.data} >= {(alices_note["id"], alice.id), (bobs["id"], bob.id)}
    listed = service_client.auth.admin.list_users(page=1, per_page=1000)
    assert {alice.id, bob.id} <= {u.id for u in listed}, "admin API does not list the run's users"


# ---- REST (PostgREST) contract details the client libraries rely on ---------------------------
def test_missing_table_is_a_postgrest_error(gateway):
    """Catches: a REST layer (or gateway error page) that answers a missing table with HTML or
    another shape; clients read code/message/details/hint (PGRST205, 404)."""
    r = gateway.get("/rest/v1/no_such_table_for_the_suite?select=id")
    assert r.status_code == 404, f"missing table: HTTP {r.status_code} {r.text[:200]}"
    assert r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"code", "message", "details", "hint"} and body["code"] == "PGRST205", body


def test_unknown_column_and_bad_filter_are_400(gateway):
    """Catches: filters passed to SQL unchecked (a 500 or a silently ignored filter instead of
    PostgREST's 400 with SQLSTATE 42703 / PGRST100)."""
    r = gateway.get("/rest/v1/announcements?select=no_such_column")
    assert r.status_code == 400 and r.json()["code"] == "42703", r.text[:200]
    r = gateway.get("/rest/v1/announcements?id=nosuchop.1")
    assert r.status_code == 400 and r.json()["code"] == "PGRST100", r.text[:200]


def test_content_range_and_range_requests(service_get, note_ids, run_id, alice, alices_note):
    """Catches: missing Content-Range (clients' count and pagination break) or a Range header
    ignored (206 partial content and 416 beyond the end are PostgREST's answers)."""
    more = alice.client.table("notes").insert([{"body": f"{run_id} page {i}"} for i in range(3)]).execute().data
    note_ids.extend(r["id"] for r in more)
    path = f"/rest/v1/notes?select=id&body=like.{run_id}*&order=id"
    r = service_get(path)
    assert r.status_code == 200 and r.headers.get("Content-Range") == f"0-{len(r.json()) - 1}/*", r.headers
    total = len(r.json())
    r = service_get(path, headers={"Range": "1-2", "Prefer": "count=exact"})
    assert r.status_code == 206 and r.headers.get("Content-Range") == f"1-2/{total}", (r.status_code, r.headers)
    assert len(r.json()) == 2
    r = service_get(path, headers={"Range": f"{total + 5}-{total + 9}", "Prefer": "count=exact"})
    assert r.status_code == 416 and r.json()["code"] == "PGRST103", r.text[:200]


@pytest.fixture
def service_get(gateway, target):
    def get(path, headers=None):
        return gateway.get(path, key="anon", token=target.service_key, headers=headers)
    return get


def test_single_object_accept_header(gateway, target, alices_note):
    """Catches: `.single()` / `Accept: application/vnd.pgrst.object+json` not honoured
    (clients get an array, or no PGRST116 406 when zero rows match)."""
    accept = {"Accept": "application/vnd.pgrst.object+json"}
    r = gateway.get(f"/rest/v1/notes?select=id&id=eq.{alices_note['id']}", token=target.service_key, headers=accept)
    assert r.status_code == 200 and r.json() == {"id": alices_note["id"]}, r.text[:200]
    r = gateway.get("/rest/v1/notes?select=id&id=eq.-1", token=target.service_key, headers=accept)
    assert r.status_code == 406 and r.json()["code"] == "PGRST116", r.text[:200]


def test_invalid_jwt_is_a_postgrest_401(gateway):
    """Catches: REST accepting a malformed bearer token as anon (PostgREST refuses it with 401
    PGRST301 and a WWW-Authenticate header, which clients use to trigger a refresh)."""
    r = gateway.get("/rest/v1/announcements?select=id", token="not.a.jwt")
    assert r.status_code == 401 and r.json()["code"] == "PGRST301", r.text[:200]
    assert r.headers.get("WWW-Authenticate", "").startswith("Bearer")


# ---- Auth (GoTrue) error codes the client maps to exceptions -----------------------------------
def test_weak_password_is_refused_with_reasons(gateway, target, run_id, users):
    """Catches: auth accepting passwords under GOTRUE_PASSWORD_MIN_LENGTH, or an error shape
    without error_code weak_password (supabase-py raises AuthWeakPasswordError from it)."""
    if not _signup_allowed(gateway):
        pytest.skip("the target disables sign-up")
    client = _client(target, target.anon_key)
    with pytest.raises(AuthWeakPasswordError) as err:
        res = client.auth.sign_up({"email": f"{run_id}-client-weak@suite.example.test", "password": "abc"})
        users.created.append(res.user.id)  # only reached when the stack is broken
    assert err.value.status == 422 and err.value.code == "weak_password"
    assert "length" in err.value.reasons


def test_duplicate_email_is_refused(gateway, target, alice):
    """Catches: a second account for an existing email (auth.users unique index missing), or an
    error without GoTrue's error_code user_already_exists."""
    if not _signup_allowed(gateway):
        pytest.skip("the target disables sign-up")
    client = _client(target, target.anon_key)
    with pytest.raises(AuthApiError) as err:
        client.auth.sign_up({"email": alice.email, "password": uuid.uuid4().hex})
    assert err.value.status == 422 and err.value.code == "user_already_exists", err.value


def test_wrong_password_names_invalid_credentials(target, alice):
    """Catches: sign-in errors without error_code invalid_credentials (apps show the wrong
    message) or a password check that accepts anything."""
    client = _client(target, target.anon_key)
    with pytest.raises(AuthApiError) as err:
        client.auth.sign_in_with_password({"email": alice.email, "password": "wrong-" + alice.password})
    assert err.value.status == 400 and err.value.code == "invalid_credentials", err.value


def test_auth_error_format_follows_api_version_header(gateway):
    """Catches: an auth service ignoring X-Supabase-Api-Version (current clients send
    2024-01-01 and read `code` as a string; older ones read `error_code`)."""
    bad = {"email": "nobody@suite.example.test", "password": "x"}
    legacy = gateway.post("/auth/v1/token?grant_type=password", json=bad).json()
    assert legacy.get("error_code") == "invalid_credentials" and legacy.get("code") == 400, legacy
    current = gateway.post("/auth/v1/token?grant_type=password", json=bad,
                           headers={"X-Supabase-Api-Version": "2024-01-01"}).json()
    assert current.get("code") == "invalid_credentials" and "message" in current, current


# ---- Meta (postgres-meta, admin route) ----------------------------------------------------------
def test_meta_lists_app_tables_with_rls(gateway):
    """Catches: meta reading another database or a role that cannot see the app schema (the
    dashboard shows no tables), or RLS reported off on a private table."""
    r = gateway.get("/pg/tables", key="service")
    assert r.status_code == 200, f"/pg/tables: HTTP {r.status_code} {r.text[:200]}"
    notes = [t for t in r.json() if t["schema"] == "public" and t["name"] == "notes"]
    assert notes and notes[0]["rls_enabled"] is True, notes
    r = gateway.get("/pg/policies", key="service")
    assert r.status_code == 200
    assert any(p["schema"] == "public" and p["table"] == "notes" for p in r.json())
