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
	c.printf("%-8s %-12s %10s %8s %-18s %6s %7s %7s  %s\n", "time", "pool", "lambda/s", "backlog", "capacity/s", "tr", "current", "desired", "reason")
	return c.follow(ctx, "watch", topology.StatusExchange, func(d amqp.Delivery) {
		var s event.PoolStatus
		if json.Unmarshal(d.Body, &s) != nil {
			return
		}
		capacity := fmt.Sprintf("%.0f (%s)", s.Capacity, s.CapacitySource)
		c.printf("%-8s %-12s %10.1f %8d %-18s %5.1fs %7d %7d  %s\n", s.At.Local().Format("15:04:05"), s.Pool,
			s.Lambda, s.Backlog, capacity, s.Tr, s.Current, s.Desired, s.Reason)
	})
}
