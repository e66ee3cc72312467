"""`make access-spec` drafts a spec from catalog rows shaped like the bundled schema's: owner
columns and memberships inferred, every entry unreviewed, and the draft parses."""
from pathlib import Path

from suite.access import draft, spec as access_spec
from suite.access.catalog import Column, Relation


def col(name, references=None, category="S"):
    return Column(name, "text", category, required=False, default=None, writable=True, references=references)


RELATIONS = {
    "public.notes": Relation("public.notes", "table", True, {c: col(c) for c in ("id", "owner_id", "body")}, ("id",)),
    "public.teams": Relation("public.teams", "table", True, {c: col(c) for c in ("id", "name")}, ("id",)),
    "public.team_members": Relation("public.team_members", "table", True,
                                    {"team_id": col("team_id", ("public.teams", "id")), "user_id": col("user_id")},
                                    ("team_id", "user_id")),
    "public.team_docs": Relation("public.team_docs", "table", True,
                                 {"id": col("id"), "team_id": col("team_id", ("public.teams", "id")),
                                  "title": col("title")}, ("id",)),
    "public.open": Relation("public.open", "table", False, {"id": col("id")}, ("id",)),
    "public.summary": Relation("public.summary", "view", False, {}, ()),
}
OWN = "(owner_id = ( SELECT auth.uid() AS uid))"


def policy(table, cmd, qual, check=None, roles=("authenticated",)):
    return {"table": table, "policy": f"{table.split('.')[1]}_{cmd.lower()}", "permissive": "PERMISSIVE",
            "roles": list(roles), "cmd": cmd, "qual": qual, "with_check": check}


POLICIES = [
    policy("public.notes", "SELECT", OWN), policy("public.notes", "INSERT", None, OWN),
    policy("public.notes", "UPDATE", OWN, OWN), policy("public.notes", "DELETE", "true"),
    policy("public.team_members", "SELECT", "(user_id = auth.uid())"),
    policy("public.teams", "SELECT", "is_team_member(id)"),
    policy("public.team_docs", "ALL", "is_team_member(team_id)", "is_team_member(team_id)"),
]
ALL_PRIVS = {"bypassrls": False, "select": True, "insert": True, "update": True, "delete": True}
GRANTS = {t: {"anon": dict(ALL_PRIVS), "authenticated": dict(ALL_PRIVS), "service_role": {**ALL_PRIVS, "bypassrls": True}}
          for t in RELATIONS}
GRANTS["public.open"]["anon"] = dict.fromkeys(ALL_PRIVS, False)
GRANTS["public.notes"]["authenticated"]["columns"] = ["body"]  # UPDATE (body) only


def test_the_draft_infers_owners_memberships_and_marks_everything_unreviewed():
    text = draft.draft(RELATIONS, POLICIES, GRANTS, "unit")
    spec = access_spec.parse(Path("draft.yaml"), text)
    notes = spec.tables["public.notes"]
    assert notes.owner == "owner_id"
    assert notes.levels["authenticated"] == {"select": "own", "insert": "own", "update": "own", "delete": "all"}
    assert notes.levels["anon"] == dict.fromkeys(access_spec.OPERATIONS, "none")
    assert notes.levels["service_role"] == dict.fromkeys(access_spec.OPERATIONS, "all")
    docs = spec.tables["public.team_docs"].owner
    assert (docs.via, docs.column, docs.key, docs.user) == ("public.team_members", "team_id", "team_id", "user_id")
    teams = spec.tables["public.teams"]
    assert teams.owner.column == "id" and teams.levels["authenticated"]["select"] == "own"
    assert teams.levels["authenticated"]["insert"] == "none"
    assert spec.tables["public.open"].levels["authenticated"] == dict.fromkeys(access_spec.OPERATIONS, "all")
    assert spec.tables["public.open"].levels["anon"] == dict.fromkeys(access_spec.OPERATIONS, "none")
    assert spec.tables["public.summary"].levels["anon"]["select"] == "all"
    assert notes.columns == {"authenticated": ("body",)}
    assert not any(t.reviewed for t in spec.tables.values())
    assert "# RLS is OFF" in text and "# policy notes_select: SELECT to authenticated USING " + OWN in text
