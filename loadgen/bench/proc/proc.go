// Package proc runs the benchmarks' child processes (filter workers, the master) and reads what a process
// costs from Linux's /proc: CPU time and resident memory. Benchmarks compare these between processes (the
// broker, the workers, the master), so every number comes from the same source.
package proc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTick is Linux's USER_HZ, the unit of utime and stime in /proc/<pid>/stat. It is 100 on every
// mainstream architecture; reading it properly needs sysconf, that is cgo, which the build turns off.
const clockTick = 100

// Usage is what a process has used so far.
type Usage struct {
	// CPU is user plus system time, of the process itself (not of its children).
	CPU time.Duration
	// RSS is the resident set size in bytes.
	RSS int64
}

// Read returns the usage of process pid.
func Read(pid int) (Usage, error) {
	var u Usage
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return u, fmt.Errorf("read cpu of %d: %w", pid, err)
	}
	// The command name, field 2, is in parentheses and may hold spaces; the fields after it are plain.
	end := bytes.LastIndexByte(data, ')')
	if end < 0 {
		return u, fmt.Errorf("read cpu of %d: malformed stat", pid)
	}
	fields := strings.Fields(string(data[end+1:]))
	// After the name: state is field 3, utime field 14 and stime field 15, so indexes 11 and 12 here.
	if len(fields) < 13 {
		return u, fmt.Errorf("read cpu of %d: short stat", pid)
	}
	ut, err1 := strconv.ParseInt(fields[11], 10, 64)
	st, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return u, fmt.Errorf("read cpu of %d: %w", pid, err)
	}
	u.CPU = time.Duration(ut+st) * time.Second / clockTick
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return u, fmt.Errorf("read memory of %d: %w", pid, err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return u, fmt.Errorf("read memory of %d: %w", pid, err)
			}
			u.RSS = kb * 1024
		}
	}
	return u, nil
}

// Cores returns the CPU used between two readings as a number of cores busy over wall: 0.5 is half a core.
func Cores(before, after Usage, wall time.Duration) float64 {
	if wall <= 0 {
		return 0
	}
	return (after.CPU - before.CPU).Seconds() / wall.Seconds()
}

// Child is a started child process.
type Child struct {
	// Name labels the child in errors and logs.
	Name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// Spec says how to start a child.
type Spec struct {
	// Name labels the child; Path and Args are the program and its arguments.
	Name, Path string
	Args       []string
	// Env is added to the benchmark's own environment; later entries win.
	Env []string
	// Dir is the working directory; the benchmarks use a scratch directory so that no configuration file of
	// the working tree changes what is measured.
	Dir string
	// Log receives stdout and stderr; empty discards them.
	Log string
}

// Start starts a child. It dies with the benchmark (SIGTERM on the parent's death), so an aborted run leaves
// no worker behind.
func Start(s Spec) (*Child, error) {
	cmd := exec.Command(s.Path, s.Args...)
	cmd.Env = append(os.Environ(), s.Env...)
	cmd.Dir = s.Dir
	if s.Log != "" {
		f, err := os.OpenFile(s.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("start %s: log: %w", s.Name, err)
		}
		defer f.Close() // the child has its own descriptor
		cmd.Stdout, cmd.Stderr = f, f
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", s.Name, err)
	}
	c := &Child{Name: s.Name, cmd: cmd, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

// Pid returns the child's process id.
func (c *Child) Pid() int { return c.cmd.Process.Pid }

// Exited reports whether the child has exited.
func (c *Child) Exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM, waits up to grace for the child to finish what it holds and exit, then kills it. It
// returns an error only when the child had to be killed.
func (c *Child) Stop(ctx context.Context, grace time.Duration) error {
	if c.Exited() {
		return nil
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-c.done:
		return nil
	case <-t.C:
	case <-ctx.Done():
	}
	_ = c.cmd.Process.Kill()
	<-c.done
	return fmt.Errorf("stop %s: killed after %s without exiting", c.Name, grace)
}
