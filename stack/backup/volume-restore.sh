#!/usr/bin/env bash
# Restore one of the stack's named volumes from a volume-backup.sh archive (owners and
# modes kept), with a throwaway container.
# Usage: stack/backup/volume-restore.sh VOLUME FILE [--force]
# Always refused while a running container mounts the volume (stop its service first);
# refused when the volume is not empty unless --force.
set -Eeuo pipefail
. "$(dirname "$0")/lib.sh"
parse_force "$@"
[ "${#ARGS[@]}" = 2 ] || die "usage: $SCRIPT VOLUME FILE [--force]"
vol=${ARGS[0]} file=${ARGS[1]}
[ -s "$file" ] || die "archive $file does not exist or is empty"
gzip -t "$file" 2>/dev/null || die "$file is not a gzip archive (expected a volume-backup.sh output)"
[ -z "$(volume_users "$vol")" ] || die "volume $vol is in use by a running container: stop its service first"
docker volume create "$(volume_name "$vol")" >/dev/null
if [ -n "$(docker run --rm -v "$(volume_name "$vol"):/volume:ro" "$TOOL_IMAGE" ls -A /volume)" ] && [ "$FORCE" != yes ]; then
    die "refusing to overwrite live data: volume $vol is not empty (pass --force to replace its contents)"
fi
docker run --rm -i -v "$(volume_name "$vol"):/volume" "$TOOL_IMAGE" \
    sh -c 'find /volume -mindepth 1 -delete && tar -C /volume --same-owner -xzf -' < "$file" \
    || die "unpacking $file into volume $vol failed"
say "volume $vol restored from $file"
