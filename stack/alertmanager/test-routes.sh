#!/bin/sh
# Prove every route of alertmanager.yml: for each line of routes-test.txt run
#   amtool config routes test --config.file=... --verify.receivers=<expected> <labels>
# amtool exits non-zero when the labels resolve to other receivers.
# Uses amtool from PATH, else the local alertmanager image (set AMTOOL_IMAGE to override).
set -u
here=$(cd "$(dirname "$0")" && pwd)
if command -v amtool >/dev/null 2>&1; then
  run() { amtool "$@"; }
  cfg="$here/alertmanager.yml"
else
  image=${AMTOOL_IMAGE:-supabase-acceptance/alertmanager:local}
  run() { docker run --rm --entrypoint amtool -v "$here:/cfg:ro" "$image" "$@"; }
  cfg=/cfg/alertmanager.yml
fi
fail=0; n=0
while IFS= read -r line; do
  case "$line" in ''|'#'*) continue ;; esac
  expected=$(printf '%s' "${line%%|*}" | tr -d ' ')
  labels=${line#*|}
  n=$((n + 1))
  # shellcheck disable=SC2086 # labels are word-split on purpose
  if out=$(run config routes test --config.file="$cfg" --verify.receivers="$expected" $labels 2>&1); then
    echo "ok   $expected <- $labels"
  else
    echo "FAIL expected $expected <- $labels: $out"; fail=$((fail + 1))
  fi
done < "$here/routes-test.txt"
echo "$n routes tested, $fail failed"
[ "$fail" -eq 0 ]
