#!/usr/bin/env bash
# bench.sh runs Warren's benchmark suite (loadgen/bench: stress, speedup, reaction, master overhead, scaling
# quality) against the local broker and appends a dated section to loadgen/bench/results.md. `make bench` calls it
# after making sure the broker answers. It takes about 35 minutes, 28 of them the scaling benchmark (9 runs of a
# real master on 3 traces × 3 policies: 9 min of traces per policy); extra arguments go to warren-bench (see
# bin/warren-bench --help), e.g. `scripts/bench.sh --only speedup --no-append`, or `--only scaling
# --scaling-policies new --scaling-steady 2m` for a shorter scaling run. Each scaling run's plot and CSV land in
# out/bench/scaling/<policy>-<trace>/.
#
# Every benchmark runs in a fresh vhost of its own, deleted afterwards, so it neither sees nor disturbs anything
# else on the broker. The docker runtime's worker images are built from the tree under their own tag
# (warren/filter:bench), so images that something else runs are left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin}
TAG=${WARREN_BENCH_IMAGE_TAG:-bench}
mkdir -p "$BIN" out/bench

say() { echo "bench: $*" >&2; }

# The binaries under test are built from the tree every time, so the numbers belong to the commit they name.
for svc in filter master; do
  CGO_ENABLED=0 go build -trimpath -o "$BIN/warren-$svc" "./services/$svc"
done
go build -trimpath -o "$BIN/warren-bench" ./loadgen/bench/cmd/warren-bench

if docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
  say "building the worker image warren/filter:$TAG for the docker runtime"
  WARREN_IMAGE_TAG=$TAG bash compose/build-images.sh filter >out/bench/images.log 2>&1 ||
    say "image build failed (see out/bench/images.log); the docker runtime will be reported as not measured"
else
  say "no Docker engine answers; the docker runtime will be reported as not measured"
fi

exec "$BIN/warren-bench" --bin "$BIN" --work out/bench --image-tag "$TAG" "$@"
