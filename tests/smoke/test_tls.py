"""TLS of the gateway's https endpoint, judged against thresholds.yaml `tls:` (issue 15).

One sslyze scan per run, started in a background thread when the run begins
(tests/smoke/conftest.py `tls_scan`, about half a second), then each criterion
SSL Labs weighs for an A+ is its own test, so a fault names its own cause. Only a target
whose gateway is declared plain http skips them (suite/checks/tls.py `endpoint`).
"""
import datetime

import pytest

from suite.checks import tls
from suite.thresholds import LIMITS

T = LIMITS.tls


@pytest.fixture(scope="session")
def tls_facts(tls_scan):
    """The scan started at the beginning of the run (tests/smoke/conftest.py `tls_scan`)."""
    try:
        facts, why = tls_scan.result(timeout=4 * T.scan_timeout_s)
    except ConnectionError as exc:
        pytest.fail(f"UNREACHABLE: {exc}", pytrace=False)
    if facts is None:
        pytest.skip(why)
    return facts


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def test_tls_protocols(tls_facts):
    """Catches: TLS 1.0/1.1 or SSL enabled on the gateway (downgrade to broken protocols)."""
    problems = tls.check_scan_complete(tls_facts) + tls.check_protocols(tls_facts, T.protocols)
    assert not problems, "\n".join(problems)


def test_tls_cipher_suites(tls_facts):
    """Catches: a weak cipher suite (CBC, RC4, 3DES, NULL, export) or one without forward secrecy."""
    problems = tls.check_ciphers(tls_facts, T.weak_cipher_patterns, T.min_cipher_key_bits)
    assert not problems, "\n".join(problems)


def test_tls_certificate(tls_facts):
    """Catches: an expired or soon-expiring certificate (renewal broken), one for another host
    name, one whose chain does not validate against the target's CA bundle, a short key."""
    problems = tls.check_certificate(tls_facts, _now(), LIMITS.smoke.tls_min_days_valid,
                                     T.min_rsa_key_bits, T.min_ec_key_bits)
    assert not problems, "\n".join(problems)


def test_tls_not_vulnerable(tls_facts):
    """Catches: Heartbleed, ROBOT, CCS injection, TLS compression, insecure renegotiation,
    no downgrade protection (an old or misbuilt TLS library)."""
    problems = tls.check_vulnerabilities(tls_facts)
    assert not problems, "\n".join(problems)


def test_hsts_on_api_responses(tls_facts):
    """Catches: HSTS missing or shorter than 6 months on the API (first visits downgradable)."""
    problems = tls.check_hsts(tls_facts, T.hsts_min_max_age_s)
    assert not problems, "\n".join(problems)


def test_plain_http_api_redirected_or_refused(tls_facts):
    """Catches: the API served over plain http (keys and tokens in clear on the wire)."""
    problems = tls.check_plain_http(tls_facts)
    assert not problems, "\n".join(problems)


def test_tls_grade_summary(tls_facts, record_property):
    """Catches: any A+ criterion unmet; the report carries the whole grade-style table."""
    verdicts = tls.judge_all(tls_facts, T, _now(), LIMITS.smoke.tls_min_days_valid)
    summary = tls.grade(verdicts)
    record_property("tls_grade", summary)
    print(summary)
    assert all(not p for p in verdicts.values()), summary
