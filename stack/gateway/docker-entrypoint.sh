#!/bin/sh
# Render kong.yml -> nginx.conf, check it, then run nginx in the foreground.
set -eu
CONF="${GATEWAY_NGINX_CONF:-/run/gateway/nginx.conf}"
SRC="${KONG_DECLARATIVE_CONFIG:-/etc/gateway/kong.yml}"
if [ "$#" -gt 0 ]; then
  exec "$@"
fi
python3 /usr/local/bin/render_nginx.py --input "$SRC" --output "$CONF"
nginx -t -q -c "$CONF"
exec nginx -c "$CONF" -g 'daemon off;'
