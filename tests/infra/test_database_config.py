"""The live database's security configuration, read as the API login role `authenticator`
through the target's DB URL (never the superuser): RLS everywhere, no private table open to
anon, statement timeouts, role attributes. Checks in suite/checks/database.py (shared with smoke)."""
import pytest

from suite.checks import database
from suite.thresholds import LIMITS


def test_connected_as_the_api_role_not_a_superuser(db):
    """Catches: the target's DB URL naming a superuser (these checks must see what the API sees)."""
    user, is_super = db.execute("select current_user, rolsuper from pg_roles where rolname = current_user").fetchone()
    assert not is_super, f"DB_URL logs in as {user}, a superuser: use the API role authenticator"


def test_rls_on_every_table_of_the_exposed_schemas(db, target):
    """Catches: a table in an exposed schema without row level security."""
    problems = database.check_rls_enabled(database.fetch_tables(db, target.exposed_schemas))
    assert not problems, "\n".join(problems)


def test_every_table_has_a_policy(db, target):
    """Catches: RLS on with no policy (the table is silently closed to every client)."""
    problems = database.check_policies_exist(database.fetch_tables(db, target.exposed_schemas))
    assert not problems, "\n".join(problems)


def test_no_private_table_open_to_anon(db, target):
    """Catches: a policy TO anon or PUBLIC with USING/WITH CHECK `true` on a private table
    (every table but announcements, stack/db/README.md access matrix)."""
    problems = database.check_private_tables_closed_to_anon(database.fetch_policies(db, target.exposed_schemas))
    assert not problems, "\n".join(problems)


def test_statement_timeouts_for_api_roles(db):
    """Catches: anon / authenticated without their statement timeouts (thresholds.yaml)."""
    expected = {r: getattr(LIMITS.smoke.statement_timeout_s, r) for r in ("anon", "authenticated")}
    problems = database.check_statement_timeouts(database.fetch_roles(db, list(expected)), expected)
    assert not problems, "\n".join(problems)


def test_role_attributes(db):
    """Catches: anon, authenticated or authenticator as superuser or BYPASSRLS (RLS would not
    apply to API requests), and service_role without BYPASSRLS."""
    problems = database.check_role_attributes(database.fetch_roles(db))
    assert not problems, "\n".join(problems)
