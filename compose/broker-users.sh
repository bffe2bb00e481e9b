#!/usr/bin/env bash
# broker-users.sh gives every Warren service its own RabbitMQ user on the `warren` vhost, confined to Warren's
# names, so no service needs guest/guest and each connection is attributable and revocable on its own.
#
#   compose/broker-users.sh            # creates vhost and users; writes URLs to out/credentials.env (mode 600)
#
# Passwords come from WARREN_PASSWORD_<SERVICE> (e.g. WARREN_PASSWORD_FILTER) or are generated. Idempotent: an
# existing user keeps its password unless one is given. Then run each service with its own URL, e.g.
#   source out/credentials.env; WARREN_AMQP_URL=$WARREN_FILTER_URL bin/warren-filter
#
# Permissions: configure, write and read only on warren.* (plus the server-named and direct reply-to queues the
# clients use); no management tag, no other vhost. Every service declares the shared topology on (re)connect, so
# each needs configure on warren.*; narrower per-service grants would need one declaring service instead.
set -euo pipefail

vhost=${WARREN_VHOST:-warren}
host=${WARREN_BROKER_HOST:-127.0.0.1:5672}
out=${WARREN_CREDENTIALS:-out/credentials.env}
services=(filter broadcaster insult master client)

say() { echo "broker-users: $*" >&2; }
command -v rabbitmqctl >/dev/null || { say "rabbitmqctl not found (run compose/broker-up.sh first)"; exit 1; }

rabbitmqctl -q add_vhost "$vhost" 2>/dev/null || true
mkdir -p "$(dirname "$out")"
umask 077
: >"$out"
users=$(rabbitmqctl -q list_users --no-table-headers 2>/dev/null | awk '{print $1}')
for svc in "${services[@]}"; do
  user="warren-$svc"
  var="WARREN_PASSWORD_$(echo "$svc" | tr a-z A-Z)"
  pass=${!var:-}
  if echo "$users" | grep -qx "$user"; then
    if [ -n "$pass" ]; then rabbitmqctl -q change_password "$user" "$pass" >/dev/null; fi
  else
    [ -n "$pass" ] || pass=$(head -c 18 /dev/urandom | base64 | tr -d '/+=' | head -c 24)
    rabbitmqctl -q add_user "$user" "$pass" >/dev/null
    say "created user $user"
  fi
  rabbitmqctl -q set_user_tags "$user" >/dev/null
  rabbitmqctl -q set_permissions -p "$vhost" "$user" \
    '^(warren\..*|amq\.gen-.*)$' \
    '^(warren\..*|amq\.default|amq\.gen-.*)$' \
    '^(warren\..*|amq\.gen-.*|amq\.rabbitmq\.reply-to)$' >/dev/null
  if [ -n "$pass" ]; then
    echo "WARREN_$(echo "$svc" | tr a-z A-Z)_URL=amqp://$user:$pass@$host/$vhost" >>"$out"
  else
    echo "# $user: password unchanged (set $var to rotate it)" >>"$out"
  fi
done
say "vhost $vhost ready; URLs in $out"
