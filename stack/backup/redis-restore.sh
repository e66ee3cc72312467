#!/usr/bin/env bash
# Restore Redis from a redis-backup.sh archive: stop redis, replace the redis-data volume's
# contents with the archive (RDB and AOF), start redis again and wait until healthy.
# Usage: stack/backup/redis-restore.sh FILE [--force]
# Refuses when Redis holds keys (live data) unless --force.
set -Eeuo pipefail
. "$(dirname "$0")/lib.sh"
parse_force "$@"
[ "${#ARGS[@]}" = 1 ] || die "usage: $SCRIPT FILE [--force]"
file=${ARGS[0]}
[ -s "$file" ] || die "archive $file does not exist or is empty"
gzip -t "$file" 2>/dev/null || die "$file is not a gzip archive (expected a redis-backup.sh output)"
if [ -n "$(compose ps -q --status running redis 2>/dev/null)" ]; then
    keys=$(compose exec -T redis redis-cli --no-auth-warning DBSIZE | tr -d '\r')
    if [ "${keys:-0}" != 0 ] && [ "$FORCE" != yes ]; then
        die "refusing to overwrite live data: redis holds $keys keys (pass --force to replace them)"
    fi
fi
compose stop redis >/dev/null 2>&1
# unpack with the redis image itself, so files belong to its redis user
compose run --rm --no-deps -T --entrypoint sh redis -c \
    'find /data -mindepth 1 -delete && tar -xzf - -C /data && chown -R redis:redis /data' < "$file" \
    || die "unpacking $file into the redis-data volume failed; redis is stopped"
compose up -d --wait --wait-timeout 120 redis >/dev/null 2>&1 || die "redis did not become healthy after the restore"
say "redis restored from $file"
