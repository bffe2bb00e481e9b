#!/usr/bin/env bash
# stack.sh runs Warren's compose stack (compose/docker-compose.yml): `make up`, `make down` and `make logs` call
# it, and so does the compose integration test, so both exercise the same steps.
#
#   up    builds the warren/* images, builds the local broker image when it is the one chosen and missing,
#         then starts the stack detached and waits until the broker is healthy and the master runs
#   down  stops the master first (so it starts nothing new), removes the workers it spawned (they carry the
#         label warren.owner=compose-<project> and are not compose-managed), then `compose down -v
#         --remove-orphans`; safe to run when nothing is up
#   logs  follows the master's log, where every scaling decision is a line
#   ps    lists the stack's containers and the workers its master spawned
#   compose ARGS...  runs any compose command on the stack, e.g. `compose port rabbitmq 5672`
#
# Environment: COMPOSE (the compose command; default `docker compose` when available, else docker-compose),
# COMPOSE_PROJECT_NAME (warren), WARREN_RABBITMQ_IMAGE (warren/rabbitmq:3.10-local here; the compose file
# alone defaults to the official image), plus the variables docker-compose.yml documents.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
file=$here/docker-compose.yml
local_rabbitmq=warren/rabbitmq:3.10-local

export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-warren}
export WARREN_RABBITMQ_IMAGE=${WARREN_RABBITMQ_IMAGE:-$local_rabbitmq}
owner=compose-$COMPOSE_PROJECT_NAME
network=${COMPOSE_PROJECT_NAME}_net

if [ -z "${COMPOSE:-}" ]; then
  if docker compose version >/dev/null 2>&1; then COMPOSE="docker compose"; else COMPOSE=docker-compose; fi
fi
read -r -a compose_cmd <<<"$COMPOSE"
compose() { "${compose_cmd[@]}" -f "$file" -p "$COMPOSE_PROJECT_NAME" "$@"; }

say() { echo "stack: $*" >&2; }

# spawned lists the worker containers this stack's master started, running or not.
spawned() { docker ps -aq --filter "label=warren.owner=$owner"; }

up() {
  command -v "${compose_cmd[0]}" >/dev/null 2>&1 || { say "compose command '$COMPOSE' not found"; exit 1; }
  bash "$here/build-images.sh" filter broadcaster master insult
  case "$WARREN_RABBITMQ_IMAGE" in
    warren/rabbitmq:*) bash "$here/rabbitmq-image.sh" ;;
    *) docker image inspect "$WARREN_RABBITMQ_IMAGE" >/dev/null 2>&1 ||
      say "$WARREN_RABBITMQ_IMAGE is not on this engine: compose will try to pull it" ;;
  esac
  say "starting project $COMPOSE_PROJECT_NAME (broker image $WARREN_RABBITMQ_IMAGE)"
  # depends_on waits for the broker's healthcheck before it starts the master and the insult service.
  compose up -d --remove-orphans
  local amqp url
  amqp=$(compose port rabbitmq 5672 2>/dev/null || true)
  amqp=${amqp/0.0.0.0/127.0.0.1}
  url=amqp://guest:guest@${amqp:-127.0.0.1:5672}/
  # The container's healthcheck passing is not the published port accepting AMQP (the first client right
  # after `up` used to get "connection reset by peer"): return only when an AMQP session on the published port
  # has applied the topology (the operator's step).
  local cli=$here/../bin/warren deadline=$((SECONDS + ${WARREN_UP_WAIT:-90}))
  # Built each time (incremental, so quick): a stale CLI would declare another version's topology.
  if command -v "${GO:-go}" >/dev/null 2>&1; then
    (cd "$here/.." && CGO_ENABLED=0 "${GO:-go}" build -trimpath -o bin/warren ./services/warren)
  fi
  [ -x "$cli" ] || { say "$cli is missing and Go is not installed to build it"; exit 1; }
  until "$cli" --amqp-url "$url" --log-level error topology apply >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      say "the broker does not accept AMQP on $amqp after ${WARREN_UP_WAIT:-90}s:"
      "$cli" --amqp-url "$url" topology apply || true
      exit 1
    fi
    sleep 1
  done
  say "up: broker at $url accepts AMQP (local use only); \`make logs\` follows the master"
}

down() {
  # The master first: while it runs it would replace the workers removed below.
  compose stop -t 30 master >/dev/null 2>&1 || true
  local ids
  ids=$(spawned)
  if [ -n "$ids" ]; then
    say "removing $(wc -w <<<"$ids") worker container(s) spawned by the master (label warren.owner=$owner)"
    # SIGTERM first, so workers ack what they hold; what is left after the grace is requeued by the broker.
    # shellcheck disable=SC2086
    docker stop -t 15 $ids >/dev/null 2>&1 || true
    # shellcheck disable=SC2086
    docker rm -f -v $ids >/dev/null 2>&1 || true
  fi
  compose down -v --remove-orphans -t 30
  # A worker started in the instant before the master stopped could still hold the network; say so plainly.
  if [ -n "$(spawned)" ]; then
    say "workers of $owner are still present: $(spawned | tr '\n' ' ')"
    exit 1
  fi
  if docker network inspect "$network" >/dev/null 2>&1; then
    docker network rm "$network" >/dev/null || { say "cannot remove network $network"; exit 1; }
  fi
  say "down: project $COMPOSE_PROJECT_NAME removed"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  logs) compose logs -f --tail=200 master ;;
  ps)
    compose ps
    docker ps -a --filter "label=warren.owner=$owner" --format 'table {{.Names}}\t{{.Status}}\t{{.Label "warren.pool"}}'
    ;;
  compose) shift; compose "$@" ;;
  *) echo "usage: $0 up|down|logs|ps|compose ARGS..." >&2; exit 2 ;;
esac
