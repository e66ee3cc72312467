"""Access policy as code: the target's own tables against its access spec (docs/targets.md,
"Access spec"). Observed in ONE transaction as the API's login role, impersonating anon, a
signed-in user (against its own row and another user's) and service_role as PostgREST
does, and always rolled back: nothing it writes survives, so it is safe on production.

The two users are the run's own (created and removed through the auth admin API), so
tables whose rows reference auth.users get valid fixtures. Without a spec the checks skip
and say so; the generic database checks (test_database.py) still run.
"""
from __future__ import annotations

import time

import pytest
import pytest_html

from suite.access import run, spec as access_spec
from suite.clients import connect_db
from suite.thresholds import LIMITS


@pytest.fixture(scope="module")
def spec(target, require):
    require("db")
    path = access_spec.locate(target)
    if path is None:
        pytest.skip(f"target {target.name} has no access spec (ACCESS_SPEC, or access.yaml beside its env file; "
                    f"`make access-spec` drafts one): access checks skipped")
    try:
        return access_spec.load(path)
    except access_spec.SpecError as exc:
        pytest.fail(f"access spec: {exc}", pytrace=False)


@pytest.fixture(scope="module")
def verdict(target, spec, user_a, user_b):
    conn = connect_db(target, application_name="suite-access-check")  # visible in pg_stat_activity
    try:
        started = time.monotonic()
        result = run.check(conn, spec, target.exposed_schemas, {"self": user_a.id, "other": user_b.id})
        seconds = time.monotonic() - started
    finally:
        conn.close()
    return result, seconds


def test_every_exposed_table_and_view_is_in_the_spec(verdict):
    """Catches: a new table or view in an exposed schema that nobody declared access for
    (the coverage promise), and spec entries for relations that no longer exist."""
    result, _ = verdict
    if result.coverage:
        pytest.fail("\n".join(result.coverage), pytrace=False)


def test_every_spec_entry_is_reviewed(verdict):
    """Catches: a drafted spec taken as truth (it only copies the live policies, right or wrong)."""
    result, _ = verdict
    if result.unreviewed:
        pytest.fail("\n".join(result.unreviewed), pytrace=False)


def test_access_matches_the_spec(verdict, extras):
    """Catches: a policy wider than declared (USING (true), membership ignored), a write
    policy without a real WITH CHECK (impersonation), RLS off on a private table, owners
    locked out of their rows, service_role without BYPASSRLS."""
    result, _ = verdict
    extras.append(pytest_html.extras.text(result.matrix, name="access matrix"))
    if result.levels:
        pytest.fail("\n".join(result.levels) + "\n\n" + result.matrix, pytrace=False)


def test_access_check_is_fast(verdict):
    """Catches: a check too slow for every deploy (it must fit the smoke budget)."""
    _, seconds = verdict
    assert seconds <= LIMITS.smoke.access_check_s, \
        f"the access check took {seconds:.1f} s (bound smoke.access_check_s = {LIMITS.smoke.access_check_s} s)"
