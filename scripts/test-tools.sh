#!/usr/bin/env bash
# test-tools.sh installs the real components the observability tests use, where they are missing: Debian's
# prometheus (scrapes a running master and worker) and chromium (loads the dashboard headless). Idempotent:
# when both are there it returns at once. Installing needs root (apt-get update first).
set -euo pipefail

say() { echo "test-tools: $*" >&2; }

missing=()
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi

if [ "$(id -u)" != 0 ]; then
  say "missing ${missing[*]}; installing needs root (the tests that need them will fail under CI, skip otherwise)"
  exit 0
fi
say "installing ${missing[*]} from Debian"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
# No recommends: prometheus would pull in node-exporter and chromium a desktop's worth of packages.
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
# Debian's package may start its own prometheus on :9090 where an init system runs; the tests start their own.
if command -v service >/dev/null 2>&1; then service prometheus stop >/dev/null 2>&1 || true; fi
