package cli

import (
	"encoding/json"
	"io"

	"github.com/spf13/cobra"

	"github.com/warren-mq/warren/shared/command"
)

// output is the -o/--output (and --json) choice of the commands that print records: text for people, or one
// JSON object per line for scripts.
type output struct {
	format string
	json   bool
}

func (o *output) add(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&o.format, "output", "o", "text", "output format: text, or json (one JSON object per line)")
	cmd.Flags().BoolVar(&o.json, "json", false, "same as -o json")
}

// check validates the choice; call it before connecting.
func (o *output) check() error {
	switch o.format {
	case "json":
		o.json = true
	case "text":
	default:
		return command.Usagef("-o must be text or json, got %q", o.format)
	}
	return nil
}

// emit writes v as one line of JSON. Texts stay as they are: no HTML escaping of <, > and &.
func (o *output) emit(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}
