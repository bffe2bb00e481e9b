// Package config loads Warren's configuration: defaults, then configs/warren.yaml (or --config), then WARREN_*
// environment variables, then flags. Every value is validated and an invalid one is an error naming its key.
package config

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
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
}

// Health configures a worker's /healthz endpoint.
type Health struct {
	// Addr, when set, serves /healthz on this TCP address too (it is always served on the worker's own
	// abstract unix socket, which the healthcheck subcommand uses).
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
	Grace         time.Duration `mapstructure:"grace"`
	CPUs          float64       `mapstructure:"cpus"`
	MemoryMB      int           `mapstructure:"memory_mb"`
	Env           []string      `mapstructure:"env"`
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
		"master.pools": map[string]any{
			"filter": map[string]any{
				"service": "filter", "work_queue": "warren.filter.work", "count_queue": "warren.filter.count",
				"min": 1, "max": 8, "capacity": "auto", "tr": "2s", "max_step": 4,
				"formula": "utilization", "target_utilization": 0.8, "scale_down_rate": 0.5,
				"stabilization": "2s", "dead_band": 0.1, "grace": "10s", "cpus": 0.5, "memory_mb": 128,
			},
			"broadcaster": map[string]any{
				"service": "broadcaster", "work_queue": "warren.broadcaster.work", "count_queue": "warren.broadcaster.count",
				"min": 1, "max": 4, "capacity": "2000", "tr": "2s", "max_step": 2,
				"formula": "utilization", "target_utilization": 0.8, "scale_down_rate": 0.5,
				"stabilization": "2s", "dead_band": 0.1, "grace": "10s", "cpus": 0.5, "memory_mb": 128,
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
	err := v.Unmarshal(&c, func(dc *mapstructure.DecoderConfig) {
		dc.ErrorUnused = true
		dc.WeaklyTypedInput = true
	})
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// EnvName is the environment variable that overrides key: WARREN_ plus the key in upper case with dots as
// underscores.
func EnvName(key string) string {
	return "WARREN_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// Runtimes the master knows.
var Runtimes = []string{"process", "docker", "swarm"}

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
