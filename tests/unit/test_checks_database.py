"""The database checks catch each seeded misconfiguration in catalog rows shaped like the
real ones (as fetch_* reads them from the stack's database)."""
import copy

import pytest

from suite.checks import database

TABLES = [{"table": f"public.{t}", "rls": True, "policies": n} for t, n in
          [("announcements", 1), ("messages", 4), ("notes", 4), ("team_docs", 4), ("team_members", 1), ("teams", 1)]]
POLICIES = [
    {"table": "public.announcements", "policy": "announcements_select_published", "permissive": "PERMISSIVE",
     "roles": ["anon", "authenticated"], "cmd": "SELECT", "qual": "published", "with_check": None},
    {"table": "public.notes", "policy": "notes_select_own", "permissive": "PERMISSIVE",
     "roles": ["authenticated"], "cmd": "SELECT", "qual": "(owner_id = ( SELECT auth.uid() AS uid))", "with_check": None},
]
ROLES = {
    "anon": {"super": False, "bypassrls": False, "config": ["statement_timeout=3s"]},
    "authenticated": {"super": False, "bypassrls": False, "config": ["statement_timeout=8s"]},
    "authenticator": {"super": False, "bypassrls": False, "config": []},
    "service_role": {"super": False, "bypassrls": True, "config": []},
}
TIMEOUTS = {"anon": 3, "authenticated": 8}


@pytest.fixture
def roles():
    return copy.deepcopy(ROLES)


def test_the_real_shapes_pass():
    assert database.check_rls_enabled(TABLES) == []
    assert database.check_policies_exist(TABLES) == []
    assert database.check_private_tables_closed_to_anon(POLICIES) == []
    assert database.check_statement_timeouts(ROLES, TIMEOUTS) == []
    assert database.check_role_attributes(ROLES) == []


def test_table_without_rls():
    """Seeded: RLS off on public.notes."""
    tables = [dict(t, rls=t["table"] != "public.notes") for t in TABLES]
    assert database.check_rls_enabled(tables) == [
        "table public.notes: row level security is off (anyone with the anon key reads and writes it)"]


def test_table_without_policy():
    """Seeded: public.teams with RLS on and no policy."""
    tables = [dict(t, policies=0 if t["table"] == "public.teams" else t["policies"]) for t in TABLES]
    assert database.check_policies_exist(tables) == [
        "table public.teams: RLS on but no policy (closed to every client but service_role)"]


@pytest.mark.parametrize("roles_", [["anon"], ["public"]])
def test_private_table_open_to_anon(roles_):
    """Seeded: a policy TO anon (or PUBLIC) USING (true) on the private table notes."""
    leak = {"table": "public.notes", "policy": "leak", "permissive": "PERMISSIVE", "roles": roles_,
            "cmd": "SELECT", "qual": "true", "with_check": None}
    assert database.check_private_tables_closed_to_anon(POLICIES + [leak]) == [
        f"table public.notes: policy leak (SELECT) gives {roles_[0]} USING (true) on a private table"]


def test_private_table_insertable_by_anon():
    """Seeded: an INSERT policy TO anon WITH CHECK (true) on messages."""
    leak = {"table": "public.messages", "policy": "anyone_posts", "permissive": "PERMISSIVE", "roles": ["anon"],
            "cmd": "INSERT", "qual": None, "with_check": "true"}
    assert database.check_private_tables_closed_to_anon([leak]) == [
        "table public.messages: policy anyone_posts (INSERT) gives anon WITH CHECK (true) on a private table"]


def test_open_policy_on_the_public_table_is_allowed():
    """announcements is public-read by design (stack/db/README.md access matrix)."""
    ok = {"table": "public.announcements", "policy": "all", "permissive": "PERMISSIVE", "roles": ["anon"],
          "cmd": "SELECT", "qual": "true", "with_check": None}
    assert database.check_private_tables_closed_to_anon([ok]) == []


def test_missing_statement_timeout(roles):
    """Seeded: anon without statement_timeout; authenticated with 0 (disabled)."""
    roles["anon"]["config"] = []
    roles["authenticated"]["config"] = ["statement_timeout=0"]
    assert database.check_statement_timeouts(roles, TIMEOUTS) == [
        "role anon: no statement_timeout (one slow query can hold the pool)",
        "role authenticated: statement_timeout=0 (disabled or unreadable)"]


def test_wrong_statement_timeout(roles):
    """Seeded: authenticated with 60s instead of 8s."""
    roles["authenticated"]["config"] = ["statement_timeout=60s"]
    assert database.check_statement_timeouts(roles, TIMEOUTS) == [
        "role authenticated: statement_timeout=60s, expected 8s (thresholds.yaml)"]


def test_api_role_is_superuser_or_bypasses_rls(roles):
    """Seeded: authenticator a superuser, anon with BYPASSRLS."""
    roles["authenticator"]["super"] = True
    roles["anon"]["bypassrls"] = True
    assert database.check_role_attributes(roles) == [
        "role anon: bypassrls=True, expected False",
        "role authenticator: superuser=True, expected False"]


def test_service_role_without_bypassrls(roles):
    """Seeded: service_role without BYPASSRLS (the admin API sees only what policies allow)."""
    roles["service_role"]["bypassrls"] = False
    assert database.check_role_attributes(roles) == ["role service_role: bypassrls=False, expected True"]


def test_missing_role(roles):
    """Seeded: role authenticated does not exist."""
    del roles["authenticated"]
    assert database.check_role_attributes(roles) == ["role authenticated: missing"]
