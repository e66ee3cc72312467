"""The smoke suite fails on a broken stack, and names the cause (issue 5).

Each case breaks the local target stack on purpose (suite/faults.py), runs the smoke tests
that must catch the faults in a subprocess, and checks that every fault is reported by its
own test with its own message. The faults are then reverted, the stack is polled until it
is healthy again, and the same selection must pass. Faults that do not mask each other
share one subprocess run (CI budget). The module leaves the stack as found: services,
database state, firing alerts, and no user or row of the smoke runs left behind.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from suite.clients import http_get
from suite.faults import CATALOGUE, TLS_EXPIRED_ON, TLS_WRONG_HOST, injected
from suite.pytest_run import SuiteRun, run_suite
from suite.stack import Stack
from suite.target import local_env_file
from suite.thresholds import LIMITS
from suite.waiting import poll

# Each case runs smoke twice, one of them waiting out the monitoring test's poll.
pytestmark = [pytest.mark.destructive, pytest.mark.slow, pytest.mark.timeout(600)]


@dataclass(frozen=True)
class Caught:
    fault: str      # id in suite.faults.CATALOGUE
    test: str       # the smoke test that must fail: "module.py::name[param]"
    message: str    # a fragment of its failure message naming the cause
    layer: str = "smoke"  # the layer (marker) of that test; one layer per group


DBSEC = "test_db_security.py"

# Grouped so that no fault in a group hides another's cause: e.g. auth down, the JWT
# mismatch and NOBYPASSRLS all stop the seeded world, so the tests that need it go elsewhere.
GROUPS = {
    "database-access": [
        Caught("rls-off-notes", "test_database.py::test_rls_enabled_on_every_exposed_table",
               "table public.notes: row level security is off"),
        Caught("messages-unpublished", "test_database.py::test_realtime_publication_contains_messages",
               "publication holds"),
        Caught("anon-statement-timeout-reset", "test_database.py::test_statement_timeout_configured_per_role[anon]",
               "role anon: no statement_timeout"),
        Caught("service-role-no-bypassrls", "test_rest_rls.py::test_service_role_sees_every_note",
               "new row violates row-level security policy"),
    ],
    "policy-and-monitoring": [
        Caught("permissive-policy-notes", "test_rest_rls.py::test_anon_sees_no_notes", '[{"id":'),
        Caught("node-exporter-down", "test_monitoring.py::test_every_scrape_target_up",
               "scrape targets not up: ['node/node-exporter"),
    ],
    "gateway-and-rest-config": [
        Caught("rest-route-without-key-auth", "test_gateway.py::test_request_without_apikey_is_refused[/rest/v1/]",
               "/rest/v1/ without apikey: expected 401, got 200"),
        Caught("cors-wrong-origins", "test_gateway.py::test_cors_preflight_answers_configured_origin",
               "Access-Control-Allow-Origin"),
        Caught("rest-jwt-secret-mismatch", "test_rest_rls.py::test_rpc_reports_the_jwt_identity_to_sql",
               '"code":"PGRST301"'),
    ],
    # issue 14: each fault breaks one cell of stack/db/access.yaml (or its coverage), on its own table or operation
    "access-spec": [
        Caught("select-open-messages", "test_access_spec.py::test_access_matches_the_spec",
               "public.messages: authenticated select: expected own, seen all"),
        Caught("insert-unchecked-messages", "test_access_spec.py::test_access_matches_the_spec",
               "public.messages: authenticated insert: expected own, seen all"),
        Caught("membership-ignored-team-docs", "test_access_spec.py::test_access_matches_the_spec",
               "public.team_docs: authenticated select: expected own, seen all"),
        Caught("rls-off-notes", "test_access_spec.py::test_access_matches_the_spec",
               "public.notes: anon select: expected none, seen all"),
        Caught("unlisted-table", "test_access_spec.py::test_every_exposed_table_and_view_is_in_the_spec",
               "table public.suite_fault_unlisted is exposed (schema public) but has no entry in the access spec"),
    ],
    "services-down": [
        # 5xx, or a read timeout when the gateway still holds the stopped container's address
        Caught("auth-down", "test_auth.py::test_auth_health", "/auth/v1/health"),
        Caught("redis-down", "test_redis.py::test_redis_answers_with_its_password", "UNREACHABLE: redis at redis://"),
    ],
    # issue 13, database half: each fault trips its own judge of suite/checks/db_security.py
    "db-security-objects": [
        Caught("auth-users-granted-to-anon", f"{DBSEC}::test_auth_tables_not_granted_to_client_roles",
               "auth.users: anon holds SELECT on an auth table"),
        Caught("definer-view-on-auth-users", f"{DBSEC}::test_no_exposed_view_reads_auth_tables",
               "view public.suite_fault_user_emails: reads auth.users"),
        Caught("definer-view-on-notes", f"{DBSEC}::test_exposed_views_run_as_invoker",
               "view public.suite_fault_all_notes: runs with its owner's rights (no security_invoker)"),
        Caught("definer-function-unlisted", f"{DBSEC}::test_callable_definer_functions_are_allow_listed",
               "function public.suite_fault_count_notes(): SECURITY DEFINER and executable by anon/authenticated"),
        Caught("definer-function-reads-auth", f"{DBSEC}::test_no_callable_definer_function_reads_auth_tables",
               "function public.suite_fault_count_users(): SECURITY DEFINER, reads auth.users"),
        Caught("definer-search-path-mutable", f"{DBSEC}::test_callable_definer_functions_fix_search_path",
               "function public.is_team_member(team_id bigint): SECURITY DEFINER with a mutable search_path"),
        Caught("extension-in-public", f"{DBSEC}::test_no_extension_in_public",
               "extension hstore: installed in schema public"),
        Caught("authenticated-createrole", f"{DBSEC}::test_privileged_roles_are_allow_listed",
               "role authenticated: CREATEROLE not on the allow-list"),
    ],
    "db-security-policies-grants-wal": [
        Caught("policy-reads-user-metadata", f"{DBSEC}::test_no_policy_reads_user_metadata",
               "table public.notes: policy suite_fault_metadata_admin USING reads user_metadata"),
        Caught("policy-update-always-true", f"{DBSEC}::test_no_policy_always_true_for_clients",
               "policy suite_fault_anyone_edits_announcements (UPDATE) for authenticated has USING (true)"),
        Caught("rls-off-messages", f"{DBSEC}::test_no_policies_on_a_table_without_rls",
               "table public.messages: has policies"),
        Caught("notes-granted-to-public", f"{DBSEC}::test_no_public_grants_on_exposed_tables",
               "public.notes: granted to PUBLIC (SELECT)"),
        Caught("anon-grant-option", f"{DBSEC}::test_no_grant_option_for_api_roles",
               "public.announcements: anon holds SELECT WITH GRANT OPTION"),
        Caught("wal-archive-command-empty", f"{DBSEC}::test_wal_archiving_configured_and_keeping_up",
               "archive_command is empty"),
    ],
    # issue 18: each fault breaks one invariant of a promise (suite/checks/promises.py)
    "promises-durability": [
        Caught("synchronous-commit-off", "test_durability.py::test_durability_setting[synchronous_commit]",
               "no acknowledged write lost: synchronous_commit is off, bound local or on or remote_apply or remote_write"),
        Caught("fsync-off", "test_durability.py::test_durability_setting[fsync]",
               "no acknowledged write lost: fsync is off, bound on"),
        Caught("autovacuum-off", "test_durability.py::test_durability_setting[autovacuum]",
               "no acknowledged write lost: autovacuum is off, bound on"),
        Caught("inactive-replication-slot", "test_durability.py::test_no_inactive_slot_retaining_wal",
               "no acknowledged write lost: WAL retained by inactive replication slot suite_fault_inactive_slot is"),
        Caught("invalid-index", "test_durability.py::test_no_invalid_index",
               "no acknowledged write lost: index suite_fault.dupes_unique is invalid, bound valid"),
    ],
    "promises-capacity-runtime": [
        Caught("redis-eviction-policy", "test_promises.py::test_redis_eviction_policy_keeps_data",
               "no acknowledged write lost: Redis maxmemory-policy is allkeys-lru, bound noeviction", "infra"),
        Caught("redis-maxmemory-unset", "test_promises.py::test_redis_maxmemory_set",
               "no acknowledged write lost: Redis maxmemory is 0, bound > 0", "infra"),
        Caught("rest-pool-small", "test_promises.py::test_rest_pool_carries_the_declared_api_load",
               "rest PGRST_DB_POOL is 5, bound >= 20", "infra"),
        Caught("realtime-max-users-low", "test_promises.py::test_realtime_limits_carry_the_declared_load",
               "concurrent WebSocket connections: realtime tenant max_concurrent_users is 200, bound >= 10000", "infra"),
        Caught("idle-in-transaction", "test_promises.py::test_no_long_idle_in_transaction_session",
               "(supabase_admin, suite-fault-idle-in-transaction) idle in transaction is", "infra"),
        Caught("alertmanager-slow-group-wait", "test_promises.py::test_alert_latency_fits_the_promise",
               "+ group_wait 90 s is 140 s, bound 60 s", "infra"),
    ],
    # issue 13, gateway/auth/containers half: the anon key's reach, the gateway's limits,
    # auth as declared, the containers' hardening (suite/checks/gateway.py, auth_settings.py, containers.py)
    "gateway-exposure": [
        Caught("realtime-api-forwarded",
               "test_exposure.py::test_realtime_management_api_is_refused[/realtime/v1/api/tenants]",
               "GET /realtime/v1/api/tenants with the anon key: HTTP"),
        Caught("auth-rate-limit-removed", "test_exposure.py::test_auth_rate_limit_applies",
               "/auth/v1/: 300 requests sent at once, none refused with 429"),
        Caught("admin-networks-any", "test_exposure.py::test_admin_routes_allow_only_the_declared_networks",
               "admin routes (/pg/) allow 0.0.0.0/0, outside the declared ADMIN_NETWORKS"),
    ],
    "auth-and-containers": [
        Caught("auth-admin-roles-authenticated", "test_exposure.py::test_auth_admin_api_refuses_a_user_token",
               "GET /auth/v1/admin/users with a user's token: HTTP 200"),
        Caught("auth-autoconfirm-unlike-declared", "test_auth_settings.py::test_published_settings_are_as_declared",
               "mailer_autoconfirm is off, the target declares AUTH_AUTOCONFIRM=true"),
        Caught("container-new-privileges", "test_containers.py::test_no_new_privileges_everywhere",
               "service blackbox-exporter (container supabase-acceptance-blackbox-exporter-1): no-new-privileges is off"),
    ],
    # issue 15: the gateway's TLS face (suite/checks/tls.py); two groups, as two faults set one key
    "tls-protocol-host-headers": [
        Caught("tls10-enabled", "test_tls.py::test_tls_protocols", "TLSv1.0 is enabled"),
        Caught("tls-cert-wrong-host", "test_tls.py::test_tls_certificate",
               f"certificate is for {TLS_WRONG_HOST}, not for host name"),
        Caught("hsts-missing", "test_tls.py::test_hsts_on_api_responses",
               "no Strict-Transport-Security header on the API's response"),
        Caught("plain-http-served", "test_tls.py::test_plain_http_api_redirected_or_refused",
               "plain http serves the API (HTTP"),
    ],
    "tls-cipher-expiry": [
        Caught("tls-weak-cipher", "test_tls.py::test_tls_cipher_suites",
               "weak cipher suite TLS_RSA_WITH_AES_128_CBC_SHA offered with TLSv1.2"),
        Caught("tls-cert-expired", "test_tls.py::test_tls_certificate", f"expired on {TLS_EXPIRED_ON} 00:00 UTC"),
    ],
}

# What "as found" means for the database: the state the faults touch, and the smoke
# runs' namespaced users and rows (none may be left behind).
DB_STATE_SQL = """
select json_build_object(
  'rls', (select json_object_agg(relname, relrowsecurity order by relname) from pg_class
          where relnamespace = 'public'::regnamespace and relkind = 'r'),
  'policies', (select json_agg(tablename || '.' || policyname order by tablename, policyname)
               from pg_policies where schemaname = 'public'),
  'publication', (select json_agg(schemaname || '.' || tablename order by schemaname, tablename)
                  from pg_publication_tables where pubname = 'supabase_realtime'),
  'roles', (select json_object_agg(rolname, json_build_object('bypassrls', rolbypassrls, 'config', rolconfig)
                                   order by rolname)
            from pg_roles where rolname in ('anon', 'authenticated', 'service_role', 'authenticator')),
  'suite_users', (select count(*) from auth.users where email like 'suite-%@suite.example.test'),
  'suite_rows', (select (select count(*) from public.notes where body like 'suite-%')
                      + (select count(*) from public.teams where name like 'suite-%')
                      + (select count(*) from public.team_docs where title like 'suite-%')
                      + (select count(*) from public.announcements where title like 'suite-%')
                      + (select count(*) from public.messages where room like 'suite-%')))
"""


def _db_state(stack: Stack) -> dict:
    return stack.sql(DB_STATE_SQL)


@pytest.fixture(scope="module")
def as_found(stack):
    """The stack before any fault; after the module it must be the same again. (Firing
    alerts are not compared: on a shared machine NodeHighCPU comes and goes with load.
    The faults last less than the `for:` of the alerts they could raise.)"""
    found = {"services": stack.services(), "db": _db_state(stack)}
    yield found
    # a failed case may end before its own recovery wait; the details are reported below
    poll(lambda: not _service_problems(stack, found), what="services as found",
         timeout=LIMITS.stack.fault_recovery_s, interval=2, raise_on_timeout=False)
    problems = _service_problems(stack, found)
    db = _db_state(stack)
    if db != found["db"]:
        problems.append(f"database state differs: before {found['db']}, after {db}")
    assert not problems, "the fault tests left the stack changed:\n" + "\n".join(problems)


def _service_problems(stack: Stack, found: dict) -> list[str]:
    now = stack.services()
    return [f"service {svc}: {now.get(svc, 'missing')} (was {state})"
            for svc, state in found["services"].items() if now.get(svc) != state and state.startswith("running")]


def _recovered(stack: Stack, target, found: dict, touched: set[str]) -> bool:
    """Every service as found, and Prometheus scraping the services the faults stopped or
    recreated; otherwise raises with the reasons (the poll reports the last ones)."""
    problems = _service_problems(stack, found)
    if touched:
        services = "|".join(sorted(touched))
        down = http_get("prometheus", target.url("prometheus"), "/api/v1/query",
                        params={"query": f'up{{service=~"{services}"}} == 0'}).json()["data"]["result"]
        problems += [f"scrape target down: {s['metric'].get('job')}/{s['metric'].get('instance')}" for s in down]
    if problems:
        raise AssertionError("; ".join(problems))
    return True


def _run_smoke(cases: list[Caught], reports: Path, target) -> SuiteRun:
    """The smoke selection against the same target (a --target one too, with --allow-destructive)."""
    names = sorted({c.test.split("::")[1].split("[")[0] for c in cases})
    layers = {c.layer for c in cases}
    assert len(layers) == 1, f"a group runs one layer, not {sorted(layers)}"
    return run_suite(["-m", layers.pop(), "-k", " or ".join(names), "--no-up"], reports,
                     env={"SUITE_STACK_ENV": str(local_env_file().resolve()),
                          "SUITE_TARGET": "" if target.is_local else str(target.env_file.resolve())})


@pytest.mark.parametrize("group", list(GROUPS))
def test_smoke_fails_with_the_right_cause_and_passes_after_revert(group, stack, target, as_found, tmp_path):
    """Catches: a smoke suite that passes on a broken stack, or blames the wrong test (each of
    the faults in GROUPS: RLS off, permissive policy, table unpublished, statement timeout
    reset, service_role without BYPASSRLS, key-auth removed, wrong CORS origins, JWT secret
    mismatch, Redis, auth and an exporter down, and the access-spec faults: a widened or
    unchecked policy, membership ignored, a table outside the spec)."""
    cases = GROUPS[group]
    started = time.monotonic()
    with injected(stack, [CATALOGUE[c.fault] for c in cases]) as injection:
        broken = _run_smoke(cases, tmp_path / "broken", target)

    assert broken.returncode == 1, f"smoke did not fail with [{group}] injected: {broken.summary()}"
    for c in cases:
        verdict = broken.cases.get(c.test)
        assert verdict is not None, f"{c.fault}: {c.test} did not run: {broken.summary()}"
        assert verdict.outcome in ("failed", "error"), f"{c.fault}: {c.test} {verdict.outcome} on a broken stack"
        assert c.message in verdict.message, (f"{c.fault}: {c.test} failed without naming the cause "
                                              f"({c.message!r}):\n{verdict.reason}")
        assert c.test.split("::")[1] in broken.output, f"{c.fault}: the run's output does not name {c.test}"

    poll(lambda: _recovered(stack, target, as_found, injection.touched),
         what=f"stack healthy again after [{group}]", timeout=LIMITS.stack.fault_recovery_s, interval=2)
    healed = _run_smoke(cases, tmp_path / "healed", target)
    print(f"[{group}] broken run {broken.seconds:.1f} s, healed run {healed.seconds:.1f} s, "
          f"total with injection and recovery {time.monotonic() - started:.1f} s")
    assert healed.returncode == 0, f"smoke still fails after [{group}] was reverted: {healed.summary()}"
    assert all(healed.cases.get(c.test) and healed.cases[c.test].outcome == "passed" for c in cases), \
        f"cause tests not passing after revert: {healed.summary()}"
