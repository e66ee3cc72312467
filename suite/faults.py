"""Faults injected on purpose into the bundled (local) stack, and reverted exactly.

A fault is a small function that breaks one thing through an `Injection` (the stack
layer's undoable changes): superuser SQL, a stopped container, or a Compose override (a
modified copy of a mounted file, or another environment value) applied by recreating the
service. Every change registers its undo before it is made, so leaving `injected()` (normally or by an
exception) always restores the stack as found. docs/faults.md lists the catalogue.
"""
from __future__ import annotations

import datetime
import re
import secrets
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

import psycopg
import redis

from .checks.monitoring import fetch_query
from .stack import Changes, Stack
from .thresholds import LIMITS
from .waiting import poll


class FaultError(AssertionError):
    """A fault could not be injected or reverted (the message says which and why)."""


Injection = Changes  # what faults use to break the stack (suite/stack/changes.py)


@dataclass(frozen=True)
class Fault:
    id: str
    how: str                                   # one line, for docs/faults.md and messages
    inject: Callable[[Injection], None]


@contextmanager
def injected(stack: Stack, faults: Iterable[Fault]) -> Iterator[Injection]:
    """The faults in place for the body; reverted (last first) however the body ends."""
    with stack.changes() as changes:
        for fault in faults:
            fault.inject(changes)
        changes.apply_overrides()
        yield changes


# ---- the catalogue ------------------------------------------------------------------------
def _sql_fault(do: str, undo: str, precondition: str, why: str) -> Callable[[Injection], None]:
    def inject(i: Injection) -> None:
        i.require(precondition, why)
        i.sql(do, undo)
    return inject


def _added_policy(name: str, table: str, clause: str) -> Callable[[Injection], None]:
    def inject(i: Injection) -> None:
        i.require(f"select not exists (select 1 from pg_policies where policyname = '{name}')",
                  f"policy {name} already exists (a previous run left it?)")
        i.sql(f"CREATE POLICY {name} ON {table} {clause}", f"DROP POLICY IF EXISTS {name} ON {table}")
    return inject


PERMISSIVE_POLICY = "suite_fault_anon_reads_every_note"


def _messages_unpublished(i: Injection) -> None:
    i.require("select exists (select 1 from pg_publication p join pg_publication_tables t using (pubname) "
              "where pubname = 'supabase_realtime' and not p.puballtables "
              "and t.schemaname = 'public' and t.tablename = 'messages')",
              "public.messages is not listed in publication supabase_realtime")
    i.sql("ALTER PUBLICATION supabase_realtime DROP TABLE public.messages", """
        DO $$ BEGIN
          IF NOT EXISTS (SELECT 1 FROM pg_publication_tables WHERE pubname = 'supabase_realtime'
                         AND schemaname = 'public' AND tablename = 'messages') THEN
            ALTER PUBLICATION supabase_realtime ADD TABLE public.messages;
          END IF;
        END $$""")


def _anon_statement_timeout_reset(i: Injection) -> None:
    value = i.query("select split_part(c, '=', 2) from pg_roles, unnest(rolconfig) c "
                    "where rolname = 'anon' and c like 'statement_timeout=%'")
    if not re.fullmatch(r"[0-9]+(us|ms|s|min|h|d)?", value or ""):
        raise FaultError(f"precondition failed: anon has no readable statement_timeout ({value!r})")
    i.sql("ALTER ROLE anon RESET statement_timeout", f"ALTER ROLE anon SET statement_timeout = '{value}'")


def without_plugins(kong_yml: str, service: str, plugins: set[str]) -> str:
    """kong.yml with the named plugins removed from one service, edited as text: Kong and the
    local renderer substitute $VARS before parsing, so a YAML round trip would change meaning."""
    lines = kong_yml.splitlines(keepends=True)
    starts = [n for n, line in enumerate(lines) if re.fullmatch(rf"\s*- name: {re.escape(service)}\s*", line)]
    if len(starts) != 1:
        raise FaultError(f"kong.yml: expected one service named {service}, found {len(starts)}")
    indent = lambda line: len(line) - len(line.lstrip())  # noqa: E731
    start = starts[0]
    end = next((n for n in range(start + 1, len(lines)) if lines[n].strip()
                and not lines[n].lstrip().startswith("#") and indent(lines[n]) <= indent(lines[start])), len(lines))
    keep, removed, skip_deeper_than = [], set(), None
    for line in lines[start:end]:
        if skip_deeper_than is not None and (not line.strip() or indent(line) > skip_deeper_than):
            continue
        skip_deeper_than = None
        m = re.fullmatch(r"(\s*)- name: ([\w-]+)\s*", line)
        if m and m.group(2) in plugins and indent(line) > indent(lines[start]):
            removed.add(m.group(2))
            skip_deeper_than = indent(line)
            continue
        keep.append(line)
    if removed != plugins:
        raise FaultError(f"kong.yml: service {service} has no plugin(s) {sorted(plugins - removed)}")
    return "".join(lines[:start] + keep + lines[end:])


def _edited_copy(i: Injection, service: str, name: str, edit: Callable[[str], str]) -> None:
    """`service` recreated with an edited copy of its bind-mounted file `name`. Faults editing
    the same file edit one copy: only one file can be mounted at the destination."""
    source, destination = i.stack.mount(service, name)
    copy = i.workdir / name
    first = not copy.exists()
    copy.write_text(edit((source if first else copy).read_text()))
    copy.chmod(0o644)
    if first:
        i.override(service, {"volumes": [f"{copy}:{destination}:ro"]})


def _kong_copy_without(service: str, plugins: set[str]) -> Callable[[Injection], None]:
    """The gateway recreated with a copy of its kong.yml lacking `plugins` on `service`."""
    return lambda i: _edited_copy(i, "gateway", "kong.yml", lambda text: without_plugins(text, service, plugins))


WRONG_CORS_ORIGINS = "https://wrong-origin.example"


def _cors_wrong_origins(i: Injection) -> None:
    i.override("gateway", {"environment": {"CORS_ALLOWED_ORIGINS": WRONG_CORS_ORIGINS}})


def _rest_jwt_secret_mismatch(i: Injection) -> None:
    # A fresh random secret: tokens signed by auth (the stack's JWT_SECRET) no longer verify.
    i.override("rest", {"environment": {"PGRST_JWT_SECRET": secrets.token_urlsafe(40)}})


def _stopped(service: str) -> Callable[[Injection], None]:
    return lambda i: i.stop(service)


def _exporter_stopped(service: str) -> Callable[[Injection], None]:
    """Stopped, and in effect only once Prometheus has scraped it as down: until its next
    scrape (up to one interval) `up` still says 1 and a check would pass on a broken stack."""
    def inject(i: Injection) -> None:
        i.stop(service)
        prometheus = i.stack.target.url("prometheus")

        def scraped_down() -> bool:
            return bool(fetch_query(prometheus, f'up{{service="{service}"}} == 0'))
        poll(scraped_down, what=f"Prometheus sees {service} down", timeout=LIMITS.stack.prometheus_scrape_s, interval=1)
    return inject


# ---- access-spec faults (issue 14): each breaks one cell of stack/db/access.yaml ---------------
UNLISTED_TABLE = "public.suite_fault_unlisted"


def _unlisted_table(i: Injection) -> None:
    i.require(f"select to_regclass('{UNLISTED_TABLE}') is null", f"{UNLISTED_TABLE} already exists")
    i.sql(f"DO $$ BEGIN CREATE TABLE {UNLISTED_TABLE} (id bigint PRIMARY KEY, body text); "
          f"GRANT ALL ON {UNLISTED_TABLE} TO anon, authenticated, service_role; END $$",
          f"DROP TABLE IF EXISTS {UNLISTED_TABLE}")


ACCESS_FAULTS = {
    "select-open-messages": ("suite_fault_authenticated_reads_every_message", "public.messages",
                             "FOR SELECT TO authenticated USING (true)"),
    "insert-unchecked-messages": ("suite_fault_insert_as_anyone", "public.messages",
                                  "FOR INSERT TO authenticated WITH CHECK (true)"),
    "membership-ignored-team-docs": ("suite_fault_any_user_reads_team_docs", "public.team_docs",
                                     "FOR SELECT TO authenticated USING (auth.uid() IS NOT NULL)"),
}


# ---- database security posture (issue 13): each breaks one judge of suite/checks/db_security.py ----
def _created(kind: str, name: str, body: str) -> tuple[str, str, str, str]:
    """A view or function in public made callable/selectable by the client roles, dropped after."""
    exists = f"to_regclass('{name}')" if kind == "VIEW" else f"to_regprocedure('{name}')"
    grant = "SELECT ON" if kind == "VIEW" else "EXECUTE ON FUNCTION"
    return (f"DO $$ BEGIN CREATE {kind} {name} {body}; GRANT {grant} {name} TO anon, authenticated; END $$",
            f"DROP {kind} IF EXISTS {name}", f"select {exists} is null", f"{name} already exists")


DEFINER_FN = "LANGUAGE sql SECURITY DEFINER SET search_path = ''"
DB_SECURITY_FAULTS = {
    "auth-users-granted-to-anon": ("GRANT SELECT ON auth.users TO anon", "REVOKE SELECT ON auth.users FROM anon",
                                   "select not has_table_privilege('anon', 'auth.users', 'SELECT')",
                                   "anon can already select auth.users"),
    "definer-view-on-auth-users": _created("VIEW", "public.suite_fault_user_emails",
                                           "AS SELECT id, email FROM auth.users"),
    "definer-view-on-notes": _created("VIEW", "public.suite_fault_all_notes", "AS SELECT * FROM public.notes"),
    "definer-function-unlisted": _created("FUNCTION", "public.suite_fault_count_notes()",
                                          f"RETURNS bigint {DEFINER_FN} AS 'SELECT count(*) FROM public.notes'"),
    "definer-function-reads-auth": _created("FUNCTION", "public.suite_fault_count_users()",
                                            f"RETURNS bigint {DEFINER_FN} AS 'SELECT count(*) FROM auth.users'"),
    "definer-search-path-mutable": (
        "ALTER FUNCTION public.is_team_member(bigint) RESET search_path",
        "ALTER FUNCTION public.is_team_member(bigint) SET search_path = ''",
        "select proconfig = array['search_path=\"\"'] from pg_proc "
        "where oid = 'public.is_team_member(bigint)'::regprocedure",
        "public.is_team_member has not exactly search_path=\"\" to restore"),
    "extension-in-public": ("CREATE EXTENSION hstore WITH SCHEMA public", "DROP EXTENSION IF EXISTS hstore",
                            "select not exists (select 1 from pg_extension where extname = 'hstore')",
                            "extension hstore is already installed"),
    "authenticated-createrole": ("ALTER ROLE authenticated CREATEROLE", "ALTER ROLE authenticated NOCREATEROLE",
                                 "select not rolcreaterole from pg_roles where rolname = 'authenticated'",
                                 "authenticated already has CREATEROLE"),
    "rls-off-messages": ("ALTER TABLE public.messages DISABLE ROW LEVEL SECURITY",
                         "ALTER TABLE public.messages ENABLE ROW LEVEL SECURITY",
                         "select relrowsecurity from pg_class where oid = 'public.messages'::regclass",
                         "RLS is already off on public.messages"),
    "notes-granted-to-public": ("GRANT SELECT ON public.notes TO PUBLIC", "REVOKE SELECT ON public.notes FROM PUBLIC",
                                "select not exists (select 1 from pg_class c, aclexplode(c.relacl) a "
                                "where c.oid = 'public.notes'::regclass and a.grantee = 0)",
                                "public.notes already has a PUBLIC grant"),
    "anon-grant-option": ("GRANT SELECT ON public.announcements TO anon WITH GRANT OPTION",
                          "REVOKE GRANT OPTION FOR SELECT ON public.announcements FROM anon",
                          "select has_table_privilege('anon', 'public.announcements', 'SELECT') and not "
                          "has_table_privilege('anon', 'public.announcements', 'SELECT WITH GRANT OPTION')",
                          "anon lacks SELECT on public.announcements, or holds it WITH GRANT OPTION already"),
}
DB_SECURITY_POLICIES = {
    "policy-reads-user-metadata": ("suite_fault_metadata_admin", "public.notes", "FOR SELECT TO authenticated "
                                   "USING ((auth.jwt() -> 'user_metadata' ->> 'role') = 'admin')"),
    "policy-update-always-true": ("suite_fault_anyone_edits_announcements", "public.announcements",
                                  "FOR UPDATE TO authenticated USING (true)"),
}


def _archive_command_empty(i: Injection) -> None:
    """archive_mode stays on with no command: segments wait in pg_wal (none lost, no failure
    counted, so no alert), and are archived once the command is back."""
    i.require("select current_setting('archive_command') <> '' and not exists (select 1 from pg_file_settings "
              "where name = 'archive_command' and sourcefile like '%postgresql.auto.conf')",
              "archive_command is empty or already set by ALTER SYSTEM")
    i.sql("SELECT pg_reload_conf()", "SELECT pg_reload_conf()")  # its undo runs last: after the RESET below
    i.sql("ALTER SYSTEM SET archive_command = ''", "ALTER SYSTEM RESET archive_command")
    i.query("SELECT pg_reload_conf()")
    poll(lambda: i.query("select current_setting('archive_command') = ''"), what="archive_command empty after reload",
         timeout=10, interval=0.2)


# ---- promises (issue 18): each breaks one invariant of suite/checks/promises.py ---------------
def _system_setting(name: str, value: str, healthy: str) -> Callable[[Injection], None]:
    """`ALTER SYSTEM SET name = value` and a reload: live at once, no trace in the config files."""
    def inject(i: Injection) -> None:
        i.require(f"select current_setting('{name}') = '{healthy}' and not exists (select 1 from pg_file_settings "
                  f"where name = '{name}' and sourcefile like '%postgresql.auto.conf')",
                  f"{name} is not {healthy}, or already set by ALTER SYSTEM")
        i.sql("SELECT pg_reload_conf()", "SELECT pg_reload_conf()")  # its undo runs last: after the RESET below
        i.sql(f"ALTER SYSTEM SET {name} = '{value}'", f"ALTER SYSTEM RESET {name}")
        i.query("SELECT pg_reload_conf()")
        poll(lambda: i.query(f"select current_setting('{name}') = '{value}'"), what=f"{name}={value} after reload",
             timeout=10, interval=0.2)
    return inject


INACTIVE_SLOT = "suite_fault_inactive_slot"


def _slots_caught_up(i: Injection) -> bool:
    bound = LIMITS.promises.invariants.inactive_slot_max_wal_bytes
    if i.query(f"select coalesce(max(pg_current_wal_lsn() - restart_lsn), 0) <= {bound} from pg_replication_slots"):
        return True
    i.query("CHECKPOINT")
    return False


def _inactive_slot(i: Injection) -> None:
    """A physical slot nobody reads, then enough WAL behind it to pass the bound: one real
    segment switch per segment (a logical message gives each switch something to close)."""
    i.require(f"select not exists (select 1 from pg_replication_slots where slot_name = '{INACTIVE_SLOT}')",
              f"replication slot {INACTIVE_SLOT} already exists (a previous run left it?)")
    # Undone last: the WAL also sits behind realtime's logical slot until it decodes a
    # running-xacts record past it; a checkpoint logs one, then realtime's next poll moves it.
    i.change(lambda: None, lambda: poll(lambda: _slots_caught_up(i), what="every replication slot back under "
                                        "the retained-WAL bound", timeout=LIMITS.stack.fault_recovery_s, interval=1))
    i.sql(f"SELECT pg_create_physical_replication_slot('{INACTIVE_SLOT}', true)",
          f"SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '{INACTIVE_SLOT}'")
    segments = LIMITS.promises.invariants.inactive_slot_max_wal_bytes // (16 << 20) + 2
    i.query(f"DO $$ BEGIN FOR n IN 1..{segments} LOOP PERFORM pg_logical_emit_message(false, 'suite-fault', 'x'); "
            "PERFORM pg_switch_wal(); END LOOP; END $$")


INVALID_INDEX = "suite_fault.dupes_unique"


def _invalid_index(i: Injection) -> None:
    """A unique CREATE INDEX CONCURRENTLY over duplicates fails and leaves its index invalid
    (in a schema of its own, outside the exposed ones)."""
    i.require("select to_regnamespace('suite_fault') is null", "schema suite_fault already exists")
    i.sql("DO $$ BEGIN CREATE SCHEMA suite_fault; CREATE TABLE suite_fault.dupes (v int); "
          "INSERT INTO suite_fault.dupes VALUES (1), (1); END $$", "DROP SCHEMA IF EXISTS suite_fault CASCADE")
    try:
        i.query("CREATE UNIQUE INDEX CONCURRENTLY dupes_unique ON suite_fault.dupes (v)")
    except psycopg.errors.UniqueViolation:
        pass  # the failure is the fault: the index stays behind, invalid
    i.require(f"select not indisvalid from pg_index where indexrelid = '{INVALID_INDEX}'::regclass",
              "the failed CREATE INDEX CONCURRENTLY left no invalid index")


def _redis_config(name: str, value: str) -> Callable[[Injection], None]:
    """`CONFIG SET name value` on the live Redis (redis.conf untouched); set back to what it was."""
    def inject(i: Injection) -> None:
        client = redis.Redis.from_url(i.stack.target.url("redis"), socket_timeout=LIMITS.http.read_timeout_s)
        found = client.config_get(name)[name]
        i.change(lambda: client.config_set(name, value), lambda: client.config_set(name, found))
    return inject


IDLE_APPLICATION = "suite-fault-idle-in-transaction"


def _idle_in_transaction(i: Injection) -> None:
    """A session that opens a transaction, reads, and stays idle in it past the bound."""
    bound = LIMITS.promises.invariants.idle_in_transaction_max_s
    conn = i.stack.connect(application_name=IDLE_APPLICATION)
    i.change(lambda: (conn.execute("BEGIN"), conn.execute("SELECT count(*) FROM public.notes")), conn.close)
    poll(lambda: i.query("select extract(epoch from now() - state_change) > " f"{bound} from pg_stat_activity "
                         f"where application_name = '{IDLE_APPLICATION}' and state = 'idle in transaction'"),
         what=f"the session idle in transaction for more than {bound} s", timeout=bound + 20, interval=1)


# ---- issue 13, gateway/auth/containers half: each trips its own judge -------------------------
HARDENING_FAULTS = {
    "realtime-api-forwarded": ("gateway recreated with a copy of its kong.yml whose realtime-v1-api-refused route "
                               "lacks request-termination (Realtime's tenant API forwarded)",
                               _kong_copy_without("realtime-v1-api-refused", {"request-termination"})),
    "auth-rate-limit-removed": ("gateway recreated with a copy of its kong.yml whose auth-v1 service lacks "
                                "rate-limiting", _kong_copy_without("auth-v1", {"rate-limiting"})),
    "admin-networks-any": ("gateway recreated with GATEWAY_ADMIN_ALLOW_CIDRS=0.0.0.0/0",
                           lambda i: i.override("gateway", {"environment": {"GATEWAY_ADMIN_ALLOW_CIDRS": "0.0.0.0/0"}})),
    "auth-admin-roles-authenticated": ("auth recreated with GOTRUE_JWT_ADMIN_ROLES=service_role,authenticated "
                                       "(every signed-in user is an admin)",
                                       lambda i: i.override("auth", {"environment": {
                                           "GOTRUE_JWT_ADMIN_ROLES": "service_role,authenticated"}})),
    "auth-autoconfirm-unlike-declared": ("auth recreated with GOTRUE_MAILER_AUTOCONFIRM=false while the stack "
                                         "declares AUTH_AUTOCONFIRM=true",
                                         lambda i: i.override("auth", {"environment": {
                                             "GOTRUE_MAILER_AUTOCONFIRM": "false"}})),
    # Docker applies security options in order: the appended entry turns the flag off.
    "container-new-privileges": ("blackbox-exporter recreated with security_opt no-new-privileges:false appended",
                                 lambda i: i.override("blackbox-exporter", {
                                     "security_opt": ["no-new-privileges:false"]})),
}

# ---- TLS of the gateway (issue 15; tests/smoke/test_tls.py, docs/tls.md) ----------------
TLS_FAULT_DIR = "/etc/letsencrypt/suite-faults"   # in the acme-certs volume, read by the gateway
TLS_EXPIRED_ON = (datetime.date.today() - datetime.timedelta(days=1)).isoformat()
TLS_WRONG_HOST = "wrong-host.supabase.test"
# TLS 1.0 needs a suite it can negotiate and OpenSSL 3's security level 0 to offer it.
TLS10_CIPHERS = ("ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305:"
                 "ECDHE-RSA-AES128-SHA:@SECLEVEL=0")
WEAK_CIPHERS = "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:AES128-SHA"


def _gateway_env(**env: str) -> Callable[[Injection], None]:
    return lambda i: i.override("gateway", {"environment": env})


def _forged_certificate(name: str, hostname: str | None, not_before: str, not_after: str) -> Callable[[Injection], None]:
    """The gateway recreated serving a certificate forged with the local ACME CA's intermediate
    (stack/acme/forge_cert.py): a valid chain, so only the seeded defect is wrong."""
    def inject(i: Injection) -> None:
        host = hostname or i.stack.target.env.get("GATEWAY_TLS_HOSTNAME") or "api.supabase.test"
        folder = f"{TLS_FAULT_DIR}/{name}"
        i.change(lambda: i.stack.exec("certbot", f"forge_cert.py {folder} {host} {not_before} {not_after}",
                                      f"forging the {name} certificate"),
                 lambda: i.stack.exec("certbot", f"rm -rf {folder}", f"removing the {name} certificate"))
        i.override("gateway", {"environment": {"GATEWAY_TLS_CERT_FILE": f"{folder}/fullchain.pem",
                                               "GATEWAY_TLS_KEY_FILE": f"{folder}/privkey.pem"}})
    return inject


def _days_ago(days: int) -> str:
    return (datetime.date.today() - datetime.timedelta(days=days)).isoformat()


TLS_FAULTS = {
    "tls10-enabled": ("gateway recreated with GATEWAY_TLS_PROTOCOLS='TLSv1 TLSv1.2 TLSv1.3' (and a CBC suite "
                      "at OpenSSL security level 0, without which TLS 1.0 cannot be negotiated)",
                      _gateway_env(GATEWAY_TLS_PROTOCOLS="TLSv1 TLSv1.2 TLSv1.3", GATEWAY_TLS_CIPHERS=TLS10_CIPHERS)),
    "tls-weak-cipher": (f"gateway recreated with GATEWAY_TLS_CIPHERS={WEAK_CIPHERS} (AES128-SHA: RSA key "
                        "exchange, CBC)", _gateway_env(GATEWAY_TLS_CIPHERS=WEAK_CIPHERS)),
    "tls-cert-expired": (f"gateway recreated serving a certificate of the local CA that expired on {TLS_EXPIRED_ON}",
                         _forged_certificate("expired", None, _days_ago(90), TLS_EXPIRED_ON)),
    "tls-cert-wrong-host": (f"gateway recreated serving a certificate of the local CA for {TLS_WRONG_HOST}",
                            _forged_certificate("wrong-host", TLS_WRONG_HOST, _days_ago(1), _days_ago(-60))),
    "hsts-missing": ("gateway recreated with GATEWAY_HSTS_MAX_AGE=0 (no Strict-Transport-Security header)",
                     _gateway_env(GATEWAY_HSTS_MAX_AGE="0")),
    "plain-http-served": ("gateway recreated with GATEWAY_HTTP_MODE=serve (the public plain port serves the API)",
                          _gateway_env(GATEWAY_HTTP_MODE="serve")),
}


SLOW_GROUP_WAIT = "90s"


def _alertmanager_slow_group_wait(i: Injection) -> None:
    """Alertmanager recreated with a copy of its config whose root route waits 90 s before a
    group's first notification (the critical route inherits it)."""
    def slower(config: str) -> str:
        text, n = re.subn(r"(?m)^  group_wait: \S+$", f"  group_wait: {SLOW_GROUP_WAIT}", config)
        if n != 1:
            raise FaultError(f"alertmanager.yml: expected one root `group_wait:` line, found {n}")
        return text
    _edited_copy(i, "alertmanager", "alertmanager.yml", slower)


CATALOGUE = {f.id: f for f in (
    Fault("rls-off-notes", "`ALTER TABLE public.notes DISABLE ROW LEVEL SECURITY`",
          _sql_fault("ALTER TABLE public.notes DISABLE ROW LEVEL SECURITY",
                     "ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY",
                     "select relrowsecurity from pg_class where oid = 'public.notes'::regclass",
                     "RLS is already off on public.notes")),
    Fault("permissive-policy-notes", f"`CREATE POLICY {PERMISSIVE_POLICY} ON public.notes FOR SELECT TO anon "
          "USING (true)`", _added_policy(PERMISSIVE_POLICY, "public.notes", "FOR SELECT TO anon USING (true)")),
    Fault("messages-unpublished", "`ALTER PUBLICATION supabase_realtime DROP TABLE public.messages`",
          _messages_unpublished),
    Fault("anon-statement-timeout-reset", "`ALTER ROLE anon RESET statement_timeout`",
          _anon_statement_timeout_reset),
    Fault("service-role-no-bypassrls", "`ALTER ROLE service_role NOBYPASSRLS`",
          _sql_fault("ALTER ROLE service_role NOBYPASSRLS", "ALTER ROLE service_role BYPASSRLS",
                     "select rolbypassrls from pg_roles where rolname = 'service_role'",
                     "service_role has no BYPASSRLS to take away")),
    # acl goes too: without key-auth it has no consumer to check (Kong refuses the pair).
    Fault("rest-route-without-key-auth", "gateway recreated with a copy of its kong.yml whose rest-v1 service "
          "lacks key-auth and acl", _kong_copy_without("rest-v1", {"key-auth", "acl"})),
    Fault("cors-wrong-origins", f"gateway recreated with CORS_ALLOWED_ORIGINS={WRONG_CORS_ORIGINS}",
          _cors_wrong_origins),
    Fault("rest-jwt-secret-mismatch", "rest recreated with a random PGRST_JWT_SECRET", _rest_jwt_secret_mismatch),
    Fault("redis-down", "`docker stop` of the redis container", _stopped("redis")),
    Fault("auth-down", "`docker stop` of the auth container", _stopped("auth")),
    Fault("node-exporter-down", "`docker stop` of the node-exporter container, until Prometheus scrapes it down",
          _exporter_stopped("node-exporter")),
    *(Fault(fid, f"`CREATE POLICY {name} ON {table} {clause}`", _added_policy(name, table, clause))
      for fid, (name, table, clause) in ACCESS_FAULTS.items()),
    Fault("unlisted-table", f"`CREATE TABLE {UNLISTED_TABLE} (id bigint PRIMARY KEY, body text)` with "
          "`GRANT ALL` to the API roles, and no entry in the access spec", _unlisted_table),
    *(Fault(fid, f"`{do.removeprefix('DO $$ BEGIN ').removesuffix('; END $$')}`", _sql_fault(do, undo, pre, why))
      for fid, (do, undo, pre, why) in DB_SECURITY_FAULTS.items()),
    *(Fault(fid, f"`CREATE POLICY {name} ON {table} {clause}`", _added_policy(name, table, clause))
      for fid, (name, table, clause) in DB_SECURITY_POLICIES.items()),
    Fault("wal-archive-command-empty", "`ALTER SYSTEM SET archive_command = ''` and a reload (archive_mode stays on)",
          _archive_command_empty),
    Fault("synchronous-commit-off", "`ALTER SYSTEM SET synchronous_commit = off` and a reload",
          _system_setting("synchronous_commit", "off", "on")),
    Fault("fsync-off", "`ALTER SYSTEM SET fsync = off` and a reload", _system_setting("fsync", "off", "on")),
    Fault("autovacuum-off", "`ALTER SYSTEM SET autovacuum = off` and a reload", _system_setting("autovacuum", "off", "on")),
    Fault("inactive-replication-slot", f"`pg_create_physical_replication_slot('{INACTIVE_SLOT}', true)`, then "
          "a WAL switch per segment past promises.invariants.inactive_slot_max_wal_bytes", _inactive_slot),
    Fault("invalid-index", f"`CREATE UNIQUE INDEX CONCURRENTLY` over duplicate rows, leaving {INVALID_INDEX} invalid",
          _invalid_index),
    Fault("redis-eviction-policy", "Redis `CONFIG SET maxmemory-policy allkeys-lru`",
          _redis_config("maxmemory-policy", "allkeys-lru")),
    Fault("redis-maxmemory-unset", "Redis `CONFIG SET maxmemory 0`", _redis_config("maxmemory", "0")),
    Fault("rest-pool-small", "rest recreated with PGRST_DB_POOL=5 (below the declared API concurrency)",
          lambda i: i.override("rest", {"environment": {"PGRST_DB_POOL": "5"}})),
    Fault("realtime-max-users-low", "realtime recreated with TENANT_MAX_CONCURRENT_USERS=200 (below the declared "
          "WebSocket load)", lambda i: i.override("realtime", {"environment": {"TENANT_MAX_CONCURRENT_USERS": "200"}})),
    Fault("idle-in-transaction", f"a superuser session ({IDLE_APPLICATION}) idle in a transaction past "
          "promises.invariants.idle_in_transaction_max_s", _idle_in_transaction),
    Fault("alertmanager-slow-group-wait", f"alertmanager recreated with a copy of its config whose root route has "
          f"group_wait: {SLOW_GROUP_WAIT}", _alertmanager_slow_group_wait),
    *(Fault(fid, how, inject) for fid, (how, inject) in HARDENING_FAULTS.items()),
    *(Fault(fid, how, inject) for fid, (how, inject) in TLS_FAULTS.items()),
)}
