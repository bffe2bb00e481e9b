package proc

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func TestReadSelf(t *testing.T) {
	before, err := Read(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Burn a little CPU so the counter moves.
	deadline := time.Now().Add(150 * time.Millisecond)
	x := 0
	for time.Now().Before(deadline) {
		x++
	}
	after, err := Read(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if after.CPU <= before.CPU || after.RSS < 1<<20 {
		t.Errorf("before %+v after %+v: CPU must grow and RSS be at least 1 MiB", before, after)
	}
	if c := Cores(before, after, 150*time.Millisecond); c <= 0 || c > 2 {
		t.Errorf("cores %.2f over a busy loop", c)
	}
}

func TestChildStop(t *testing.T) {
	log := filepath.Join(t.TempDir(), "child.log")
	c, err := Start(Spec{Name: "sleeper", Path: "/bin/sh", Args: []string{"-c", "echo started; exec sleep 30"}, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	if c.Pid() <= 0 || c.Exited() {
		t.Fatalf("pid %d exited %v", c.Pid(), c.Exited())
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if data, _ := os.ReadFile(log); len(data) > 0 {
			break
		}
	}
	// sleep dies on SIGTERM. Stop returns an error only when it had to SIGKILL after the grace, and the exit
	// status names the signal that ended the child: both say SIGTERM did it, without timing the stop.
	const grace = 30 * time.Second
	if err := c.Stop(context.Background(), grace); err != nil {
		t.Fatal(err)
	}
	if !c.Exited() {
		t.Fatal("Stop returned before the child exited")
	}
	if ws, ok := c.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
		t.Errorf("the child was not ended by SIGTERM: %v", c.cmd.ProcessState)
	}
	if data, _ := os.ReadFile(log); string(data) != "started\n" {
		t.Errorf("log %q", data)
	}
}
