"""TLS checks on the gateway's https endpoint: protocols, cipher suites, forward secrecy,
the certificate (chain against the target's CA bundle, host name, days left, key size),
HSTS on API responses, the classic attacks sslyze tests, and what plain http does.

`scan()` and `fetch_*` read the live endpoint (sslyze, one scan per run; two raw HTTP
requests); they return plain facts (`TLSFacts`). Every `check_*` is a pure judge over those
facts and `thresholds.yaml` `tls:`, returning problem strings; `grade()` lays the same
verdicts out as the criteria SSL Labs requires for an A+.
"""
from __future__ import annotations

import datetime
import http.client
import re
import socket
import ssl
import warnings
from dataclasses import dataclass, field
from pathlib import Path

PROTOCOL_COMMANDS = {  # sslyze scan command -> protocol name
    "ssl_2_0_cipher_suites": "SSLv2", "ssl_3_0_cipher_suites": "SSLv3",
    "tls_1_0_cipher_suites": "TLSv1.0", "tls_1_1_cipher_suites": "TLSv1.1",
    "tls_1_2_cipher_suites": "TLSv1.2", "tls_1_3_cipher_suites": "TLSv1.3",
}
OTHER_COMMANDS = ("certificate_info", "tls_compression", "session_renegotiation", "heartbleed",
                  "robot", "openssl_ccs_injection", "tls_fallback_scsv")
REDIRECTS = (301, 302, 307, 308)
REFUSALS = (400, 403, 421, 426)


# ---- facts ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Endpoint:
    """Where the target's TLS face answers. `address` is the IP to connect to when the host
    name is not in DNS (the local stack's name exists only inside its Compose network)."""
    hostname: str
    port: int
    address: str | None = None
    ca_file: Path | None = None          # the target's declared CA bundle (TLS_CA_FILE)
    plain_url: str | None = None         # the plain http face whose API must not be served
    api_path: str = "/rest/v1/"

    @property
    def label(self) -> str:
        return f"https://{self.hostname}:{self.port}"


@dataclass(frozen=True)
class Cipher:
    name: str                 # IANA name, e.g. TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
    protocol: str
    forward_secret: bool
    key_bits: int


@dataclass(frozen=True)
class Certificate:
    subject: str
    names: tuple[str, ...]     # DNS subject alternative names
    serial: str
    not_after: datetime.datetime
    key_type: str              # RSA / EC
    key_bits: int
    chain_error: str | None    # None: the chain validates against the declared CA bundle


@dataclass(frozen=True)
class PlainHttp:
    """What GET plain_url + api_path answered: a status and Location, or refused."""
    status: int | None
    location: str = ""
    error: str = ""            # connection refused / reset: the port serves nothing


@dataclass(frozen=True)
class TLSFacts:
    endpoint: Endpoint
    ciphers: tuple[Cipher, ...] = ()
    certificate: Certificate | None = None
    compression: bool = False
    secure_renegotiation: bool = True
    client_renegotiation_dos: bool = False
    heartbleed: bool = False
    robot: str = "NOT_VULNERABLE_NO_ORACLE"
    ccs_injection: bool = False
    fallback_scsv: bool = True
    hsts: str | None = None                 # the Strict-Transport-Security value on the API
    plain: PlainHttp | None = None
    errors: dict[str, str] = field(default_factory=dict)  # scan command -> why it has no result

    @property
    def protocols(self) -> list[str]:
        return sorted({c.protocol for c in self.ciphers})


# ---- judges -----------------------------------------------------------------------------
def check_scan_complete(facts: TLSFacts) -> list[str]:
    return [f"{facts.endpoint.label}: the {cmd} scan failed ({why}); its criteria are not judged"
            for cmd, why in sorted(facts.errors.items())]


def check_protocols(facts: TLSFacts, allowed: list[str]) -> list[str]:
    where = facts.endpoint.label
    problems = [f"{where}: {p} is enabled ({sum(c.protocol == p for c in facts.ciphers)} suites accepted); "
                f"allowed: {', '.join(allowed)} (set ssl_protocols / GATEWAY_TLS_PROTOCOLS to those only)"
                for p in facts.protocols if p not in allowed]
    if not any(p in allowed for p in facts.protocols) and "tls_1_2_cipher_suites" not in facts.errors:
        problems.append(f"{where}: none of {', '.join(allowed)} is offered")
    return problems


def check_ciphers(facts: TLSFacts, weak_patterns: list[str], min_key_bits: int) -> list[str]:
    where, problems = facts.endpoint.label, []
    for c in facts.ciphers:
        weak = [p for p in weak_patterns if p in c.name]
        if weak:
            problems.append(f"{where}: weak cipher suite {c.name} offered with {c.protocol} (matches "
                            f"{', '.join(weak)}); remove it from ssl_ciphers / GATEWAY_TLS_CIPHERS")
        elif c.key_bits < min_key_bits:
            problems.append(f"{where}: cipher suite {c.name} ({c.protocol}) uses a {c.key_bits}-bit key, "
                            f"below {min_key_bits}")
        if not c.forward_secret:
            problems.append(f"{where}: cipher suite {c.name} ({c.protocol}) has no forward secrecy "
                            f"(static key exchange); offer ECDHE/DHE suites only")
    return problems


def hostname_matches(hostname: str, names: tuple[str, ...]) -> bool:
    host = hostname.lower().rstrip(".")
    for name in (n.lower().rstrip(".") for n in names):
        if name == host or (name.startswith("*.") and "." in host and host.split(".", 1)[1] == name[2:]):
            return True
    return False


def check_certificate(facts: TLSFacts, now: datetime.datetime, min_days: int, min_rsa_bits: int,
                      min_ec_bits: int) -> list[str]:
    where, cert = facts.endpoint.label, facts.certificate
    if cert is None:
        return [] if "certificate_info" in facts.errors else [f"{where}: no certificate received"]
    problems = []
    bundle = facts.endpoint.ca_file or "the system trust store"
    if cert.chain_error:
        problems.append(f"{where}: certificate chain of {cert.subject} does not validate against "
                        f"{bundle}: {cert.chain_error}")
    if not hostname_matches(facts.endpoint.hostname, cert.names):
        problems.append(f"{where}: certificate is for {', '.join(cert.names) or cert.subject}, "
                        f"not for host name {facts.endpoint.hostname}")
    expiry = cert.not_after.strftime("%Y-%m-%d %H:%M UTC")
    if cert.not_after <= now:
        problems.append(f"{where}: certificate {cert.subject} (serial {cert.serial}) expired on {expiry}; "
                        f"renew it (certbot renew) or install a valid one")
    else:
        days = (cert.not_after - now).days
        if days < min_days:
            problems.append(f"{where}: certificate {cert.subject} expires on {expiry}, in {days} days "
                            f"(< {min_days}); renewal is not happening")
    bound = min_rsa_bits if cert.key_type == "RSA" else min_ec_bits
    if cert.key_bits < bound:
        problems.append(f"{where}: certificate key is {cert.key_type} {cert.key_bits} bits, below {bound}")
    return problems


HSTS_MAX_AGE = re.compile(r"max-age\s*=\s*\"?(\d+)", re.I)


def check_hsts(facts: TLSFacts, min_max_age_s: int) -> list[str]:
    where = f"{facts.endpoint.label}{facts.endpoint.api_path}"
    if "hsts" in facts.errors:
        return []
    if not facts.hsts:
        return [f"{where}: no Strict-Transport-Security header on the API's response; send "
                f"`max-age={min_max_age_s}` or more (GATEWAY_HSTS_MAX_AGE)"]
    m = HSTS_MAX_AGE.search(facts.hsts)
    age = int(m.group(1)) if m else 0
    if age < min_max_age_s:
        return [f"{where}: Strict-Transport-Security max-age={age} is below {min_max_age_s} s "
                f"(6 months, required for an A+): {facts.hsts!r}"]
    return []


def check_vulnerabilities(facts: TLSFacts) -> list[str]:
    where = facts.endpoint.label
    flags = [
        (facts.heartbleed, "vulnerable to Heartbleed (CVE-2014-0160): upgrade OpenSSL"),
        (facts.ccs_injection, "vulnerable to OpenSSL CCS injection (CVE-2014-0224): upgrade OpenSSL"),
        (facts.robot.startswith("VULNERABLE"), f"vulnerable to ROBOT ({facts.robot}): disable RSA key exchange"),
        (facts.compression, "TLS compression is on (CRIME): turn it off"),
        (not facts.secure_renegotiation, "secure renegotiation (RFC 5746) is not supported"),
        (facts.client_renegotiation_dos, "client-initiated renegotiation is accepted (DoS): refuse it"),
        (not facts.fallback_scsv, "TLS_FALLBACK_SCSV is not supported (downgrade protection)"),
    ]
    return [f"{where}: {why}" for bad, why in flags if bad]


def check_plain_http(facts: TLSFacts) -> list[str]:
    """The API over plain http must be redirected to https or refused, never served."""
    plain, ep = facts.plain, facts.endpoint
    if plain is None or ep.plain_url is None:
        return []
    where = f"{ep.plain_url}{ep.api_path}"
    if plain.status is None:
        return []  # nothing listens: refused
    if plain.status in REDIRECTS:
        if not plain.location.startswith("https://"):
            return [f"{where}: HTTP {plain.status} redirects to {plain.location!r}, not to https"]
        return []
    if plain.status in REFUSALS:
        return []
    return [f"{where}: plain http serves the API (HTTP {plain.status}); redirect it to https "
            f"or refuse it (GATEWAY_HTTP_MODE=redirect|refuse)"]


# ---- the grade-style summary ------------------------------------------------------------
def judge_all(facts: TLSFacts, limits, now: datetime.datetime, min_days: int) -> dict[str, list[str]]:
    """Criterion -> problems, in the order SSL Labs weighs them (an empty list: met)."""
    return {
        "scan complete": check_scan_complete(facts),
        "protocols: TLS 1.2 and 1.3 only": check_protocols(facts, list(limits.protocols)),
        "cipher suites: none weak, forward secrecy on every suite":
            check_ciphers(facts, list(limits.weak_cipher_patterns), limits.min_cipher_key_bits),
        "certificate: trusted chain, host name, validity, key size":
            check_certificate(facts, now, min_days, limits.min_rsa_key_bits, limits.min_ec_key_bits),
        "no known vulnerabilities (Heartbleed, ROBOT, CCS injection), secure renegotiation, "
        "no compression, fallback SCSV": check_vulnerabilities(facts),
        f"HSTS max-age >= {limits.hsts_min_max_age_s} s on API responses": check_hsts(facts, limits.hsts_min_max_age_s),
        "plain http redirected or refused": check_plain_http(facts),
    }


def grade(verdicts: dict[str, list[str]]) -> str:
    """A grade-style table: each A+ criterion, met or not, and why."""
    met = all(not p for p in verdicts.values())
    lines = [f"TLS grade summary: {'A+ criteria all met' if met else 'below A+'}"]
    for criterion, problems in verdicts.items():
        lines.append(f"  [{'met' if not problems else 'NOT MET'}] {criterion}")
        lines.extend(f"      - {p}" for p in problems)
    return "\n".join(lines)


# ---- readers (impure) -------------------------------------------------------------------
def _client_context(endpoint: Endpoint, verify: bool) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(endpoint.ca_file) if endpoint.ca_file else None)
    if not verify:
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    return ctx


def fetch_hsts(endpoint: Endpoint, timeout: float) -> str | None:
    """The Strict-Transport-Security value on an API response (no key: a 401 still carries
    the gateway's headers). Unverified on purpose: the chain is judged apart."""
    address = endpoint.address or endpoint.hostname
    with socket.create_connection((address, endpoint.port), timeout=timeout) as raw:
        with _client_context(endpoint, verify=False).wrap_socket(raw, server_hostname=endpoint.hostname) as s:
            s.sendall(f"GET {endpoint.api_path} HTTP/1.1\r\nHost: {endpoint.hostname}\r\n"
                      "Connection: close\r\n\r\n".encode())
            response = http.client.HTTPResponse(s)
            response.begin()
            return response.getheader("Strict-Transport-Security")


def fetch_plain(endpoint: Endpoint, timeout: float) -> PlainHttp | None:
    if not endpoint.plain_url:
        return None
    from urllib.parse import urlsplit
    url = urlsplit(endpoint.plain_url)
    try:
        conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=timeout)
        conn.request("GET", endpoint.api_path, headers={"Host": f"{endpoint.hostname}"})
        r = conn.getresponse()
        conn.close()
        return PlainHttp(status=r.status, location=r.getheader("Location") or "")
    except (ConnectionRefusedError, ConnectionResetError) as exc:
        return PlainHttp(status=None, error=type(exc).__name__)


def _certificate(result, endpoint: Endpoint) -> Certificate:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    deployment = result.certificate_deployments[0]
    leaf = deployment.received_certificate_chain[0]
    try:
        names = tuple(leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)
                      .value.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        names = ()
    key = leaf.public_key()
    key_type = "RSA" if isinstance(key, rsa.RSAPublicKey) else "EC" if isinstance(key, ec.EllipticCurvePublicKey) else "other"
    # With a declared bundle, only the validation against it counts; else any public store.
    results = deployment.path_validation_results
    if endpoint.ca_file:
        results = [r for r in results if Path(r.trust_store.path) == Path(endpoint.ca_file)] or results
    ok = [r for r in results if r.was_validation_successful]
    error = None if ok else "; ".join(sorted({str(r.validation_error) for r in results})) or "not validated"
    return Certificate(subject=leaf.subject.rfc4514_string(), names=names, serial=format(leaf.serial_number, "X"),
                       not_after=leaf.not_valid_after_utc, key_type=key_type,
                       key_bits=getattr(key, "key_size", 0), chain_error=error)


def scan(endpoint: Endpoint, timeout: float) -> TLSFacts:
    """One sslyze scan of the endpoint plus the HSTS and plain-http requests."""
    from sslyze import (CertificateInfoExtraArgument, ScanCommand, ScanCommandAttemptStatusEnum,
                        ScanCommandsExtraArguments, Scanner, ServerNetworkLocation, ServerScanRequest,
                        ServerScanStatusEnum)
    location = ServerNetworkLocation(hostname=endpoint.hostname, port=endpoint.port, ip_address=endpoint.address)
    extra = ScanCommandsExtraArguments(certificate_info=CertificateInfoExtraArgument(
        custom_ca_file=Path(endpoint.ca_file))) if endpoint.ca_file else ScanCommandsExtraArguments()
    commands = {ScanCommand(c) for c in (*PROTOCOL_COMMANDS, *OTHER_COMMANDS)}
    scanner = Scanner()
    scanner.queue_scans([ServerScanRequest(server_location=location, scan_commands=commands,
                                           scan_commands_extra_arguments=extra)])
    with warnings.catch_warnings():  # sslyze's bundled trust stores hold a negative serial
        warnings.simplefilter("ignore")
        (server,) = list(scanner.get_results())
    if server.scan_status != ServerScanStatusEnum.COMPLETED:
        raise ConnectionError(f"{endpoint.label}: TLS handshake impossible: "
                              f"{server.connectivity_error_trace or server.connectivity_status}")
    r, errors, ciphers = server.scan_result, {}, []

    def result(name):
        attempt = getattr(r, name)
        if attempt.status != ScanCommandAttemptStatusEnum.COMPLETED:
            errors[name] = str(attempt.error_reason or attempt.status)
            return None
        return attempt.result

    for command, protocol in PROTOCOL_COMMANDS.items():
        res = result(command)
        for accepted in (res.accepted_cipher_suites if res else []):
            ciphers.append(Cipher(name=accepted.cipher_suite.name, protocol=protocol,
                                  forward_secret=protocol == "TLSv1.3" or accepted.ephemeral_key is not None,
                                  key_bits=accepted.cipher_suite.key_size))
    cert_info = result("certificate_info")
    comp, reneg, hb = result("tls_compression"), result("session_renegotiation"), result("heartbleed")
    robot, ccs, scsv = result("robot"), result("openssl_ccs_injection"), result("tls_fallback_scsv")
    hsts = None
    try:
        hsts = fetch_hsts(endpoint, timeout)
    except (OSError, http.client.HTTPException) as exc:
        errors["hsts"] = f"GET {endpoint.api_path}: {exc}"
    return TLSFacts(
        endpoint=endpoint, ciphers=tuple(ciphers),
        certificate=_certificate(cert_info, endpoint) if cert_info else None,
        compression=bool(comp and comp.supports_compression),
        secure_renegotiation=bool(reneg.supports_secure_renegotiation) if reneg else True,
        client_renegotiation_dos=bool(reneg and reneg.is_vulnerable_to_client_renegotiation_dos),
        heartbleed=bool(hb and hb.is_vulnerable_to_heartbleed),
        robot=robot.robot_result.name if robot else "NOT_VULNERABLE_NO_ORACLE",
        ccs_injection=bool(ccs and ccs.is_vulnerable_to_ccs_injection),
        fallback_scsv=bool(scsv.supports_fallback_scsv) if scsv else True,
        hsts=hsts, plain=fetch_plain(endpoint, timeout), errors=errors)


def start_scan(target, workdir: Path, timeout: float):
    """The endpoint's scan in a background thread (a Future of (TLSFacts | None, why)), so
    that it overlaps the rest of a smoke run; None when the target declares plain http."""
    from concurrent.futures import ThreadPoolExecutor

    def run():
        ep, why = endpoint(target, workdir)
        return (scan(ep, timeout) if ep else None), why
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tls-scan")
    future = pool.submit(run)
    pool.shutdown(wait=False)
    return future


# ---- the target's TLS face --------------------------------------------------------------
LOCAL_HOSTNAME = "api.supabase.test"   # stack/compose.local.yaml's default GATEWAY_TLS_HOSTNAME
LOCAL_CA_ROOTS = "/etc/letsencrypt/acme-ca-roots.pem"  # written by stack/acme/certbot.sh


def endpoint(target, workdir: Path) -> tuple[Endpoint | None, str]:
    """The target's TLS endpoint, or None and why it has none.

    Local stack: the gateway's TLS port (GATEWAY_HTTPS_PORT) with the host name of its ACME
    certificate, reached at the loopback address, and its public plain port; the CA bundle
    is TLS_CA_FILE or else the local ACME CA's root, read from the certbot container.
    Deployed target: SUPABASE_URL when it is https (plain http: no TLS to check), TLS_CA_FILE
    when declared (private CA), plain face SUPABASE_HTTP_URL or http:// on the same host.
    """
    from urllib.parse import urlsplit
    env = target.env
    ca = Path(env["TLS_CA_FILE"]) if env.get("TLS_CA_FILE") else None
    if ca and target.env_file and not ca.is_absolute():
        ca = Path(target.env_file).parent / ca
    if target.is_local:
        url = urlsplit(target.url("gateway"))
        if ca is None:
            from suite.stack import Stack
            ca = workdir / "local-acme-ca.pem"
            ca.write_text(Stack(target).exec("certbot", f"cat {LOCAL_CA_ROOTS}", "reading the local ACME CA's root"))
        return Endpoint(hostname=env.get("GATEWAY_TLS_HOSTNAME") or LOCAL_HOSTNAME,
                        port=int(env.get("GATEWAY_HTTPS_PORT") or 8443), address=url.hostname, ca_file=ca,
                        plain_url=f"http://{url.hostname}:{env.get('GATEWAY_PUBLIC_HTTP_PORT') or 8080}"), ""
    url = urlsplit(target.url("gateway"))
    if url.scheme != "https":
        return None, f"the target's gateway is plain http ({url.scheme}://{url.hostname}): no TLS to check"
    plain = env.get("SUPABASE_HTTP_URL") or f"http://{url.hostname}"
    return Endpoint(hostname=url.hostname, port=url.port or 443, ca_file=ca, plain_url=plain.rstrip("/")), ""
