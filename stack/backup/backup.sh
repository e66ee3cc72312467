#!/usr/bin/env bash
# `make backup`: run backups by kind. Usage: stack/backup/backup.sh [KIND...] [-- ARGS]
# Kinds: pg-dump, pgbackrest, redis, volume (needs ARGS: the volume name). Default:
# pg-dump pgbackrest redis (the consistent-while-running set).
set -Eeuo pipefail
here=$(cd "$(dirname "$0")" && pwd)
kinds=() args=()
while [ $# -gt 0 ]; do [ "$1" = -- ] && { shift; args=("$@"); break; }; kinds+=("$1"); shift; done
[ ${#kinds[@]} -gt 0 ] || kinds=(pg-dump pgbackrest redis)
for k in "${kinds[@]}"; do
    case "$k" in
        pg-dump|pgbackrest|redis|volume) "$here/$k-backup.sh" "${args[@]+"${args[@]}"}" 2>&1 ;;
        *) echo "backup.sh: unknown kind '$k' (pg-dump, pgbackrest, redis, volume)" >&2; exit 2 ;;
    esac
done
