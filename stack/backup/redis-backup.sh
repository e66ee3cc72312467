#!/usr/bin/env bash
# Redis backup: BGSAVE (a fresh RDB snapshot), then a copy of /data (dump.rdb and the AOF
# directory) taken from the running container.
# Usage: stack/backup/redis-backup.sh     prints the archive's path
# Output: $BACKUP_DIR/redis/redis-<UTC time>.tar.gz. Restore: redis-restore.sh FILE.
set -Eeuo pipefail
. "$(dirname "$0")/lib.sh"
parse_force "$@"
running_container redis >/dev/null
# REDISCLI_AUTH is set in the redis service's environment (compose.yaml)
cli() { compose exec -T redis redis-cli --no-auth-warning "$@"; }
before=$(cli LASTSAVE | tr -d '\r')
cli BGSAVE >/dev/null || die "BGSAVE refused (see above)"
deadline=$(( $(date +%s) + ${REDIS_BGSAVE_TIMEOUT:-120} ))
until [ "$(cli LASTSAVE | tr -d '\r')" != "$before" ]; do
    [ "$(date +%s)" -lt "$deadline" ] || die "BGSAVE did not finish within ${REDIS_BGSAVE_TIMEOUT:-120} s"
    sleep 0.5   # polling a server-side job with a deadline, not synchronisation by sleep
done
status=$(cli INFO persistence | tr -d '\r' | sed -n 's/^rdb_last_bgsave_status://p')
[ "$status" = ok ] || die "BGSAVE finished with status '$status'"
mkdir -p "$BACKUP_DIR/redis"
out="$BACKUP_DIR/redis/redis-$(stamp).tar.gz"
# the AOF may be appended to while copied: Redis loads a truncated tail (aof-load-truncated yes)
compose exec -T redis sh -c 'cd /data && tar -cf - $(ls -A)' | gzip > "$out.part" \
    || { rm -f "$out.part"; die "copying /data from the redis container failed"; }
mv "$out.part" "$out"
size=$(stat -c %s "$out")
write_metrics redis "$size"
say "redis backup written: $out ($size bytes)"
echo "$out"
