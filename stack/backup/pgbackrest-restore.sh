#!/usr/bin/env bash
# Point-in-time recovery of the db from the pgBackRest repository (volume db-backups):
# the latest base backup plus every archived WAL segment, up to the end of the archive or
# to --target-time. Stops db, restores into the db-data volume, starts the stack again
# and returns when every service is healthy.
# Usage: stack/backup/pgbackrest-restore.sh [--target-time 'YYYY-MM-DD HH:MM:SS+00'] [--force]
# Refuses when db-data holds a cluster (live data) unless --force (then a delta restore
# overwrites it).
set -Eeuo pipefail
. "$(dirname "$0")/lib.sh"
parse_force "$@"
target=()
set -- "${ARGS[@]+"${ARGS[@]}"}"
while [ $# -gt 0 ]; do
    case "$1" in
        --target-time) [ $# -ge 2 ] || die "--target-time needs a timestamp"; target=(--type=time "--target=$2" --target-action=promote); shift 2 ;;
        *) die "unknown argument '$1' (usage: $SCRIPT [--target-time TIME] [--force])" ;;
    esac
done
docker volume inspect "$(volume_name db-backups)" >/dev/null 2>&1 \
    || die "no pgBackRest repository: volume $(volume_name db-backups) does not exist"
has_cluster=no
if docker volume inspect "$(volume_name db-data)" >/dev/null 2>&1 &&
   docker run --rm -v "$(volume_name db-data):/d:ro" "$TOOL_IMAGE" test -s /d/PG_VERSION; then
    has_cluster=yes
fi
if [ "$has_cluster" = yes ] && [ "$FORCE" != yes ]; then
    die "refusing to overwrite live data: volume $(volume_name db-data) holds a database cluster (pass --force to replace it)"
fi
say "stopping db of stack $PROJECT"
compose stop db >/dev/null 2>&1
delta=()
[ "$has_cluster" = yes ] && delta=(--delta)
say "restoring the latest base backup and the WAL archive ${target[*]:-(to the end of the archive)}"
compose run --rm --no-deps -T --entrypoint "" -u postgres db \
    pgbackrest --stanza=main --log-level-console=info restore "${delta[@]+"${delta[@]}"}" "${target[@]+"${target[@]}"}" \
    || die "pgBackRest restore failed (see above); db is stopped"
say "starting the stack (db replays WAL, then promotes)"
compose up -d --wait --wait-timeout "${UP_TIMEOUT:-300}" >/dev/null 2>&1 \
    || die "the stack did not become healthy after the restore: see \`make ps\` and \`make logs\`"
say "restore complete; every service healthy"
