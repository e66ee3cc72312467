#!/bin/sh
# The gateway's certificate: installed from its source files into /run/gateway/tls, and
# nginx reloaded (graceful: open connections finish on the old workers) whenever the source
# changes, e.g. after certbot renews it. Until a source exists, a self-signed bootstrap
# certificate lets nginx start (certbot's http-01 challenge needs the gateway up).
#   tls-certs.sh install   once, before nginx starts
#   tls-certs.sh watch     forever, in the background (every GATEWAY_TLS_WATCH_S seconds)
set -eu
HOST="${GATEWAY_TLS_HOSTNAME:-localhost}"
SRC_CERT="${GATEWAY_TLS_CERT_FILE:-/etc/letsencrypt/live/$HOST/fullchain.pem}"
SRC_KEY="${GATEWAY_TLS_KEY_FILE:-/etc/letsencrypt/live/$HOST/privkey.pem}"
DIR=/run/gateway/tls
CONF="${GATEWAY_NGINX_CONF:-/run/gateway/nginx.conf}"

log() { echo "gateway-tls: $*" >&2; }

# Copy the source pair in when it differs from the installed one; status 0 when it changed.
install_source() {
  [ -r "$SRC_CERT" ] && [ -r "$SRC_KEY" ] || return 1
  if cmp -s "$SRC_CERT" "$DIR/fullchain.pem" && cmp -s "$SRC_KEY" "$DIR/privkey.pem"; then
    return 1
  fi
  cp "$SRC_CERT" "$DIR/fullchain.pem.new" && cp "$SRC_KEY" "$DIR/privkey.pem.new"
  chmod 600 "$DIR/privkey.pem.new"
  for f in fullchain privkey; do [ ! -e "$DIR/$f.pem" ] || cp -p "$DIR/$f.pem" "$DIR/$f.pem.old"; done
  mv "$DIR/privkey.pem.new" "$DIR/privkey.pem" && mv "$DIR/fullchain.pem.new" "$DIR/fullchain.pem"
  log "installed $SRC_CERT ($(openssl x509 -noout -serial -enddate -in "$DIR/fullchain.pem" | tr '\n' ' '))"
}

bootstrap() {
  log "no certificate at $SRC_CERT yet: serving a self-signed bootstrap certificate for $HOST"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$HOST" -addext "subjectAltName=DNS:$HOST" \
    -keyout "$DIR/privkey.pem" -out "$DIR/fullchain.pem" 2>/dev/null
}

case "${1:-}" in
  install)
    mkdir -p "$DIR" && chmod 700 "$DIR"
    install_source || [ -s "$DIR/fullchain.pem" ] || bootstrap
    ;;
  watch)
    while sleep "${GATEWAY_TLS_WATCH_S:-2}"; do
      if install_source; then
        if nginx -t -q -c "$CONF"; then nginx -s reload -c "$CONF" && log "nginx reloaded"
        else
          log "nginx -t refused the new certificate; keeping the previous one"
          for f in fullchain privkey; do mv "$DIR/$f.pem.old" "$DIR/$f.pem"; done
        fi
      fi
    done
    ;;
  *) echo "usage: tls-certs.sh install|watch" >&2; exit 2 ;;
esac
