"""Database checks: RLS on every table of the exposed schemas, each with a policy; no
policy opening a private table to anon; statement timeouts on the API roles; role
attributes (no superuser or BYPASSRLS for the API roles, BYPASSRLS for service_role).

`fetch_*` read the catalog through any connection (the suite uses the API login role
`authenticator`, never the superuser: the catalogs read here are readable by every role);
`check_*` are pure functions of the fetched rows. Smoke (tests/smoke/test_database.py)
and infra (tests/infra/test_database.py) both call them.
"""
from __future__ import annotations

import re

# stack/db/README.md, access matrix: anon may read `announcements` (published rows); every
# other table is private ("anon: nothing").
PUBLIC_READ_TABLES = frozenset({"public.announcements"})
API_ROLES = ("anon", "authenticated", "authenticator")
# role -> expected (rolsuper, rolbypassrls)
EXPECTED_ROLE_ATTRIBUTES = {
    "anon": (False, False),
    "authenticated": (False, False),
    "authenticator": (False, False),
    "service_role": (False, True),
}
OPEN_QUALS = {"true", "(true)", "1 = 1", "(1 = 1)"}


# ---- reads ----------------------------------------------------------------------------
def fetch_tables(conn, schemas: list[str]) -> list[dict]:
    """Tables (plain and partitioned) of `schemas`: name, RLS on, number of policies."""
    rows = conn.execute("""
        select n.nspname || '.' || c.relname, c.relrowsecurity,
               (select count(*) from pg_policy p where p.polrelid = c.oid)
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where c.relkind in ('r', 'p') and n.nspname = any(%s)
        order by 1""", (list(schemas),)).fetchall()
    return [{"table": t, "rls": rls, "policies": n} for t, rls, n in rows]


def fetch_policies(conn, schemas: list[str]) -> list[dict]:
    rows = conn.execute("""
        select schemaname || '.' || tablename, policyname, permissive, roles::text[], cmd, qual, with_check
        from pg_policies where schemaname = any(%s) order by 1, 2""", (list(schemas),)).fetchall()
    return [{"table": t, "policy": p, "permissive": perm, "roles": list(roles or []), "cmd": cmd,
             "qual": qual, "with_check": check} for t, p, perm, roles, cmd, qual, check in rows]


def fetch_roles(conn, names=tuple(EXPECTED_ROLE_ATTRIBUTES)) -> dict[str, dict]:
    rows = conn.execute("""
        select rolname, rolsuper, rolbypassrls, coalesce(rolconfig, '{}')
        from pg_roles where rolname = any(%s)""", (list(names),)).fetchall()
    return {r: {"super": s, "bypassrls": b, "config": list(cfg)} for r, s, b, cfg in rows}


# ---- checks -----------------------------------------------------------------------------
def check_rls_enabled(tables: list[dict]) -> list[str]:
    return [f"table {t['table']}: row level security is off (anyone with the anon key reads and writes it)"
            for t in tables if not t["rls"]]


def check_policies_exist(tables: list[dict]) -> list[str]:
    return [f"table {t['table']}: RLS on but no policy (closed to every client but service_role)"
            for t in tables if t["policies"] == 0]


def _open(expr: str | None) -> bool:
    return expr is not None and re.sub(r"\s+", " ", expr.strip().lower()) in OPEN_QUALS


def check_private_tables_closed_to_anon(policies: list[dict],
                                        public_tables: frozenset[str] = PUBLIC_READ_TABLES) -> list[str]:
    """A permissive policy for anon or PUBLIC whose USING or WITH CHECK is `true`, on a
    table not in `public_tables`, hands every row of a private table to anyone."""
    problems = []
    for p in policies:
        if p["table"] in public_tables or p["permissive"] != "PERMISSIVE":
            continue
        roles = set(p["roles"])
        if not roles & {"anon", "public"}:
            continue
        for clause, expr in (("USING", p["qual"]), ("WITH CHECK", p["with_check"])):
            if _open(expr):
                problems.append(f"table {p['table']}: policy {p['policy']} ({p['cmd']}) gives "
                                f"{'/'.join(sorted(roles & {'anon', 'public'}))} {clause} ({expr}) on a private table")
    return problems


def _seconds(value: str) -> float | None:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|min|h)?\s*", value)
    if not m:
        return None
    factor = {"ms": 0.001, "s": 1, "min": 60, "h": 3600, None: 0.001}[m.group(2)]
    return float(m.group(1)) * factor


def check_statement_timeouts(roles: dict[str, dict], expected_s: dict[str, float]) -> list[str]:
    """Each role in `expected_s` has statement_timeout set to that many seconds."""
    problems = []
    for role, want in expected_s.items():
        if role not in roles:
            problems.append(f"role {role}: missing")
            continue
        settings = dict(c.split("=", 1) for c in roles[role]["config"] if "=" in c)
        value = settings.get("statement_timeout")
        if value is None:
            problems.append(f"role {role}: no statement_timeout (one slow query can hold the pool)")
        elif _seconds(value) in (None, 0):
            problems.append(f"role {role}: statement_timeout={value} (disabled or unreadable)")
        elif _seconds(value) != want:
            problems.append(f"role {role}: statement_timeout={value}, expected {want:g}s (thresholds.yaml)")
    return problems


def check_role_attributes(roles: dict[str, dict],
                          expected: dict[str, tuple[bool, bool]] = EXPECTED_ROLE_ATTRIBUTES) -> list[str]:
    problems = []
    for role, (want_super, want_bypass) in expected.items():
        if role not in roles:
            problems.append(f"role {role}: missing")
            continue
        got = roles[role]
        if got["super"] != want_super:
            problems.append(f"role {role}: superuser={got['super']}, expected {want_super}")
        if got["bypassrls"] != want_bypass:
            problems.append(f"role {role}: bypassrls={got['bypassrls']}, expected {want_bypass}")
    return problems
