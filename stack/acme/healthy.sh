#!/bin/sh
# certbot sidecar health: a certificate exists and the gateway serves it (same serial).
# With a local CA that publishes its root, the chain must also validate against it.
set -eu
HOST="${GATEWAY_TLS_HOSTNAME:?}"
LIVE="/etc/letsencrypt/live/$HOST"
ROOTS=/etc/letsencrypt/acme-ca-roots.pem
if [ -n "${ACME_ROOTS_URL:-}" ]; then
  openssl verify -CAfile "$ROOTS" -untrusted "$LIVE/chain.pem" "$LIVE/cert.pem" >/dev/null
fi
file=$(openssl x509 -noout -serial -in "$LIVE/cert.pem")
served=$(openssl s_client -connect "${GATEWAY_TLS_ADDRESS:-gateway:8443}" -servername "$HOST" </dev/null 2>/dev/null \
  | openssl x509 -noout -serial)
[ "$file" = "$served" ]
