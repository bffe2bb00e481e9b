//go:build integration

package main

import (
	"context"
	"errors"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warren-mq/warren/shared/testkit"
)

// TestBadCredentialsExitWithOneClearLine runs the real binary: refused credentials or vhost must end it at once
// with exit status 1 and one error line naming the cause, not a reconnect loop that hides it.
func TestBadCredentialsExitWithOneClearLine(t *testing.T) {
	good, _ := url.Parse(testkit.Broker(t))
	bin := filepath.Join(t.TempDir(), "warren-filter")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	wrongPass := *good
	wrongPass.User = url.UserPassword(good.User.Username(), "wrong")
	noRights := *good
	noRights.Path = "/no-such-vhost"
	for name, tc := range map[string]struct{ url, want string }{
		"wrong password": {wrongPass.String(), "username or password not allowed"},
		"no vhost":       {noRights.String(), "NOT_ALLOWED"},
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin)
			cmd.Dir = t.TempDir()
			cmd.Env = append(os.Environ(), "WARREN_AMQP_URL="+tc.url, "WARREN_LOG_FORMAT=json")
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if ctx.Err() != nil || !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Fatalf("exit: %v (ctx %v)\n%s", err, ctx.Err(), out)
			}
			var errorLines []string
			for _, l := range strings.Split(string(out), "\n") {
				if strings.Contains(l, `"level":"error"`) {
					errorLines = append(errorLines, l)
				}
			}
			if len(errorLines) != 1 || !strings.Contains(errorLines[0], tc.want) || strings.Contains(string(out), ":wrong@") {
				t.Fatalf("want one error line containing %q (and no password), got:\n%s", tc.want, out)
			}
		})
	}
}
