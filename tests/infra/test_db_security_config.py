"""Database transport and authentication (issue 13), and the pgTAP proof of the access matrix.

pg_hba rules and password hashes are superuser-only by default: they are read as the
declared read-only monitoring role (DB_MONITOR_URL; on the bundled stack metrics_reader,
granted exactly that by stack/db/init/90-roles.sql), never as a superuser. Settings come
from the API role's connection. Judges: suite/checks/db_security.py."""
from urllib.parse import urlsplit

import pytest

from suite.checks import db_security as sec
from suite.clients import connect_db
from suite.target import STACK

RLS_TESTS = 61  # SELECT plan(61) in stack/db/tests/rls.sql


@pytest.fixture(scope="module")
def monitor_facts(target, require) -> dict | str:
    """pg_hba rules and password methods, or why they cannot be read (a skip reason)."""
    require("db")
    url = target.db_monitor_url
    if not url:
        return (f"{target.name} declares no DB_MONITOR_URL: pg_hba rules and password methods need a "
                f"read-only role granted {sec.MONITOR_GRANTS} (docs/targets.md)")
    # its password is redacted already: Target.secrets() covers DB_MONITOR_URL and the DB URL's
    with connect_db(target, url, "connect as the monitoring role") as conn:
        try:
            return sec.fetch_hba_and_passwords(conn)
        except PermissionError as exc:  # declared, but without the grants: a finding, not a skip
            pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="module")
def server(db) -> dict:
    """The server's settings, read once for the module's judges."""
    return sec.fetch_server(db)


@pytest.fixture
def hba_and_passwords(monitor_facts) -> dict:
    if isinstance(monitor_facts, str):
        pytest.skip(monitor_facts)
    return monitor_facts


def _published_beyond_loopback(target) -> bool:
    if target.is_local:  # the local DB URL says 127.0.0.1 even when the port is bound wider
        return sec.beyond_loopback(target.env.get("BIND_ADDRESS", "127.0.0.1"))
    return sec.beyond_loopback(urlsplit(target.url("db")).hostname or "")


def test_no_trust_or_cleartext_password_over_tcp(hba_and_passwords):
    """Catches: a pg_hba `host ... trust` rule (no password at all over TCP) or `password`
    (cleartext on the wire) (self-hosting guide; CIS PostgreSQL 4.x)."""
    problems = sec.check_hba_tcp_methods(hba_and_passwords["hba"])
    assert not problems, "\n".join(problems)


def test_passwords_are_scram(server, hba_and_passwords):
    """Catches: password_encryption=md5, or a login role whose stored password is md5 or
    plain text."""
    problems = sec.check_password_methods(server["settings"], hba_and_passwords["passwords"])
    assert not problems, "\n".join(problems)


def test_ssl_required_where_published_beyond_loopback(server, target, monitor_facts):
    """Catches: the database published beyond loopback (BIND_ADDRESS, or a DB_URL host) with
    ssl off or a `host` rule admitting remote clients without SSL (the rules only where the
    monitoring role can read them; ssl=off always). Loopback: nothing to judge."""
    hba = [] if isinstance(monitor_facts, str) else monitor_facts["hba"]
    problems = sec.check_ssl_required(_published_beyond_loopback(target), server["settings"], hba)
    assert not problems, "\n".join(problems)


def test_pgtap_access_matrix(target, stack):
    """Catches: any cell of the access matrix in stack/db/README.md broken (stack/db/tests/rls.sql,
    61 pgTAP tests in one rolled-back transaction, run by pg_prove in the db image's helper
    container as the superuser: local stack only)."""
    if not target.is_local:
        pytest.skip(f"{target.name}: rls.sql needs the superuser and the bundled schema; it runs on the local stack")
    result = stack.run_tool("pg_prove", ["--verbose", "rls.sql"], folder=STACK / "db" / "tests")
    assert result.returncode == 0, f"pg_prove rls.sql exited {result.returncode}:\n{result.output[-3000:]}"
    assert f"1..{RLS_TESTS}" in result.output and "Result: PASS" in result.output, result.output[-3000:]
