# Shared by stack/backup/*.sh: the stack's Compose command, its project and volumes, the
# --force convention, and the freshness metrics for node-exporter's textfile collector.
# Env: STACK_ENV (default stack/.env), IMAGES (local|upstream), BACKUP_DIR
# (default backups/<project>/), BACKUP_TOOL_IMAGE (throwaway containers; debian:bookworm-slim).
set -Eeuo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
SCRIPT=$(basename "$0")
STACK_ENV=${STACK_ENV:-stack/.env}
IMAGES=${IMAGES:-local}
TOOL_IMAGE=${BACKUP_TOOL_IMAGE:-debian:bookworm-slim}

die() { echo "$SCRIPT: $*" >&2; exit 1; }
say() { echo "$SCRIPT: $*" >&2; }

[ -r "$STACK_ENV" ] || die "stack env file $STACK_ENV not found (run \`make up\` first, or set STACK_ENV)"
PROJECT=$(sed -n 's/^COMPOSE_PROJECT_NAME=//p' "$STACK_ENV" | tail -n 1)
PROJECT=${PROJECT:-supabase-acceptance}
BACKUP_DIR=${BACKUP_DIR:-$ROOT/backups/$PROJECT}

# The compose binary itself: the pip package's .venv/bin/docker-compose wrapper drops exit
# codes (it always exits 0), and these scripts must stop on a failed command.
COMPOSE_BIN=$("$ROOT/.venv/bin/python" -c 'import compose, pathlib; print(pathlib.Path(compose.__file__).parent / "docker-compose")' 2>/dev/null) \
    || die "no docker-compose in .venv (run \`make venv\`)"
compose() {
    local files=(-f stack/compose.yaml)
    [ "$IMAGES" = local ] && files+=(-f stack/compose.local.yaml)
    "$COMPOSE_BIN" --project-directory stack --env-file "$STACK_ENV" "${files[@]}" "$@"
}

# the running container of a service, or a clear error
running_container() {
    local id
    id=$(compose ps -q --status running "$1" 2>/dev/null || true)
    [ -n "$id" ] || die "service $1 of stack $PROJECT is not running (start it with \`make up STACK_ENV=$STACK_ENV\`)"
    echo "$id"
}

volume_name() { echo "${PROJECT}_$1"; }

# containers (running) that mount a volume: copying or replacing it under them is unsafe
volume_users() { docker ps -q --filter "volume=$(volume_name "$1")"; }

# FORCE=yes after `parse_force "$@"`; the other arguments are left in ARGS
FORCE=no
ARGS=()
parse_force() {
    for a in "$@"; do
        case "$a" in
            --force) FORCE=yes ;;
            -h|--help) sed -n '2,/^set -/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
            *) ARGS+=("$a") ;;
        esac
    done
}

stamp() { date -u +%Y%m%dT%H%M%SZ; }

# write_metrics KIND SIZE_BYTES: backup_last_success_timestamp_seconds and
# backup_last_size_bytes in textfile-collector format, written atomically (tmp + rename)
# into the stack's backup-metrics volume, which node-exporter reads.
write_metrics() {
    local kind=$1 size=$2 now
    now=$(date +%s)
    printf '%s\n' \
        "# HELP backup_last_success_timestamp_seconds Unix time of the last successful backup of this kind." \
        "# TYPE backup_last_success_timestamp_seconds gauge" \
        "backup_last_success_timestamp_seconds{kind=\"$kind\"} $now" \
        "# HELP backup_last_size_bytes Size of the last successful backup of this kind." \
        "# TYPE backup_last_size_bytes gauge" \
        "backup_last_size_bytes{kind=\"$kind\"} $size" |
    docker run --rm -i -v "$(volume_name backup-metrics):/textfile" "$TOOL_IMAGE" \
        sh -c "cat > /textfile/.backup_$kind.tmp && chmod 0644 /textfile/.backup_$kind.tmp && mv /textfile/.backup_$kind.tmp /textfile/backup_$kind.prom" \
        || say "warning: could not write the freshness metric for $kind"
}
