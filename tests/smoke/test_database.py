"""Database through its published endpoint, as the API's login role (never the superuser)."""
import time

import pytest

from suite.checks import database
from suite.thresholds import LIMITS


def test_published_endpoint_accepts_the_api_role(db):
    """Catches: the database port not published, or the authenticator password out of sync."""
    assert db.execute("select current_user").fetchone()[0] == "authenticator"


def test_api_login_role_is_not_privileged(db):
    """Catches: the API connecting as a superuser or a BYPASSRLS role (RLS would not apply)."""
    problems = database.check_role_attributes(database.fetch_roles(db, ["authenticator"]),
                                              {"authenticator": database.EXPECTED_ROLE_ATTRIBUTES["authenticator"]})
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("role", ["anon", "authenticated"])
def test_statement_timeout_configured_per_role(db, role):
    """Catches: API roles without statement timeouts (one slow query can hold the pool)."""
    expected = {role: getattr(LIMITS.smoke.statement_timeout_s, role)}
    problems = database.check_statement_timeouts(database.fetch_roles(db, [role]), expected)
    assert not problems, "\n".join(problems)


def test_statement_timeout_reaches_api_requests(example_schema, as_anon):
    """Catches: a REST layer that does not apply the role's settings (the timeout only exists on paper)."""
    limit = LIMITS.smoke.statement_timeout_s.anon
    sleep = limit + LIMITS.smoke.statement_timeout_margin_s
    started = time.monotonic()
    r = as_anon._call("POST", "rpc/slow", json={"seconds": sleep})
    elapsed = time.monotonic() - started
    assert r.json().get("code") == "57014", f"expected statement timeout (57014), got HTTP {r.status_code} {r.text[:200]}"
    assert elapsed < sleep, f"the request ran {elapsed:.1f} s of its {sleep} s sleep: the {limit} s timeout did not apply"


def test_rls_enabled_on_every_exposed_table(db, target):
    """Catches: a table in an exposed schema without RLS (readable and writable by anyone with the anon key)."""
    problems = database.check_rls_enabled(database.fetch_tables(db, target.exposed_schemas))
    assert not problems, "\n".join(problems)


def test_every_exposed_table_has_a_policy(db, target):
    """Catches: RLS on with no policy at all (a table silently closed to every client)."""
    problems = database.check_policies_exist(database.fetch_tables(db, target.exposed_schemas))
    assert not problems, "\n".join(problems)


def test_realtime_publication_contains_messages(example_schema, db):
    """Catches: the realtime table dropped from publication supabase_realtime (no change events)."""
    rows = db.execute("select schemaname || '.' || tablename from pg_publication_tables "
                      "where pubname = 'supabase_realtime'").fetchall()
    assert "public.messages" in {r[0] for r in rows}, f"publication holds {rows}"
