#!/usr/bin/env bash
# Make sure a Docker engine answers. On a machine without one (a fresh Debian box, CI),
# install Debian's engine and start it; where Docker already runs, change nothing.
set -euo pipefail

if docker info >/dev/null 2>&1; then exit 0; fi

if ! command -v dockerd >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-docker: no Docker engine answers and I can only install one as root on Debian;" \
         "install Docker Engine and start it, then run again" >&2
    exit 1
  fi
  echo "ensure-docker: installing Debian's docker.io and debootstrap"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io debootstrap >/dev/null
fi

# 10,000 WebSockets through a published port break the userland proxy (two descriptors
# per connection in one process): forward in the kernel instead. Merge, never clobber.
mkdir -p /etc/docker
python3 - <<'PY'
import json, os
path = "/etc/docker/daemon.json"
conf = {}
if os.path.exists(path) and os.path.getsize(path):
    with open(path) as f:
        conf = json.load(f)
if "userland-proxy" not in conf:
    conf["userland-proxy"] = False
    with open(path, "w") as f:
        json.dump(conf, f, indent=2)
PY

if ! pgrep -x dockerd >/dev/null; then
  echo "ensure-docker: starting dockerd (log: /var/log/dockerd.log)"
  nohup dockerd >/var/log/dockerd.log 2>&1 &
  # DOCKERD_PID_FILE: where the caller wants the id of the engine started here (.ci/run stops it)
  if [ -n "${DOCKERD_PID_FILE:-}" ]; then echo $! >"$DOCKERD_PID_FILE"; fi
fi
for _ in $(seq 60); do
  docker info >/dev/null 2>&1 && exit 0
  sleep 1
done
echo "ensure-docker: dockerd did not answer within 60 s; last log lines:" >&2
tail -n 20 /var/log/dockerd.log >&2 || true
exit 1
