#!/usr/bin/env bash
# Copy of one of the stack's named volumes as a tar.gz, made by a throwaway container.
# Usage: stack/backup/volume-backup.sh VOLUME [--force]   e.g. prometheus-data
# A volume mounted by a running container may change while copied: refused unless --force
# (stop its service first: docker compose stop SERVICE). Use pg-dump-backup.sh / pgbackrest-backup.sh
# for db-data and redis-backup.sh for redis-data: they are consistent while running.
set -Eeuo pipefail
. "$(dirname "$0")/lib.sh"
parse_force "$@"
[ "${#ARGS[@]}" = 1 ] || die "usage: $SCRIPT VOLUME [--force]"
vol=${ARGS[0]}
docker volume inspect "$(volume_name "$vol")" >/dev/null 2>&1 || die "stack $PROJECT has no volume '$vol' ($(volume_name "$vol"))"
if [ -n "$(volume_users "$vol")" ] && [ "$FORCE" != yes ]; then
    die "volume $vol is in use by a running container: stop its service first, or pass --force for a possibly inconsistent copy"
fi
mkdir -p "$BACKUP_DIR/volumes"
name="$vol-$(stamp).tar.gz"
docker run --rm -v "$(volume_name "$vol"):/volume:ro" -v "$BACKUP_DIR/volumes:/backup" "$TOOL_IMAGE" \
    sh -c "tar -C /volume -czf /backup/$name.part . && mv /backup/$name.part /backup/$name" \
    || die "tar of volume $vol failed"
size=$(stat -c %s "$BACKUP_DIR/volumes/$name")
write_metrics "volume_${vol//-/_}" "$size"
say "volume $vol written: $BACKUP_DIR/volumes/$name ($size bytes)"
echo "$BACKUP_DIR/volumes/$name"
