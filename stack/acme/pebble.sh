#!/bin/sh
# acme-ca: Pebble, Let's Encrypt's ACME test CA. Its own HTTPS listener gets a certificate
# generated here (the Debian package ships none), shared with certbot through the acme-ca
# volume. Pebble validates http-01 challenges on the gateway's public plain port (8080).
set -eu
DIR=/acme-ca
mkdir -p "$DIR"
if [ ! -s "$DIR/listener.pem" ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=acme-ca" \
    -addext "subjectAltName=DNS:acme-ca,DNS:localhost" \
    -keyout "$DIR/listener.key" -out "$DIR/listener.pem" 2>/dev/null
fi
cat > /tmp/pebble.json <<JSON
{"pebble": {"listenAddress": "0.0.0.0:14000", "managementListenAddress": "0.0.0.0:15000",
  "certificate": "$DIR/listener.pem", "privateKey": "$DIR/listener.key",
  "httpPort": ${ACME_HTTP01_PORT:-8080}, "tlsPort": 5001, "ocspResponderURL": "",
  "externalAccountBindingRequired": false}}
JSON
exec pebble -config /tmp/pebble.json
