#!/usr/bin/env bash
# Bring the stack up and return only when every service is healthy; on failure name the
# services that are not, with their last log lines (secrets redacted). Usage: up.sh COMPOSE...
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
timeout="${UP_TIMEOUT:-300}"
start=$(date +%s%N)
out=$(mktemp)
"$@" up -d --wait --wait-timeout "$timeout" --remove-orphans >"$out" 2>&1
rc=$?
grep -vE '^ (Container|Network|Volume) .* (Waiting|Healthy|Running|Started|Starting|Created|Creating|Recreate|Recreated)$' "$out"
rm -f "$out"
if [ "$rc" = 0 ]; then
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  printf 'make up: every service healthy in %d.%01d s\n' $((ms / 1000)) $((ms % 1000 / 100))
  exit 0
fi
echo "make up: the stack did not become healthy within ${timeout} s. Services not healthy:" >&2
"$@" ps -a --format '{{.Service}} {{.State}} {{.Health}}' | while read -r svc state health; do
  if [ "$state" != running ] || { [ -n "$health" ] && [ "$health" != healthy ]; }; then
    echo "== $svc: ${state} ${health} — last log lines:" >&2
    "$@" logs --no-color --tail 30 "$svc" 2>&1 | python3 "$here/redact.py" >&2
  fi
done
exit 1
