package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/spf13/cobra"

	"github.com/warren-mq/warren/shared/amqpx"
	"github.com/warren-mq/warren/shared/command"
	"github.com/warren-mq/warren/shared/config"
	"github.com/warren-mq/warren/shared/event"
	"github.com/warren-mq/warren/shared/topology"
)

// laneRow is one lane as `warren lanes` shows it; its JSON is the command's -o json record.
type laneRow struct {
	Pool      string           `json:"pool"`
	Lane      int              `json:"lane"`
	Queue     string           `json:"queue"`
	Ready     int              `json:"ready"`
	Consumers int              `json:"consumers"`
	Pinned    []string         `json:"pinned,omitempty"`
	Keys      []event.KeyCount `json:"keys"`
	Other     int              `json:"other_keys,omitempty"`
	// Leftover marks a lane queue beyond the configured count: what it holds is served by no one.
	Leftover bool `json:"leftover,omitempty"`
	// KeysKnown is false when no master status arrived in time, so Keys says nothing.
	KeysKnown bool `json:"keys_known"`
}

func lanesCmd(c *client) *cobra.Command {
	var o output
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "lanes [POOL]",
		Short: "List each pool's lanes with their depth and the fairness keys seen in each lately",
		Long: `Lists the lanes of the filter and broadcaster pools (or of POOL): each lane queue's ready messages and
consumers, the keys pinned to it (lanes.<pool>.pin), and the fairness keys the workers took from it in the
last 30 s, from the master's status (it waits up to --wait for one). Keys listed in the same lane share its
FIFO: that is a collision, and pinning one of them to another lane separates them. A lane queue beyond
lanes.<pool>.count (left by an earlier configuration) is listed as a leftover: no worker consumes it.

With -o json, one object per lane: pool, lane, queue, ready, consumers, pinned, keys ([{key, events}]),
other_keys, leftover, keys_known.`,
		Example: `  warren lanes
  warren lanes filter -o json`,
		Args: cobra.MaximumNArgs(1),
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := o.check(); err != nil {
			return err
		}
		pools := topology.Pools
		if len(args) == 1 {
			p, ok := topology.PoolNamed(args[0])
			if !ok {
				return command.Usagef("no pool %q: the pools are filter and broadcaster", args[0])
			}
			pools = []topology.Pool{p}
		}
		if wait < 0 {
			return command.Usagef("--wait must not be negative")
		}
		return c.connected(cmd, func(ctx context.Context) error {
			rows, err := c.lanes(ctx, pools, wait)
			if err != nil {
				return err
			}
			if o.json {
				for _, r := range rows {
					o.emit(c.out, r)
				}
				return nil
			}
			c.printLanes(rows, wait)
			return nil
		})
	}
	cmd.Flags().DurationVar(&wait, "wait", 3*time.Second, "how long to wait for the master's status (the keys seen lately)")
	o.add(cmd)
	return cmd
}

// lanes measures every lane of pools and fills in the keys from the master's latest status.
func (c *client) lanes(ctx context.Context, pools []topology.Pool, wait time.Duration) ([]laneRow, error) {
	var rows []laneRow
	for _, p := range pools {
		count := max(c.cfg.Lanes[p.Name].Count, 1)
		pinned := map[int][]string{}
		for key, lane := range c.cfg.Topology().Lanes[p.Name].Pins {
			pinned[lane] = append(pinned[lane], key)
		}
		// Configured lanes, then any leftover lane queues beyond them, up to the first that does not exist.
		for i := 0; i < config.MaxLanes; i++ {
			q := p.Lanes(i + 1)[i]
			ready, consumers, err := amqpx.QueueDepth(c.conn, q)
			if err != nil {
				var ae *amqp.Error
				if i >= count && errors.As(err, &ae) && ae.Code == amqp.NotFound {
					break
				}
				return nil, err
			}
			sort.Strings(pinned[i])
			rows = append(rows, laneRow{Pool: p.Name, Lane: i, Queue: q, Ready: ready, Consumers: consumers,
				Pinned: pinned[i], Keys: []event.KeyCount{}, Leftover: i >= count})
		}
	}
	statuses, err := c.latestStatuses(ctx, pools, wait)
	if err != nil {
		return nil, err
	}
	for i := range rows {
		st, ok := statuses[rows[i].Pool]
		if !ok {
			continue
		}
		rows[i].KeysKnown = true
		for _, l := range st.Lanes {
			if l.Lane == rows[i].Lane && l.Keys != nil {
				rows[i].Keys, rows[i].Other = l.Keys, l.Other
			}
		}
	}
	return rows, nil
}

// latestStatuses waits up to wait for one master status of each of pools, by topology pool name. A master
// pool serves the topology pool its service names.
func (c *client) latestStatuses(ctx context.Context, pools []topology.Pool, wait time.Duration) (map[string]event.PoolStatus, error) {
	out := map[string]event.PoolStatus{}
	if wait == 0 {
		return out, nil
	}
	wanted := map[string]bool{}
	for _, p := range pools {
		wanted[p.Name] = true
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	err := c.follow(wctx, topology.StatusExchange, func(d amqp.Delivery) {
		var s event.PoolStatus
		if json.Unmarshal(d.Body, &s) != nil {
			return
		}
		name := s.Pool
		if pc, ok := c.cfg.Master.Pools[s.Pool]; ok {
			name = pc.Service
		}
		if !wanted[name] {
			return
		}
		out[name] = s
		if len(out) == len(wanted) {
			cancel()
		}
	})
	if err != nil && wctx.Err() == nil {
		return nil, err
	}
	return out, nil
}

func (c *client) printLanes(rows []laneRow, wait time.Duration) {
	c.printf("%-12s %4s  %-26s %8s %9s  %s\n", "pool", "lane", "queue", "ready", "consumers", "keys lately (events in the last 30s)")
	for _, r := range rows {
		c.printf("%-12s %4d  %-26s %8d %9d  %s\n", r.Pool, r.Lane, r.Queue, r.Ready, r.Consumers, keysText(r, wait))
	}
}

// keysText says which keys a lane served lately, flags a lane shared by several keys, and names its pins.
func keysText(r laneRow, wait time.Duration) string {
	var parts []string
	switch {
	case r.Leftover:
		parts = append(parts, "leftover lane beyond lanes."+r.Pool+".count: no worker consumes it")
	case !r.KeysKnown:
		parts = append(parts, fmt.Sprintf("(no master status within %v)", wait))
	case len(r.Keys) == 0 && r.Other == 0:
		parts = append(parts, "-")
	default:
		keys := make([]string, 0, len(r.Keys))
		for _, k := range r.Keys {
			keys = append(keys, strconv.Quote(k.Key)+" "+strconv.Itoa(k.Events))
		}
		if r.Other > 0 {
			keys = append(keys, "others "+strconv.Itoa(r.Other))
		}
		parts = append(parts, strings.Join(keys, ", "))
		if len(r.Keys) > 1 || r.Other > 0 {
			parts = append(parts, "[shared]")
		}
	}
	if len(r.Pinned) > 0 {
		parts = append(parts, "pinned: "+strings.Join(r.Pinned, ", "))
	}
	return strings.Join(parts, "  ")
}
