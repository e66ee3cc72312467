"""REST and RLS through the gateway: the HTTP path of the access rules.

The full access matrix (every table, identity and operation) is the target's access spec,
checked in the database by test_access_spec.py. What stays here is what that check cannot
show: that the REST layer applies the role of each request's JWT. One table per pattern,
with real JWTs of the run's users (created and removed through the auth admin API): own
rows (notes), membership (team_docs), public rows with hidden drafts (announcements),
service_role over everything, and the identity reaching SQL. A is the only member of the
seeded team; B is not.
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


# ---- team docs: shared within a team -----------------------------------------------------
def test_team_member_sees_team_docs_and_outsider_does_not(as_a, as_b, world):
    """Catches: team policies that ignore membership (every user reads every team)."""
    assert ids(as_a.select(f"team_docs?select=id&team_id=eq.{world.team_id}"), "A lists docs") == {world.team_doc}
    assert ids(as_b.select(f"team_docs?select=id&team_id=eq.{world.team_id}"), "B lists docs") == set()
    assert ids(as_b.select(f"teams?select=id&id=eq.{world.team_id}"), "B lists teams") == set()


# ---- announcements: public rows, drafts hidden ----------------------------------------
@pytest.mark.parametrize("who", ["as_anon", "as_a"])
def test_published_announcements_are_public_and_drafts_are_not(request, who, world):
    """Catches: drafts leaking (policy without `published`), or the public table closed to anon."""
    client = request.getfixturevalue(who)
    seen = ids(client.select(f"announcements?select=id&title=eq.{world.tag}"), f"{who} lists announcements")
    assert seen == {world.published}


# ---- REST conventions clients rely on ------------------------------------------------------
def test_count_exact_reports_content_range(as_service, world):
    """Catches: a REST layer without PostgREST's count semantics (pagination in clients breaks)."""
    r = as_service._call("GET", f"notes?select=id&body=like.{world.tag}*&limit=1",
                         headers={"Prefer": "count=exact"})
    assert r.status_code in (200, 206)
    assert r.headers.get("Content-Range", "").endswith("/2"), r.headers.get("Content-Range")


def test_rpc_reports_the_jwt_identity_to_sql(example_schema, as_a, user_a):
    """Catches: request.jwt.claims not set per request (auth.uid() null: every policy fails)."""
    r = as_a._call("POST", "rpc/whoami", json={})
    assert r.status_code == 200, r.text[:200]
    assert r.json()["uid"] == user_a.id and r.json()["role"] == "authenticated"
