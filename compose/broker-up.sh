#!/usr/bin/env bash
# broker-up.sh makes sure a RabbitMQ broker answers at WARREN_AMQP_URL (default amqp://guest:guest@127.0.0.1:5672/).
# It is idempotent: when the broker already answers it returns at once. Otherwise it installs Debian's
# rabbitmq-server (as root, apt-get update first), enables the plugins Warren uses, starts it and waits until ready.
set -euo pipefail

url=${WARREN_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/}
hostport=${url#*://}; hostport=${hostport#*@}; hostport=${hostport%%/*}
host=${hostport%%:*}; port=${hostport##*:}; [ "$port" = "$hostport" ] && port=5672
timeout_s=${WARREN_BROKER_WAIT:-120}

say() { echo "broker-up: $*" >&2; }

answers() { timeout 2 bash -c "exec 3<>/dev/tcp/$host/$port" 2>/dev/null; }

ready() {
  answers || return 1
  # A listening port is not enough: the node must have finished booting its apps.
  if command -v rabbitmq-diagnostics >/dev/null 2>&1 && [[ "$host" == 127.* || "$host" == localhost ]]; then
    timeout 20 rabbitmq-diagnostics -q check_running >/dev/null 2>&1 || return 1
  fi
  return 0
}

max_message=${WARREN_BROKER_MAX_MESSAGE:-8388608}

# The broker's own hard limit on a message, above the services' 1 MiB processing limit (amqp.max_body): a body
# between the two is accepted and dead-lettered with a reason; one above it is refused to the publisher at once.
limit_messages() {
  command -v rabbitmqctl >/dev/null 2>&1 || return 0
  if [ -d /etc/rabbitmq ] && [ -w /etc/rabbitmq ]; then
    mkdir -p /etc/rabbitmq/conf.d
    echo "max_message_size = $max_message" >/etc/rabbitmq/conf.d/50-warren.conf
  fi
  # Also set on the running node, so a broker started by someone else gets it without a restart.
  timeout 20 rabbitmqctl -q eval "application:set_env(rabbit, max_message_size, $max_message)." >/dev/null 2>&1 || true
}

# The consistent-hash exchange routes a laned pool's events to its lanes by fairness key (see the README's
# "Fairness"); it ships with the server but is off by default. On a running local node it is enabled online.
plugins="rabbitmq_management rabbitmq_consistent_hash_exchange"

if ready; then
  if command -v rabbitmq-plugins >/dev/null 2>&1 && [[ "$host" == 127.* || "$host" == localhost ]]; then
    timeout 60 rabbitmq-plugins -q enable $plugins >/dev/null 2>&1 || say "could not enable $plugins (continuing)"
  fi
  say "broker at $host:$port answers"; exit 0
fi

case "$host" in
  127.*|localhost) ;;
  *) say "broker at $host:$port does not answer and is not local: start it yourself"; exit 1 ;;
esac

if ! command -v rabbitmq-server >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || { say "rabbitmq-server is missing and installing it needs root"; exit 1; }
  say "installing rabbitmq-server and amqp-tools from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq rabbitmq-server amqp-tools >&2
fi

# Plugins are enabled offline so the node boots with them; management gives users a UI and HTTP API.
rabbitmq-plugins enable --offline $plugins >/dev/null 2>&1 || say "could not enable $plugins (continuing)"

start_server() {
  say "starting rabbitmq-server"
  if command -v service >/dev/null 2>&1 && service rabbitmq-server start >/dev/null 2>&1; then :; else
    (HOME=/var/lib/rabbitmq setsid rabbitmq-server >/var/log/rabbitmq/warren-start.log 2>&1 &) || true
  fi
}

# A node that is still shutting down (just after `rabbitmqctl stop`) has a beam process but will never become
# ready: so the loop starts the server whenever no node process runs, not only once at the beginning.
deadline=$((SECONDS + timeout_s))
until ready; do
  if ! pgrep -f 'beam.*rabbit' >/dev/null 2>&1; then start_server; fi
  if [ $SECONDS -ge $deadline ]; then say "broker not ready after ${timeout_s}s"; exit 1; fi
  sleep 1
done
limit_messages
say "broker ready at $host:$port (max message $max_message bytes)"
