#!/usr/bin/env bash
# Restore a pg_dump custom-format file (pg-dump-backup.sh) as database `postgres` of the
# running db: the database is recreated empty from the dump (roles are cluster-wide and
# come from the init SQL of a freshly initialised db-data volume).
# Usage: stack/backup/pg-dump-restore.sh FILE [--force]
# Refuses when the application tables (schema public) or auth.users hold rows, unless --force.
set -Eeuo pipefail
. "$(dirname "$0")/lib.sh"
parse_force "$@"
[ "${#ARGS[@]}" = 1 ] || die "usage: $SCRIPT FILE [--force]"
file=${ARGS[0]}
[ -s "$file" ] || die "dump file $file does not exist or is empty"
running_container db >/dev/null
psql_db() { compose exec -T db psql -U supabase_admin -d postgres -v ON_ERROR_STOP=1 --no-psqlrc -qAt "$@"; }
# tables that hold at least one row: any means live data would be overwritten
nonempty=$(psql_db -c "select format('select %L where exists (select 1 from %I.%I);', n.nspname||'.'||c.relname, n.nspname, c.relname)
                        from pg_class c join pg_namespace n on n.oid = c.relnamespace
                        where c.relkind in ('r','p') and (n.nspname = 'public' or (n.nspname, c.relname) = ('auth', 'users'))" |
           psql_db | tr '\n' ' ') || die "could not read the database's tables (is db healthy?)"
if [ -n "${nonempty// /}" ] && [ "$FORCE" != yes ]; then
    die "refusing to overwrite live data: these tables hold rows: $nonempty(restore into a fresh database, or pass --force)"
fi
# A fresh database, not a clean-over: services recreate their own objects at start
# (auth migrations, realtime, notifier), which would collide with the dump's. Everything
# but db stops, database postgres is recreated empty from the dump, then all start again.
say "stopping every service but db of stack $PROJECT"
others=$(compose ps --services --status running | grep -vx db || true)
[ -z "$others" ] || compose stop $others >/dev/null 2>&1 || die "could not stop the services using the database"
say "recreating database postgres from $file"
compose exec -T db dropdb -U supabase_admin --force --if-exists postgres \
    || die "could not drop database postgres (see above); the other services are stopped"
compose exec -T db pg_restore -U supabase_admin -d template1 --create --exit-on-error < "$file" \
    || die "pg_restore failed (see above); database postgres is incomplete: fix and run again with --force"
say "starting the stack"
compose up -d --wait --wait-timeout "${UP_TIMEOUT:-300}" >/dev/null 2>&1 \
    || die "the stack did not become healthy after the restore: see \`make ps\` and \`make logs\`"
# Restored into a new cluster (initdb), the repository's base backups cannot restore it:
# point-in-time recovery replays WAL onto a base backup of the same cluster. Take its first
# full backup now (where the image has pgBackRest), so the stack is restorable again.
if compose exec -T -u postgres db sh -c 'command -v pgbackrest >/dev/null' 2>/dev/null; then
    say "taking a full pgBackRest backup of the restored database (earlier ones belong to the old cluster)"
    "$(dirname "$0")/pgbackrest-backup.sh" full >&2 \
        || die "the database is restored, but the full backup after it failed: run \`make backup KIND=pgbackrest\`"
fi
say "restore complete; every service healthy"
