#!/bin/sh
# Entrypoint of the local redis image: runs redis-server as user redis with the baked
# (or mounted) config; appends --requirepass "$REDIS_PASSWORD" when REDIS_PASSWORD is
# set and the command line carries no --requirepass of its own.
set -eu
CONF=/usr/local/etc/redis/redis.conf

if [ $# -eq 0 ]; then
    set -- redis-server "$CONF"
elif [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
    set -- redis-server "$@"          # only flags or a config file were given
fi

if [ "$1" = redis-server ]; then
    has_pass=no
    for a in "$@"; do [ "$a" = --requirepass ] && has_pass=yes; done
    if [ "$has_pass" = no ] && [ -n "${REDIS_PASSWORD:-}" ]; then
        set -- "$@" --requirepass "$REDIS_PASSWORD"
    fi
    if [ "$(id -u)" = 0 ]; then
        mkdir -p /data
        [ "$(stat -c %U /data)" = redis ] || chown -R redis:redis /data
        exec setpriv --reuid=redis --regid=redis --init-groups "$@"
    fi
fi
exec "$@"
