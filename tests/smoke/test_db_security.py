"""Database security posture beyond RLS (issue 13), read in one catalog query as the API's
login role and judged by suite/checks/db_security.py (splinter's security lints, the
self-hosting guide). Each test is one judge, so each misconfiguration fails its own test."""
import pytest

from suite.checks import db_security as sec
from suite.thresholds import LIMITS


@pytest.fixture(scope="module")
def posture(db, target) -> dict:
    return sec.fetch_posture(db, target.exposed_schemas)


def _declared(target, key: str, default) -> dict:
    """The target's own list (env key `name: value; ...`) when it declares one, else thresholds.yaml's."""
    raw = target.env.get(key, "").strip()
    return sec.parse_declared(raw) if raw else dict(vars(default))


def _ok(problems: list[str]) -> None:
    assert not problems, "\n".join(problems)


def test_auth_tables_not_granted_to_client_roles(posture):
    """Catches: `GRANT SELECT ON auth.users TO anon` (or authenticated): every user's email,
    phone and metadata readable with the anon key."""
    _ok(sec.check_auth_grants(posture))


def test_no_exposed_view_reads_auth_tables(posture):
    """Catches: a view (run as its owner) or materialized view in an exposed schema over
    auth.users that anon/authenticated can select (splinter auth_users_exposed)."""
    _ok(sec.check_auth_exposed_relations(posture))


def test_no_callable_definer_function_reads_auth_tables(posture):
    """Catches: a SECURITY DEFINER function in an exposed schema, executable by the client
    roles, that reads auth tables with its owner's rights."""
    _ok(sec.check_auth_reading_functions(posture))


def test_exposed_views_run_as_invoker(posture):
    """Catches: a view without security_invoker selectable by the client roles: it runs with
    its owner's rights and bypasses their RLS (splinter security_definer_view)."""
    _ok(sec.check_security_definer_views(posture))


def test_callable_definer_functions_are_allow_listed(posture, target):
    """Catches: a SECURITY DEFINER function callable through /rest/v1/rpc by anon or
    authenticated that is not declared, with its reason (splinter 0028/0029)."""
    allow = _declared(target, "DB_DEFINER_ALLOWLIST", LIMITS.database_security.definer_allowlist)
    _ok(sec.check_definer_functions(posture, allow))


def test_callable_definer_functions_fix_search_path(posture):
    """Catches: a callable SECURITY DEFINER function with a mutable search_path (a caller's
    objects can shadow the names it uses; splinter function_search_path_mutable)."""
    _ok(sec.check_function_search_path(posture))


def test_no_policy_always_true_for_clients(posture):
    """Catches: a permissive policy for anon/authenticated with USING (true) on writes or on
    a private table, WITH CHECK (true), or an INSERT policy without WITH CHECK
    (splinter rls_policy_always_true)."""
    _ok(sec.check_policies_always_true(posture))


def test_no_policy_reads_user_metadata(posture):
    """Catches: a policy trusting auth.jwt() -> 'user_metadata', which users edit themselves
    (splinter rls_references_user_metadata)."""
    _ok(sec.check_policies_user_metadata(posture))


def test_no_policies_on_a_table_without_rls(posture):
    """Catches: RLS turned off on a table that has policies (they silently stop applying;
    splinter policy_exists_rls_disabled)."""
    _ok(sec.check_policies_without_rls(posture))


def test_no_extension_in_public(posture):
    """Catches: an extension installed in schema public (splinter extension_in_public)."""
    _ok(sec.check_extensions_not_in_public(posture))


def test_no_materialized_view_or_foreign_table_in_api(posture):
    """Catches: a materialized view or foreign table (no RLS possible) selectable by the
    client roles (splinter materialized_view_in_api, foreign_table_in_api)."""
    _ok(sec.check_unprotected_relations_in_api(posture))


def test_privileged_roles_are_allow_listed(posture, target):
    """Catches: `ALTER ROLE authenticated CREATEROLE` (or BYPASSRLS, SUPERUSER, CREATEDB,
    REPLICATION) on a role not declared privileged."""
    allowed = sec.privileged_allowlist(_declared(target, "DB_PRIVILEGED_ROLES",
                                                 LIMITS.database_security.privileged_roles))
    _ok(sec.check_privileged_roles(posture, allowed))


def test_no_public_grants_on_exposed_tables(posture):
    """Catches: `GRANT SELECT ON public.notes TO PUBLIC` (every role, present and future)."""
    _ok(sec.check_public_grants(posture))


def test_no_grant_option_for_api_roles(posture):
    """Catches: a privilege granted to anon/authenticated/authenticator/service_role WITH
    GRANT OPTION (the role can hand it on)."""
    _ok(sec.check_grant_options(posture))


def test_wal_archiving_configured_and_keeping_up(db):
    """Catches: archive_mode off, an empty or no-op archive_command, an archiver failing since
    its last success, or completed WAL waiting past thresholds.yaml
    database_security.wal_archive_max_age_s (a stuck archiver seen within the RPO bound)."""
    _ok(sec.check_wal_archiving(sec.fetch_server(db), LIMITS.database_security.wal_archive_max_age_s))
