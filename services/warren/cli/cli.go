// Package cli is the `warren` command for people: publish texts, subscribe to broadcasts, manage insults,
// switch broadcasting, tail results, watch the master's scaling and inspect dead letters.
package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
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

// Long is the root command's description, printed by `warren --help`.
const long = `Warren's command line: publish texts to the filter pool, follow broadcasts and results, manage the insult
catalogue, switch the periodic broadcast, watch the master's scaling decisions and handle dead letters.

The broker URL comes from --amqp-url, else WARREN_AMQP_URL, else amqp.url in the configuration file
(--config, WARREN_CONFIG, or configs/warren.yaml when present), else amqp://guest:guest@127.0.0.1:5672/.

Exit status: 0 on success, 1 when the command fails (the broker cannot be reached, a service does not answer,
a dead letter is not found), 2 for a usage or configuration error (found before anything is dialled).`

// New returns the warren command line; publish reads texts from stdin when given neither texts nor --file.
func New(stdin io.Reader) *command.Program {
	p := command.New("warren", "Publish, follow and manage a Warren system", long)
	c := &client{p: p, stdin: stdin}
	p.Root.PersistentFlags().DurationVar(&c.timeout, "timeout", 10*time.Second, "how long to wait for the broker and for replies")
	p.Root.AddCommand(publishCmd(c), subscribeCmd(c), insultCmd(c), broadcastCmd(c), resultsCmd(c), watchCmd(c), lanesCmd(c),
		deadCmd(c), topologyCmd(c))
	p.EnableCompletion()
	return p
}

// client is what every subcommand shares: the program's flags, and the connection once a command, its
// arguments checked, asks for it.
type client struct {
	p       *command.Program
	stdin   io.Reader
	timeout time.Duration
	cfg     config.Config
	conn    *amqp.Connection
	out     io.Writer
	err     io.Writer
}

// connected runs fn on a connection to the broker, the topology the commands use declared.
func (c *client) connected(cmd *cobra.Command, fn func(ctx context.Context) error) error {
	return c.session(cmd, "warren-cli", true, fn)
}

// session loads the configuration, dials the broker as name and, with declare, declares the topology; then it
// runs fn and closes the connection. Commands call it only after their arguments are checked, so a usage error
// never waits for a broker.
func (c *client) session(cmd *cobra.Command, name string, declare bool, fn func(ctx context.Context) error) error {
	c.out, c.err = cmd.OutOrStdout(), cmd.ErrOrStderr()
	cfg, err := c.p.Config()
	if err != nil {
		return err
	}
	c.cfg = cfg
	opts, err := amqpx.FromConfig(cfg.AMQP, name)
	if err != nil {
		return &command.UsageError{Err: err}
	}
	dctx, cancel := context.WithTimeout(cmd.Context(), c.timeout)
	conn, err := amqpx.Dial(dctx, opts)
	cancel()
	if err != nil {
		return err
	}
	defer conn.Close()
	if declare {
		if err := amqpx.DeclareTopology(conn, cfg.Topology()); err != nil {
			return err
		}
	}
	c.conn = conn
	return fn(cmd.Context())
}

func (c *client) printf(format string, args ...any) { fmt.Fprintf(c.out, format, args...) }

func publishCmd(c *client) *cobra.Command {
	var file, to, key string
	var wait bool
	cmd := &cobra.Command{
		Use:   "publish [TEXT...]",
		Short: "Publish texts to warren.filter (or --file F, or stdin lines); --wait prints each result",
		Long: `Publishes each TEXT as one event: {"id": ..., "text": ...}. Without TEXT it publishes each non-empty line of
--file, or of stdin. Each event is confirmed by the broker before the next; --wait instead waits for each
text's result and prints it: <id> TAB <censored text> TAB (<n> censored). --key sets the events' fairness key
(header x-warren-key): a pool with lanes serves keys in different lanes fairly (see 'warren lanes').`,
		Example: `  warren publish "you idiot" "hello"
  warren publish --wait "You IDIOT!"
  warren publish --file texts.txt
  warren publish --to broadcaster "hello, everyone"
  warren publish --key tenant-a "from tenant a"`,
		RunE: func(cmd *cobra.Command, args []string) error {
			exchange := map[string]string{"filter": topology.FilterExchange, "broadcaster": topology.BroadcasterExchange}[to]
			if exchange == "" {
				return command.Usagef("--to must be filter or broadcaster, got %q", to)
			}
			if wait && to != "filter" {
				return command.Usagef("--wait works with --to filter only")
			}
			if err := topology.ValidateKey(key); err != nil {
				return command.Usagef("--key: %v", err)
			}
			texts, err := inputs(args, file, c.stdin)
			if err != nil {
				return err
			}
			return c.connected(cmd, func(ctx context.Context) error { return c.publish(ctx, exchange, key, texts, wait) })
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "publish each line of this file")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait for each text's result and print it")
	cmd.Flags().StringVar(&to, "to", "filter", "pool to publish to: filter or broadcaster")
	cmd.Flags().StringVar(&key, "key", "", "fairness key of the events (header x-warren-key; at most 255 bytes)")
	return cmd
}

func (c *client) publish(ctx context.Context, exchange, key string, texts []string, wait bool) error {
	pub, err := amqpx.NewPublisher(c.conn)
	if err != nil {
		return err
	}
	defer pub.Close()
	for i, text := range texts {
		if err := event.CheckSize([]byte(text), c.cfg.AMQP.MaxBody); err != nil {
			return fmt.Errorf("text %d: %w", i+1, err)
		}
		id := fmt.Sprintf("cli-%d-%d", time.Now().UnixNano(), i)
		body, _ := json.Marshal(event.Text{ID: id, Text: text})
		msg := amqp.Publishing{ContentType: event.ContentJSON, DeliveryMode: amqp.Persistent, MessageId: id, Body: body}
		if key != "" {
			msg.Headers = amqp.Table{topology.HeaderKey: key}
		}
		if wait {
			wctx, cancel := context.WithTimeout(ctx, c.timeout)
			d, err := amqpx.Call(wctx, c.conn, exchange, "", msg)
			cancel()
			if err != nil {
				return fmt.Errorf("waiting for the result of %s: %w (is a filter worker running?)", id, err)
			}
			var r event.Result
			if err := json.Unmarshal(d.Body, &r); err != nil {
				return fmt.Errorf("unreadable result: %w", err)
			}
			c.printf("%s\t%s\t(%d censored)\n", r.ID, r.Text, r.Censored)
			continue
		}
		if err := pub.Publish(ctx, exchange, "", msg); err != nil {
			return err
		}
		c.printf("published %s\n", id)
	}
	return nil
}

// inputs returns the texts to publish: the arguments, else the file's lines, else stdin's lines.
func inputs(args []string, file string, stdin io.Reader) ([]string, error) {
	if len(args) > 0 && file != "" {
		return nil, command.Usagef("give texts or --file, not both")
	}
	if len(args) > 0 {
		return args, nil
	}
	r := stdin
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return nil, &command.UsageError{Err: err}
		}
		defer f.Close()
		r = f
	}
	if r == nil {
		return nil, command.Usagef("nothing to publish: give texts, --file, or lines on stdin")
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
		return nil, fmt.Errorf("read input: %w", err)
	}
	if len(out) == 0 {
		return nil, command.Usagef("nothing to publish: give texts, --file, or lines on stdin")
	}
	return out, nil
}

func subscribeCmd(c *client) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "subscribe",
		Short: "Print broadcasts until Ctrl-C",
		Long: `Binds a private queue to the warren.broadcast fanout and prints every broadcast until Ctrl-C:
<time> TAB <type> TAB <text>.`,
		Args: cobra.NoArgs,
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return c.connected(cmd, func(ctx context.Context) error {
			fmt.Fprintf(c.err, "subscribed to %s; Ctrl-C to stop\n", topology.BroadcastExchange)
			return c.follow(ctx, topology.BroadcastExchange, func(d amqp.Delivery) {
				var b event.Broadcast
				if json.Unmarshal(d.Body, &b) == nil && b.Text != "" {
					c.printf("%s\t%s\t%s\n", b.At.Local().Format("15:04:05"), b.Type, b.Text)
				} else {
					c.printf("%s\n", d.Body)
				}
			})
		})
	}
	return cmd
}

// follow hands what a fanout exchange carries to show, through a private queue, until ctx ends (Ctrl-C).
func (c *client) follow(ctx context.Context, exchange string, show func(amqp.Delivery)) error {
	return amqpx.Follow(ctx, c.conn, exchange, 10000, show)
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

func broadcastCmd(c *client) *cobra.Command {
	cmd := command.Group(&cobra.Command{
		Use:   "broadcast",
		Short: "Switch the periodic insult broadcast on or off",
		Long: `While broadcasting is on, one broadcaster sends a random insult to warren.broadcast every 5 s, however
many broadcasters run. The switch goes through the insult service, so every broadcaster sees it.`,
	})
	for _, state := range []string{"on", "off"} {
		sub := &cobra.Command{
			Use:   state,
			Short: "Switch broadcasting " + state,
			Args:  cobra.NoArgs,
		}
		sub.RunE = func(cmd *cobra.Command, _ []string) error {
			return c.connected(cmd, func(ctx context.Context) error {
				if _, err := c.call(ctx, event.InsultRequest{Op: "broadcast_" + state}); err != nil {
					return err
				}
				c.printf("broadcasting %s\n", state)
				return nil
			})
		}
		cmd.AddCommand(sub)
	}
	return cmd
}

func resultsCmd(c *client) *cobra.Command {
	var once bool
	var limit int
	var o output
	cmd := &cobra.Command{
		Use:   "results",
		Short: "Consume and print results from warren.results",
		Long: `Consumes warren.results (acknowledging each result, so each is printed once by one reader) and prints
<id> TAB <censored text> TAB (<n> censored), until Ctrl-C, --once (the queue is empty) or -n N results.

With -o json, one object per result: {"id","text","censored","sent_at"} as the filter published it
(sent_at only when the event carried it); a body that is not a result prints as {"raw": "<body>"}.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.check(); err != nil {
				return err
			}
			if limit < 0 {
				return command.Usagef("-n must be >= 0, got %d", limit)
			}
			return c.connected(cmd, func(ctx context.Context) error { return c.results(ctx, once, limit, o) })
		},
	}
	cmd.Flags().BoolVar(&once, "once", false, "stop when the queue is empty instead of following it")
	cmd.Flags().IntVarP(&limit, "count", "n", 0, "stop after N results")
	o.add(cmd)
	return cmd
}

func (c *client) results(ctx context.Context, once bool, limit int, o output) error {
	ch, err := c.conn.Channel()
	if err != nil {
		return err
	}
	defer ch.Close()
	if err := ch.Qos(100, 0, false); err != nil {
		return err
	}
	msgs, err := ch.Consume(topology.Results, "", false, false, false, false, nil)
	if err != nil {
		return fmt.Errorf("consume %s: %w", topology.Results, err)
	}
	n := 0
	for {
		idle := time.After(time.Hour)
		if once {
			idle = time.After(500 * time.Millisecond)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-idle:
			return nil
		case d, ok := <-msgs:
			if !ok {
				return fmt.Errorf("connection to the broker lost")
			}
			var r event.Result
			readable := json.Unmarshal(d.Body, &r) == nil
			switch {
			case o.json && readable:
				o.emit(c.out, r)
			case o.json:
				o.emit(c.out, struct {
					Raw string `json:"raw"`
				}{string(d.Body)})
			case readable:
				c.printf("%s\t%s\t(%d censored)\n", r.ID, r.Text, r.Censored)
			default:
				c.printf("%s\n", d.Body)
			}
			_ = d.Ack(false)
			if n++; limit > 0 && n >= limit {
				return nil
			}
		}
	}
}
