#!/bin/sh
# Static checks of the Prometheus configuration, rules and rule unit tests.
# Needs promtool (Debian package `prometheus`, or any prom/prometheus v2 image).
# The config check is --syntax-only because the files it references
# (/etc/prometheus/targets/, secrets/realtime-metrics.jwt) exist only inside the
# container; for the full check run, in the running stack:
#   docker compose exec prometheus promtool check config /etc/prometheus/prometheus.yml
set -eu
cd "$(dirname "$0")"
promtool check config --syntax-only prometheus.yml
promtool check rules rules/*.yml
promtool test rules tests/*.yml
