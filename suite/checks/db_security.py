"""Database security posture beyond RLS (issue 13): what Supabase's database linter
(splinter) and its self-hosting guide check, judged live.

`fetch_*` read the catalog in one query each. `fetch_posture` and `fetch_server` need only
the API login role `authenticator` (every catalog read there is open to all roles);
`fetch_hba_and_passwords` needs the declared read-only monitoring role (target key
`DB_MONITOR_URL`; on the bundled stack `metrics_reader`, granted `pg_hba_file_rules` and
`monitoring.role_password_methods()` by stack/db/init/90-roles.sql), because pg_hba rules
and password hashes are superuser-only by default. `check_*` are pure functions of those
facts; each problem names the object, what is wrong, and the fix.

Policy semantics (Postgres docs, CREATE POLICY; splinter 0024 rls_policy_always_true):
- a permissive policy's USING that is always true lets the role act on every row: a
  finding for UPDATE, DELETE and ALL; for SELECT only on tables not declared public-read;
- a WITH CHECK that is always true lets the role write any row: always a finding;
- an INSERT policy has only WITH CHECK, and without one it admits any row: a finding;
- an UPDATE or ALL policy without WITH CHECK checks new rows against its USING, so it is a
  finding only when that USING is itself always true (reported once, as USING);
- restrictive policies only narrow access and are not judged here.
"""
from __future__ import annotations

import re
from datetime import datetime
from ipaddress import ip_network

from .containers import is_loopback
from .database import PUBLIC_READ_TABLES
from .database import _open  # one reading of "always true" (USING (true), 1 = 1)

API_ROLES = ("anon", "authenticated", "authenticator", "service_role")
TCP_HBA_TYPES = ("host", "hostssl", "hostnossl", "hostgssenc", "hostnogssenc")
NO_OP_ARCHIVE_COMMANDS = {"/bin/true", "true", ":", "exit 0", "/usr/bin/true"}
KINDS = {"v": "view", "m": "materialized view", "f": "foreign table", "r": "table", "p": "table"}

# ---- reads ----------------------------------------------------------------------------
POSTURE_SQL = """
with exposed as (select oid, nspname from pg_namespace where nspname = any(%(schemas)s)),
ext_owned as (select objid from pg_depend where deptype = 'e'),
rels as (
  select c.oid, n.nspname || '.' || c.relname as name, c.relkind, c.reloptions, c.relrowsecurity, c.relacl,
         n.nspname = any(%(schemas)s) as exposed
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where c.relkind in ('r', 'p', 'v', 'm', 'f')
    and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname !~ '^pg_toast'
    and c.oid not in (select objid from ext_owned))
select json_build_object(
 'auth_grants', (select coalesce(json_agg(json_build_object('relation', r.name, 'role', role,
                   'privileges', privs) order by r.name, role), '[]')
   from rels r cross join unnest(array['anon', 'authenticated']) role
   cross join lateral (select array_agg(p order by p) privs
                       from unnest(array['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) p
                       where has_table_privilege(role, r.oid, p)) g
   where r.name like 'auth.%%' and privs is not null),
 'relations', (select coalesce(json_agg(json_build_object('relation', r.name, 'kind', r.relkind,
                 'options', coalesce(r.reloptions, '{}'),
                 'selectable_by', array(select role from unnest(array['anon', 'authenticated']) role
                                        where has_table_privilege(role, r.oid, 'SELECT')),
                 'auth_refs', array(
                    select distinct an.nspname || '.' || ac.relname
                    from pg_rewrite w join pg_depend d on d.objid = w.oid and d.classid = 'pg_rewrite'::regclass
                    join pg_class ac on ac.oid = d.refobjid join pg_namespace an on an.oid = ac.relnamespace
                    where w.ev_class = r.oid and an.nspname = 'auth' and ac.relkind in ('r', 'p', 'v', 'm')
                    order by 1))
               order by r.name), '[]')
   from rels r where r.exposed and r.relkind in ('v', 'm', 'f')),
 'functions', (select coalesce(json_agg(json_build_object(
                 'function', n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
                 'name', n.nspname || '.' || p.proname, 'definer', p.prosecdef,
                 'config', coalesce(p.proconfig, '{}'),
                 'executable_by', array(select role from unnest(array['anon', 'authenticated']) role
                                        where has_function_privilege(role, p.oid, 'EXECUTE')),
                 'source', case when p.prosecdef then p.prosrc end)
               order by 1), '[]')
   from pg_proc p join exposed n on n.oid = p.pronamespace
   where p.oid not in (select objid from ext_owned) and p.prokind in ('f', 'p')),
 'auth_tables', (select coalesce(json_agg(r.name order by r.name), '[]') from rels r
                 where r.name like 'auth.%%' and r.relkind in ('r', 'p', 'v', 'm')),
 'policies', (select coalesce(json_agg(json_build_object('table', p.schemaname || '.' || p.tablename,
                'policy', p.policyname, 'permissive', p.permissive, 'roles', p.roles::text[], 'cmd', p.cmd,
                'qual', p.qual, 'with_check', p.with_check, 'rls', c.relrowsecurity)
              order by p.schemaname, p.tablename, p.policyname), '[]')
   from pg_policies p join pg_namespace n on n.nspname = p.schemaname
   join pg_class c on c.relnamespace = n.oid and c.relname = p.tablename
   where p.schemaname = any(%(schemas)s)),
 'extensions', (select coalesce(json_agg(json_build_object('extension', e.extname, 'schema', n.nspname)
                order by e.extname), '[]')
   from pg_extension e join pg_namespace n on n.oid = e.extnamespace),
 'privileged_roles', (select coalesce(json_object_agg(rolname, attrs order by rolname), '{}') from (
     select rolname, array_remove(array[case when rolsuper then 'SUPERUSER' end,
                                        case when rolcreaterole then 'CREATEROLE' end,
                                        case when rolcreatedb then 'CREATEDB' end,
                                        case when rolbypassrls then 'BYPASSRLS' end,
                                        case when rolreplication then 'REPLICATION' end], null) attrs
     from pg_roles where rolname !~ '^pg_') x where cardinality(attrs) > 0),
 'acl', (select coalesce(json_agg(json_build_object('relation', r.name,
           'grantee', case when a.grantee = 0 then 'PUBLIC' else pg_get_userbyid(a.grantee) end,
           'privilege', a.privilege_type, 'grantable', a.is_grantable, 'exposed', r.exposed)
         order by r.name, a.grantee, a.privilege_type), '[]')
   from rels r cross join lateral aclexplode(r.relacl) a
   where (a.grantee = 0 and r.exposed) or (a.is_grantable and pg_get_userbyid(a.grantee) = any(%(api_roles)s)))
)"""


def fetch_posture(conn, schemas: list[str]) -> dict:
    """Every catalog fact the posture judges need, in one round trip."""
    return conn.execute(POSTURE_SQL, {"schemas": list(schemas), "api_roles": list(API_ROLES)}).fetchone()[0]


SERVER_SQL = """
select json_build_object(
  'settings', (select json_object_agg(name, setting) from pg_settings
               where name in ('ssl', 'password_encryption', 'archive_mode', 'archive_command', 'archive_library',
                              'wal_segment_size')),
  'archiver', (select row_to_json(a) from pg_stat_archiver a),
  'current_wal', case when pg_is_in_recovery() then null else pg_walfile_name(pg_current_wal_lsn()) end,
  'now', now())"""


def fetch_server(conn) -> dict:
    """Transport, password and WAL-archiving settings and the archiver's statistics."""
    return conn.execute(SERVER_SQL).fetchone()[0]


HBA_SQL = """
select json_build_object(
  'hba', (select coalesce(json_agg(json_build_object('line', line_number, 'type', type, 'database', database,
                            'user', user_name, 'address', address, 'netmask', netmask, 'method', auth_method,
                            'error', error) order by line_number), '[]') from pg_hba_file_rules),
  'passwords', (select coalesce(json_object_agg(role_name, method), '{}') from monitoring.role_password_methods()))"""

MONITOR_GRANTS = ("GRANT SELECT ON pg_catalog.pg_hba_file_rules TO <role>; "
                  "GRANT EXECUTE ON FUNCTION pg_catalog.pg_hba_file_rules() TO <role>; and "
                  "monitoring.role_password_methods() as in stack/db/init/90-roles.sql")


def fetch_hba_and_passwords(conn) -> dict:
    """pg_hba rules and each login role's password method (never the hashes), as the
    monitoring role; raises PermissionError naming the grants it lacks."""
    import psycopg
    try:
        return conn.execute(HBA_SQL).fetchone()[0]
    except (psycopg.errors.InsufficientPrivilege, psycopg.errors.UndefinedFunction,
            psycopg.errors.InvalidSchemaName) as exc:
        user = conn.info.user
        raise PermissionError(f"role {user} cannot read pg_hba rules or password methods "
                              f"({str(exc).splitlines()[0]}): grant it {MONITOR_GRANTS}") from None


# ---- declarations ------------------------------------------------------------------------
def parse_declared(text: str) -> dict[str, str]:
    """`name: value; name2: value2` (a target env key) -> {name: value}."""
    out = {}
    for item in filter(None, (s.strip() for s in text.split(";"))):
        name, _, value = item.partition(":")
        out[name.strip()] = value.strip()
    return out


def privileged_allowlist(declared: dict[str, str]) -> dict[str, set[str]]:
    """{role: "SUPERUSER CREATEROLE ..."} -> {role: {attributes}}."""
    return {role: set(str(attrs or "").upper().replace(",", " ").split()) for role, attrs in declared.items()}


# ---- auth tables reachable by the client roles ----------------------------------------------
def check_auth_grants(posture: dict) -> list[str]:
    return [f"{g['relation']}: {g['role']} holds {', '.join(g['privileges'])} on an auth table "
            f"(user data readable or writable with the {'anon key' if g['role'] == 'anon' else 'user token'}); "
            f"fix: REVOKE ALL ON {g['relation']} FROM {g['role']}"
            for g in posture["auth_grants"]]


def _invoker(options: list[str]) -> bool:
    return any(o.lower() in {"security_invoker=true", "security_invoker=on", "security_invoker=1",
                             "security_invoker=yes"} for o in options)


def check_auth_exposed_relations(posture: dict) -> list[str]:
    """A view (run as its owner) or materialized view (no RLS at all) in an exposed schema
    that reads auth tables and that anon/authenticated may select (splinter auth_users_exposed)."""
    problems = []
    for r in posture["relations"]:
        if not (r["auth_refs"] and r["selectable_by"]):
            continue
        if r["kind"] == "v" and _invoker(r["options"]):
            continue
        problems.append(f"{KINDS[r['kind']]} {r['relation']}: reads {', '.join(r['auth_refs'])} and "
                        f"{'/'.join(r['selectable_by'])} may select it through the API (user data exposed); "
                        f"fix: drop it or move it out of the exposed schemas")
    return problems


def _auth_tables_in(source: str, auth_tables: list[str]) -> list[str]:
    found = []
    for name in auth_tables:
        schema, table = name.split(".", 1)
        if re.search(rf'\b"?{schema}"?\s*\.\s*"?{re.escape(table)}"?(?![\w"(])', source or "", re.I):
            found.append(name)
    return found


def check_auth_reading_functions(posture: dict) -> list[str]:
    """A SECURITY DEFINER function in an exposed schema, executable by anon/authenticated,
    whose body names an auth table: it reads auth with its owner's rights for any caller."""
    problems = []
    for f in posture["functions"]:
        refs = _auth_tables_in(f["source"], posture["auth_tables"]) if f["definer"] else []
        if refs and f["executable_by"]:
            problems.append(f"function {f['function']}: SECURITY DEFINER, reads {', '.join(refs)}, executable by "
                            f"{'/'.join(f['executable_by'])} through /rest/v1/rpc; fix: REVOKE EXECUTE ON FUNCTION "
                            f"{f['function']} FROM PUBLIC, anon, authenticated, or move it out of the exposed schemas")
    return problems


# ---- views and functions with their owner's rights ------------------------------------------
def check_security_definer_views(posture: dict) -> list[str]:
    """splinter security_definer_view: a view runs with its owner's rights (and RLS) unless
    security_invoker is set; selectable by the client roles, it bypasses their policies."""
    return [f"view {r['relation']}: runs with its owner's rights (no security_invoker) and "
            f"{'/'.join(r['selectable_by'])} may select it, bypassing their RLS; fix: "
            f"ALTER VIEW {r['relation']} SET (security_invoker = true)"
            for r in posture["relations"]
            if r["kind"] == "v" and r["selectable_by"] and not _invoker(r["options"])]


def check_definer_functions(posture: dict, allowlist: dict[str, str]) -> list[str]:
    """splinter anon/authenticated_security_definer_function_executable, against an
    allow-list {schema.name: reason}; an entry without a reason is a finding too."""
    problems = [f"definer allow-list entry {name}: no reason given; fix: say why it must run as its owner"
                for name, reason in sorted(allowlist.items()) if not str(reason or "").strip()]
    for f in posture["functions"]:
        if f["definer"] and f["executable_by"] and f["name"] not in allowlist:
            problems.append(f"function {f['function']}: SECURITY DEFINER and executable by "
                            f"{'/'.join(f['executable_by'])} through /rest/v1/rpc, not on the allow-list; fix: "
                            f"make it SECURITY INVOKER, REVOKE EXECUTE from PUBLIC, anon, authenticated, or "
                            f"allow-list it with its reason (thresholds.yaml database_security.definer_allowlist)")
    return problems


def _fixed_search_path(config: list[str]) -> bool:
    return any(c.startswith("search_path=") for c in config)


def check_function_search_path(posture: dict) -> list[str]:
    """splinter function_search_path_mutable, for the functions that matter most: SECURITY
    DEFINER ones the client roles can run (a caller's search_path can hijack their names)."""
    return [f"function {f['function']}: SECURITY DEFINER with a mutable search_path (executable by "
            f"{'/'.join(f['executable_by'])}); fix: ALTER FUNCTION {f['function']} SET search_path = ''"
            for f in posture["functions"]
            if f["definer"] and f["executable_by"] and not _fixed_search_path(f["config"])]


# ---- policies -------------------------------------------------------------------------------
def check_policies_always_true(posture: dict, public_tables: frozenset[str] = PUBLIC_READ_TABLES) -> list[str]:
    """See the module's docstring for what counts and why."""
    problems = []
    for p in posture["policies"]:
        roles = sorted(set(p["roles"]) & {"anon", "authenticated", "public"})
        if p["permissive"] != "PERMISSIVE" or not roles or not p["rls"]:
            continue
        who = "/".join(roles)
        head = f"table {p['table']}: policy {p['policy']} ({p['cmd']}) for {who}"
        if _open(p["qual"]) and (p["cmd"] != "SELECT" or p["table"] not in public_tables):
            problems.append(f"{head} has USING ({p['qual']}): every row, not only the caller's; "
                            f"fix: a USING that names the owner, e.g. owner_id = (select auth.uid())")
        if _open(p["with_check"]):
            problems.append(f"{head} has WITH CHECK ({p['with_check']}): any row may be written; "
                            f"fix: a WITH CHECK that names the owner")
        elif p["cmd"] == "INSERT" and p["with_check"] is None:
            problems.append(f"{head} has no WITH CHECK: any row may be inserted; fix: add WITH CHECK")
    return problems


def check_policies_user_metadata(posture: dict) -> list[str]:
    """splinter rls_references_user_metadata: users edit their own user_metadata
    (raw_user_meta_data in auth.users), so a policy trusting it trusts the caller."""
    problems = []
    for p in posture["policies"]:
        for clause, expr in (("USING", p["qual"]), ("WITH CHECK", p["with_check"])):
            if expr and re.search(r"user_metadata|raw_user_meta_data", expr, re.I):
                problems.append(f"table {p['table']}: policy {p['policy']} {clause} reads user_metadata, which "
                                f"users edit themselves; fix: decide on app_metadata or a table only "
                                f"service_role writes")
    return problems


def check_policies_without_rls(posture: dict) -> list[str]:
    """splinter policy_exists_rls_disabled: the policies are written but never applied."""
    tables = sorted({p["table"] for p in posture["policies"] if not p["rls"]})
    return [f"table {t}: has policies ({', '.join(p['policy'] for p in posture['policies'] if p['table'] == t)}) "
            f"but row level security is off, so none applies; fix: ALTER TABLE {t} ENABLE ROW LEVEL SECURITY"
            for t in tables]


# ---- extensions, materialized views, foreign tables -----------------------------------------
def check_extensions_not_in_public(posture: dict) -> list[str]:
    return [f"extension {e['extension']}: installed in schema public (its functions and tables become "
            f"API objects); fix: install it WITH SCHEMA extensions"
            for e in posture["extensions"] if e["schema"] == "public"]


def check_unprotected_relations_in_api(posture: dict) -> list[str]:
    """splinter materialized_view_in_api, foreign_table_in_api: neither can have RLS."""
    return [f"{KINDS[r['kind']]} {r['relation']}: in an exposed schema and selectable by "
            f"{'/'.join(r['selectable_by'])}, and it cannot have row level security; fix: "
            f"REVOKE SELECT ON {r['relation']} FROM anon, authenticated or move it out of the exposed schemas"
            for r in posture["relations"] if r["kind"] in ("m", "f") and r["selectable_by"]]


# ---- roles and grants -----------------------------------------------------------------------
def check_privileged_roles(posture: dict, allowed: dict[str, set[str]]) -> list[str]:
    problems = []
    for role, attrs in sorted(posture["privileged_roles"].items()):
        extra = [a for a in attrs if a not in allowed.get(role, set())]
        if extra:
            problems.append(f"role {role}: {' '.join(extra)} not on the allow-list (allowed: "
                            f"{' '.join(sorted(allowed.get(role, ()))) or 'none'}); fix: ALTER ROLE {role} "
                            f"{' '.join('NO' + a for a in extra)}, or declare it (thresholds.yaml "
                            f"database_security.privileged_roles)")
    return problems


def check_public_grants(posture: dict) -> list[str]:
    """PUBLIC is every role, present and future: exposed tables are granted to the API
    roles by name, never to PUBLIC."""
    grants: dict[str, list[str]] = {}
    for a in posture["acl"]:
        if a["grantee"] == "PUBLIC" and a["exposed"]:
            grants.setdefault(a["relation"], []).append(a["privilege"])
    return [f"{rel}: granted to PUBLIC ({', '.join(privs)}); fix: REVOKE ALL ON {rel} FROM PUBLIC "
            f"and grant the API roles by name" for rel, privs in sorted(grants.items())]


def check_grant_options(posture: dict) -> list[str]:
    """An API role holding WITH GRANT OPTION can hand its rights on to any role."""
    grants: dict[tuple[str, str], list[str]] = {}
    for a in posture["acl"]:
        if a["grantable"] and a["grantee"] in API_ROLES:
            grants.setdefault((a["relation"], a["grantee"]), []).append(a["privilege"])
    return [f"{rel}: {role} holds {', '.join(privs)} WITH GRANT OPTION; fix: REVOKE GRANT OPTION FOR "
            f"{', '.join(privs)} ON {rel} FROM {role}" for (rel, role), privs in sorted(grants.items())]


# ---- transport and authentication -------------------------------------------------------------
def _hba_rule(r: dict) -> str:
    address = f"{r['address']}/{r['netmask']}" if r.get("netmask") else (r["address"] or "")
    return (f"pg_hba.conf line {r['line']}: {r['type']} {','.join(r['database'] or [])} "
            f"{','.join(r['user'] or [])} {address} {r['method']}")


def check_hba_tcp_methods(hba: list[dict]) -> list[str]:
    """No TCP rule with `trust` (no password at all) or `password` (cleartext on the wire)."""
    return [f"{_hba_rule(r)}: {'no password at all' if r['method'] == 'trust' else 'the password in clear'} "
            f"over TCP; fix: scram-sha-256"
            for r in hba if r["type"] in TCP_HBA_TYPES and r["method"] in ("trust", "password")]


def check_password_methods(settings: dict, passwords: dict[str, str]) -> list[str]:
    problems = []
    if settings.get("password_encryption") != "scram-sha-256":
        problems.append(f"password_encryption={settings.get('password_encryption')}: new passwords are not "
                        f"stored as SCRAM; fix: password_encryption = 'scram-sha-256' in postgresql.conf")
    for role, method in sorted(passwords.items()):
        if method not in ("scram-sha-256", "none"):
            problems.append(f"role {role}: password stored as {method}, not SCRAM; fix: set it again "
                            f"(ALTER ROLE {role} PASSWORD ...) with password_encryption = 'scram-sha-256'")
    return problems


def beyond_loopback(host: str) -> bool:
    """True when `host` (a bind or DB_URL host) is reachable from other machines."""
    host = host.strip("[]")
    return host != "localhost" and not is_loopback(host)  # "" binds every address; a DNS name: assume published


def _loopback_rule(r: dict) -> bool:
    if r["address"] in ("samehost", "localhost"):
        return True
    try:
        net = ip_network(f"{r['address']}/{r['netmask']}" if r.get("netmask") else r["address"], strict=False)
    except (ValueError, TypeError):
        return False
    return net.subnet_of(ip_network("127.0.0.0/8")) if net.version == 4 else net.subnet_of(ip_network("::1/128"))


def check_ssl_required(published_beyond_loopback: bool, settings: dict, hba: list[dict]) -> list[str]:
    """Published beyond loopback: SSL on, and no TCP rule admitting remote clients without it."""
    if not published_beyond_loopback:
        return []
    problems = []
    if settings.get("ssl") != "on":
        problems.append("ssl=off while the database is published beyond loopback: passwords and data cross "
                        "the network in clear; fix: ssl = on with a certificate, and hostssl rules")
    for r in hba:
        if r["type"] in ("host", "hostnossl") and r["method"] != "reject" and not _loopback_rule(r):
            problems.append(f"{_hba_rule(r)}: admits remote clients without SSL; fix: hostssl")
    return problems


# ---- WAL archiving (the one judge of archive age: issue 18's RPO checks call it too) ------------
def _segment(name: str, segment_bytes: int) -> int:
    """Absolute segment number of a WAL file name (timeline ignored)."""
    return int(name[8:16], 16) * (0x100000000 // segment_bytes) + int(name[16:24], 16)


def _segment_bytes(value: str) -> int:
    m = re.fullmatch(r"(\d+)\s*(kB|MB|GB)?", str(value).strip())
    if not m:
        return 16 * 2**20
    return int(m.group(1)) * {"kB": 2**10, "MB": 2**20, "GB": 2**30, None: 1}[m.group(2)]


def _when(value) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def check_wal_archiving(server: dict, max_age_s: float) -> list[str]:
    """Archiving configured (archive_mode on, a real archive_command or archive_library) and
    keeping up: no failure after the last success, and no completed segment waiting longer
    than `max_age_s` past the last archived one. An idle database has no new segments, so
    an old last-archive time alone is not a finding."""
    s, a = server["settings"], server["archiver"]
    command, library = (s.get("archive_command") or "").strip(), (s.get("archive_library") or "").strip()
    if s.get("archive_mode") not in ("on", "always"):
        return [f"archive_mode={s.get('archive_mode')}: WAL is not archived, point-in-time recovery is impossible; "
                f"fix: archive_mode = on and an archive_command (restart needed)"]
    if not command and not library:
        return ["archive_command is empty: WAL segments pile up in pg_wal and are never archived; "
                "fix: set archive_command (stack/db/postgresql.conf) and reload"]
    if not library and command in NO_OP_ARCHIVE_COMMANDS:
        return [f"archive_command={command!r} archives nowhere: every segment is reported archived and lost; "
                f"fix: an archive_command that stores the segment (e.g. pgbackrest archive-push %p)"]
    now, last_ok, last_fail = _when(server["now"]), _when(a.get("last_archived_time")), _when(a.get("last_failed_time"))
    if last_fail and (not last_ok or last_fail > last_ok):
        success = f"{last_ok:%Y-%m-%d %H:%M:%S}" if last_ok else "never"
        return [f"WAL archiving is failing: {a.get('last_failed_wal')} failed at {last_fail:%Y-%m-%d %H:%M:%S} "
                f"({a.get('failed_count')} failures since {a.get('stats_reset')}), last success {success}; "
                f"fix: see the archiver's errors in the db log"]
    current = server.get("current_wal")
    if current and a.get("last_archived_wal"):
        size = _segment_bytes(s.get("wal_segment_size", "16MB"))
        waiting = _segment(current, size) - _segment(a["last_archived_wal"][:24], size) - 1
        age = (now - last_ok).total_seconds()
        if waiting > 0 and age > max_age_s:
            return [f"WAL archiving is stuck: {waiting} completed segment(s) after {a['last_archived_wal']} not "
                    f"archived, last success {age:.0f} s ago (bound {max_age_s:g} s, thresholds.yaml "
                    f"database_security.wal_archive_max_age_s); fix: see the archiver's errors in the db log"]
    return []
