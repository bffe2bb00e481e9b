// Package config loads Warren's configuration: defaults, then configs/warren.yaml (or --config), then WARREN_*
// environment variables, then flags. Every value is validated and an invalid one is an error naming its key.
package config

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"net"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/warren-mq/warren/shared/topology"
)

// Config is the whole configuration; each service reads the parts it needs.
type Config struct {
	AMQP        AMQP        `mapstructure:"amqp"`
	Log         Log         `mapstructure:"log"`
	Filter      Filter      `mapstructure:"filter"`
	Insult      Insult      `mapstructure:"insult"`
	Broadcaster Broadcaster `mapstructure:"broadcaster"`
	Master      Master      `mapstructure:"master"`
	Health      Health      `mapstructure:"health"`
	// Lanes configures fair dispatch per topology pool ("filter", "broadcaster"); see topology.Lanes.
	Lanes map[string]Lanes `mapstructure:"lanes"`
}

// Lanes configures one pool's fair dispatch across fairness keys.
type Lanes struct {
	// Count is K, the pool's lane queues (1: its single work queue).
	Count int `mapstructure:"count"`
	// Credit is how many deliveries a worker holds per lane (0: amqp.prefetch), so a worker holds up to
	// Count × Credit.
	Credit int `mapstructure:"credit"`
	// Weights are the lanes' shares in the workers' round robin, one per lane (empty: 1 each).
	Weights []int `mapstructure:"weights"`
	// Pin routes known keys to lanes, as "key=lane" (lanes count from 0).
	Pin []string `mapstructure:"pin"`
}

// MaxLanes bounds lanes.<pool>.count: each lane is a quorum queue and a consumer on every worker.
const MaxLanes = 64

// LaneCredit returns the deliveries a worker holds per lane of pool: lanes.<pool>.credit, else amqp.prefetch.
// The default is not the prefetch shared among the lanes: the fairness comes from each lane having a credit of
// its own, and dividing the prefetch cost 11–13 % of a saturated worker's throughput with four lanes (measured
// on this project's 2-core machine; see the fairness section of loadgen/bench/results.md), while four lanes at
// the full prefetch each ran no slower than one queue.
func (c Config) LaneCredit(pool string) int {
	if l := c.Lanes[pool]; l.Credit > 0 {
		return l.Credit
	}
	return c.AMQP.Prefetch
}

// LaneWeights returns the weight of each of pool's lanes in the workers' round robin.
func (c Config) LaneWeights(pool string) []int {
	l := c.Lanes[pool]
	w := make([]int, max(l.Count, 1))
	for i := range w {
		w[i] = 1
		if i < len(l.Weights) {
			w[i] = l.Weights[i]
		}
	}
	return w
}

// Topology returns the options every declaration of Warren's topology must use under this configuration.
func (c Config) Topology() topology.Options {
	o := topology.Options{DeliveryLimit: c.AMQP.DeliveryLimit, Lanes: map[string]topology.Lanes{}}
	for name, l := range c.Lanes {
		pins, _ := parsePins(l.Pin, l.Count)
		o.Lanes[name] = topology.Lanes{Count: l.Count, Pins: pins}
	}
	return o
}

// LaneEnv returns the WARREN_LANES_* variables that give a spawned worker this configuration's lanes, so a
// worker started without the master's configuration file still consumes the same lanes.
func (c Config) LaneEnv() []string {
	var env []string
	for _, name := range slices.Sorted(maps.Keys(c.Lanes)) {
		l := c.Lanes[name]
		key := "lanes." + name + "."
		env = append(env, EnvName(key+"count")+"="+strconv.Itoa(l.Count), EnvName(key+"credit")+"="+strconv.Itoa(l.Credit))
		ws := make([]string, len(l.Weights))
		for i, w := range l.Weights {
			ws[i] = strconv.Itoa(w)
		}
		env = append(env, EnvName(key+"weights")+"="+strings.Join(ws, ","), EnvName(key+"pin")+"="+strings.Join(l.Pin, ","))
	}
	return env
}

// parsePins reads "key=lane" pins for a pool of count lanes; the error names the key.
func parsePins(pins []string, count int) (map[string]int, error) {
	out := map[string]int{}
	var errs []error
	for _, p := range pins {
		if strings.TrimSpace(p) == "" {
			continue
		}
		i := strings.LastIndex(p, "=")
		if i <= 0 {
			errs = append(errs, fmt.Errorf("%q: want key=lane", p))
			continue
		}
		key, laneText := p[:i], p[i+1:]
		lane, err := strconv.Atoi(laneText)
		switch {
		case topology.ValidateKey(key) != nil:
			errs = append(errs, topology.ValidateKey(key))
		case err != nil:
			errs = append(errs, fmt.Errorf("key %q: lane %q is not a number", key, laneText))
		case lane < 0 || lane >= max(count, 1):
			errs = append(errs, fmt.Errorf("key %q names lane %d, but the pool has lanes 0 to %d", key, lane, max(count, 1)-1))
		default:
			if prev, dup := out[key]; dup && prev != lane {
				errs = append(errs, fmt.Errorf("key %q is pinned to lanes %d and %d", key, prev, lane))
			}
			out[key] = lane
		}
	}
	return out, errors.Join(errs...)
}

// Health configures a service's health and metrics endpoints (/healthz, /readyz, /metrics).
type Health struct {
	// Addr, when set, serves them on this TCP address too (they are always served on the service's own abstract
	// unix socket, which the healthcheck subcommand uses); port 0 picks a free port, which workers report to
	// the master. An address that cannot be listened on stops the service at start.
	Addr string `mapstructure:"addr"`
}

// AMQP configures the broker connection and the limits every consumer applies.
type AMQP struct {
	URL           string        `mapstructure:"url"`
	Prefetch      int           `mapstructure:"prefetch"`
	DeliveryLimit int           `mapstructure:"delivery_limit"`
	Retries       int           `mapstructure:"retries"`
	MaxBody       int           `mapstructure:"max_body"`
	Heartbeat     time.Duration `mapstructure:"heartbeat"`
	ReconnectMax  time.Duration `mapstructure:"reconnect_max"`
	ShutdownGrace time.Duration `mapstructure:"shutdown_grace"`
	TLS           TLS           `mapstructure:"tls"`
}

// TLS configures amqps:// connections. Files are PEM; CAFile empty means the system roots.
type TLS struct {
	CAFile     string `mapstructure:"ca_file"`
	CertFile   string `mapstructure:"cert_file"`
	KeyFile    string `mapstructure:"key_file"`
	ServerName string `mapstructure:"server_name"`
}

// Log configures logging.
type Log struct {
	Level  string `mapstructure:"level"`
	Format string `mapstructure:"format"`
}

// Filter configures filter workers.
type Filter struct {
	Concurrency int           `mapstructure:"concurrency"`
	WorkDelay   time.Duration `mapstructure:"work_delay"`
	StatsEvery  time.Duration `mapstructure:"stats_every"`
}

// Insult configures the insult service.
type Insult struct {
	Defaults []string `mapstructure:"defaults"`
}

// Broadcaster configures broadcaster workers.
type Broadcaster struct {
	Period      time.Duration `mapstructure:"period"`
	Concurrency int           `mapstructure:"concurrency"`
}

// Master configures the autoscaling master.
type Master struct {
	Interval   time.Duration   `mapstructure:"interval"`
	Reconcile  time.Duration   `mapstructure:"reconcile"`
	Runtime    string          `mapstructure:"runtime"`
	DryRun     bool            `mapstructure:"dry_run"`
	Smoothing  float64         `mapstructure:"smoothing"`
	StatusAddr string          `mapstructure:"status_addr"`
	Bin        string          `mapstructure:"bin"`
	LogDir     string          `mapstructure:"log_dir"`
	Docker     Docker          `mapstructure:"docker"`
	Pools      map[string]Pool `mapstructure:"pools"`
}

// PoolNames returns the configured pools' names, sorted.
func (m Master) PoolNames() []string { return slices.Sorted(maps.Keys(m.Pools)) }

// NoPoolError is the error for a pool name that is not configured: it lists the pools that are.
func (m Master) NoPoolError(name string) error {
	if len(m.Pools) == 0 {
		return fmt.Errorf("master.pools: no pool %q (no pools are configured)", name)
	}
	return fmt.Errorf("master.pools: no pool %q (configured: %s)", name, strings.Join(m.PoolNames(), ", "))
}

// Docker configures the docker runtime.
type Docker struct {
	Host     string `mapstructure:"host"`
	Network  string `mapstructure:"network"`
	ImageTag string `mapstructure:"image_tag"`
	AMQPURL  string `mapstructure:"amqp_url"`
	Owner    string `mapstructure:"owner"`
	// StopOnExit makes the master stop its containers when it exits; by default they keep running so a
	// restarted master adopts them.
	StopOnExit bool `mapstructure:"stop_on_exit"`
}

// Pool configures one worker pool.
type Pool struct {
	Service    string        `mapstructure:"service"`
	WorkQueue  string        `mapstructure:"work_queue"`
	CountQueue string        `mapstructure:"count_queue"`
	Min        int           `mapstructure:"min"`
	Max        int           `mapstructure:"max"`
	Capacity   string        `mapstructure:"capacity"`
	Tr         time.Duration `mapstructure:"tr"`
	// Formula is "utilization" (N = ceil((λ + B/Tr) / (u·C))) or "seed" (N = ceil((B + λ·Tr) / C)).
	Formula string `mapstructure:"formula"`
	// TargetUtilization is u, the share of each worker's capacity the utilization formula plans to use.
	TargetUtilization float64 `mapstructure:"target_utilization"`
	// ScaleDownRate is the most of the pool removed within one stabilization window (1: no limit).
	ScaleDownRate float64       `mapstructure:"scale_down_rate"`
	MaxStep       int           `mapstructure:"max_step"`
	Stabilization time.Duration `mapstructure:"stabilization"`
	DeadBand      float64       `mapstructure:"dead_band"`
	// Grace is how long a retiring worker has, from SIGTERM, before the master kills it. It must exceed the
	// workers' amqp.shutdown_grace, the time a worker gives what it holds to finish and be acked: a worker
	// killed at the very moment it gives up may have published results it has not acked yet, and those events
	// are redelivered and answered twice.
	Grace    time.Duration `mapstructure:"grace"`
	CPUs     float64       `mapstructure:"cpus"`
	MemoryMB int           `mapstructure:"memory_mb"`
	// Env holds KEY=VALUE pairs for the pool's workers, typically WARREN_* overrides of this configuration.
	Env []string `mapstructure:"env"`
}

// The worker settings the master must agree on with a pool's workers. A pool's Env may set them for its
// workers; otherwise the master passes its own values (a container does not read the master's configuration
// file), so what it validates and judges by is what the workers run with.
var (
	// StatsEveryEnv sets how often a worker reports; the master judges a worker silent after three intervals.
	StatsEveryEnv = EnvName("filter.stats_every")
	// ShutdownGraceEnv sets how long a stopping worker lets what it holds finish; the pool's grace must exceed it.
	ShutdownGraceEnv = EnvName("amqp.shutdown_grace")
	// HealthAddrEnv sets where a worker serves /healthz, /readyz and /metrics over TCP; the master gives its
	// workers a free port (port 0), which they report (event.WorkerStats.MetricsAddr) for Prometheus to find.
	HealthAddrEnv = EnvName("health.addr")
)

// EnvValue returns the value p.Env assigns to name; the last assignment wins, as it does for a started process.
func (p Pool) EnvValue(name string) (string, bool) {
	for i := len(p.Env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(p.Env[i], "="); ok && k == name {
			return v, true
		}
	}
	return "", false
}

// WorkerStatsEvery is how often the workers of pool report: StatsEveryEnv in the pool's env when set there,
// else filter.stats_every.
func (c Config) WorkerStatsEvery(pool string) time.Duration {
	return c.Master.Pools[pool].envDuration(StatsEveryEnv, c.Filter.StatsEvery)
}

// WorkerShutdownGrace is how long the workers of pool let what they hold finish when stopped: ShutdownGraceEnv
// in the pool's env when set there, else amqp.shutdown_grace.
func (c Config) WorkerShutdownGrace(pool string) time.Duration {
	return c.Master.Pools[pool].envDuration(ShutdownGraceEnv, c.AMQP.ShutdownGrace)
}

// WorkerEnv is what the master adds to the environment of the workers it starts for pool: the stats interval
// and shutdown grace it judges them by, and a health address on a free port (see WorkerHealthAddr), unless the
// pool's env already sets them.
func (c Config) WorkerEnv(pool string) []string {
	p := c.Master.Pools[pool]
	var env []string
	if _, ok := p.EnvValue(StatsEveryEnv); !ok {
		env = append(env, StatsEveryEnv+"="+c.Filter.StatsEvery.String())
	}
	if _, ok := p.EnvValue(ShutdownGraceEnv); !ok {
		env = append(env, ShutdownGraceEnv+"="+c.AMQP.ShutdownGrace.String())
	}
	if _, ok := p.EnvValue(HealthAddrEnv); !ok {
		env = append(env, HealthAddrEnv+"="+c.WorkerHealthAddr())
	}
	return env
}

// WorkerHealthAddr is the health address the master gives its workers: a free port (0, which each worker
// resolves and reports) on loopback when they share the master's host network (the process runtime, or docker
// with network host), so that nothing outside the host reaches them; else on every interface of the worker's
// own container, where Prometheus on the container network reaches it.
func (c Config) WorkerHealthAddr() string {
	if c.Master.Runtime == "process" || (c.Master.Runtime == "docker" && c.Master.Docker.Network == "host") {
		return "127.0.0.1:0"
	}
	return ":0"
}

// envDuration is the duration p.Env assigns to name, or fallback when it assigns none (or one that Validate
// rejects).
func (p Pool) envDuration(name string, fallback time.Duration) time.Duration {
	v, ok := p.EnvValue(name)
	if !ok {
		return fallback
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return fallback
	}
	return d
}

// AutoCapacity is the Pool.Capacity value that learns C from the workers' own reports.
const AutoCapacity = "auto"

// StaticCapacity returns the configured capacity in events/s, or ok=false when it is "auto".
func (p Pool) StaticCapacity() (c float64, ok bool) {
	if p.Capacity == AutoCapacity {
		return 0, false
	}
	c, err := strconv.ParseFloat(p.Capacity, 64)
	return c, err == nil
}

func defaults() map[string]any {
	return map[string]any{
		"amqp.url":                   "amqp://guest:guest@127.0.0.1:5672/",
		"amqp.prefetch":              200,
		"amqp.delivery_limit":        5,
		"amqp.retries":               3,
		"amqp.max_body":              1 << 20,
		"amqp.heartbeat":             "10s",
		"amqp.reconnect_max":         "5s",
		"amqp.tls.ca_file":           "",
		"amqp.tls.cert_file":         "",
		"amqp.tls.key_file":          "",
		"amqp.tls.server_name":       "",
		"amqp.shutdown_grace":        "10s",
		"health.addr":                "",
		"log.level":                  "info",
		"log.format":                 "auto",
		"filter.concurrency":         200,
		"filter.work_delay":          "0s",
		"filter.stats_every":         "1s",
		"insult.defaults":            []string{"idiot", "fool", "moron", "imbecile", "tonto", "bobo", "cretin", "dimwit", "nitwit", "hijo de puta"},
		"broadcaster.period":         "5s",
		"broadcaster.concurrency":    8,
		"master.interval":            "2s",
		"master.reconcile":           "1s",
		"master.runtime":             "process",
		"master.dry_run":             false,
		"master.smoothing":           0.5,
		"master.status_addr":         "",
		"master.bin":                 "",
		"master.docker.host":         "",
		"master.docker.network":      "warren",
		"master.docker.image_tag":    "latest",
		"master.docker.amqp_url":     "",
		"master.docker.owner":        "warren-master",
		"master.docker.stop_on_exit": false,
		"master.log_dir":             "",
		"lanes": map[string]any{
			"filter":      map[string]any{"count": 1, "credit": 0, "weights": []int{}, "pin": []string{}},
			"broadcaster": map[string]any{"count": 1, "credit": 0, "weights": []int{}, "pin": []string{}},
		},
		"master.pools": map[string]any{
			"filter": map[string]any{
				"service": "filter", "work_queue": "warren.filter.work", "count_queue": "warren.filter.count",
				"min": 1, "max": 8, "capacity": "auto", "tr": "2s", "max_step": 4,
				"formula": "utilization", "target_utilization": 0.8, "scale_down_rate": 0.5,
				"stabilization": "2s", "dead_band": 0.1, "grace": "15s", "cpus": 0.5, "memory_mb": 128,
			},
			"broadcaster": map[string]any{
				"service": "broadcaster", "work_queue": "warren.broadcaster.work", "count_queue": "warren.broadcaster.count",
				"min": 1, "max": 4, "capacity": "2000", "tr": "2s", "max_step": 2,
				"formula": "utilization", "target_utilization": 0.8, "scale_down_rate": 0.5,
				"stabilization": "2s", "dead_band": 0.1, "grace": "15s", "cpus": 0.5, "memory_mb": 128,
			},
		},
	}
}

func setDefaults(v *viper.Viper, prefix string, m map[string]any) {
	for k, val := range m {
		if sub, ok := val.(map[string]any); ok {
			setDefaults(v, prefix+k+".", sub)
			continue
		}
		v.SetDefault(prefix+k, val)
	}
}

// Flags are the command-line flags every Warren binary accepts.
type Flags struct {
	ConfigFile string
	Sets       []string
	AMQPURL    string
	LogLevel   string
}

// AddFlags registers the common flags on fs.
func AddFlags(fs *pflag.FlagSet, f *Flags) {
	fs.StringVarP(&f.ConfigFile, "config", "c", "", "configuration file (default: configs/warren.yaml when present)")
	fs.StringArrayVar(&f.Sets, "set", nil, "override a key, e.g. --set filter.concurrency=32 (repeatable)")
	fs.StringVar(&f.AMQPURL, "amqp-url", "", "broker URL (overrides amqp.url)")
	fs.StringVar(&f.LogLevel, "log-level", "", "log level: debug, info, warn, error (overrides log.level)")
}

// Load reads and validates the configuration.
func Load(f Flags) (Config, error) {
	v := viper.New()
	// Defaults are set leaf by leaf so that a file setting one pool key keeps the other defaults, and so
	// that every key, pool keys included, can be overridden by its WARREN_* variable.
	setDefaults(v, "", defaults())
	v.SetConfigType("yaml")
	path := f.ConfigFile
	if path == "" {
		path = os.Getenv("WARREN_CONFIG")
	}
	if path == "" {
		if _, err := os.Stat("configs/warren.yaml"); err == nil {
			path = "configs/warren.yaml"
		}
	}
	if path != "" {
		v.SetConfigFile(path)
		if err := v.ReadInConfig(); err != nil {
			return Config{}, fmt.Errorf("config: read %s: %w", path, err)
		}
	}
	v.SetEnvPrefix("WARREN")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	for _, s := range f.Sets {
		k, val, ok := strings.Cut(s, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return Config{}, fmt.Errorf("config: --set %q: want key=value", s)
		}
		v.Set(strings.TrimSpace(k), val)
	}
	if f.AMQPURL != "" {
		v.Set("amqp.url", f.AMQPURL)
	}
	if f.LogLevel != "" {
		v.Set("log.level", f.LogLevel)
	}
	var c Config
	var md mapstructure.Metadata
	err := v.Unmarshal(&c, func(dc *mapstructure.DecoderConfig) {
		dc.Metadata = &md
		dc.WeaklyTypedInput = true
	})
	// Every mistake at once, each naming its key: unknown keys, values of the wrong type, invalid values.
	var errs, decodeErrs []error
	failed := map[string]bool{}
	if err != nil {
		for _, e := range decodeErrors(err) {
			failed[e.key] = true
			decodeErrs = append(decodeErrs, fmt.Errorf("config: %s: %s%s", e.key, e.msg, origin(e.key, path)))
		}
		// The decoder stops looking for unknown keys in a section where a value failed: decode again without
		// the failed values to find them all.
		settings := v.AllSettings()
		for k := range failed {
			deletePath(settings, k)
		}
		md = mapstructure.Metadata{}
		var scratch Config
		if d, derr := mapstructure.NewDecoder(&mapstructure.DecoderConfig{Result: &scratch, Metadata: &md,
			WeaklyTypedInput: true, DecodeHook: mapstructure.ComposeDecodeHookFunc(
				mapstructure.StringToTimeDurationHookFunc(), mapstructure.StringToSliceHookFunc(","))}); derr == nil {
			_ = d.Decode(settings)
		}
	}
	sort.Strings(md.Unused)
	for _, k := range md.Unused {
		k = keyName(k)
		errs = append(errs, fmt.Errorf("config: %s: unknown key%s", k, origin(k, path)))
	}
	errs = append(errs, decodeErrs...)
	// A key that could not be decoded is zero in c: its validation error would only repeat the decode error.
	if verr := c.Validate(); verr != nil {
		for _, e := range unjoin(verr) {
			if key, _, _ := strings.Cut(strings.TrimPrefix(e.Error(), "config: "), ":"); !failed[key] {
				errs = append(errs, e)
			}
		}
	}
	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	return c, nil
}

// origin says where a key came from: its environment variable when that is set, else the file.
func origin(key, file string) string {
	if env := EnvName(key); os.Getenv(env) != "" {
		return " (set by " + env + ")"
	}
	if file != "" {
		return " (in " + file + ")"
	}
	return ""
}

// deletePath removes a dotted key from nested settings.
func deletePath(m map[string]any, key string) {
	head, rest, nested := strings.Cut(key, ".")
	if !nested {
		delete(m, head)
		return
	}
	if sub, ok := m[head].(map[string]any); ok {
		deletePath(sub, rest)
	}
}

// keyName writes a decoder's key path (master.pools[filter].min) as the configuration key (master.pools.filter.min).
func keyName(k string) string {
	return strings.NewReplacer("[", ".", "]", "").Replace(k)
}

type decodeError struct{ key, msg string }

// decodeErrors splits the decoder's joined error into one entry per key: its lines read
// "'amqp.prefetch' cannot parse value as 'int': ...".
func decodeErrors(err error) []decodeError {
	var out []decodeError
	for _, line := range strings.Split(err.Error(), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "decoding failed") {
			continue
		}
		key, msg := "", line
		if strings.HasPrefix(line, "'") {
			if end := strings.Index(line[1:], "'"); end >= 0 {
				key, msg = keyName(line[1:end+1]), strings.TrimSpace(line[end+2:])
			}
		}
		out = append(out, decodeError{key, msg})
	}
	if len(out) == 0 {
		out = append(out, decodeError{"", err.Error()})
	}
	return out
}

// unjoin lists the errors errors.Join combined.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// EnvName is the environment variable that overrides key: WARREN_ plus the key in upper case with dots as
// underscores.
func EnvName(key string) string {
	return "WARREN_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// Runtimes the master knows.
var Runtimes = []string{"process", "docker", "swarm"}

// checkListenAddr accepts an empty address (nothing served) or host:port with a port from 0 (any free port)
// to 65535; whether it can be listened on is known only when the service listens.
func checkListenAddr(addr string) error {
	if addr == "" {
		return nil
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port (e.g. 127.0.0.1:8080, or :8080 for every interface)", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q: port %q is not a number from 0 to 65535", addr, port)
	}
	return nil
}

// Validate checks every value and names the first offending key.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		// A value set in the environment is easy to forget: say where it came from.
		if env := EnvName(key); os.Getenv(env) != "" {
			msg += " (set by " + env + ")"
		}
		errs = append(errs, fmt.Errorf("config: %s: %s", key, msg))
	}
	if !strings.HasPrefix(c.AMQP.URL, "amqp://") && !strings.HasPrefix(c.AMQP.URL, "amqps://") {
		bad("amqp.url", "must start with amqp:// or amqps://")
	}
	if (c.AMQP.TLS.CertFile == "") != (c.AMQP.TLS.KeyFile == "") {
		bad("amqp.tls.cert_file", "cert_file and key_file go together")
	}
	for key, addr := range map[string]string{"health.addr": c.Health.Addr, "master.status_addr": c.Master.StatusAddr} {
		if err := checkListenAddr(addr); err != nil {
			bad(key, "%v", err)
		}
	}
	if c.AMQP.Prefetch <= 0 || c.AMQP.Prefetch > 65535 {
		bad("amqp.prefetch", "must be between 1 and 65535, got %d", c.AMQP.Prefetch)
	}
	if c.AMQP.DeliveryLimit < 1 {
		bad("amqp.delivery_limit", "must be at least 1, got %d", c.AMQP.DeliveryLimit)
	}
	if c.AMQP.Retries < 0 {
		bad("amqp.retries", "must not be negative, got %d", c.AMQP.Retries)
	}
	if c.AMQP.MaxBody <= 0 || c.AMQP.MaxBody > 128<<20 {
		bad("amqp.max_body", "must be between 1 and %d bytes, got %d", 128<<20, c.AMQP.MaxBody)
	}
	if c.AMQP.Heartbeat < 0 {
		bad("amqp.heartbeat", "must not be negative")
	}
	if c.AMQP.ReconnectMax <= 0 {
		bad("amqp.reconnect_max", "must be positive")
	}
	if c.AMQP.ShutdownGrace <= 0 {
		bad("amqp.shutdown_grace", "must be positive")
	}
	switch c.Log.Level {
	case "trace", "debug", "info", "warn", "error":
	default:
		bad("log.level", "must be one of trace, debug, info, warn, error, got %q", c.Log.Level)
	}
	switch c.Log.Format {
	case "auto", "json", "console":
	default:
		bad("log.format", "must be one of auto, json, console, got %q", c.Log.Format)
	}
	if c.Filter.Concurrency <= 0 {
		bad("filter.concurrency", "must be positive, got %d", c.Filter.Concurrency)
	}
	if c.Filter.WorkDelay < 0 {
		bad("filter.work_delay", "must not be negative")
	}
	if c.Filter.StatsEvery <= 0 {
		bad("filter.stats_every", "must be positive")
	}
	if c.Broadcaster.Period <= 0 {
		bad("broadcaster.period", "must be positive")
	}
	if c.Broadcaster.Concurrency <= 0 {
		bad("broadcaster.concurrency", "must be positive, got %d", c.Broadcaster.Concurrency)
	}
	for _, name := range slices.Sorted(maps.Keys(c.Lanes)) {
		l, key := c.Lanes[name], "lanes."+name
		if _, ok := topology.PoolNamed(name); !ok {
			bad(key, "no pool %q has lanes (pools: filter, broadcaster)", name)
			continue
		}
		if l.Count < 1 || l.Count > MaxLanes {
			bad(key+".count", "must be from 1 to %d, got %d", MaxLanes, l.Count)
		}
		if l.Credit < 0 || l.Credit > 65535 {
			bad(key+".credit", "must be from 0 (amqp.prefetch) to 65535, got %d", l.Credit)
		}
		if len(l.Weights) > 0 && len(l.Weights) != l.Count {
			bad(key+".weights", "has %d weights for %d lanes: give one per lane, or none", len(l.Weights), l.Count)
		}
		for i, w := range l.Weights {
			if w < 1 || w > 1000 {
				bad(key+".weights", "lane %d: weight must be from 1 to 1000, got %d", i, w)
			}
		}
		if _, err := parsePins(l.Pin, l.Count); err != nil {
			for _, e := range unjoin(err) {
				bad(key+".pin", "%v", e)
			}
		} else if len(l.Pin) > 0 && l.Count < 2 {
			bad(key+".pin", "pins need lanes: set %s.count to 2 or more", key)
		}
	}
	m := c.Master
	if m.Interval <= 0 {
		bad("master.interval", "must be positive")
	}
	if m.Reconcile <= 0 {
		bad("master.reconcile", "must be positive")
	}
	if !contains(Runtimes, m.Runtime) {
		bad("master.runtime", "unknown runtime %q (one of %s)", m.Runtime, strings.Join(Runtimes, ", "))
	}
	if m.Smoothing <= 0 || m.Smoothing > 1 {
		bad("master.smoothing", "must be in (0, 1], got %g", m.Smoothing)
	}
	for name, p := range m.Pools {
		key := "master.pools." + name
		if p.Service != "filter" && p.Service != "broadcaster" {
			bad(key+".service", "must be filter or broadcaster, got %q", p.Service)
		}
		if p.WorkQueue == "" {
			bad(key+".work_queue", "must be set")
		}
		if p.CountQueue == "" {
			bad(key+".count_queue", "must be set")
		}
		if p.Min < 0 {
			bad(key+".min", "must not be negative, got %d", p.Min)
		}
		if p.Max < 1 {
			bad(key+".max", "must be at least 1, got %d", p.Max)
		}
		if p.Min > p.Max {
			bad(key+".min", "min %d is greater than max %d", p.Min, p.Max)
		}
		if p.WorkQueue != "" && p.WorkQueue == p.CountQueue {
			bad(key+".count_queue", "must differ from work_queue %q: the master purges the count queue", p.WorkQueue)
		}
		if p.Capacity != AutoCapacity {
			if cap, err := strconv.ParseFloat(p.Capacity, 64); err != nil || !(cap > 0) || math.IsInf(cap, 0) {
				bad(key+".capacity", "must be a positive number of events/s or %q, got %q", AutoCapacity, p.Capacity)
			}
		}
		if p.Tr <= 0 {
			bad(key+".tr", "must be positive")
		}
		if p.Formula != "utilization" && p.Formula != "seed" {
			bad(key+".formula", "must be utilization or seed, got %q", p.Formula)
		}
		if !(p.TargetUtilization > 0 && p.TargetUtilization <= 1) {
			bad(key+".target_utilization", "must be in (0, 1], got %g", p.TargetUtilization)
		}
		if !(p.ScaleDownRate > 0 && p.ScaleDownRate <= 1) {
			bad(key+".scale_down_rate", "must be in (0, 1], got %g", p.ScaleDownRate)
		}
		if p.MaxStep < 0 {
			bad(key+".max_step", "must not be negative (0 means no cap)")
		}
		if p.Stabilization < 0 {
			bad(key+".stabilization", "must not be negative")
		}
		if p.DeadBand < 0 || p.DeadBand >= 1 {
			bad(key+".dead_band", "must be in [0, 1), got %g", p.DeadBand)
		}
		if p.Grace <= 0 {
			bad(key+".grace", "must be positive")
		}
		// The workers' own values, as the pool's env may set them: those are what the master must agree with.
		shutdownGrace, graceKey := c.AMQP.ShutdownGrace, "amqp.shutdown_grace"
		for _, name := range []string{StatsEveryEnv, ShutdownGraceEnv} {
			v, ok := p.EnvValue(name)
			if !ok {
				continue
			}
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				bad(key+".env", "%s=%q: must be a positive duration such as 10s", name, v)
				continue
			}
			if name == ShutdownGraceEnv {
				shutdownGrace, graceKey = d, ShutdownGraceEnv+" in "+key+".env"
			}
		}
		if p.Grace > 0 && shutdownGrace > 0 && p.Grace <= shutdownGrace {
			bad(key+".grace", "%v must exceed the workers' %s (%v): a retiring worker takes up to that long to "+
				"finish and ack what it holds, and a worker killed as it gives up may answer events twice",
				p.Grace, graceKey, shutdownGrace)
		}
		if p.CPUs < 0 {
			bad(key+".cpus", "must not be negative")
		}
		if p.MemoryMB < 0 {
			bad(key+".memory_mb", "must not be negative")
		}
	}
	return errors.Join(errs...)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
