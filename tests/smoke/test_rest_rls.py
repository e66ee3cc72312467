"""REST and RLS: the access matrix of the application schema (stack/db/README.md).

anon, user A, user B and service_role each see, insert, update and delete exactly what
the policies intend. A is the only member of the seeded team; B is not.
"""
import pytest


def ids(response, what):
    assert response.status_code == 200, f"{what}: HTTP {response.status_code} {response.text[:300]}"
    return {row["id"] for row in response.json()}


def refused(response):
    """RLS refusals arrive as PostgREST errors: 401 for anon, 403 for a signed-in role."""
    return response.status_code in (401, 403) and response.json().get("code") == "42501"


# ---- notes: private per user ---------------------------------------------------------------
def test_user_sees_only_own_notes(as_a, as_b, world):
    """Catches: RLS disabled on notes, or a permissive SELECT policy (users read each other's notes)."""
    assert ids(as_a.select(f"notes?select=id&body=like.{world.tag}*"), "A lists notes") == {world.note_a}
    assert ids(as_b.select(f"notes?select=id&body=like.{world.tag}*"), "B lists notes") == {world.note_b}


def test_anon_sees_no_notes(as_anon, world):
    """Catches: a policy granting anon rows of a private table."""
    r = as_anon.select(f"notes?select=id&body=like.{world.tag}*")
    assert r.status_code in (200, 401) and (r.status_code == 401 or r.json() == []), r.text[:200]


def test_service_role_sees_every_note(as_service, world):
    """Catches: service_role without BYPASSRLS (admin jobs and the dashboard break)."""
    assert ids(as_service.select(f"notes?select=id&body=like.{world.tag}*"), "service lists notes") \
        >= {world.note_a, world.note_b}


def test_user_cannot_insert_a_note_as_someone_else(as_a, user_b, world):
    """Catches: an INSERT policy without WITH CHECK on owner_id (impersonation)."""
    assert refused(as_a.insert("notes", {"body": f"{world.tag} forged", "owner_id": user_b.id}))


def test_user_cannot_update_or_delete_another_users_note(as_a, as_service, world):
    """Catches: UPDATE/DELETE policies that are wider than SELECT."""
    assert as_a.update(f"notes?id=eq.{world.note_b}", {"body": f"{world.tag} defaced"}).json() == []
    assert as_a.delete(f"notes?id=eq.{world.note_b}").json() == []
    still = as_service.select(f"notes?id=eq.{world.note_b}&select=body").json()
    assert still == [{"body": f"{world.tag} note of B"}]


def test_user_updates_own_note(as_a, world):
    """Catches: owners locked out of their own rows (an UPDATE policy missing)."""
    r = as_a.update(f"notes?id=eq.{world.note_a}", {"body": f"{world.tag} note of A, edited"})
    assert [row["id"] for row in r.json()] == [world.note_a], r.text[:200]


# ---- team docs: shared within a team -----------------------------------------------------
def test_team_member_sees_team_docs_and_outsider_does_not(as_a, as_b, world):
    """Catches: team policies that ignore membership (every user reads every team)."""
    assert ids(as_a.select(f"team_docs?select=id&team_id=eq.{world.team_id}"), "A lists docs") == {world.team_doc}
    assert ids(as_b.select(f"team_docs?select=id&team_id=eq.{world.team_id}"), "B lists docs") == set()
    assert ids(as_b.select(f"teams?select=id&id=eq.{world.team_id}"), "B lists teams") == set()


def test_outsider_cannot_write_into_a_team(as_b, world):
    """Catches: an INSERT policy on team_docs that does not check membership."""
    assert refused(as_b.insert("team_docs", {"team_id": world.team_id, "title": f"{world.tag} intruder"}))


def test_user_cannot_join_a_team(as_b, user_b, world):
    """Catches: users able to add themselves to any team (memberships are service-only)."""
    assert refused(as_b.insert("team_members", {"team_id": world.team_id, "user_id": user_b.id}))


# ---- announcements: public, read-only ----------------------------------------------------
@pytest.mark.parametrize("who", ["as_anon", "as_a"])
def test_published_announcements_are_public_and_drafts_are_not(request, who, world):
    """Catches: drafts leaking (policy without `published`), or the public table closed to anon."""
    client = request.getfixturevalue(who)
    seen = ids(client.select(f"announcements?select=id&title=eq.{world.tag}"), f"{who} lists announcements")
    assert seen == {world.published}


@pytest.mark.parametrize("who", ["as_anon", "as_a"])
def test_announcements_are_read_only_for_clients(request, who, world):
    """Catches: a write policy on a read-only table (anyone could publish)."""
    client = request.getfixturevalue(who)
    assert refused(client.insert("announcements", {"title": f"{world.tag} spam"}))


# ---- messages (the realtime table) -----------------------------------------------------------
def test_messages_are_private_to_their_owner(as_a, as_b, world):
    """Catches: the realtime table readable by other users (its changes would be too)."""
    assert ids(as_a.select(f"messages?select=id&room=eq.{world.tag}"), "A lists messages") == {world.message_a}
    assert ids(as_b.select(f"messages?select=id&room=eq.{world.tag}"), "B lists messages") == set()


# ---- REST conventions clients rely on ------------------------------------------------------
def test_count_exact_reports_content_range(as_service, world):
    """Catches: a REST layer without PostgREST's count semantics (pagination in clients breaks)."""
    r = as_service._call("GET", f"notes?select=id&body=like.{world.tag}*&limit=1",
                         headers={"Prefer": "count=exact"})
    assert r.status_code in (200, 206)
    assert r.headers.get("Content-Range", "").endswith("/2"), r.headers.get("Content-Range")


def test_rpc_reports_the_jwt_identity_to_sql(as_a, user_a):
    """Catches: request.jwt.claims not set per request (auth.uid() null: every policy fails)."""
    r = as_a._call("POST", "rpc/whoami", json={})
    assert r.status_code == 200, r.text[:200]
    assert r.json()["uid"] == user_a.id and r.json()["role"] == "authenticated"
