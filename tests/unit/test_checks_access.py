"""The access-spec format and judges (suite/access/spec.py, suite/checks/access.py): each
seeded broken spec or observation gives its exact message."""
import re
from pathlib import Path

import pytest

from suite.access import spec as access_spec
from suite.access.spec import Membership, SpecError
from suite.checks import access
from suite.target import Target

PATH = Path("access.yaml")
SPEC_TEXT = """
tables:
  public.notes:
    owner: owner_id
    anon: none
    authenticated: own
    service_role: all
  team_docs:
    owner: {via: team_members, key: team_id, user: user_id}
    anon: none
    authenticated: {select: own, insert: own, update: own, delete: none}
    service_role: all
    fixture: {created_by: $user}
  public.open_view:
    anon: all
    authenticated: all
    service_role: all
"""
KINDS = {"public.notes": "table", "public.team_docs": "table", "public.open_view": "view"}
OWN, ALL, NONE = (True, False), (True, True), (False, False)


def observed(**overrides):
    """What the probe sees on a stack that matches SPEC_TEXT; overrides: 'table/identity/op'."""
    seen = {
        "public.notes": {"anon": dict.fromkeys(access_spec.OPERATIONS, NONE),
                         "authenticated": dict.fromkeys(access_spec.OPERATIONS, OWN),
                         "service_role": dict.fromkeys(access_spec.OPERATIONS, ALL)},
        "public.team_docs": {"anon": dict.fromkeys(access_spec.OPERATIONS, NONE),
                             "authenticated": {"select": OWN, "insert": OWN, "update": OWN, "delete": NONE},
                             "service_role": dict.fromkeys(access_spec.OPERATIONS, ALL)},
        "public.open_view": {i: {"select": ALL} for i in access_spec.IDENTITIES},
    }
    for key, value in overrides.items():
        table, identity, op = key.split("/")
        seen[f"public.{table}"][identity][op] = value
    return seen


@pytest.fixture
def spec():
    return access_spec.parse(PATH, SPEC_TEXT)


def test_the_format_reads_shorthand_per_operation_and_membership(spec):
    assert spec.tables["public.notes"].levels["authenticated"] == dict.fromkeys(access_spec.OPERATIONS, "own")
    assert spec.tables["public.team_docs"].owner == Membership("public.team_members", "team_id", "team_id", "user_id")
    assert spec.tables["public.team_docs"].levels["authenticated"]["delete"] == "none"
    assert spec.tables["public.team_docs"].fixture == {"created_by": "$user"}
    assert all(t.reviewed for t in spec.tables.values())


def test_a_matching_observation_passes(spec):
    assert access.check_levels(spec, observed(), KINDS) == []
    assert access.check_coverage(spec, KINDS, ["public"]) == []
    assert access.check_reviewed(spec) == []


def test_widened_select_names_table_identity_operation_expected_and_seen(spec):
    """Seeded: a SELECT policy USING (true) for authenticated on notes."""
    assert access.check_levels(spec, observed(**{"notes/authenticated/select": ALL}), KINDS) == [
        "public.notes: authenticated select: expected own, seen all "
        "(the user's own row visible, another user's row visible)"]


def test_insert_without_with_check_is_impersonation(spec):
    """Seeded: an INSERT policy WITH CHECK (true): a user inserts rows owned by another."""
    assert access.check_levels(spec, observed(**{"notes/authenticated/insert": ALL}), KINDS) == [
        "public.notes: authenticated insert: expected own, seen all "
        "(the user's own row accepted, another user's row accepted)"]


def test_rls_off_opens_the_table_to_anon(spec):
    """Seeded: RLS off on notes (anon has the table grants)."""
    problems = access.check_levels(spec, observed(**{f"notes/anon/{op}": ALL for op in access_spec.OPERATIONS}),
                                   KINDS)
    assert problems[0] == ("public.notes: anon select: expected none, seen all "
                           "(the user's own row visible, another user's row visible)")
    assert len(problems) == 4


def test_owner_locked_out_and_probe_errors_are_reported(spec):
    problems = access.check_levels(spec, observed(**{"notes/authenticated/update": NONE,
                                                     "team_docs/authenticated/insert": ("error 23502: null", False)}),
                                   KINDS)
    assert problems == [
        "public.notes: authenticated update: expected own, seen none "
        "(the user's own row untouched, another user's row untouched)",
        "public.team_docs: authenticated insert: expected own, seen error 23502: null"]


def test_views_are_judged_on_select_only(spec):
    seen = observed(**{"open_view/anon/select": NONE})
    assert access.check_levels(spec, seen, KINDS) == [
        "public.open_view: anon select: expected all, seen none "
        "(the user's own row hidden, another user's row hidden)"]


def test_coverage_names_the_unlisted_table_and_the_stale_entry(spec):
    """Seeded: a new table with grants and no spec entry; a spec entry for a dropped table."""
    kinds = {**KINDS, "public.suite_fault_unlisted": "table"}
    del kinds["public.open_view"]
    assert access.check_coverage(spec, kinds, ["public"]) == [
        "table public.suite_fault_unlisted is exposed (schema public) but has no entry in the access spec "
        "access.yaml: add one (`make access-spec` drafts it)",
        "access spec access.yaml: public.open_view does not exist in the exposed schemas public "
        "(renamed or dropped? remove or fix the entry)"]


def test_unreviewed_entries_fail():
    spec = access_spec.parse(PATH, SPEC_TEXT.replace("    service_role: all\n    fixture",
                                                     "    service_role: all\n    reviewed: false\n    fixture"))
    assert access.check_reviewed(spec) == [
        "public.team_docs: spec entry not reviewed (`reviewed: false`, drafted from the live policies): "
        "confirm or correct it, then remove the flag"]


def test_matrix_marks_each_cell(spec):
    text = access.matrix(spec, observed(**{"notes/authenticated/select": ALL}), KINDS)
    notes = next(line for line in text.splitlines() if line.startswith("public.notes"))
    assert "own/all ✘" in notes and "none/none ✔" in notes
    view = next(line for line in text.splitlines() if line.startswith("public.open_view"))
    assert view.split()[1:3] == ["all/all", "✔"] and " - " in view


@pytest.mark.parametrize("text, message", [
    ("tables: [notes]", "expected a mapping with `tables:`"),
    ("tables:\n  notes: {anon: none, authenticated: own}", "notes: no level for service_role"),
    ("tables:\n  notes: {anon: own, authenticated: none, service_role: all, owner: o}",
     "notes: anon select: level own, but only a signed-in user owns rows"),
    ("tables:\n  notes: {anon: none, authenticated: own, service_role: all}",
     "notes: authenticated select: level own, but the table has no owner rule"),
    ("tables:\n  notes: {anon: some, authenticated: none, service_role: all}",
     "notes: anon select: level 'some' is not one of all, own, none"),
    ("tables:\n  notes: {anon: {select: none}, authenticated: none, service_role: all}",
     "notes: anon: operations must be exactly select, insert, update, delete"),
    ("tables:\n  notes: {anon: none, authenticated: none, service_role: all, owners: x}",
     "notes: unknown keys ['owners']"),
    ("tables:\n  notes: {anon: none, authenticated: own, service_role: all, owner: {via: m}}",
     "notes: owner must be a column name or {via: table, key: column, user: column}"),
    ("tables: {a: [", "not valid YAML"),
])
def test_a_broken_spec_says_what_is_wrong(text, message):
    with pytest.raises(SpecError) as caught:
        access_spec.parse(PATH, text)
    assert message in str(caught.value)


def test_a_missing_spec_file_is_named(tmp_path):
    with pytest.raises(SpecError, match=r"access spec .*nope.yaml: No such file"):
        access_spec.load(tmp_path / "nope.yaml")


def test_columns_a_role_may_write():
    """Seeded: UPDATE granted on the whole table where the spec allows two columns."""
    spec = access_spec.parse(PATH, SPEC_TEXT.replace(
        "    fixture: {created_by: $user}", "    fixture: {created_by: $user}\n    columns: {authenticated: [title, body]}"))
    assert spec.tables["public.team_docs"].columns == {"authenticated": ("body", "title")}
    seen = observed()
    seen["public.team_docs"]["authenticated"]["columns"] = ("body", "title")
    assert access.check_levels(spec, seen, KINDS) == []
    seen["public.team_docs"]["authenticated"]["columns"] = ("body", "created_by", "title")
    assert access.check_levels(spec, seen, KINDS) == [
        "public.team_docs: authenticated update columns: expected ['body', 'title'], seen ['body', 'created_by', "
        "'title'] (also writable: ['created_by']; not writable: [])"]


@pytest.mark.parametrize("columns, message", [
    ("[title]", "columns must map an identity to a list of columns"),
    ("{user: [title]}", "columns: unknown identities ['user']"),
])
def test_broken_columns_are_named(columns, message):
    with pytest.raises(SpecError, match=re.escape(message)):
        access_spec.parse(PATH, SPEC_TEXT.replace("    fixture: {created_by: $user}", f"    columns: {columns}"))


def test_the_spec_is_found_beside_the_env_file_or_where_declared(tmp_path):
    env = tmp_path / "prod.env"
    target = Target(name="prod.env", is_local=False, env={}, urls={}, env_file=env)
    assert access_spec.locate(target) is None
    (tmp_path / "access.yaml").write_text("tables: {}")
    assert access_spec.locate(target) == tmp_path / "access.yaml"
    declared = Target(name="prod.env", is_local=False, env={"ACCESS_SPEC": "specs/prod.yaml"}, urls={}, env_file=env)
    assert access_spec.locate(declared) == tmp_path / "specs" / "prod.yaml"
