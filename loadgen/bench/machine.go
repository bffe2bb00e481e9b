package bench

import (
	"context"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Machine describes where a benchmark ran, so numbers from different runs can be compared fairly.
type Machine struct {
	// At is when the suite started.
	At time.Time
	// Commit is the tree's commit.
	Commit string
	// Dirty says whether tracked files had uncommitted changes.
	Dirty bool
	// Cores is the number of logical CPUs.
	Cores int
	// CPU is the processor model.
	CPU string
	// Memory is the total RAM in bytes.
	Memory int64
	// Kernel and Go are the versions of the OS kernel and the Go toolchain of this binary.
	Kernel, Go string
	// RabbitMQ and Erlang are the broker's versions.
	RabbitMQ, Erlang string
	// Load is the one-minute load average when the suite started: other work sharing the CPUs.
	Load float64
}

// Describe gathers the machine's description; what cannot be read stays empty.
func Describe(ctx context.Context, env *Env) Machine {
	m := Machine{At: time.Now().UTC(), Cores: runtime.NumCPU(), Go: runtime.Version()}
	if out, err := exec.CommandContext(ctx, "git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		m.Commit = strings.TrimSpace(string(out))
	}
	if out, err := exec.CommandContext(ctx, "git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil {
		m.Dirty = len(strings.TrimSpace(string(out))) > 0
	}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
				m.Memory = kb * 1024
			}
		}
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(data))
	}
	if data, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(data)); len(f) > 0 {
			m.Load, _ = strconv.ParseFloat(f[0], 64)
		}
	}
	if o, err := env.Mgmt.Overview(ctx); err == nil {
		m.RabbitMQ, m.Erlang = o.RabbitMQ, o.Erlang
	}
	return m
}
