#!/usr/bin/env bash
# build-images.sh builds Warren's service binaries statically and packs each into a FROM scratch image tagged
# ${WARREN_IMAGE_PREFIX:-warren/}<service>:${WARREN_IMAGE_TAG:-latest}. Nothing is pulled: the images contain
# only the binary. Services whose main package does not exist (yet) are skipped with a note.
#
# Usage: compose/build-images.sh [service ...]   (default: filter broadcaster master insult)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
prefix=${WARREN_IMAGE_PREFIX:-warren/}
tag=${WARREN_IMAGE_TAG:-latest}
services=("$@")
[ ${#services[@]} -gt 0 ] || services=(filter broadcaster master insult)

say() { echo "build-images: $*" >&2; }

command -v docker >/dev/null 2>&1 || { say "docker CLI not found"; exit 1; }
docker version --format '{{.Server.Version}}' >/dev/null 2>&1 || { say "Docker engine does not answer"; exit 1; }

cd "$root"
# Concurrent runs (make up while the tests build images) would write the same bin/warren-<service> at once and
# could leave a torn binary: they take turns.
if command -v flock >/dev/null 2>&1; then
  exec 9>"${TMPDIR:-/tmp}/warren-build-images.lock"
  flock -n 9 || { say "another build-images.sh is running; waiting for it"; flock 9; }
fi
mkdir -p bin
ctx=$(mktemp -d)
trap 'rm -rf "$ctx" "$ctx.log"' EXIT

built=0
for svc in "${services[@]}"; do
  pkg=./services/$svc
  if [ "$(go list -f '{{.Name}}' "$pkg" 2>/dev/null)" != main ]; then
    say "skipping $svc: $pkg is not a main package (yet)"
    continue
  fi
  say "building bin/warren-$svc"
  CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "bin/warren-$svc" "$pkg"

  image="${prefix}${svc}:${tag}"
  # The build is reproducible (-trimpath, no build ID that changes with the tree's path), so an image whose label
  # carries this binary's hash is already what a build would make: tests and make targets call this script
  # freely, and only the first call after a change pays for the image.
  sum=$(sha256sum "bin/warren-$svc" | cut -c1-32)
  if [ "$(docker image inspect -f '{{index .Config.Labels "warren.binary"}}' "$image" 2>/dev/null || true)" = "$sum" ]; then
    say "image $image is up to date"
    continue
  fi

  # A context with just the binary keeps the upload to the engine small and the image free of anything else.
  rm -rf "${ctx:?}"/*
  cp "bin/warren-$svc" "$ctx/warren-$svc"
  cp compose/Dockerfile.worker "$ctx/Dockerfile"
  say "building image $image"
  # The engine's legacy builder prints a deprecation notice on every build; show its output only on failure.
  if ! docker build --build-arg "SERVICE=$svc" --label "warren.binary=$sum" -t "$image" "$ctx" >"$ctx.log" 2>&1; then
    cat "$ctx.log" >&2
    say "docker build of $image failed"
    exit 1
  fi
  built=$((built + 1))
done
say "built $built image(s)"
# Each rebuild leaves the previous image untagged; drop those (only Warren's, by label) so rebuilds don't pile up.
docker image prune -f --filter "label=warren.service" >/dev/null 2>&1 || true
