#!/usr/bin/env python3
"""Forge a certificate signed by the local ACME CA's intermediate, for the suite's seeded
TLS faults: an expired one, or one for another host name, each with an otherwise valid
chain so that the check names exactly that cause. Local test CA only (Pebble exposes its
keys on the management port for tests); never meaningful against a real CA.

Usage: forge_cert.py OUT_DIR HOSTNAME NOT_BEFORE NOT_AFTER   (dates: YYYY-MM-DD, UTC)
Writes OUT_DIR/fullchain.pem and OUT_DIR/privkey.pem.
"""
import datetime
import os
import ssl
import sys
import urllib.request

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

MGMT = os.environ.get("ACME_MGMT_URL", "https://acme-ca:15000")


def fetch(path: str) -> bytes:
    ctx = ssl.create_default_context(cafile=os.environ.get("REQUESTS_CA_BUNDLE"))
    with urllib.request.urlopen(MGMT + path, context=ctx, timeout=10) as r:
        return r.read()


def main(out_dir: str, hostname: str, not_before: str, not_after: str) -> None:
    issuer_pem = fetch("/intermediates/0")
    issuer = x509.load_pem_x509_certificate(issuer_pem)
    issuer_key = serialization.load_pem_private_key(fetch("/intermediate-keys/0"), password=None)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    day = lambda s: datetime.datetime.strptime(s, "%Y-%m-%d").replace(tzinfo=datetime.timezone.utc)  # noqa: E731
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)]))
            .issuer_name(issuer.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(day(not_before)).not_valid_after(day(not_after))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(issuer_key, hashes.SHA256()))
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "fullchain.pem"), "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM) + issuer_pem)
    with open(os.path.join(out_dir, "privkey.pem"), "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                  serialization.NoEncryption()))
    print(f"forged {hostname} valid {not_before} .. {not_after} in {out_dir}")


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    main(*sys.argv[1:])
