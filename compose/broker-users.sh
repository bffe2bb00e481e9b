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
# Permissions: each role gets only what its code uses (`warren topology permissions ROLE` prints them; that is
# the one source, also used by the least-privilege integration test): no service may configure (declare or
# delete) the shared queues, so run `warren topology apply` with the operator's URL first (`make users` does);
# a client may publish to the entry exchanges and the insult exchange, bind its own server-named queues and read
# its replies (and warren.results when WARREN_CLIENT_READS_RESULTS=1); workers read only their own pool's queue
# and the catalogue; only the master may purge the count queues. The operator user may do anything on the vhost
# (topology apply, `warren dead`, loadgen). No user gets a management tag or another vhost.
set -euo pipefail

vhost=${WARREN_VHOST:-warren}
host=${WARREN_BROKER_HOST:-127.0.0.1:5672}
out=${WARREN_CREDENTIALS:-out/credentials.env}
services=(operator master filter broadcaster insult client)
cli=${WARREN_CLI:-bin/warren}
[ -x "$cli" ] || { echo "broker-users: $cli not found (run make build first)" >&2; exit 1; }

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
  extra=()
  [ "$svc" = client ] && [ "${WARREN_CLIENT_READS_RESULTS:-0}" = 1 ] && extra=(--read-results)
  mapfile -t perm < <("$cli" topology permissions "$svc" "${extra[@]}")
  [ "${#perm[@]}" = 3 ] || { say "cannot get permissions for $svc"; exit 1; }
  rabbitmqctl -q set_permissions -p "$vhost" "$user" "${perm[0]}" "${perm[1]}" "${perm[2]}" >/dev/null
  if [ -n "$pass" ]; then
    echo "WARREN_$(echo "$svc" | tr a-z A-Z)_URL=amqp://$user:$pass@$host/$vhost" >>"$out"
  else
    echo "# $user: password unchanged (set $var to rotate it)" >>"$out"
  fi
done
# The operator declares the topology once; the services, without configure rights, only verify it.
op_url=$(grep '^WARREN_OPERATOR_URL=' "$out" | cut -d= -f2- || true)
if [ -n "$op_url" ]; then
  "$cli" --amqp-url "$op_url" --log-level error topology apply --recreate-empty >&2
else
  say "operator password unchanged: run \`$cli --amqp-url <operator url> topology apply\` yourself"
fi
say "vhost $vhost ready; URLs in $out"
