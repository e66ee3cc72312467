"""The live database's security configuration, read as the API login role `authenticator`
through the target's DB URL (never the superuser): no private table open to anon, role
attributes. RLS on every exposed table, its policies and the API roles' statement timeouts
are smoke's (tests/smoke/test_database.py). Checks in suite/checks/database.py."""

from suite.checks import database


def test_connected_as_the_api_role_not_a_superuser(db):
    """Catches: the target's DB URL naming a superuser (these checks must see what the API sees)."""
    user, is_super = db.execute("select current_user, rolsuper from pg_roles where rolname = current_user").fetchone()
    assert not is_super, f"DB_URL logs in as {user}, a superuser: use the API role authenticator"


def test_no_private_table_open_to_anon(db, target):
    """Catches: a policy TO anon or PUBLIC with USING/WITH CHECK `true` on a private table
    (every table but announcements, stack/db/README.md access matrix)."""
    problems = database.check_private_tables_closed_to_anon(database.fetch_policies(db, target.exposed_schemas))
    assert not problems, "\n".join(problems)


def test_role_attributes(db):
    """Catches: anon, authenticated or authenticator as superuser or BYPASSRLS (RLS would not
    apply to API requests), and service_role without BYPASSRLS."""
    problems = database.check_role_attributes(database.fetch_roles(db))
    assert not problems, "\n".join(problems)
