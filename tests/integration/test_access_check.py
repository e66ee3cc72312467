"""The access check (suite/access/) on a live database: it leaves nothing behind, even when
killed mid-check, and it works on a schema that is not the bundled one (issue 14).

- The bundled database is compared before and after a run, and after a run killed with
  SIGKILL in the middle of its transaction: row counts of every exposed table and of
  auth.users, and the catalogs (relations, roles, policies). Identity sequences are not
  compared: nextval() is never rolled back, so a run may advance them.
- A second database with a schema of its own (tests/integration/data/access_demo_schema.sql:
  9 tables, a membership relation, a view, a SECURITY DEFINER function) gets a drafted spec
  (`make access-spec`), which fails until reviewed; the reviewed spec passes; one broken
  policy fails naming it. The database is dropped afterwards.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from suite.access import draft, run, spec as access_spec
from suite.access.catalog import fetch_relations
from suite.checks.database import fetch_policies
from suite.clients import connect_db
from suite.waiting import poll

pytestmark = [pytest.mark.destructive]

DEMO_DB = "suite_access_demo"
DEMO_SCHEMA = Path(__file__).parent / "data" / "access_demo_schema.sql"
KILLED_APP = "suite-access-check-killed"

SNAPSHOT_SQL = """
select json_build_object(
  'rows', (select json_object_agg(c.oid::regclass::text,
                                  (xpath('/row/n/text()', query_to_xml(format('select count(*) as n from %s', c.oid::regclass),
                                                                        false, true, '')))[1]::text)
           from pg_class c where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p')),
  'auth_users', (select count(*) from auth.users),
  'relations', (select count(*) from pg_class),
  'roles', (select count(*) from pg_roles),
  'policies', (select count(*) from pg_policy))
"""

# A check repeated until killed: the run's own connection, marked so the test can find it.
KILLED_SCRIPT = """
import sys, uuid
from suite.access import run, spec
from suite.clients import connect_db
from suite.target import Target
target = Target.local()
conn = connect_db(target, application_name=sys.argv[1])
users = {"self": str(uuid.uuid4()), "other": str(uuid.uuid4())}
the_spec = spec.load(spec.locate(target))
while True:
    run.check(conn, the_spec, target.exposed_schemas, users)
"""


def _random_users() -> dict[str, str]:
    """The bundled schema has no foreign key to auth.users: any two ids do."""
    return {"self": str(uuid.uuid4()), "other": str(uuid.uuid4())}


def test_a_run_and_a_killed_run_leave_nothing_behind(target, stack):
    """Catches: a check that commits (fixture rows, users or objects left in the operator's
    database), or whose writes survive when the run dies mid-transaction."""
    the_spec = access_spec.load(access_spec.locate(target))
    before = stack.sql(SNAPSHOT_SQL)

    with connect_db(target) as conn:
        verdict = run.check(conn, the_spec, target.exposed_schemas, _random_users())
    assert not verdict.problems, "\n".join(verdict.problems)
    assert stack.sql(SNAPSHOT_SQL) == before, "a completed access check changed the database"

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    child = subprocess.Popen([sys.executable, "-c", KILLED_SCRIPT, KILLED_APP], env=env)
    try:
        # mid-check: its transaction is open and has written (a transaction id is assigned)
        poll(lambda: stack.sql(f"select count(*) from pg_stat_activity where application_name = '{KILLED_APP}' "
                               f"and backend_xid is not null") > 0,
             what="the access check's transaction holding fixture rows", timeout=20, interval=0.05)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
    poll(lambda: stack.sql(f"select count(*) from pg_stat_activity where application_name = '{KILLED_APP}'") == 0,
         what="the killed check's backend gone", timeout=20, interval=0.2)
    assert stack.sql(SNAPSHOT_SQL) == before, "an access check killed mid-transaction left changes behind"


# ---- a second database, a schema of its own -----------------------------------------------
@pytest.fixture
def demo(target, stack):
    """The demo database and two users in its auth.users (as the auth admin API would make
    them); (a target pointing at it, the users). Dropped afterwards."""
    with stack.connect() as admin:
        admin.execute(f"drop database if exists {DEMO_DB} with (force)")
        admin.execute(f"create database {DEMO_DB}")
    try:
        users = _random_users()
        with stack.connect(dbname=DEMO_DB) as conn:
            conn.execute(DEMO_SCHEMA.read_text())
            for who, uid in users.items():
                conn.execute("insert into auth.users (id, email) values (%s, %s)", (uid, f"{who}@suite.example.test"))
        db = urlsplit(target.url("db"))
        demo_target = replace(target, urls={**target.urls, "db": urlunsplit(db._replace(path=f"/{DEMO_DB}"))},
                              env={**target.env, "PGRST_DB_SCHEMAS": "public"})
        yield demo_target, users
    finally:
        with stack.connect() as admin:
            admin.execute(f"drop database if exists {DEMO_DB} with (force)")


def _check(target, spec_path: Path, users) -> run.Verdict:
    with connect_db(target) as conn:
        return run.check(conn, access_spec.load(spec_path), ["public"], users)


def test_second_database_drafted_reviewed_and_broken(demo, stack, tmp_path):
    """Catches: a check bound to the bundled schema (it must draft, pass and fail on any
    schema), a draft taken as truth, and a broken policy going unnamed."""
    target, users = demo
    with connect_db(target) as conn:
        relations = fetch_relations(conn, ["public"])
        text = draft.draft(relations, fetch_policies(conn, ["public"]), draft.fetch_grants(conn, ["public"]), DEMO_DB)
    assert len([r for r in relations.values() if r.is_table]) >= 8 and "public.open_tasks" in relations
    assert "    columns: {authenticated: [display_name, settings]}\n" in text   # UPDATE (display_name, settings)
    drafted = tmp_path / "access.yaml"
    drafted.write_text(text)

    verdict = _check(target, drafted, users)
    assert len(verdict.unreviewed) == len(relations), verdict.unreviewed
    assert not verdict.coverage and not verdict.levels, "\n".join(verdict.coverage + verdict.levels) + verdict.matrix

    # the review: confirmed, with a display name the operator wants in fixtures
    reviewed = text.replace("    reviewed: false\n", "").replace(
        "  public.profiles:\n", "  public.profiles:\n    fixture: {display_name: Reviewer}\n")
    drafted.write_text(reviewed)
    verdict = _check(target, drafted, users)
    assert not verdict.problems, "\n".join(verdict.problems) + "\n" + verdict.matrix

    # one broken policy: projects readable by every signed-in user
    with stack.connect(dbname=DEMO_DB) as conn:
        conn.execute("CREATE POLICY projects_everyone ON public.projects FOR SELECT TO authenticated USING (true)")
    verdict = _check(target, drafted, users)
    assert verdict.levels == ["public.projects: authenticated select: expected own, seen all "
                              "(the user's own row visible, another user's row visible)"], verdict.matrix
