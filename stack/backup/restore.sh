#!/usr/bin/env bash
# `make restore`: KIND [ARGS...]. Kinds and their arguments:
#   pg-dump FILE [--force] | pgbackrest [--target-time TIME] [--force] |
#   redis FILE [--force]   | volume VOLUME FILE [--force]
set -Eeuo pipefail
here=$(cd "$(dirname "$0")" && pwd)
kind=${1:-}
case "$kind" in
    pg-dump|pgbackrest|redis|volume) shift; exec "$here/$kind-restore.sh" "$@" ;;
    *) echo "restore.sh: name a kind: pg-dump FILE | pgbackrest [--target-time TIME] | redis FILE | volume VOLUME FILE (add --force to overwrite live data)" >&2; exit 2 ;;
esac
