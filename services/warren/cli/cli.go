// Package cli is the `warren` command for people: publish texts, subscribe to broadcasts, manage insults,
// switch broadcasting, tail results and inspect dead letters.
package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/spf13/pflag"

	"github.com/warren-mq/warren/shared/amqpx"
	"github.com/warren-mq/warren/shared/config"
	"github.com/warren-mq/warren/shared/event"
	"github.com/warren-mq/warren/shared/topology"
)

// Usage is printed by `warren help` and on a usage error.
const Usage = `usage: warren [--amqp-url URL] [--config FILE] <command> [args]

commands:
  publish [TEXT...]          publish texts to warren.filter (or --file F, or stdin lines); --wait prints results
  subscribe                  print broadcasts until Ctrl-C
  insult add|rm|ls|random    manage the insult catalogue
  broadcast on|off           switch the periodic insult broadcast
  results [--once] [-n N]    consume and print results from warren.results
  watch                      print the master's view of every pool after each evaluation (Ctrl-C stops)
  dead [ls|show ID|requeue ID|requeue --all]
                             inspect dead letters and their reasons, or send them back to be processed
  topology apply [--recreate-empty]
                             declare every exchange and queue (as an operator; services may then run without
                             configure rights)
  topology verify            check that every exchange and queue exists
  topology permissions ROLE [--read-results]
                             print a role's RabbitMQ permissions: configure, write, read (one per line)
`

// IO is where the command reads and writes.
type IO struct {
	In       io.Reader
	Out, Err io.Writer
}

// UsageError marks a mistake in the command line; main exits 2 for it.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

func usagef(format string, args ...any) error { return &UsageError{fmt.Sprintf(format, args...)} }

// Run executes one command line.
func Run(ctx context.Context, args []string, stdio IO) error {
	fs := pflag.NewFlagSet("warren", pflag.ContinueOnError)
	fs.SetInterspersed(false)
	fs.SetOutput(io.Discard)
	var f config.Flags
	config.AddFlags(fs, &f)
	timeout := fs.Duration("timeout", 10*time.Second, "how long to wait for replies")
	if err := fs.Parse(args); err != nil {
		return usagef("%v", err)
	}
	rest := fs.Args()
	if len(rest) == 0 || rest[0] == "help" || rest[0] == "-h" || rest[0] == "--help" {
		fmt.Fprint(stdio.Out, Usage)
		return nil
	}
	cfg, err := config.Load(f)
	if err != nil {
		return err
	}
	cmd, cmdArgs := rest[0], rest[1:]
	if cmd == "topology" {
		return topologyCmd(ctx, cfg, cmdArgs, stdio)
	}
	run, ok := map[string]func(context.Context, *client, []string) error{
		"publish": publish, "subscribe": subscribe, "insult": insult, "broadcast": broadcast,
		"results": results, "dead": dead, "watch": watch,
	}[cmd]
	if !ok {
		return usagef("unknown command %q (try `warren help`)", cmd)
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	opts, err := amqpx.FromConfig(cfg.AMQP, "warren-cli")
	if err != nil {
		cancel()
		return err
	}
	conn, err := amqpx.Dial(dctx, opts)
	cancel()
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := amqpx.DeclareTopology(conn, topology.Options{DeliveryLimit: cfg.AMQP.DeliveryLimit}); err != nil {
		return err
	}
	return run(ctx, &client{conn: conn, cfg: cfg, io: stdio, timeout: *timeout}, cmdArgs)
}

type client struct {
	conn    *amqp.Connection
	cfg     config.Config
	io      IO
	timeout time.Duration
}

func (c *client) printf(format string, args ...any) { fmt.Fprintf(c.io.Out, format, args...) }

func publish(ctx context.Context, c *client, args []string) error {
	fs := pflag.NewFlagSet("publish", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	file := fs.StringP("file", "f", "", "publish each line of this file")
	wait := fs.Bool("wait", false, "wait for each text's result and print it")
	to := fs.String("to", "filter", "pool to publish to: filter or broadcaster")
	if err := fs.Parse(args); err != nil {
		return usagef("publish: %v", err)
	}
	exchange := map[string]string{"filter": topology.FilterExchange, "broadcaster": topology.BroadcasterExchange}[*to]
	if exchange == "" {
		return usagef("publish: --to must be filter or broadcaster, got %q", *to)
	}
	if *wait && *to != "filter" {
		return usagef("publish: --wait works with --to filter only")
	}
	texts, err := inputs(fs.Args(), *file, c.io.In)
	if err != nil {
		return err
	}
	pub, err := amqpx.NewPublisher(c.conn)
	if err != nil {
		return err
	}
	defer pub.Close()
	for i, text := range texts {
		if err := event.CheckSize([]byte(text), c.cfg.AMQP.MaxBody); err != nil {
			return fmt.Errorf("publish: text %d: %w", i+1, err)
		}
		id := fmt.Sprintf("cli-%d-%d", time.Now().UnixNano(), i)
		body, _ := json.Marshal(event.Text{ID: id, Text: text})
		msg := amqp.Publishing{ContentType: event.ContentJSON, DeliveryMode: amqp.Persistent, MessageId: id, Body: body}
		if *wait {
			wctx, cancel := context.WithTimeout(ctx, c.timeout)
			d, err := amqpx.Call(wctx, c.conn, exchange, "", msg)
			cancel()
			if err != nil {
				return fmt.Errorf("publish: %w", err)
			}
			var r event.Result
			if err := json.Unmarshal(d.Body, &r); err != nil {
				return fmt.Errorf("publish: unreadable result: %w", err)
			}
			c.printf("%s\t%s\t(%d censored)\n", r.ID, r.Text, r.Censored)
			continue
		}
		if err := pub.Publish(ctx, exchange, "", msg); err != nil {
			return fmt.Errorf("publish: %w", err)
		}
		c.printf("published %s\n", id)
	}
	return nil
}

// inputs returns the texts to publish: the arguments, else the file's lines, else stdin's lines.
func inputs(args []string, file string, stdin io.Reader) ([]string, error) {
	if len(args) > 0 && file != "" {
		return nil, usagef("publish: give texts or --file, not both")
	}
	if len(args) > 0 {
		return args, nil
	}
	r := stdin
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return nil, fmt.Errorf("publish: %w", err)
		}
		defer f.Close()
		r = f
	}
	if r == nil {
		return nil, usagef("publish: nothing to publish")
	}
	var out []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	for sc.Scan() {
		if line := sc.Text(); strings.TrimSpace(line) != "" {
			out = append(out, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("publish: read input: %w", err)
	}
	if len(out) == 0 {
		return nil, usagef("publish: nothing to publish")
	}
	return out, nil
}

func subscribe(ctx context.Context, c *client, args []string) error {
	if len(args) > 0 {
		return usagef("subscribe takes no arguments")
	}
	fmt.Fprintf(c.io.Err, "subscribed to %s; Ctrl-C to stop\n", topology.BroadcastExchange)
	return c.follow(ctx, "subscribe", topology.BroadcastExchange, func(d amqp.Delivery) {
		var b event.Broadcast
		if json.Unmarshal(d.Body, &b) == nil && b.Text != "" {
			c.printf("%s\t%s\t%s\n", b.At.Local().Format("15:04:05"), b.Type, b.Text)
		} else {
			c.printf("%s\n", d.Body)
		}
	})
}

// follow hands what a fanout exchange carries to show, through a private queue, until ctx ends (Ctrl-C).
func (c *client) follow(ctx context.Context, cmd, exchange string, show func(amqp.Delivery)) error {
	if err := amqpx.Follow(ctx, c.conn, exchange, 10000, show); err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	return nil
}

func (c *client) call(ctx context.Context, req event.InsultRequest) (event.InsultReply, error) {
	body, _ := json.Marshal(req)
	wctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	d, err := amqpx.Call(wctx, c.conn, topology.InsultExchange, "", amqp.Publishing{ContentType: event.ContentJSON, Body: body})
	if err != nil {
		return event.InsultReply{}, fmt.Errorf("insult service: %w (is warren-insult running?)", err)
	}
	var r event.InsultReply
	if err := json.Unmarshal(d.Body, &r); err != nil {
		return r, fmt.Errorf("insult service: unreadable reply: %w", err)
	}
	if !r.OK {
		return r, fmt.Errorf("insult service: %s", r.Error)
	}
	return r, nil
}

func insult(ctx context.Context, c *client, args []string) error {
	if len(args) == 0 {
		return usagef("insult: want add|rm|ls|random")
	}
	op := map[string]string{"add": event.OpAdd, "rm": event.OpRemove, "remove": event.OpRemove, "ls": event.OpList,
		"list": event.OpList, "random": event.OpRandom}[args[0]]
	if op == "" {
		return usagef("insult: unknown subcommand %q (want add|rm|ls|random)", args[0])
	}
	needsArg := op == event.OpAdd || op == event.OpRemove
	if needsArg != (len(args) > 1) {
		if needsArg {
			return usagef("insult %s: give the insult", args[0])
		}
		return usagef("insult %s takes no arguments", args[0])
	}
	r, err := c.call(ctx, event.InsultRequest{Op: op, Insult: strings.Join(args[1:], " ")})
	if err != nil {
		return err
	}
	switch op {
	case event.OpList:
		sorted := append([]string(nil), r.Insults...)
		sort.Strings(sorted)
		for _, in := range sorted {
			c.printf("%s\n", in)
		}
	case event.OpRandom:
		c.printf("%s\n", r.Insult)
	default:
		verb := map[string]string{event.OpAdd: "added", event.OpRemove: "removed"}[op]
		if r.Changed != nil && !*r.Changed {
			verb = map[string]string{event.OpAdd: "already catalogued", event.OpRemove: "was not catalogued"}[op]
		}
		c.printf("%s: %s\n", r.Insult, verb)
	}
	return nil
}

func broadcast(ctx context.Context, c *client, args []string) error {
	if len(args) != 1 || (args[0] != "on" && args[0] != "off") {
		return usagef("broadcast: want on or off")
	}
	if _, err := c.call(ctx, event.InsultRequest{Op: "broadcast_" + args[0]}); err != nil {
		return err
	}
	c.printf("broadcasting %s\n", args[0])
	return nil
}

func results(ctx context.Context, c *client, args []string) error {
	fs := pflag.NewFlagSet("results", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	once := fs.Bool("once", false, "stop when the queue is empty instead of following it")
	limit := fs.IntP("count", "n", 0, "stop after N results")
	if err := fs.Parse(args); err != nil {
		return usagef("results: %v", err)
	}
	ch, err := c.conn.Channel()
	if err != nil {
		return fmt.Errorf("results: %w", err)
	}
	defer ch.Close()
	if err := ch.Qos(100, 0, false); err != nil {
		return fmt.Errorf("results: %w", err)
	}
	msgs, err := ch.Consume(topology.Results, "", false, false, false, false, nil)
	if err != nil {
		return fmt.Errorf("results: %w", err)
	}
	n := 0
	for {
		idle := time.After(time.Hour)
		if *once {
			idle = time.After(500 * time.Millisecond)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-idle:
			return nil
		case d, ok := <-msgs:
			if !ok {
				return errors.New("results: connection lost")
			}
			var r event.Result
			if json.Unmarshal(d.Body, &r) == nil {
				c.printf("%s\t%s\t(%d censored)\n", r.ID, r.Text, r.Censored)
			} else {
				c.printf("%s\n", d.Body)
			}
			_ = d.Ack(false)
			if n++; *limit > 0 && n >= *limit {
				return nil
			}
		}
	}
}
