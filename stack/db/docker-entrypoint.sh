#!/bin/bash
# Entrypoint of the local db image.
# First start (empty PGDATA): initdb (user postgres, password POSTGRES_PASSWORD,
# scram-sha-256), a temporary server on the unix socket only, then every
# /docker-entrypoint-initdb.d/*.sh and *.sql in name order (psql ON_ERROR_STOP),
# then stop it. Every start: exec postgres (PID 1, gets the signals).
set -Eeuo pipefail

PGDATA="${PGDATA:-/var/lib/postgresql/data}"
POSTGRES_DB="${POSTGRES_DB:-postgres}"
SOCKET_DIR=/var/run/postgresql
INITDIR=/docker-entrypoint-initdb.d
DONE_MARK="$PGDATA/.acceptance-init-done"
export PGDATA POSTGRES_DB

log() { echo "db-entrypoint: $*" >&2; }

if [ "${1:-postgres}" != postgres ]; then
    exec "$@"            # e.g. `docker run IMAGE bash`
fi
shift || true

if [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA" "$SOCKET_DIR"
    chown postgres:postgres "$PGDATA" "$SOCKET_DIR"
    # a fresh volume may be root-owned; fix only the top (a large PGDATA is already ours)
    [ "$(stat -c %U "$PGDATA")" = postgres ] || chown -R postgres:postgres "$PGDATA"
    chmod 700 "$PGDATA"
    # backup freshness for node-exporter, written by backup-scheduler.sh as postgres
    if [ -d /textfile ]; then chown postgres:postgres /textfile; fi
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" postgres "$@"
fi

if [ -s "$PGDATA/PG_VERSION" ] && [ ! -e "$DONE_MARK" ]; then
    log "PGDATA=$PGDATA holds a cluster whose first initialisation did not finish;"
    log "remove the volume and start again."
    exit 1
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    if [ -z "${POSTGRES_PASSWORD:-}" ]; then
        log "POSTGRES_PASSWORD must be set for the first start"; exit 1
    fi
    if [ -n "$(ls -A "$PGDATA" 2>/dev/null)" ]; then
        log "PGDATA=$PGDATA is not empty but holds no cluster"; exit 1
    fi
    log "initialising a new cluster in $PGDATA"
    pwfile="$(mktemp)"
    printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
    initdb -D "$PGDATA" -U postgres --pwfile="$pwfile" --encoding=UTF8 --locale=C.UTF-8 \
        --auth-local=trust --auth-host=scram-sha-256 >/dev/null
    rm -f "$pwfile"
    cp /etc/postgresql/acceptance_hba.conf "$PGDATA/pg_hba.conf"
    printf "\n# local db image settings\ninclude_if_exists = '/etc/postgresql/acceptance.conf'\n" \
        >> "$PGDATA/postgresql.conf"

    # The temporary server does not archive: its WAL precedes any base backup, and
    # archive_command (pgbackrest-archive-push.sh) cannot create or upgrade the stanza
    # while the server shuts down, so the failure would stay in pg_stat_archiver.
    pg_ctl -D "$PGDATA" -w -t 60 -o "-c listen_addresses='' -c unix_socket_directories=$SOCKET_DIR -c archive_mode=off" start >/dev/null
    export PGHOST="$SOCKET_DIR" PGUSER=postgres
    if [ "$POSTGRES_DB" != postgres ]; then
        psql -v ON_ERROR_STOP=1 --no-psqlrc -d postgres -q \
            -c "CREATE DATABASE \"$POSTGRES_DB\""
    fi
    shopt -s nullglob
    for f in "$INITDIR"/*; do
        case "$f" in
            *.sh)  log "running $f"; bash "$f" ;;
            *.sql) log "running $f"
                   psql -v ON_ERROR_STOP=1 --no-psqlrc -q -d "$POSTGRES_DB" -f "$f" ;;
            *)     log "ignoring $f" ;;
        esac
    done
    shopt -u nullglob
    unset PGHOST PGUSER
    pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
    touch "$DONE_MARK"
    log "initialisation complete"
fi

# The backup schedule runs beside Postgres (backup-scheduler.sh; BACKUP_INTERVAL_S=0: none).
if [ "${BACKUP_INTERVAL_S:-86400}" != 0 ]; then
    /usr/local/bin/backup-scheduler.sh &
fi
exec postgres -D "$PGDATA" "$@"
