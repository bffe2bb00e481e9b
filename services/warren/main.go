// Command warren is Warren's command line for people.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/warren-mq/warren/services/warren/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := cli.New(os.Stdin).Execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
