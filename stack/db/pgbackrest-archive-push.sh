#!/bin/sh
# archive_command of the local db image: push one WAL segment to the pgBackRest repository
# (pgBackRest requires "pgbackrest" in the command, hence the name).
# A new stack (or a fresh db-backups volume) has no stanza yet: create it on the first
# segment, so archiving works from the first start without a manual step. A cluster
# initialised anew over an existing repository (new system id, e.g. before a pg_dump
# restore) is adopted with stanza-upgrade; older backups stay listed under the old id.
set -u
if [ ! -s /var/lib/pgbackrest/archive/main/archive.info ]; then
    pgbackrest --stanza=main stanza-create || exit 1
fi
out=$(pgbackrest --stanza=main archive-push "$1" 2>&1) && exit 0
echo "$out" >&2
case "$out" in
    *ArchiveMismatchError*|*BackupMismatchError*|*"[044]"*|*"[028]"*)
        pgbackrest --stanza=main stanza-upgrade >&2 && exec pgbackrest --stanza=main archive-push "$1" ;;
esac
exit 1
