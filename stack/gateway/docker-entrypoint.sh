#!/bin/sh
# Render kong.yml -> nginx.conf, check it, then run nginx in the foreground.
set -eu
CONF="${GATEWAY_NGINX_CONF:-/run/gateway/nginx.conf}"
SRC="${KONG_DECLARATIVE_CONFIG:-/etc/gateway/kong.yml}"
if [ "$#" -gt 0 ]; then
  exec "$@"
fi
# nginx's error log quotes request lines, query string included: the websocket's apikey
# would reach the logs. Route it through a pipe that masks apikey values. The filter opens
# the pipe read-write so it never sees end-of-file between nginx -t and nginx.
PIPE=/run/gateway/error.pipe
rm -f "$PIPE" && mkfifo -m 600 "$PIPE"
sed -u -E 's/(apikey=)[^&" ]+/\1[REDACTED]/g' <>"$PIPE" >&2 &
TLS_FLAG=""
if [ "${GATEWAY_TLS:-off}" = on ]; then  # stack/gateway/render_tls.py, docs/tls.md
  TLS_FLAG=--tls
  /usr/local/bin/tls-certs.sh install
fi
python3 /usr/local/bin/render_nginx.py --input "$SRC" --output "$CONF" --error-log "$PIPE" $TLS_FLAG
nginx -t -q -c "$CONF"
[ -z "$TLS_FLAG" ] || /usr/local/bin/tls-certs.sh watch &
exec nginx -c "$CONF" -g 'daemon off;'
