package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/spf13/cobra"

	"github.com/warren-mq/warren/shared/event"
	"github.com/warren-mq/warren/shared/topology"
)

func watchCmd(c *client) *cobra.Command {
	var o output
	cmd := &cobra.Command{
		Use:   "watch",
		Short: "Print the master's view of every pool after each evaluation (Ctrl-C stops)",
		Long: `Follows warren.status, where the leading master publishes each pool's state after every evaluation, and
prints one line per pool and evaluation: arrival rate λ, backlog B, capacity C (where it came from, from how
many worker reports, how old), Tr, current and desired workers, and the reason.

With -o json, each status message as the master published it, one per line. Its fields: pool, at, lambda,
lambda_raw (events/s), backlog, ready, in_flight, capacity (events/s per worker), capacity_source,
capacity_reports, capacity_age_s, formula, target_utilization, tr_s, current, desired, raw, reason,
consumers, dry_run, leader (see shared/event.PoolStatus).`,
		Args: cobra.NoArgs,
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := o.check(); err != nil {
			return err
		}
		return c.connected(cmd, func(ctx context.Context) error {
			if !o.json {
				c.printf("%-8s %-12s %10s %8s %-34s %6s %7s %7s  %s\n", "time", "pool", "lambda/s", "backlog",
					"capacity/s (source, reports, age)", "tr", "current", "desired", "reason")
			}
			return c.follow(ctx, topology.StatusExchange, func(d amqp.Delivery) {
				var s event.PoolStatus
				if json.Unmarshal(d.Body, &s) != nil {
					return
				}
				if o.json {
					// The master's own encoding, so fields it adds later reach scripts too; compacted to one line.
					var line bytes.Buffer
					if json.Compact(&line, d.Body) == nil {
						c.printf("%s\n", line.Bytes())
					}
					return
				}
				c.printf("%-8s %-12s %10.1f %8d %-34s %5.1fs %7d %7d  %s\n", s.At.Local().Format("15:04:05"), s.Pool,
					s.Lambda, s.Backlog, capacityText(s), s.Tr, s.Current, s.Desired, s.Reason)
			})
		})
	}
	o.add(cmd)
	return cmd
}

// capacityText says what C is, where it came from, from how many worker reports and how old that evidence is.
func capacityText(s event.PoolStatus) string {
	switch {
	case s.CapacityReports > 0:
		return fmt.Sprintf("%.0f (%s, %d reports, %.0fs)", s.Capacity, s.CapacitySource, s.CapacityReports, s.CapacityAge)
	case s.CapacityAge > 0:
		return fmt.Sprintf("%.0f (%s, %.0fs old)", s.Capacity, s.CapacitySource, s.CapacityAge)
	default:
		return fmt.Sprintf("%.0f (%s)", s.Capacity, s.CapacitySource)
	}
}
