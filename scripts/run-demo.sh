#!/usr/bin/env bash
# run-demo.sh runs the whole system as local processes and shows it working: censored results, broadcasts and,
# when the master is built, a burst that makes the filter pool scale up and back down. Ctrl-C stops it cleanly.
# Logs go to out/logs/; the master's scaling decisions are also printed here.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin}
LOGS=out/logs
mkdir -p "$LOGS"
pids=()

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

stop_all() {
  trap - INT TERM EXIT
  say "stopping (SIGTERM, in reverse order of start)"
  for ((i=${#pids[@]}-1; i>=0; i--)); do kill -TERM "${pids[i]}" 2>/dev/null; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  say "stopped; logs are in $LOGS/"
}
trap stop_all INT TERM EXIT

start() { # name, command...
  local name=$1; shift
  "$@" >"$LOGS/$name.log" 2>&1 &
  pids+=($!)
  echo "started $name (pid $!)"
}

# The operator's step: declare the topology once (an empty queue an earlier version declared with other
# arguments is replaced; one holding messages stops the demo with the fix).
"$BIN/warren" topology apply --recreate-empty
say "starting services (logs in $LOGS/)"
start insult "$BIN/warren-insult" --log-level info
# Workers are slowed on purpose (10 ms of simulated work, 5 at a time: about 500 texts/s each) so that the
# demo burst needs several of them; the master learns that capacity from their reports.
WARREN_FILTER_WORK_DELAY=${WARREN_FILTER_WORK_DELAY:-10ms} WARREN_FILTER_CONCURRENCY=${WARREN_FILTER_CONCURRENCY:-5} \
  start master "$BIN/warren-master" --set master.bin="$BIN" --set master.log_dir="$LOGS" \
  --set master.status_addr="${WARREN_MASTER_STATUS_ADDR:-127.0.0.1:8080}"
say "dashboard: http://${WARREN_MASTER_STATUS_ADDR:-127.0.0.1:8080}/ (metrics on /metrics)"
start subscriber "$BIN/warren" subscribe
sleep 3

say "the catalogue"
"$BIN/warren" insult add "scurvy knave"
"$BIN/warren" insult ls | paste -sd, -

say "texts in, censored texts out (publish --wait)"
"$BIN/warren" publish --wait "You IDIOT!" "what a scurvy  Knave you are" "an idiotic idea, but no insult" "¡Eres un TONTO!"

say "publishing with a plain AMQP client (amqp-publish) and reading warren.results"
if command -v amqp-publish >/dev/null; then
  amqp-publish -e warren.filter -b "amqp-publish says: you moron"
  "$BIN/warren" results --once
fi

say "broadcasts: switching on for 11 s (one random insult every 5 s)"
"$BIN/warren" broadcast on
"$BIN/warren" publish --to broadcaster "a broadcast request from the CLI"
sleep 11
"$BIN/warren" broadcast off
echo "what the subscriber printed:"
sed 's/^/  /' "$LOGS/subscriber.log"

say "a bad message is dead-lettered with its reason"
if command -v amqp-publish >/dev/null; then
  amqp-publish -e warren.filter -C application/json -b '{"text": 42}'
  amqp-publish -e warren.filter -C application/json -b '{"text": "unterminated'
fi
sleep 1
"$BIN/warren" dead ls

if [ -x "$BIN/warren-loadgen" ]; then
  say "a burst of 20 000 texts: the master scales the filter pool up, then back down (warren watch below)"
  "$BIN/warren" watch 2>/dev/null | grep --line-buffered -E 'pool|filter' &
  watchpid=$!
  "$BIN/warren-loadgen" --scenario loadgen/scenarios/demo-burst.yaml --out out/demo --quiet --log-level warn
  say "waiting for the pool to return to its minimum"
  sleep 25
  kill $watchpid 2>/dev/null
  echo "report, CSV and plot: out/demo/ (plot.png shows λ, backlog and workers over time)"
fi

if [ "${DEMO_STAY:-0}" = 1 ]; then
  say "running; Ctrl-C to stop"
  wait
fi
