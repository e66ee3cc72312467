"""The gateway's TLS face, rendered next to the routes by render_nginx.py.

Listeners (container ports): 8000 plain, the in-network API port (also published on
127.0.0.1 for the suite's functional layers and the load runs); 8443 TLS; 8080 the public
plain port, which serves the ACME http-01 challenge and, for the API, does what
GATEWAY_HTTP_MODE says: `redirect` (301 to https), `refuse` (426, as Kong's https-only
routes) or `serve`. Settings come from the environment (stack/.env.example, docs/tls.md).
"""
from dataclasses import dataclass

TLS_PORT = 8443
PUBLIC_HTTP_PORT = 8080
CERT_DIR = "/run/gateway/tls"          # the entrypoint's watcher installs certificates here
ACME_WEBROOT = "/var/www/acme"         # certbot --webroot writes challenges here
MODES = ("redirect", "refuse", "serve")
MSG_HTTPS_ONLY = "Please use HTTPS protocol"  # Kong's body for https-only routes (426)
# Mozilla "intermediate": ECDHE or TLS 1.3 only (forward secrecy), AEAD only.
DEFAULT_CIPHERS = ("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                   "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                   "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305")
DEFAULT_PROTOCOLS = "TLSv1.2 TLSv1.3"
DEFAULT_HSTS_MAX_AGE = 31536000  # one year


class TLSSettingsError(ValueError):
    pass


@dataclass(frozen=True)
class TLSSettings:
    http_mode: str = "redirect"
    https_public_port: int = 443     # the port in the redirect's Location (the published one)
    protocols: str = DEFAULT_PROTOCOLS
    ciphers: str = DEFAULT_CIPHERS
    hsts_max_age: int = DEFAULT_HSTS_MAX_AGE


def settings_from_env(env) -> TLSSettings:
    mode = env.get("GATEWAY_HTTP_MODE") or "redirect"
    if mode not in MODES:
        raise TLSSettingsError("GATEWAY_HTTP_MODE=%r: expected one of %s" % (mode, ", ".join(MODES)))
    try:
        port = int(env.get("GATEWAY_HTTPS_PORT") or 443)
        max_age = int(env.get("GATEWAY_HSTS_MAX_AGE") or DEFAULT_HSTS_MAX_AGE)
    except ValueError as e:
        raise TLSSettingsError("GATEWAY_HTTPS_PORT / GATEWAY_HSTS_MAX_AGE: %s" % e)
    return TLSSettings(http_mode=mode, https_public_port=port,
                       protocols=env.get("GATEWAY_TLS_PROTOCOLS") or DEFAULT_PROTOCOLS,
                       ciphers=env.get("GATEWAY_TLS_CIPHERS") or DEFAULT_CIPHERS,
                       hsts_max_age=max_age)


def http_directives(tls: TLSSettings) -> list:
    """http-level: the HSTS value, sent on TLS responses only (empty value: no header)."""
    value = "max-age=%d; includeSubDomains" % tls.hsts_max_age if tls.hsts_max_age > 0 else ""
    return ['map $https $gw_hsts { default ""; on "%s"; }' % value]


def hsts_header(ind: str) -> str:
    return '%sadd_header Strict-Transport-Security $gw_hsts always;' % ind


def api_server_directives(tls: TLSSettings, ind: str) -> list:
    """Added to the API server: the TLS listener, its settings and the challenge location."""
    out = ["%slisten %d ssl reuseport backlog=4096;" % (ind, TLS_PORT)]
    if tls.http_mode == "serve":
        out.append("%slisten %d reuseport backlog=4096;" % (ind, PUBLIC_HTTP_PORT))
    out += [
        "%sssl_certificate %s/fullchain.pem;" % (ind, CERT_DIR),
        "%sssl_certificate_key %s/privkey.pem;" % (ind, CERT_DIR),
        "%sssl_protocols %s;" % (ind, tls.protocols),
        "%sssl_ciphers %s;" % (ind, tls.ciphers),
        "%sssl_prefer_server_ciphers on;" % ind,
        "%sssl_ecdh_curve X25519:prime256v1:secp384r1;" % ind,
        "%sssl_session_cache shared:gw_tls:10m;" % ind,
        "%sssl_session_timeout 1h;" % ind,
        # tickets would need key rotation across reloads; the session cache does the job
        "%sssl_session_tickets off;" % ind,
    ]
    out += acme_location(ind)
    return out


def acme_location(ind: str) -> list:
    return ["%slocation ^~ /.well-known/acme-challenge/ {" % ind,
            "%s    root %s;" % (ind, ACME_WEBROOT),
            "%s    default_type text/plain;" % ind,
            "%s    access_log off;" % ind,
            "%s}" % ind]


def public_http_server(tls: TLSSettings, sec_headers: list) -> list:
    """The public plain listener when it must not serve the API (redirect or refuse)."""
    if tls.http_mode == "serve":
        return []
    ind = "        "
    port = "" if tls.https_public_port == 443 else ":%d" % tls.https_public_port
    out = ["    server {",
           "%slisten %d reuseport backlog=4096;" % (ind, PUBLIC_HTTP_PORT)]
    out += acme_location(ind)
    out.append("%slocation / {" % ind)
    out += sec_headers
    if tls.http_mode == "redirect":
        out.append("%s    return 301 https://$host%s$request_uri;" % (ind, port))
    else:
        out.append("%s    return 426 '{\"message\":\"%s\"}';" % (ind, MSG_HTTPS_ONLY))
    out += ["%s}" % ind, "    }", ""]
    return out
