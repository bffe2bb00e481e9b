#!/usr/bin/env bash
# rabbitmq-image.sh builds a RabbitMQ image from Debian packages without any image registry: debootstrap makes a
# minimal Debian root file system, apt installs Debian's rabbitmq-server into it, and `docker import` turns it
# into an image. It exists because this project must run its compose stack on machines that reach Debian's
# mirrors but no registry; with internet access the official rabbitmq:3.10-management image works just as well.
#
# The image is for local use only: its rabbitmq.conf sets `loopback_users = none`, so the default guest/guest
# user may log in from other containers of the compose network. A real deployment brings its own users (and its
# own image), never guest.
#
# The build is cached: when the image exists and its label warren.rabbitmq-image.recipe matches this script's
# content hash, nothing is done. Any edit of this script therefore rebuilds the image. Needs root (debootstrap,
# chroot); re-executes itself through sudo when possible.
#
# Usage: compose/rabbitmq-image.sh [--force]
# Environment: WARREN_RABBITMQ_IMAGE (default warren/rabbitmq:3.10-local), WARREN_DEBIAN_SUITE (bookworm),
#              WARREN_DEBIAN_MIRROR (http://deb.debian.org/debian),
#              WARREN_DEBIAN_SECURITY_MIRROR (http://deb.debian.org/debian-security).
set -euo pipefail

image=${WARREN_RABBITMQ_IMAGE:-warren/rabbitmq:3.10-local}
suite=${WARREN_DEBIAN_SUITE:-bookworm}
mirror=${WARREN_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${WARREN_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
force=0
[ "${1:-}" = --force ] && force=1

self=$(readlink -f "${BASH_SOURCE[0]}")
recipe=$(sha256sum "$self" | cut -c1-16)
recipe_label=warren.rabbitmq-image.recipe
lock=${TMPDIR:-/tmp}/warren-rabbitmq-image.lock

say() { echo "rabbitmq-image: $*" >&2; }

command -v docker >/dev/null 2>&1 || { say "docker CLI not found"; exit 1; }
docker version --format '{{.Server.Version}}' >/dev/null 2>&1 || { say "Docker engine does not answer"; exit 1; }

current() {
  docker image inspect -f "{{index .Config.Labels \"$recipe_label\"}}" "$image" 2>/dev/null || true
}

if [ "$force" = 0 ] && [ "$(current)" = "$recipe" ]; then
  say "$image is up to date (recipe $recipe); nothing to build"
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    say "debootstrap and chroot need root: re-running through sudo"
    exec sudo --preserve-env=WARREN_RABBITMQ_IMAGE,WARREN_DEBIAN_SUITE,WARREN_DEBIAN_MIRROR,WARREN_DEBIAN_SECURITY_MIRROR,DOCKER_HOST,TMPDIR bash "$self" "$@"
  fi
  say "building $image needs root (debootstrap, chroot) and sudo is not available"
  exit 1
fi

# Two builds at once (make up while a test runs) would fight over the same tag: the second waits, then finds
# the first one's image up to date.
exec 9>"$lock"
if ! flock -n 9; then
  say "another build holds $lock; waiting for it"
  flock 9
fi
if [ "$force" = 0 ] && [ "$(current)" = "$recipe" ]; then
  say "$image was built meanwhile (recipe $recipe); nothing to build"
  exit 0
fi

if ! command -v debootstrap >/dev/null 2>&1; then
  say "installing debootstrap from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq debootstrap >&2
fi

began=$SECONDS
# /var/tmp rather than /tmp: the root file system is a few hundred MiB and /tmp may be a small tmpfs.
rootfs=$(mktemp -d /var/tmp/warren-rabbitmq-rootfs.XXXXXX)
chmod 0755 "$rootfs" # apt in the chroot downloads as user _apt, which must reach its cache
cleanup() {
  # A failed chroot step may leave /proc mounted; rm -rf must not descend into it.
  if mountpoint -q "$rootfs/proc" 2>/dev/null; then umount -l "$rootfs/proc" || true; fi
  rm -rf --one-file-system "$rootfs" "$rootfs.log"
}
trap cleanup EXIT

say "debootstrap --variant=minbase $suite from $mirror (about a minute with a fast mirror)"
if ! debootstrap --variant=minbase "$suite" "$rootfs" "$mirror" >"$rootfs.log" 2>&1; then
  tail -n 40 "$rootfs.log" >&2 || true
  rm -f "$rootfs.log"
  say "debootstrap failed (full log above); check that $mirror is reachable"
  exit 1
fi
rm -f "$rootfs.log"

# Security and point-release updates, so the image gets the same patched rabbitmq-server as a Debian host.
cat >"$rootfs/etc/apt/sources.list" <<EOF
deb $mirror $suite main
deb $mirror $suite-updates main
deb $security $suite-security main
EOF
# Package scripts must not try to start rabbitmq-server inside the chroot.
printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
chmod 0755 "$rootfs/usr/sbin/policy-rc.d"
mount -t proc proc "$rootfs/proc"

say "installing rabbitmq-server into the root file system"
# Package scripts are chatty inside a chroot (no runlevel, no /dev/pts); their output matters only on failure.
if ! chroot "$rootfs" /usr/bin/env DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 sh -ec '
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends rabbitmq-server
  apt-get clean
' >"$rootfs.log" 2>&1; then
  tail -n 40 "$rootfs.log" >&2 || true
  say "installing rabbitmq-server in the chroot failed (log above)"
  exit 1
fi
rm -f "$rootfs.log"
# shellcheck disable=SC2016 # ${Version} is dpkg-query's format, not a shell expansion
version=$(chroot "$rootfs" dpkg-query -W -f '${Version}' rabbitmq-server)
umount "$rootfs/proc"
rm -f "$rootfs/usr/sbin/policy-rc.d"

# Plugins are enabled offline (a file the node reads at boot), so the image needs no running node to build.
echo '[rabbitmq_management,rabbitmq_consistent_hash_exchange].' >"$rootfs/etc/rabbitmq/enabled_plugins"
cat >"$rootfs/etc/rabbitmq/rabbitmq.conf" <<'EOF'
# Local use only (warren/rabbitmq:3.10-local, built by compose/rabbitmq-image.sh): guest may log in from other
# hosts so the containers of the compose network can connect. Real deployments create their own users.
loopback_users = none
listeners.tcp.default = 5672
management.tcp.port = 15672
# A container logs to stdout, where `docker logs` finds it.
log.console = true
log.console.level = info
log.console.use_colors = off
log.file = false
EOF

# Nothing host- or build-specific stays in the image: package caches, docs, logs, and no Erlang cookie (a
# shared, known cookie would let anyone on the network control the node; each container makes its own).
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* "$rootfs"/var/cache/debconf/*-old \
  "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
  "$rootfs"/var/log/*.log "$rootfs"/var/log/apt/* "$rootfs"/var/log/rabbitmq/* \
  "$rootfs"/var/lib/rabbitmq/.erlang.cookie "$rootfs"/var/lib/rabbitmq/mnesia \
  "$rootfs"/tmp/* "$rootfs"/var/tmp/*
: >"$rootfs/etc/resolv.conf"
: >"$rootfs/etc/hostname"
chroot "$rootfs" chown -R rabbitmq:rabbitmq /var/lib/rabbitmq /var/log/rabbitmq

candidate=${image%%:*}:candidate-$recipe
smoke=warren-rabbitmq-smoke-$$
say "importing the root file system as $candidate (rabbitmq-server $version)"
# docker import sets no runtime configuration by itself: everything a Dockerfile would say comes as --change.
# The server script runs in the foreground and stops the node cleanly on SIGTERM; calling it directly (not
# Debian's /usr/sbin wrapper, which redirects to a file) keeps its output on stdout. The healthcheck is what
# compose's service_healthy waits for: ping answers once the node runs.
tar --numeric-owner -C "$rootfs" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV HOME=/var/lib/rabbitmq LANG=C.UTF-8' \
  --change 'USER rabbitmq' \
  --change 'WORKDIR /var/lib/rabbitmq' \
  --change 'VOLUME /var/lib/rabbitmq' \
  --change 'EXPOSE 4369 5672 15672 25672' \
  --change 'HEALTHCHECK --interval=5s --timeout=20s --start-period=60s --retries=5 CMD ["rabbitmq-diagnostics", "-q", "ping"]' \
  --change 'CMD ["/usr/lib/rabbitmq/bin/rabbitmq-server"]' \
  --change "LABEL $recipe_label=$recipe warren.rabbitmq-image.version=$version org.opencontainers.image.title=warren-rabbitmq org.opencontainers.image.description=\"RabbitMQ from Debian $suite packages, for local use (guest allowed from any host)\"" \
  --message "compose/rabbitmq-image.sh: Debian $suite rabbitmq-server $version" \
  - "$candidate" >/dev/null

# The image gets its real name only once a node booted from it reports healthy: a broken rabbitmq.conf fails
# at boot, not at build, and must not replace a working image.
say "smoke test: booting $candidate until its healthcheck passes"
trap 'docker rm -f -v "$smoke" >/dev/null 2>&1 || true; docker rmi "$candidate" >/dev/null 2>&1 || true; cleanup' EXIT
docker run -d --name "$smoke" --network none "$candidate" >/dev/null
status=starting
for _ in $(seq 1 90); do
  status=$(docker inspect -f '{{if .State.Running}}{{.State.Health.Status}}{{else}}exited{{end}}' "$smoke")
  [ "$status" = starting ] || break
  sleep 1
done
if [ "$status" != healthy ]; then
  docker logs "$smoke" 2>&1 | grep -v '^[[:space:]]*$' | head -n 30 >&2 || true
  say "smoke test failed: the node is $status (its first log lines above); $image is left unchanged"
  exit 1
fi
previous=$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)
docker tag "$candidate" "$image"
# The image this one replaces would linger untagged; it stays only while a container still uses it.
if [ -n "$previous" ] && [ "$previous" != "$(docker image inspect -f '{{.Id}}' "$image")" ]; then
  docker rmi "$previous" >/dev/null 2>&1 || say "the previous $image ($previous) is still in use; left in place"
fi

say "built $image (rabbitmq-server $version, $(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.0f MiB", $1/1048576}')) in $((SECONDS - began)) s"
