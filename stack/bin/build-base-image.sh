#!/usr/bin/env bash
# Provide the base image every local Dockerfile starts FROM. Where a registry is reachable
# it is pulled; otherwise it is built from Debian's archive with debootstrap and tagged
# under the same name, so the same Dockerfiles work in both places.
set -euo pipefail
IMAGE="${BASE_IMAGE:-debian:bookworm-slim}"
SUITE="${BASE_SUITE:-bookworm}"

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "base image $IMAGE: present"; exit 0
fi
if timeout 60 docker pull -q "$IMAGE" >/dev/null 2>&1; then
  echo "base image $IMAGE: pulled"; exit 0
fi

# The mirror is read from this machine's apt sources, never written into the project.
mirror=$(grep -rhoE '^(URIs:|deb) +[^ ]+' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
  | awk '{print $2}' | grep -v -- '-security' | grep -E '/debian/?$' | head -n1 || true)
if [ -z "$mirror" ]; then
  echo "build-base-image: no Debian mirror found in /etc/apt/sources.list*; cannot build $IMAGE" >&2
  exit 1
fi
command -v debootstrap >/dev/null || { echo "build-base-image: debootstrap is not installed (apt-get install debootstrap)" >&2; exit 1; }

rootfs=$(mktemp -d)
trap 'rm -rf "$rootfs"' EXIT
echo "base image $IMAGE: building with debootstrap ($SUITE)"
debootstrap --variant=minbase "$SUITE" "$rootfs" "$mirror" >/dev/null
# Keep images small and apt quiet, like the registry's slim image.
printf 'APT::Install-Recommends "0";\nAPT::Install-Suggests "0";\n' > "$rootfs/etc/apt/apt.conf.d/90-slim"
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb
tar -C "$rootfs" -c . | docker import -c 'CMD ["bash"]' - "$IMAGE" >/dev/null
echo "base image $IMAGE: built"
