package cli

import (
	"context"
	"encoding/json"
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warren-mq/warren/shared/event"
	"github.com/warren-mq/warren/shared/topology"
)

// watch prints the master's status messages, one line per pool and evaluation.
func watch(ctx context.Context, c *client, args []string) error {
	if len(args) > 0 {
		return usagef("watch takes no arguments")
	}
	c.printf("%-8s %-12s %10s %8s %-34s %6s %7s %7s  %s\n", "time", "pool", "lambda/s", "backlog", "capacity/s (source, reports, age)", "tr", "current", "desired", "reason")
	return c.follow(ctx, "watch", topology.StatusExchange, func(d amqp.Delivery) {
		var s event.PoolStatus
		if json.Unmarshal(d.Body, &s) != nil {
			return
		}
		c.printf("%-8s %-12s %10.1f %8d %-34s %5.1fs %7d %7d  %s\n", s.At.Local().Format("15:04:05"), s.Pool,
			s.Lambda, s.Backlog, capacityText(s), s.Tr, s.Current, s.Desired, s.Reason)
	})
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
