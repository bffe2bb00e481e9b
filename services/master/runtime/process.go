package runtime

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"
)

// ProcessOptions configures a Process runtime.
type ProcessOptions struct {
	// BinDir is the directory holding the worker binaries, named warren-<service> (e.g. warren-filter).
	BinDir string
	// Env holds KEY=VALUE pairs added to the master's own environment for every worker.
	Env []string
	// Log receives the runtime's structured log lines.
	Log zerolog.Logger
	// LogDir, when set, receives each worker's stdout and stderr in LogDir/<pool>-<pid>.log; when empty the
	// workers write to the master's stderr.
	LogDir string
}

// Process runs workers as child processes of the master.
//
// Workers live in their own process group, so a Ctrl-C in the master's terminal reaches only the master, which
// then stops its workers gracefully instead of having them all die at once.
//
// A Process runtime knows only the workers it started itself: it cannot adopt workers after a master restart,
// because a process cannot wait for (or learn the exit status of) another process's children. A restarted master
// starts with an empty list; the orphans of the previous master keep running until stopped by other means. The
// Docker runtime, which finds its containers by label, does not have this limitation.
type Process struct {
	opts ProcessOptions
	log  zerolog.Logger

	mu      sync.Mutex
	workers map[string]*child
	seq     uint64
	closed  bool
}

// child is one started worker process and what its waiter goroutine learned about it.
type child struct {
	w    Worker
	seq  uint64 // breaks StartedAt ties so List keeps start order
	proc *os.Process
	done chan struct{} // closed by the waiter once the process has been reaped
}

// NewProcess returns a Process runtime that starts binaries from opts.BinDir.
func NewProcess(opts ProcessOptions) (*Process, error) {
	if opts.BinDir == "" {
		return nil, errors.New("process runtime: BinDir is required")
	}
	dir, err := filepath.Abs(opts.BinDir)
	if err != nil {
		return nil, fmt.Errorf("process runtime: resolve BinDir %q: %w", opts.BinDir, err)
	}
	opts.BinDir = dir
	if opts.LogDir != "" {
		if err := os.MkdirAll(opts.LogDir, 0o755); err != nil {
			return nil, fmt.Errorf("process runtime: create LogDir: %w", err)
		}
	}
	return &Process{
		opts:    opts,
		log:     opts.Log.With().Str("runtime", "process").Logger(),
		workers: make(map[string]*child),
	}, nil
}

// Start runs BinDir/warren-<service> with s.Args and returns once the process has been started.
func (p *Process) Start(ctx context.Context, s Spec) (Worker, error) {
	if err := validateSpec(s); err != nil {
		return Worker{}, err
	}
	if err := ctx.Err(); err != nil {
		return Worker{}, fmt.Errorf("start %s worker: %w", s.Pool, err)
	}
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return Worker{}, fmt.Errorf("start %s worker: process runtime is closed", s.Pool)
	}

	bin := filepath.Join(p.opts.BinDir, "warren-"+s.Service)
	if _, err := os.Stat(bin); err != nil {
		return Worker{}, fmt.Errorf("start %s worker: binary %s is missing (build the services first): %w", s.Pool, bin, err)
	}

	name, err := workerName(s.Pool)
	if err != nil {
		return Worker{}, fmt.Errorf("start %s worker: %w", s.Pool, err)
	}
	out, logPath, err := p.openLog(s.Pool)
	if err != nil {
		return Worker{}, fmt.Errorf("start %s worker: %w", s.Pool, err)
	}
	// The context only bounds the launch: exec.CommandContext would kill the worker when ctx ends, but a
	// worker must outlive the request that started it.
	cmd := exec.Command(bin, s.Args...)
	// Later entries win in os/exec, so the base and spec environments can override the worker name.
	cmd.Env = slices.Concat(os.Environ(), []string{WorkerNameEnv + "=" + name}, p.opts.Env, s.Env)
	cmd.Stdout, cmd.Stderr = out, out
	// Pdeathsig: if the master dies without stopping its workers (kill -9), they get SIGTERM and retire
	// gracefully instead of living on as orphans that no master can see.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	err = cmd.Start()
	// The child holds its own descriptor for the log; the master's copy would only leak one fd per worker.
	p.closeLog(out, logPath, err != nil)
	if err != nil {
		return Worker{}, fmt.Errorf("start %s worker: run %s: %w", s.Pool, bin, err)
	}
	pid := strconv.Itoa(cmd.Process.Pid)
	if logPath != "" {
		// The file's final name carries the pid, which is known only now; renaming an open file is safe.
		final := filepath.Join(p.opts.LogDir, s.Pool+"-"+pid+".log")
		if err := os.Rename(logPath, final); err != nil {
			p.log.Warn().Err(err).Str("file", logPath).Msg("cannot rename worker log")
		}
	}

	c := &child{
		w: Worker{
			ID:        pid,
			Pool:      s.Pool,
			Name:      name,
			StartedAt: time.Now(),
			Running:   true,
		},
		proc: cmd.Process,
		done: make(chan struct{}),
	}
	p.mu.Lock()
	p.seq++
	c.seq = p.seq
	p.workers[pid] = c
	p.mu.Unlock()

	go p.wait(cmd, c)
	p.log.Info().Str("pool", s.Pool).Str("worker", name).Str("pid", pid).Str("bin", bin).Msg("worker started")
	return c.w, nil
}

// wait reaps the worker and records how it ended, which is how List learns about crashes.
func (p *Process) wait(cmd *exec.Cmd, c *child) {
	err := cmd.Wait()
	code := exitCodeOf(cmd.ProcessState)

	p.mu.Lock()
	c.w.Running = false
	c.w.ExitCode = code
	name, pool := c.w.Name, c.w.Pool
	p.mu.Unlock()
	close(c.done)

	ev := p.log.Info()
	if code != 0 {
		ev = p.log.Warn().Err(err)
	}
	ev.Str("pool", pool).Str("worker", name).Int("exit_code", code).Msg("worker exited")
}

// exitCodeOf reports death by signal the way shells and Docker do, so both runtimes agree on exit codes.
func exitCodeOf(st *os.ProcessState) int {
	if st == nil {
		return -1
	}
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return exitCode128 + int(ws.Signal())
	}
	return st.ExitCode()
}

// Stop sends SIGTERM, waits up to grace for the worker to exit, then kills its process group, and forgets it.
func (p *Process) Stop(ctx context.Context, w Worker, grace time.Duration) error {
	c := p.lookup(w)
	if c == nil {
		p.log.Debug().Str("worker", w.Name).Msg("stop: worker unknown, nothing to do")
		return nil
	}
	// os.Process signals through a pidfd, so a worker that has already been reaped cannot be confused with a
	// new process that reused its pid.
	if err := c.proc.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		p.log.Warn().Err(err).Str("worker", c.w.Name).Msg("cannot send SIGTERM")
	}
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-c.done:
	case <-timer.C:
		p.log.Warn().Str("worker", c.w.Name).Dur("grace", grace).Msg("worker ignored SIGTERM, killing it")
		p.kill(c)
		if err := waitDone(ctx, c.done); err != nil {
			return fmt.Errorf("stop %s: %w", c.w.Name, err)
		}
	case <-ctx.Done():
		return fmt.Errorf("stop %s: %w", c.w.Name, ctx.Err())
	}
	p.forget(c)
	p.log.Info().Str("pool", c.w.Pool).Str("worker", c.w.Name).Msg("worker stopped")
	return nil
}

// Remove forgets an exited worker; a worker that still runs is killed first, like `docker rm --force`.
func (p *Process) Remove(ctx context.Context, w Worker) error {
	c := p.lookup(w)
	if c == nil {
		return nil
	}
	p.kill(c)
	if err := waitDone(ctx, c.done); err != nil {
		return fmt.Errorf("remove %s: %w", c.w.Name, err)
	}
	p.forget(c)
	return nil
}

// kill ends the worker's whole process group, catching any children it may have started.
func (p *Process) kill(c *child) {
	select {
	case <-c.done:
		return
	default:
	}
	// While the group leader is unreaped its pid, and so the group id, cannot be reused: signalling the group
	// cannot hit a stranger.
	if err := syscall.Kill(-c.proc.Pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		p.log.Warn().Err(err).Str("worker", c.w.Name).Msg("cannot kill process group")
	}
	_ = c.proc.Kill()
}

// List returns the tracked workers of pool, oldest first.
func (p *Process) List(ctx context.Context, pool string) ([]Worker, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list %s workers: %w", pool, err)
	}
	p.mu.Lock()
	cs := make([]*child, 0, len(p.workers))
	for _, c := range p.workers {
		if c.w.Pool == pool {
			cs = append(cs, c)
		}
	}
	slices.SortFunc(cs, func(a, b *child) int { return cmp.Compare(a.seq, b.seq) })
	out := make([]Worker, len(cs))
	for i, c := range cs {
		out[i] = c.w
	}
	p.mu.Unlock()
	return out, nil
}

// Close refuses further starts. Workers keep running, and each running worker keeps one goroutine waiting for
// it until it is stopped or exits.
func (p *Process) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	running := 0
	for _, c := range p.workers {
		if c.w.Running {
			running++
		}
	}
	if running > 0 {
		p.log.Info().Int("running", running).Msg("process runtime closed with workers still running")
	}
	return nil
}

// lookup finds the tracked child for w. Pids are reused by the kernel, so a stale Worker whose pid now belongs to
// a newer worker must not match it: the unique name has to agree too.
func (p *Process) lookup(w Worker) *child {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.workers[w.ID]
	if c == nil || (w.Name != "" && c.w.Name != w.Name) {
		return nil
	}
	return c
}

func (p *Process) forget(c *child) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.workers[c.w.ID] == c {
		delete(p.workers, c.w.ID)
	}
}

// openLog returns where the worker's output goes: a fresh file in LogDir, or the master's stderr.
func (p *Process) openLog(pool string) (*os.File, string, error) {
	if p.opts.LogDir == "" {
		return os.Stderr, "", nil
	}
	f, err := os.CreateTemp(p.opts.LogDir, pool+"-starting-*.log")
	if err != nil {
		return nil, "", fmt.Errorf("create worker log: %w", err)
	}
	return f, f.Name(), nil
}

// closeLog closes a worker's log file (never the master's stderr) and removes it if the worker never ran.
func (p *Process) closeLog(f *os.File, path string, discard bool) {
	if f == nil || f == os.Stderr {
		return
	}
	_ = f.Close()
	if discard && path != "" {
		_ = os.Remove(path)
	}
}

// waitDone waits for a worker's waiter to finish, bounded by ctx.
func waitDone(ctx context.Context, done <-chan struct{}) error {
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
