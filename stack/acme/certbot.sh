#!/bin/sh
# certbot sidecar: obtains the gateway's certificate from ACME_DIRECTORY_URL through an
# http-01 challenge served by the gateway (webroot shared in the acme-webroot volume),
# then runs `certbot renew` every ACME_RENEW_INTERVAL_S seconds (certbot renews when the
# certificate is within its renew_before_expiry, 30 days by default). The gateway notices the
# renewed files and reloads nginx (stack/gateway/tls-certs.sh).
#   certbot.sh            the service: obtain, then renew forever
#   certbot.sh renew ...  one renewal now, without certbot's random delay (tests: `certbot.sh renew --force-renewal`)
set -eu
HOST="${GATEWAY_TLS_HOSTNAME:?GATEWAY_TLS_HOSTNAME is not set}"
SERVER="${ACME_DIRECTORY_URL:-https://acme-ca:14000/dir}"
LIVE="/etc/letsencrypt/live/$HOST"
ROOTS=/etc/letsencrypt/acme-ca-roots.pem

log() { echo "certbot-sidecar: $*" >&2; }

# Pebble's root is regenerated at each start: publish it for the suite (TLS_CA_FILE).
fetch_roots() {
  [ -n "${ACME_ROOTS_URL:-}" ] || return 0
  wget -q ${REQUESTS_CA_BUNDLE:+--ca-certificate="$REQUESTS_CA_BUNDLE"} -O "$ROOTS.new" "$ACME_ROOTS_URL" && mv "$ROOTS.new" "$ROOTS"
}

# A certificate chaining to another root (the CA restarted) must be replaced, not renewed.
chains_to_current_root() {
  [ -n "${ACME_ROOTS_URL:-}" ] || return 0
  openssl verify -CAfile "$ROOTS" -untrusted "$LIVE/chain.pem" "$LIVE/cert.pem" >/dev/null 2>&1
}

obtain() {
  certbot certonly --non-interactive --agree-tos --register-unsafely-without-email \
    --server "$SERVER" --webroot -w /var/www/acme -d "$HOST" --cert-name "$HOST" \
    --key-type "${ACME_KEY_TYPE:-rsa}" --keep-until-expiring "$@"
}

if [ "${1:-}" = renew ]; then
  shift
  exec certbot renew --non-interactive --no-random-sleep-on-renew --cert-name "$HOST" "$@"
fi
# Obtain (or replace) the certificate when it is missing or chains to another root. Pebble
# forgets its accounts and its root when it restarts: register again in that case.
ensure_current() {
  fetch_roots
  if [ -s "$LIVE/cert.pem" ] && ! chains_to_current_root; then
    log "the certificate of $HOST chains to an earlier CA root (the CA restarted): obtaining a new one"
    rm -rf /etc/letsencrypt/accounts
    obtain --force-renewal
  elif [ ! -s "$LIVE/cert.pem" ]; then
    obtain
  fi
}

ensure_current
last_renewal=$(date +%s)
while sleep "${ACME_CHECK_INTERVAL_S:-10}"; do
  ensure_current || log "obtaining the certificate failed; retrying in ${ACME_CHECK_INTERVAL_S:-10} s"
  if [ $(( $(date +%s) - last_renewal )) -ge "${ACME_RENEW_INTERVAL_S:-43200}" ]; then
    certbot renew --non-interactive --cert-name "$HOST" || log "renewal failed; certbot retries at the next interval"
    last_renewal=$(date +%s)
  fi
done
