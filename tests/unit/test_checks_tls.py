"""The TLS judges (suite/checks/tls.py) on seeded scan facts: a good A+ endpoint passes,
each broken copy fails with the message naming its cause."""
import dataclasses
import datetime
from pathlib import Path

import pytest

from suite.checks import tls
from suite.target import Target
from suite.thresholds import LIMITS

pytestmark = pytest.mark.unit

T = LIMITS.tls
NOW = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.timezone.utc)
EP = tls.Endpoint(hostname="api.supabase.test", port=8443, address="127.0.0.1",
                  ca_file=Path("/tmp/ca.pem"), plain_url="http://127.0.0.1:8080")
WHERE = "https://api.supabase.test:8443"
GOOD_CIPHERS = (
    tls.Cipher("TLS_AES_128_GCM_SHA256", "TLSv1.3", True, 128),
    tls.Cipher("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLSv1.2", True, 128),
)
GOOD_CERT = tls.Certificate(subject="CN=api.supabase.test", names=("api.supabase.test",), serial="1A2B",
                            not_after=NOW + datetime.timedelta(days=90), key_type="RSA", key_bits=2048,
                            chain_error=None)
GOOD = tls.TLSFacts(endpoint=EP, ciphers=GOOD_CIPHERS, certificate=GOOD_CERT,
                    hsts="max-age=31536000; includeSubDomains",
                    plain=tls.PlainHttp(status=301, location="https://api.supabase.test:8443/rest/v1/"))


def broken(**changes):
    return dataclasses.replace(GOOD, **changes)


def cert(**changes):
    return broken(certificate=dataclasses.replace(GOOD_CERT, **changes))


def test_good_endpoint_meets_every_criterion():
    verdicts = tls.judge_all(GOOD, T, NOW, 14)
    assert all(not p for p in verdicts.values()), verdicts
    assert tls.grade(verdicts).startswith("TLS grade summary: A+ criteria all met")


def test_tls10_enabled_is_named():
    facts = broken(ciphers=GOOD_CIPHERS + (tls.Cipher("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "TLSv1.0", True, 128),))
    assert tls.check_protocols(facts, T.protocols) == [
        f"{WHERE}: TLSv1.0 is enabled (1 suites accepted); allowed: TLSv1.2, TLSv1.3 "
        "(set ssl_protocols / GATEWAY_TLS_PROTOCOLS to those only)"]


def test_no_modern_protocol_is_named():
    assert tls.check_protocols(broken(ciphers=()), T.protocols) == [f"{WHERE}: none of TLSv1.2, TLSv1.3 is offered"]


def test_weak_cipher_without_forward_secrecy_is_named_twice():
    facts = broken(ciphers=GOOD_CIPHERS + (tls.Cipher("TLS_RSA_WITH_AES_128_CBC_SHA", "TLSv1.2", False, 128),))
    assert tls.check_ciphers(facts, T.weak_cipher_patterns, T.min_cipher_key_bits) == [
        f"{WHERE}: weak cipher suite TLS_RSA_WITH_AES_128_CBC_SHA offered with TLSv1.2 (matches _CBC_); "
        "remove it from ssl_ciphers / GATEWAY_TLS_CIPHERS",
        f"{WHERE}: cipher suite TLS_RSA_WITH_AES_128_CBC_SHA (TLSv1.2) has no forward secrecy "
        "(static key exchange); offer ECDHE/DHE suites only"]


def test_expired_certificate_names_the_date():
    facts = cert(not_after=datetime.datetime(2026, 11, 2, tzinfo=datetime.timezone.utc))
    assert tls.check_certificate(facts, NOW, 14, 2048, 256) == [
        f"{WHERE}: certificate CN=api.supabase.test (serial 1A2B) expired on 2026-11-02 00:00 UTC; "
        "renew it (certbot renew) or install a valid one"]


def test_certificate_near_expiry_names_days_left():
    facts = cert(not_after=NOW + datetime.timedelta(days=5, hours=1))
    assert tls.check_certificate(facts, NOW, 14, 2048, 256) == [
        f"{WHERE}: certificate CN=api.supabase.test expires on 2026-12-06 13:00 UTC, in 5 days (< 14); "
        "renewal is not happening"]


def test_wrong_host_name_is_named():
    facts = cert(names=("wrong-host.supabase.test",), subject="CN=wrong-host.supabase.test")
    assert tls.check_certificate(facts, NOW, 14, 2048, 256) == [
        f"{WHERE}: certificate is for wrong-host.supabase.test, not for host name api.supabase.test"]


def test_untrusted_chain_names_the_bundle():
    facts = cert(chain_error="unable to get local issuer certificate")
    assert tls.check_certificate(facts, NOW, 14, 2048, 256) == [
        f"{WHERE}: certificate chain of CN=api.supabase.test does not validate against /tmp/ca.pem: "
        "unable to get local issuer certificate"]


def test_short_key_is_named():
    assert tls.check_certificate(cert(key_bits=1024), NOW, 14, 2048, 256) == [
        f"{WHERE}: certificate key is RSA 1024 bits, below 2048"]


@pytest.mark.parametrize("names, host, ok", [
    (("*.supabase.test",), "api.supabase.test", True),
    (("*.supabase.test",), "a.b.supabase.test", False),
    (("API.Supabase.Test",), "api.supabase.test", True),
    ((), "api.supabase.test", False),
])
def test_hostname_matching(names, host, ok):
    assert tls.hostname_matches(host, names) is ok


def test_hsts_missing_is_named():
    assert tls.check_hsts(broken(hsts=None), T.hsts_min_max_age_s) == [
        f"{WHERE}/rest/v1/: no Strict-Transport-Security header on the API's response; send "
        "`max-age=15768000` or more (GATEWAY_HSTS_MAX_AGE)"]


def test_hsts_too_short_is_named():
    assert tls.check_hsts(broken(hsts="max-age=86400"), T.hsts_min_max_age_s) == [
        f"{WHERE}/rest/v1/: Strict-Transport-Security max-age=86400 is below 15768000 s "
        "(6 months, required for an A+): 'max-age=86400'"]


def test_vulnerabilities_are_named():
    facts = broken(heartbleed=True, ccs_injection=True, robot="VULNERABLE_WEAK_ORACLE", compression=True,
                   secure_renegotiation=False, fallback_scsv=False)
    assert tls.check_vulnerabilities(facts) == [
        f"{WHERE}: vulnerable to Heartbleed (CVE-2014-0160): upgrade OpenSSL",
        f"{WHERE}: vulnerable to OpenSSL CCS injection (CVE-2014-0224): upgrade OpenSSL",
        f"{WHERE}: vulnerable to ROBOT (VULNERABLE_WEAK_ORACLE): disable RSA key exchange",
        f"{WHERE}: TLS compression is on (CRIME): turn it off",
        f"{WHERE}: secure renegotiation (RFC 5746) is not supported",
        f"{WHERE}: TLS_FALLBACK_SCSV is not supported (downgrade protection)"]


def test_plain_http_served_is_named():
    assert tls.check_plain_http(broken(plain=tls.PlainHttp(status=401))) == [
        "http://127.0.0.1:8080/rest/v1/: plain http serves the API (HTTP 401); redirect it to https "
        "or refuse it (GATEWAY_HTTP_MODE=redirect|refuse)"]


def test_redirect_to_plain_http_is_named():
    facts = broken(plain=tls.PlainHttp(status=301, location="http://elsewhere/"))
    assert tls.check_plain_http(facts) == [
        "http://127.0.0.1:8080/rest/v1/: HTTP 301 redirects to 'http://elsewhere/', not to https"]


@pytest.mark.parametrize("plain", [tls.PlainHttp(status=426), tls.PlainHttp(status=None, error="ConnectionRefusedError")])
def test_refused_plain_http_passes(plain):
    assert tls.check_plain_http(broken(plain=plain)) == []


def test_failed_scan_command_is_reported_not_passed():
    facts = broken(errors={"robot": "timed out"})
    assert tls.check_scan_complete(facts) == [
        f"{WHERE}: the robot scan failed (timed out); its criteria are not judged"]


def test_grade_lists_unmet_criteria():
    verdicts = tls.judge_all(broken(hsts=None), T, NOW, 14)
    summary = tls.grade(verdicts)
    assert summary.splitlines()[0] == "TLS grade summary: below A+"
    assert "  [NOT MET] HSTS max-age >= 15768000 s on API responses" in summary
    assert "  [met] protocols: TLS 1.2 and 1.3 only" in summary


def deployed(gateway_url: str, env: dict[str, str]) -> Target:
    return Target("deployed", False, env, {"gateway": gateway_url})


def test_plain_http_target_declares_no_tls(tmp_path):
    endpoint, why = tls.endpoint(deployed("http://db.example.test:8000", {}), tmp_path)
    assert endpoint is None and why == "the target's gateway is plain http (http://db.example.test): no TLS to check"


def test_https_target_endpoint(tmp_path):
    endpoint, _ = tls.endpoint(deployed("https://api.example.test", {"TLS_CA_FILE": "/etc/ca.pem"}), tmp_path)
    assert endpoint == tls.Endpoint(hostname="api.example.test", port=443, ca_file=Path("/etc/ca.pem"),
                                    plain_url="http://api.example.test")
