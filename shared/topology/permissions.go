package topology

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Permission is one user's RabbitMQ permission triple on Warren's vhost: regular expressions over the resource
// names it may configure (declare, delete), write (publish to an exchange, bind a queue) and read (consume,
// get, purge a queue; bind from an exchange).
type Permission struct {
	Configure, Write, Read string
}

// Roles, each a RabbitMQ user with only what its code uses. The broker checks publishes against the exchange
// only, so write on the default exchange (amq.default) would let a user write into every queue: only services
// that reply to reply_to queues or append to the catalogue stream have it, never a client. Read includes
// purge, so a worker could purge its own pool's work queue, but no other queue.
const (
	RoleOperator    = "operator"
	RoleMaster      = "master"
	RoleFilter      = "filter"
	RoleBroadcaster = "broadcaster"
	RoleInsult      = "insult"
	RoleClient      = "client"
)

// names builds an anchored alternation of literal resource names and raw patterns.
func names(literals []string, patterns ...string) string {
	alts := make([]string, 0, len(literals)+len(patterns))
	for _, l := range literals {
		alts = append(alts, regexp.QuoteMeta(l))
	}
	alts = append(alts, patterns...)
	if len(alts) == 0 {
		return "^$"
	}
	return "^(" + strings.Join(alts, "|") + ")$"
}

// Server-named queues (subscriptions, reply queues) and direct reply-to.
const (
	serverNamed   = `amq\.gen-.*`
	directReplyTo = `amq\.rabbitmq\.reply-to.*`
	defaultEx     = "amq.default"
	catalogue     = `warren\.insults\..*`
)

// lanes matches a pool's lane queues other than lane 0, its work queue (see LaneQueues).
func lanes(work string) string { return regexp.QuoteMeta(work) + `\.[0-9]+` }

// Permissions returns a role's permission triple. readResults lets a client consume the shared warren.results
// queue (results of events published without reply_to); without it a client reads only its own reply queues.
func Permissions(role string, readResults bool) (Permission, error) {
	switch role {
	case RoleOperator:
		return Permission{".*", ".*", ".*"}, nil
	case RoleMaster:
		counts := make([]string, 0, len(Pools))
		for _, p := range Pools {
			counts = append(counts, p.Count)
		}
		return Permission{
			Configure: names([]string{MasterLeader}, serverNamed),
			Write:     names([]string{StatusExchange, defaultEx}, serverNamed),
			Read:      names(append(counts, StatsExchange, MasterState, MasterLeader), serverNamed),
		}, nil
	case RoleFilter:
		return Permission{
			Configure: names(nil),
			Write:     names([]string{defaultEx, DeadExchange, StatsExchange}),
			Read:      names([]string{FilterWork, InsultLog}, catalogue, lanes(FilterWork)),
		}, nil
	case RoleBroadcaster:
		return Permission{
			Configure: names([]string{BroadcasterLeader}),
			Write:     names([]string{BroadcastExchange, defaultEx, DeadExchange, StatsExchange}),
			Read:      names([]string{BroadcasterWork, BroadcasterLeader, InsultLog}, catalogue, lanes(BroadcasterWork)),
		}, nil
	case RoleInsult:
		return Permission{
			Configure: names(nil),
			Write:     names([]string{defaultEx, DeadExchange, StatsExchange}),
			Read:      names([]string{InsultRPC, InsultLog}, catalogue),
		}, nil
	case RoleClient:
		read := []string{BroadcastExchange, StatusExchange}
		if readResults {
			read = append(read, Results)
		}
		return Permission{
			Configure: names(nil, serverNamed),
			Write:     names([]string{FilterExchange, BroadcasterExchange, InsultExchange}, serverNamed),
			Read:      names(read, serverNamed, directReplyTo),
		}, nil
	}
	return Permission{}, fmt.Errorf("unknown role %q (roles: %s)", role, strings.Join(RoleNames(), ", "))
}

// RoleNames lists the roles, sorted.
func RoleNames() []string {
	r := []string{RoleOperator, RoleMaster, RoleFilter, RoleBroadcaster, RoleInsult, RoleClient}
	sort.Strings(r)
	return r
}
