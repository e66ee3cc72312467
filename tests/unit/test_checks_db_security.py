"""The database posture judges catch each seeded misconfiguration in facts shaped like the
real ones (as fetch_posture / fetch_server / fetch_hba_and_passwords read them from the
bundled stack's database)."""
import copy

import pytest

from suite.checks import db_security as sec

TEAM_MEMBER_SRC = ("\n  SELECT EXISTS (\n    SELECT 1 FROM public.team_members m\n"
                   "    WHERE m.team_id = $1 AND m.user_id = auth.uid()\n  )\n")
POSTURE = {
    "auth_grants": [],
    "relations": [],
    "functions": [
        {"function": "public.echo(msg text)", "name": "public.echo", "definer": False, "config": [],
         "executable_by": ["anon", "authenticated"], "source": None},
        {"function": "public.is_team_member(team_id bigint)", "name": "public.is_team_member", "definer": True,
         "config": ['search_path=""'], "executable_by": ["authenticated"], "source": TEAM_MEMBER_SRC},
    ],
    "auth_tables": ["auth.identities", "auth.sessions", "auth.users"],
    "policies": [
        {"table": "public.announcements", "policy": "announcements_select_published", "permissive": "PERMISSIVE",
         "roles": ["anon", "authenticated"], "cmd": "SELECT", "qual": "published", "with_check": None, "rls": True},
        {"table": "public.notes", "policy": "notes_insert_own", "permissive": "PERMISSIVE", "roles": ["authenticated"],
         "cmd": "INSERT", "qual": None, "with_check": "(owner_id = ( SELECT auth.uid() AS uid))", "rls": True},
        {"table": "public.notes", "policy": "notes_update_own", "permissive": "PERMISSIVE", "roles": ["authenticated"],
         "cmd": "UPDATE", "qual": "(owner_id = ( SELECT auth.uid() AS uid))",
         "with_check": "(owner_id = ( SELECT auth.uid() AS uid))", "rls": True},
    ],
    "extensions": [{"extension": "pgcrypto", "schema": "extensions"}, {"extension": "plpgsql", "schema": "pg_catalog"}],
    "privileged_roles": {"postgres": ["SUPERUSER", "CREATEROLE", "CREATEDB", "BYPASSRLS", "REPLICATION"],
                         "service_role": ["BYPASSRLS"], "supabase_auth_admin": ["CREATEROLE"]},
    "acl": [],
}
ALLOW = {"public.is_team_member": "policies read team_members without recursion"}
ALLOWED_ROLES = sec.privileged_allowlist({"postgres": "SUPERUSER CREATEROLE CREATEDB BYPASSRLS REPLICATION",
                                          "service_role": "BYPASSRLS", "supabase_auth_admin": "CREATEROLE"})
SERVER = {
    "settings": {"archive_command": "/usr/local/bin/pgbackrest-archive-push.sh %p", "archive_library": "",
                 "archive_mode": "on", "password_encryption": "scram-sha-256", "ssl": "off",
                 "wal_segment_size": "16777216"},
    "archiver": {"archived_count": 1, "last_archived_wal": "000000010000000000000001",
                 "last_archived_time": "2026-12-01T12:26:02+00:00", "failed_count": 0, "last_failed_wal": None,
                 "last_failed_time": None, "stats_reset": "2026-12-01T12:25:56+00:00"},
    "current_wal": "000000010000000000000002",
    "now": "2026-12-01T12:28:03+00:00",
}
HBA = [
    {"line": 4, "type": "local", "database": ["all"], "user": ["all"], "address": None, "netmask": None,
     "method": "trust", "error": None},
    {"line": 6, "type": "host", "database": ["all"], "user": ["all"], "address": "0.0.0.0", "netmask": "0.0.0.0",
     "method": "scram-sha-256", "error": None},
]
PASSWORDS = {"postgres": "scram-sha-256", "authenticator": "scram-sha-256", "metrics_reader": "scram-sha-256"}


@pytest.fixture
def posture():
    return copy.deepcopy(POSTURE)


def view(name, kind="v", options=(), selectable_by=("anon", "authenticated"), auth_refs=()):
    return {"relation": name, "kind": kind, "options": list(options), "selectable_by": list(selectable_by),
            "auth_refs": list(auth_refs)}


def policy(name, cmd, qual, with_check, roles=("authenticated",), table="public.notes", rls=True):
    return {"table": table, "policy": name, "permissive": "PERMISSIVE", "roles": list(roles), "cmd": cmd,
            "qual": qual, "with_check": with_check, "rls": rls}


def test_the_real_shapes_pass():
    p = POSTURE
    for judge in (sec.check_auth_grants, sec.check_auth_exposed_relations, sec.check_auth_reading_functions,
                  sec.check_security_definer_views, sec.check_function_search_path, sec.check_policies_always_true,
                  sec.check_policies_user_metadata, sec.check_policies_without_rls,
                  sec.check_extensions_not_in_public, sec.check_unprotected_relations_in_api,
                  sec.check_public_grants, sec.check_grant_options):
        assert judge(p) == [], judge.__name__
    assert sec.check_definer_functions(p, ALLOW) == []
    assert sec.check_privileged_roles(p, ALLOWED_ROLES) == []
    assert sec.check_wal_archiving(SERVER, 300) == []
    assert sec.check_hba_tcp_methods(HBA) == []
    assert sec.check_password_methods(SERVER["settings"], PASSWORDS) == []
    assert sec.check_ssl_required(False, SERVER["settings"], HBA) == []


# ---- auth tables ------------------------------------------------------------------------
def test_auth_users_granted_to_anon(posture):
    """Seeded: GRANT SELECT ON auth.users TO anon."""
    posture["auth_grants"] = [{"relation": "auth.users", "role": "anon", "privileges": ["SELECT"]}]
    assert sec.check_auth_grants(posture) == [
        "auth.users: anon holds SELECT on an auth table (user data readable or writable with the anon key); "
        "fix: REVOKE ALL ON auth.users FROM anon"]


def test_definer_view_over_auth_users(posture):
    """Seeded: CREATE VIEW public.user_emails AS SELECT email FROM auth.users (default grants)."""
    posture["relations"] = [view("public.user_emails", auth_refs=["auth.users"])]
    assert sec.check_auth_exposed_relations(posture) == [
        "view public.user_emails: reads auth.users and anon/authenticated may select it through the API "
        "(user data exposed); fix: drop it or move it out of the exposed schemas"]


def test_materialized_view_over_auth_users_even_when_invoker_is_claimed(posture):
    """Seeded: a materialized view over auth.users (no RLS), and an invoker view (allowed)."""
    posture["relations"] = [view("public.m", kind="m", auth_refs=["auth.users"], selectable_by=["authenticated"]),
                            view("public.inv", options=["security_invoker=true"], auth_refs=["auth.users"])]
    assert sec.check_auth_exposed_relations(posture) == [
        "materialized view public.m: reads auth.users and authenticated may select it through the API "
        "(user data exposed); fix: drop it or move it out of the exposed schemas"]


def test_definer_function_reading_auth_users(posture):
    """Seeded: a callable SECURITY DEFINER function selecting from "auth"."users"; auth.uid()
    (a function, not a table) is not a finding."""
    posture["functions"].append({"function": "public.emails()", "name": "public.emails", "definer": True,
                                 "config": ['search_path=""'], "executable_by": ["anon"],
                                 "source": 'select email from "auth"."users"'})
    assert sec.check_auth_reading_functions(posture) == [
        "function public.emails(): SECURITY DEFINER, reads auth.users, executable by anon through /rest/v1/rpc; "
        "fix: REVOKE EXECUTE ON FUNCTION public.emails() FROM PUBLIC, anon, authenticated, "
        "or move it out of the exposed schemas"]


# ---- views and functions with their owner's rights ----------------------------------------
def test_view_without_security_invoker(posture):
    """Seeded: CREATE VIEW public.all_notes AS SELECT * FROM notes (owner's rights)."""
    posture["relations"] = [view("public.all_notes"), view("public.ok", options=["security_invoker=on"]),
                            view("public.private", selectable_by=[])]
    assert sec.check_security_definer_views(posture) == [
        "view public.all_notes: runs with its owner's rights (no security_invoker) and anon/authenticated may "
        "select it, bypassing their RLS; fix: ALTER VIEW public.all_notes SET (security_invoker = true)"]


def test_definer_function_not_allow_listed(posture):
    """Seeded: a callable SECURITY DEFINER function nobody declared; an allow-list entry without reason."""
    posture["functions"].append({"function": "public.admin_reset(uid uuid)", "name": "public.admin_reset",
                                 "definer": True, "config": ['search_path=""'],
                                 "executable_by": ["anon", "authenticated"], "source": "delete from notes"})
    assert sec.check_definer_functions(posture, {**ALLOW, "public.legacy": " "}) == [
        "definer allow-list entry public.legacy: no reason given; fix: say why it must run as its owner",
        "function public.admin_reset(uid uuid): SECURITY DEFINER and executable by anon/authenticated through "
        "/rest/v1/rpc, not on the allow-list; fix: make it SECURITY INVOKER, REVOKE EXECUTE from PUBLIC, anon, "
        "authenticated, or allow-list it with its reason (thresholds.yaml database_security.definer_allowlist)"]


def test_definer_function_with_mutable_search_path(posture):
    """Seeded: ALTER FUNCTION public.is_team_member(bigint) RESET search_path."""
    posture["functions"][1]["config"] = []
    assert sec.check_function_search_path(posture) == [
        "function public.is_team_member(team_id bigint): SECURITY DEFINER with a mutable search_path "
        "(executable by authenticated); fix: ALTER FUNCTION public.is_team_member(team_id bigint) "
        "SET search_path = ''"]


# ---- policies -------------------------------------------------------------------------------
def test_always_true_policies(posture):
    """Seeded: UPDATE USING (true) without WITH CHECK, INSERT WITH CHECK (1 = 1), an INSERT
    policy without WITH CHECK, and SELECT USING (true) on a private table."""
    posture["policies"] += [
        policy("any_update", "UPDATE", "true", None, table="public.team_docs"),
        policy("any_insert", "INSERT", None, "(1 = 1)", roles=["public"]),
        policy("no_check", "INSERT", None, None),
        policy("read_all", "SELECT", "true", None),
    ]
    assert sec.check_policies_always_true(posture) == [
        "table public.team_docs: policy any_update (UPDATE) for authenticated has USING (true): every row, not only "
        "the caller's; fix: a USING that names the owner, e.g. owner_id = (select auth.uid())",
        "table public.notes: policy any_insert (INSERT) for public has WITH CHECK ((1 = 1)): any row may be written; "
        "fix: a WITH CHECK that names the owner",
        "table public.notes: policy no_check (INSERT) for authenticated has no WITH CHECK: any row may be inserted; "
        "fix: add WITH CHECK",
        "table public.notes: policy read_all (SELECT) for authenticated has USING (true): every row, not only the "
        "caller's; fix: a USING that names the owner, e.g. owner_id = (select auth.uid())"]


def test_true_policies_that_are_not_findings(posture):
    """Public read on the declared public table, a restrictive policy, service_role only,
    and an UPDATE whose missing WITH CHECK falls back to an owner USING."""
    posture["policies"] += [
        policy("read_all", "SELECT", "true", None, table="public.announcements", roles=["anon"]),
        dict(policy("narrow", "ALL", "true", "true"), permissive="RESTRICTIVE"),
        policy("admin", "ALL", "true", "true", roles=["service_role"]),
        policy("own_update", "UPDATE", "(owner_id = auth.uid())", None),
    ]
    assert sec.check_policies_always_true(posture) == []


def test_policy_reading_user_metadata(posture):
    """Seeded: USING ((auth.jwt() -> 'user_metadata') ->> 'role') = 'admin'."""
    posture["policies"].append(policy("meta_admin", "SELECT",
                                      "(((auth.jwt() -> 'user_metadata'::text) ->> 'role'::text) = 'admin'::text)", None))
    assert sec.check_policies_user_metadata(posture) == [
        "table public.notes: policy meta_admin USING reads user_metadata, which users edit themselves; "
        "fix: decide on app_metadata or a table only service_role writes"]


def test_policies_on_a_table_with_rls_off(posture):
    """Seeded: ALTER TABLE public.notes DISABLE ROW LEVEL SECURITY (its two policies stay)."""
    for p in posture["policies"]:
        p["rls"] = p["table"] != "public.notes"
    assert sec.check_policies_without_rls(posture) == [
        "table public.notes: has policies (notes_insert_own, notes_update_own) but row level security is off, "
        "so none applies; fix: ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY"]


# ---- extensions, materialized views, foreign tables ---------------------------------------
def test_extension_in_public(posture):
    """Seeded: CREATE EXTENSION hstore (schema public)."""
    posture["extensions"].append({"extension": "hstore", "schema": "public"})
    assert sec.check_extensions_not_in_public(posture) == [
        "extension hstore: installed in schema public (its functions and tables become API objects); "
        "fix: install it WITH SCHEMA extensions"]


def test_materialized_view_and_foreign_table_in_api(posture):
    """Seeded: a materialized view selectable by anon, a foreign table by authenticated."""
    posture["relations"] = [view("public.stats", kind="m", selectable_by=["anon"]),
                            view("public.remote", kind="f", selectable_by=["authenticated"]),
                            view("public.hidden", kind="m", selectable_by=[])]
    assert sec.check_unprotected_relations_in_api(posture) == [
        "materialized view public.stats: in an exposed schema and selectable by anon, and it cannot have row level "
        "security; fix: REVOKE SELECT ON public.stats FROM anon, authenticated or move it out of the exposed schemas",
        "foreign table public.remote: in an exposed schema and selectable by authenticated, and it cannot have row "
        "level security; fix: REVOKE SELECT ON public.remote FROM anon, authenticated or move it out of the "
        "exposed schemas"]


# ---- roles and grants -----------------------------------------------------------------------
def test_privileged_role_not_allow_listed(posture):
    """Seeded: ALTER ROLE authenticated CREATEROLE BYPASSRLS; service_role also REPLICATION."""
    posture["privileged_roles"]["authenticated"] = ["CREATEROLE", "BYPASSRLS"]
    posture["privileged_roles"]["service_role"] = ["BYPASSRLS", "REPLICATION"]
    assert sec.check_privileged_roles(posture, ALLOWED_ROLES) == [
        "role authenticated: CREATEROLE BYPASSRLS not on the allow-list (allowed: none); fix: ALTER ROLE "
        "authenticated NOCREATEROLE NOBYPASSRLS, or declare it (thresholds.yaml database_security.privileged_roles)",
        "role service_role: REPLICATION not on the allow-list (allowed: BYPASSRLS); fix: ALTER ROLE service_role "
        "NOREPLICATION, or declare it (thresholds.yaml database_security.privileged_roles)"]


def test_declared_lists_parse():
    assert sec.parse_declared("public.f: needs owner rights; public.g:  x ;") == {"public.f": "needs owner rights",
                                                                                "public.g": "x"}
    assert sec.privileged_allowlist({"admin": "superuser, createrole"}) == {"admin": {"SUPERUSER", "CREATEROLE"}}


def test_public_grant_and_grant_option(posture):
    """Seeded: GRANT SELECT ON public.notes TO PUBLIC; GRANT SELECT ON public.announcements
    TO anon WITH GRANT OPTION. A PUBLIC grant outside the exposed schemas is not judged here."""
    posture["acl"] = [
        {"relation": "public.notes", "grantee": "PUBLIC", "privilege": "SELECT", "grantable": False, "exposed": True},
        {"relation": "ops.queue", "grantee": "PUBLIC", "privilege": "SELECT", "grantable": False, "exposed": False},
        {"relation": "public.announcements", "grantee": "anon", "privilege": "SELECT", "grantable": True,
         "exposed": True},
    ]
    assert sec.check_public_grants(posture) == [
        "public.notes: granted to PUBLIC (SELECT); fix: REVOKE ALL ON public.notes FROM PUBLIC "
        "and grant the API roles by name"]
    assert sec.check_grant_options(posture) == [
        "public.announcements: anon holds SELECT WITH GRANT OPTION; fix: REVOKE GRANT OPTION FOR SELECT "
        "ON public.announcements FROM anon"]


# ---- transport and authentication -----------------------------------------------------------
def test_trust_and_cleartext_over_tcp():
    """Seeded: host all all 10.0.0.0/8 trust; hostssl ... password. `local ... trust` is the socket: allowed."""
    hba = HBA + [
        {"line": 10, "type": "host", "database": ["all"], "user": ["all"], "address": "10.0.0.0",
         "netmask": "255.0.0.0", "method": "trust", "error": None},
        {"line": 11, "type": "hostssl", "database": ["postgres"], "user": ["app"], "address": "all", "netmask": None,
         "method": "password", "error": None},
    ]
    assert sec.check_hba_tcp_methods(hba) == [
        "pg_hba.conf line 10: host all all 10.0.0.0/255.0.0.0 trust: no password at all over TCP; "
        "fix: scram-sha-256",
        "pg_hba.conf line 11: hostssl postgres app all password: the password in clear over TCP; fix: scram-sha-256"]


def test_md5_passwords():
    """Seeded: password_encryption=md5 and one role stored as md5, one as plain text."""
    settings = dict(SERVER["settings"], password_encryption="md5")
    assert sec.check_password_methods(settings, {**PASSWORDS, "legacy": "md5", "old": "plain"}) == [
        "password_encryption=md5: new passwords are not stored as SCRAM; fix: password_encryption = "
        "'scram-sha-256' in postgresql.conf",
        "role legacy: password stored as md5, not SCRAM; fix: set it again (ALTER ROLE legacy PASSWORD ...) "
        "with password_encryption = 'scram-sha-256'",
        "role old: password stored as plain, not SCRAM; fix: set it again (ALTER ROLE old PASSWORD ...) "
        "with password_encryption = 'scram-sha-256'"]


def test_published_without_ssl():
    """Seeded: BIND_ADDRESS=0.0.0.0 with ssl off and the bundled `host 0.0.0.0/0` rule; a
    loopback-only host rule is fine."""
    hba = HBA + [{"line": 12, "type": "host", "database": ["all"], "user": ["all"], "address": "127.0.0.1",
                  "netmask": "255.255.255.255", "method": "scram-sha-256", "error": None}]
    assert sec.check_ssl_required(sec.beyond_loopback("0.0.0.0"), SERVER["settings"], hba) == [
        "ssl=off while the database is published beyond loopback: passwords and data cross the network in clear; "
        "fix: ssl = on with a certificate, and hostssl rules",
        "pg_hba.conf line 6: host all all 0.0.0.0/0.0.0.0 scram-sha-256: admits remote clients without SSL; "
        "fix: hostssl"]


@pytest.mark.parametrize("host, published", [("127.0.0.1", False), ("::1", False), ("localhost", False),
                                             ("[::1]", False), ("0.0.0.0", True), ("", True),
                                             ("db.example.org", True), ("10.1.2.3", True)])
def test_beyond_loopback(host, published):
    assert sec.beyond_loopback(host) is published


# ---- WAL archiving --------------------------------------------------------------------------
def _server(**changes):
    s = copy.deepcopy(SERVER)
    for key, value in changes.items():
        (s["settings"] if key.startswith("archive_") else s["archiver"] if key.startswith(("last_", "failed"))
         else s)[key] = value
    return s


def test_archiving_off_empty_or_no_op():
    """Seeded: archive_mode=off; archive_command=''; archive_command='/bin/true' (upstream compose)."""
    assert sec.check_wal_archiving(_server(archive_mode="off"), 300) == [
        "archive_mode=off: WAL is not archived, point-in-time recovery is impossible; "
        "fix: archive_mode = on and an archive_command (restart needed)"]
    assert sec.check_wal_archiving(_server(archive_command=""), 300) == [
        "archive_command is empty: WAL segments pile up in pg_wal and are never archived; "
        "fix: set archive_command (stack/db/postgresql.conf) and reload"]
    assert sec.check_wal_archiving(_server(archive_command="/bin/true"), 300) == [
        "archive_command='/bin/true' archives nowhere: every segment is reported archived and lost; "
        "fix: an archive_command that stores the segment (e.g. pgbackrest archive-push %p)"]


def test_archiver_failing_since_its_last_success():
    """Seeded: the last failure after the last success."""
    s = _server(failed_count=3, last_failed_wal="000000010000000000000002",
                last_failed_time="2026-12-01T12:27:00+00:00")
    assert sec.check_wal_archiving(s, 300) == [
        "WAL archiving is failing: 000000010000000000000002 failed at 2026-12-01 12:27:00 (3 failures since "
        "2026-12-01T12:25:56+00:00), last success 2026-12-01 12:26:02; fix: see the archiver's errors in the db log"]


def test_archiver_stuck_and_idle():
    """Seeded: 3 completed segments waiting 10 min after the last archived one (stuck); an
    idle database with an old last archive and nothing waiting is not a finding."""
    stuck = _server(current_wal="000000010000000000000005", now="2026-12-01T12:36:02+00:00")
    assert sec.check_wal_archiving(stuck, 300) == [
        "WAL archiving is stuck: 3 completed segment(s) after 000000010000000000000001 not archived, last success "
        "600 s ago (bound 300 s, thresholds.yaml database_security.wal_archive_max_age_s); "
        "fix: see the archiver's errors in the db log"]
    assert sec.check_wal_archiving(_server(now="2026-12-02T12:00:00+00:00"), 300) == []
    # segment numbers carry across the log boundary (…00FF -> …0100 is one step)
    edge = _server(last_archived_wal="0000000100000000000000FF", current_wal="000000010000000100000000",
                   now="2026-12-02T12:00:00+00:00")
    assert sec.check_wal_archiving(edge, 300) == []


def test_unreadable_hba_names_the_grants():
    """Seeded: the monitoring role without the grants (permission denied for pg_hba_file_rules)."""
    import psycopg

    class Conn:
        class info:
            user = "metrics_reader"

        def execute(self, _sql):
            raise psycopg.errors.InsufficientPrivilege("permission denied for view pg_hba_file_rules")

    with pytest.raises(PermissionError) as exc:
        sec.fetch_hba_and_passwords(Conn())
    assert str(exc.value) == (
        "role metrics_reader cannot read pg_hba rules or password methods (permission denied for view "
        "pg_hba_file_rules): grant it GRANT SELECT ON pg_catalog.pg_hba_file_rules TO <role>; GRANT EXECUTE ON "
        "FUNCTION pg_catalog.pg_hba_file_rules() TO <role>; and monitoring.role_password_methods() as in "
        "stack/db/init/90-roles.sql")
