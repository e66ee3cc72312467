#!/usr/bin/env bash
# Physical base backup of the db with pgBackRest (stanza `main`, repository on the volume
# db-backups). With the continuous WAL archive (archive_command in stack/db/postgresql.conf)
# it allows point-in-time recovery: pgbackrest-restore.sh.
# Usage: stack/backup/pgbackrest-backup.sh [full|diff|incr]   (default: incr, full if none)
# Local image set only (the upstream db image has no pgBackRest).
set -Eeuo pipefail
. "$(dirname "$0")/lib.sh"
parse_force "$@"
type=${ARGS[0]:-incr}
case "$type" in full|diff|incr) ;; *) die "backup type must be full, diff or incr, not '$type'" ;; esac
running_container db >/dev/null
pgbr() { compose exec -T -u postgres db pgbackrest --stanza=main "$@"; }
compose exec -T -u postgres db sh -c 'command -v pgbackrest >/dev/null' \
    || die "the db image has no pgBackRest (the upstream set): use pg-dump-backup.sh"
# idempotent: creates the stanza on a stack that has not archived a segment yet, or adopts
# a cluster initialised anew over the repository (as archive_command does on its first segment)
pgbr --log-level-console=error stanza-create >/dev/null 2>&1 || pgbr --log-level-console=warn stanza-upgrade >/dev/null \
    || die "pgBackRest cannot create or upgrade stanza main (see above)"
# one backup at a time with the db container's own schedule (stack/db/backup-scheduler.sh)
compose exec -T -u postgres db flock /tmp/pgbackrest-backup.flock pgbackrest --stanza=main --log-level-console=info \
    backup --type="$type" || die "pgBackRest backup failed (see above)"
size=$(pgbr info --output=json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["backup"][-1]["info"]["repository"]["delta"])') \
    || die "backup ran but pgBackRest info lists no backup"

write_metrics pgbackrest "$size"
say "pgBackRest $type backup complete ($size bytes stored)"
