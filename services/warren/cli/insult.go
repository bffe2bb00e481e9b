package cli

import (
	"context"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/warren-mq/warren/shared/command"
	"github.com/warren-mq/warren/shared/event"
)

// insultLine is one insult in -o json output.
type insultLine struct {
	Insult string `json:"insult"`
}

func insultCmd(c *client) *cobra.Command {
	cmd := command.Group(&cobra.Command{
		Use:   "insult",
		Short: "Manage the insult catalogue: add, rm, ls, random",
		Long: `Asks the insult service (warren-insult) over warren.insult. The catalogue lives in the broker: it survives
restarts and every replica, and every filter worker, sees each change.`,
	})
	change := func(use, op, short, done, unchanged string) *cobra.Command {
		sub := &cobra.Command{
			Use:   use + " INSULT...",
			Short: short,
			Long:  short + ". The words are joined with spaces; case and surrounding space do not matter.",
			Args:  cobra.MinimumNArgs(1),
		}
		sub.RunE = func(cmd *cobra.Command, args []string) error {
			return c.connected(cmd, func(ctx context.Context) error {
				r, err := c.call(ctx, event.InsultRequest{Op: op, Insult: strings.Join(args, " ")})
				if err != nil {
					return err
				}
				verb := done
				if r.Changed != nil && !*r.Changed {
					verb = unchanged
				}
				c.printf("%s: %s\n", r.Insult, verb)
				return nil
			})
		}
		return sub
	}
	// read is a command that prints insults: one per line, or {"insult": "..."} per line with -o json.
	read := func(use, op, short, long string, insults func(event.InsultReply) []string) *cobra.Command {
		var o output
		sub := &cobra.Command{Use: use, Short: short, Long: long, Args: cobra.NoArgs}
		sub.RunE = func(cmd *cobra.Command, args []string) error {
			if err := o.check(); err != nil {
				return err
			}
			return c.connected(cmd, func(ctx context.Context) error {
				r, err := c.call(ctx, event.InsultRequest{Op: op})
				if err != nil {
					return err
				}
				for _, in := range insults(r) {
					if o.json {
						o.emit(c.out, insultLine{Insult: in})
					} else {
						c.printf("%s\n", in)
					}
				}
				return nil
			})
		}
		o.add(sub)
		return sub
	}
	rm := change("rm", event.OpRemove, "Remove an insult from the catalogue", "removed", "was not catalogued")
	rm.Aliases = []string{"remove"}
	ls := read("ls", event.OpList, "List the catalogue, sorted",
		`Prints every insult, one per line, sorted. With -o json: {"insult": "..."} per line.`,
		func(r event.InsultReply) []string {
			sorted := append([]string(nil), r.Insults...)
			sort.Strings(sorted)
			return sorted
		})
	ls.Aliases = []string{"list"}
	cmd.AddCommand(
		change("add", event.OpAdd, "Add an insult to the catalogue", "added", "already catalogued"), rm, ls,
		read("random", event.OpRandom, "Print one insult picked at random",
			`Prints one insult from the catalogue, picked at random. With -o json: {"insult": "..."}.`,
			func(r event.InsultReply) []string { return []string{r.Insult} }))
	return cmd
}
