#!/bin/bash
# The bundled stack's backup schedule (local db image), started by docker-entrypoint.sh next
# to Postgres: a pgBackRest base backup as soon as the running cluster has none of its own
# (a new stack, a volume initialised anew), then one every BACKUP_INTERVAL_S (incremental;
# full when the newest full is BACKUP_FULL_INTERVAL_S old). Each success is written for
# node-exporter's textfile collector (backup_last_success_timestamp_seconds{kind="pgbackrest"},
# the same file stack/backup/lib.sh writes), which BackupTooOld and the RPO/RTO checks
# (tests/infra/test_promises.py) read. Backups taken by stack/backup/pgbackrest-backup.sh
# count too; both hold BACKUP_LOCK so that they never run at the same time.
set -u
INTERVAL=${BACKUP_INTERVAL_S:-86400}
FULL_INTERVAL=${BACKUP_FULL_INTERVAL_S:-604800}
CHECK_EVERY=${BACKUP_CHECK_EVERY_S:-60}
RETRY_AFTER=600
TEXTFILE=${BACKUP_METRICS_DIR:-/textfile}
BACKUP_LOCK=/tmp/pgbackrest-backup.flock
DONE_MARK="$PGDATA/.acceptance-init-done"

log() { echo "backup-scheduler: $*" >&2; }
pgbr() { pgbackrest --stanza=main --log-level-console=warn "$@"; }

# "<newest stop> <newest full stop> <repository bytes of the newest>" of the running
# cluster's backups (the repository's newest db entry); empty fields when it has none.
backups() {
    pgbr info --output=json 2>/dev/null | perl -MJSON::PP -e '
        my $s = eval { decode_json(join "", <STDIN>)->[0] } or exit;
        my ($db) = sort { $b->{id} <=> $a->{id} } @{ $s->{db} || [] } or exit;
        my @b = grep { $_->{database}{id} == $db->{id} } @{ $s->{backup} || [] };
        my @f = grep { $_->{type} eq "full" } @b;
        print join(" ", @b ? $b[-1]{timestamp}{stop} : "", @f ? $f[-1]{timestamp}{stop} : "",
                   @b ? $b[-1]{info}{repository}{delta} : ""), "\n";'
}

write_metric() {  # STOP_TIME SIZE: atomically, as stack/backup/lib.sh does
    [ -d "$TEXTFILE" ] && [ -w "$TEXTFILE" ] || return 0
    printf '%s\n' \
        "# HELP backup_last_success_timestamp_seconds Unix time of the last successful backup of this kind." \
        "# TYPE backup_last_success_timestamp_seconds gauge" \
        "backup_last_success_timestamp_seconds{kind=\"pgbackrest\"} $1" \
        "# HELP backup_last_size_bytes Size of the last successful backup of this kind." \
        "# TYPE backup_last_size_bytes gauge" \
        "backup_last_size_bytes{kind=\"pgbackrest\"} ${2:-0}" > "$TEXTFILE/.backup_pgbackrest.tmp" \
        && chmod 0644 "$TEXTFILE/.backup_pgbackrest.tmp" \
        && mv "$TEXTFILE/.backup_pgbackrest.tmp" "$TEXTFILE/backup_pgbackrest.prom"
}

# Postgres itself, not the first initialisation's temporary server
until [ -e "$DONE_MARK" ] && pg_isready -q -h /var/run/postgresql; do sleep 2; done
while true; do
    read -r last last_full size <<<"$(backups)"
    now=$(date +%s)
    if [ -z "${last:-}" ] || [ $((now - last)) -ge "$INTERVAL" ]; then
        type=incr
        if [ -z "${last_full:-}" ] || [ $((now - last_full)) -ge "$FULL_INTERVAL" ]; then type=full; fi
        log "taking a backup, type $type (newest of this cluster: ${last:-none})"
        if flock "$BACKUP_LOCK" sh -c 'pgbackrest --stanza=main --log-level-console=error stanza-create >/dev/null 2>&1 \
                || pgbackrest --stanza=main --log-level-console=warn stanza-upgrade >/dev/null
                pgbackrest --stanza=main --log-level-console=warn backup --type='"$type"; then
            read -r last last_full size <<<"$(backups)"
        else
            # a cluster without any backup of its own retries at the next check, others back off
            wait_s=$RETRY_AFTER; [ -z "${last:-}" ] && wait_s=$CHECK_EVERY
            log "the backup (type $type) failed (see above); next attempt in $wait_s s"
            sleep "$wait_s"
        fi
    fi
    [ -n "${last:-}" ] && write_metric "$last" "$size"
    sleep "$CHECK_EVERY"
done
