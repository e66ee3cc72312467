#!/usr/bin/env bash
# Logical backup of the database `postgres` (every schema: application, auth, realtime)
# with pg_dump's custom format, run inside the db container as supabase_admin.
# Usage: stack/backup/pg-dump-backup.sh            prints the dump's path
# Output: $BACKUP_DIR/pg_dump/postgres-<UTC time>.dump. Restore: pg-dump-restore.sh FILE.
set -Eeuo pipefail
. "$(dirname "$0")/lib.sh"
parse_force "$@"
running_container db >/dev/null
mkdir -p "$BACKUP_DIR/pg_dump"
out="$BACKUP_DIR/pg_dump/postgres-$(stamp).dump"
compose exec -T db pg_dump -U supabase_admin -d postgres --format=custom --compress=6 > "$out.part" \
    || { rm -f "$out.part"; die "pg_dump failed (see above)"; }
mv "$out.part" "$out"
size=$(stat -c %s "$out")
write_metrics pg_dump "$size"
say "dump written: $out ($size bytes)"
echo "$out"
