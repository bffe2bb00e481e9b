// Package scenario reads loadgen's scenario files: YAML lists of traffic steps, from one source or from
// several that send at once.
//
// A single-source scenario file looks like this:
//
//	name: step-10x
//	description: A tenfold step in steady traffic.
//	drain_timeout: 30s            # optional, default 30s: how long to wait for results after the last step
//	steps:
//	  - pattern: steady           # steady | poisson | ramp | random | pause
//	    rate: 200                 # events/s per publisher (ramp: the starting rate b, default 0)
//	    duration: 15s             # a Go duration, > 0
//	    publishers: 1             # optional, default 1; 0 makes the step a pause
//	    target: filter            # optional: filter (default) or broadcaster
//	  - pattern: ramp
//	    rate: 200
//	    slope: 90                 # ramp only: rate = slope·t + rate, t in seconds since the step start
//	    duration: 20s
//	  - pattern: random
//	    min: 100                  # random only: the rate is drawn uniformly from [min, max]
//	    max: 2000
//	    interval: 1s              # random only, optional: how long each draw holds (default 1s)
//	    duration: 20s
//	  - pattern: pause            # or publishers: 0
//	    duration: 5s
//
// A multi-source scenario has sources instead of steps: each source has its own steps, with the same syntax,
// which run one after another; every source starts at the scenario's start and runs at the same time as
// the others:
//
//	name: noisy-neighbour
//	drain_timeout: 240s
//	sources:
//	  - name: A                   # required, unique, letters, digits, '_', '.' and '-'
//	    key: tenant-a             # optional: the fairness key, sent in the x-warren-key header; none if empty
//	    steps:
//	      - {pattern: steady, rate: 2500, publishers: 2, duration: 30s}
//	  - name: B
//	    key: tenant-b
//	    steps:
//	      - {pattern: steady, rate: 100, duration: 30s}
//
// A file with top-level steps is one source named "" without a key. Giving both steps and sources is an
// error.
//
// Every error names the file and line, and the source and step when there are some, for example
// "loadgen/scenarios/x.yaml:7: step 2: rate must be > 0, got -5" or
// "loadgen/scenarios/x.yaml:12: source B: step 1: rate must be > 0, got 0". Unknown keys are errors, so a
// typo does not silently leave a default in place.
package scenario

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/warren-mq/warren/loadgen/pattern"
	"github.com/warren-mq/warren/shared/topology"
)

// Target is the service a step's events go to.
type Target string

// The targets a step can address.
const (
	// Filter sends text events to the filter pool's work queue.
	Filter Target = "filter"
	// Broadcaster sends broadcast requests to the broadcaster.
	Broadcaster Target = "broadcaster"
)

// DefaultDrainTimeout is how long a run waits for outstanding results after its last step when the file
// does not say.
const DefaultDrainTimeout = 30 * time.Second

// Step is one stretch of a scenario: a pattern run by some publishers for a duration.
type Step struct {
	// Pattern is the traffic shape; its rates are per publisher.
	Pattern pattern.Spec
	// Publishers is how many publishers run the pattern at once; zero makes the step a pause.
	Publishers int
	// Target is where the events go.
	Target Target
	// Line is the step's line in the file, for messages about it.
	Line int
}

// Duration returns the step's length.
func (s Step) Duration() time.Duration { return s.Pattern.Duration }

// IsPause reports whether the step sends nothing.
func (s Step) IsPause() bool { return s.Publishers == 0 || s.Pattern.Kind == pattern.Pause }

// ExpectedEvents returns how many events the step sends on average, over all its publishers.
func (s Step) ExpectedEvents() float64 {
	if s.IsPause() {
		return 0
	}
	p := s.Pattern
	d := p.Duration.Seconds()
	var perPublisher float64
	switch p.Kind {
	case pattern.Steady, pattern.Poisson:
		perPublisher = p.Rate * d
	case pattern.Ramp:
		perPublisher = p.Slope*d*d/2 + p.Rate*d
	case pattern.Random:
		perPublisher = (p.Min + p.Max) / 2 * d
	}
	return perPublisher * float64(s.Publishers)
}

// MaxKeyBytes bounds a source's fairness key, as Warren bounds the x-warren-key header it reads.
const MaxKeyBytes = topology.MaxKeyBytes

// Source is one stream of traffic: its steps run one after the other from the scenario's start, at the same
// time as every other source's.
type Source struct {
	// Name labels the source in reports and plots: unique within the scenario, made of letters, digits,
	// '_', '.' and '-'. The one source of a single-source scenario is named "".
	Name string
	// Key is the fairness key every event of the source carries in its x-warren-key header; empty sends no
	// header. At most MaxKeyBytes bytes of UTF-8.
	Key string
	// Steps run one after the other.
	Steps []Step
	// Line is the source's line in the file, zero for a source built in code.
	Line int
}

// Duration returns the total length of the source's steps.
func (s Source) Duration() time.Duration {
	var d time.Duration
	for _, st := range s.Steps {
		d += st.Duration()
	}
	return d
}

// ExpectedEvents returns how many events the source sends on average.
func (s Source) ExpectedEvents() float64 {
	var n float64
	for _, st := range s.Steps {
		n += st.ExpectedEvents()
	}
	return n
}

// Publishers returns how many publishers the source needs: as many as its busiest step runs.
func (s Source) Publishers() int {
	n := 0
	for _, st := range s.Steps {
		if !st.IsPause() {
			n = max(n, st.Publishers)
		}
	}
	return n
}

// StepAt returns the index of the source's step running at t since the scenario start and how far into
// that step t is; ok is false before the start or at or after the source's end.
func (s Source) StepAt(t time.Duration) (index int, offset time.Duration, ok bool) {
	if t < 0 {
		return 0, 0, false
	}
	for i, st := range s.Steps {
		if t < st.Duration() {
			return i, t, true
		}
		t -= st.Duration()
	}
	return 0, 0, false
}

// Scenario is a parsed scenario file, or one built in code. It has either Steps (a single-source scenario)
// or Sources (a multi-source one), never both; AllSources gives either as sources.
type Scenario struct {
	// File is the path the scenario was read from, as given.
	File string
	// Name and Description say what the scenario is for.
	Name        string
	Description string
	// DrainTimeout bounds the wait for results after the last step; events still unanswered then are lost.
	DrainTimeout time.Duration
	// Steps are a single-source scenario's steps, run one after the other; empty in a multi-source one.
	Steps []Step
	// Sources are a multi-source scenario's sources, run at the same time; empty in a single-source one.
	Sources []Source
}

// NewMultiSource returns a multi-source scenario for a caller that builds one in code, checked as a file's
// would be (see Validate); drain zero means DefaultDrainTimeout. Its File, which errors start with, is its
// name.
func NewMultiSource(name string, drain time.Duration, sources ...Source) (*Scenario, error) {
	if drain == 0 {
		drain = DefaultDrainTimeout
	}
	s := &Scenario{File: name, Name: name, DrainTimeout: drain, Sources: sources}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return s, nil
}

// MultiSource reports whether the scenario has sources rather than top-level steps.
func (s *Scenario) MultiSource() bool { return len(s.Sources) > 0 }

// AllSources returns the scenario's sources: Sources, or for a single-source scenario one source named ""
// without a key that runs Steps.
func (s *Scenario) AllSources() []Source {
	if s.MultiSource() {
		return s.Sources
	}
	return []Source{{Steps: s.Steps}}
}

// Duration returns the length of the longest source, without the drain.
func (s *Scenario) Duration() time.Duration {
	var d time.Duration
	for _, src := range s.AllSources() {
		d = max(d, src.Duration())
	}
	return d
}

// ExpectedEvents returns how many events the whole scenario sends on average, over every source.
func (s *Scenario) ExpectedEvents() float64 {
	var n float64
	for _, src := range s.AllSources() {
		n += src.ExpectedEvents()
	}
	return n
}

// StepAt returns the index of the step running at t since the scenario start and how far into that step t
// is; ok is false before the start or at or after the end. It follows Steps, so it is always false for a
// multi-source scenario: ask each source's StepAt instead.
func (s *Scenario) StepAt(t time.Duration) (index int, offset time.Duration, ok bool) {
	return Source{Steps: s.Steps}.StepAt(t)
}

// sourceName is what a source's name may be made of.
var sourceName = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// Validate checks a scenario built in code as Parse checks a file: steps or sources but not both; every
// source named uniquely after sourceName's rule, with a valid key and at least one step; every step's
// publishers, target and, unless it is a pause, pattern. Errors are *Error, naming the source and step.
func (s *Scenario) Validate() error {
	if len(s.Steps) > 0 && len(s.Sources) > 0 {
		return &Error{File: s.File, Msg: "give either steps or sources, not both"}
	}
	if len(s.Steps) == 0 && len(s.Sources) == 0 {
		return &Error{File: s.File, Msg: "the scenario needs steps or sources"}
	}
	if !s.MultiSource() {
		return s.validateSteps("", s.Steps)
	}
	seen := make(map[string]bool, len(s.Sources))
	for i, src := range s.Sources {
		e := &Error{File: s.File, Line: src.Line, Source: "#" + strconv.Itoa(i+1)}
		if msg := checkSourceName(src.Name); msg != "" {
			e.Msg = msg
			return e
		}
		e.Source = src.Name
		if seen[src.Name] {
			e.Msg = fmt.Sprintf("source name %q is used twice", src.Name)
			return e
		}
		seen[src.Name] = true
		if msg := checkKey(src.Key); msg != "" {
			e.Msg = msg
			return e
		}
		if len(src.Steps) == 0 {
			e.Msg = "the source needs steps"
			return e
		}
		if err := s.validateSteps(src.Name, src.Steps); err != nil {
			return err
		}
	}
	return nil
}

// validateSteps checks steps built in code; a step read from a file passed these checks already.
func (s *Scenario) validateSteps(source string, steps []Step) error {
	for i, st := range steps {
		e := &Error{File: s.File, Line: st.Line, Source: source, Step: i + 1}
		switch {
		case st.Publishers < 0:
			e.Msg = fmt.Sprintf("publishers must be >= 0, got %d", st.Publishers)
		case st.Target != "" && st.Target != Filter && st.Target != Broadcaster:
			e.Msg = fmt.Sprintf("unknown target %q (want %s or %s)", st.Target, Filter, Broadcaster)
		case !st.IsPause():
			if err := st.Pattern.Validate(); err != nil {
				e.Msg, e.Err = err.Error(), err
			}
		}
		if e.Msg != "" {
			return e
		}
	}
	return nil
}

// checkSourceName says what is wrong with a source name, or "".
func checkSourceName(name string) string {
	switch {
	case name == "":
		return "the source needs a name"
	case !sourceName.MatchString(name):
		return fmt.Sprintf("source name %q may only have letters, digits, '_', '.' and '-'", name)
	}
	return ""
}

// checkKey says what is wrong with a fairness key, or "".
func checkKey(key string) string {
	switch {
	case len(key) > MaxKeyBytes:
		return fmt.Sprintf("key is %d bytes long; a fairness key has at most %d", len(key), MaxKeyBytes)
	case !utf8.ValidString(key):
		return "key is not valid UTF-8"
	}
	return ""
}

// Error is a problem in a scenario file, with where it is.
type Error struct {
	// File is the scenario's path and Line the 1-based line, zero when unknown.
	File string
	Line int
	// Source names the source the problem is in ("#N" for the N-th when its name is the problem), empty for
	// the top level and for a single-source scenario.
	Source string
	// Step is the 1-based step the problem is in, zero for the top level.
	Step int
	// Msg says what is wrong.
	Msg string
	// Err is the underlying error, if any.
	Err error
}

// Error renders "file:line: source S: step N: msg".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Source != "" {
		fmt.Fprintf(&b, "source %s: ", e.Source)
	}
	if e.Step > 0 {
		fmt.Fprintf(&b, "step %d: ", e.Step)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns the underlying error, so errors.Is(err, pattern.ErrInvalid) works for pattern problems.
func (e *Error) Unwrap() error { return e.Err }

// Load reads and parses the scenario file at path.
func Load(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read scenario: %w", err)
	}
	return Parse(path, data)
}

// yamlLine picks the line out of yaml's "yaml: line 3: ..." messages, its only way of saying where.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// zeroBasedLine lists the yaml parser's (as opposed to scanner's) messages: for these yaml reports its
// zero-based line index, one above the line where the broken construct starts, so Parse adds one.
var zeroBasedLine = map[string]bool{
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"did not find expected '-' indicator":    true,
	"did not find expected key":              true,
	"did not find expected node content":     true,
	"did not find expected <document start>": true,
	"did not find expected <stream-start>":   true,
}

// Parse parses a scenario from data; file names it in errors.
func Parse(file string, data []byte) (*Scenario, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		e := &Error{File: file, Msg: "malformed YAML: " + strings.TrimPrefix(err.Error(), "yaml: "), Err: err}
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
			e.Line, _ = strconv.Atoi(m[1])
			e.Msg = "malformed YAML: " + m[2]
			if zeroBasedLine[m[2]] {
				e.Line++
			}
		}
		return nil, e
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, &Error{File: file, Msg: "empty scenario file"}
	}
	p := parser{file: file}
	return p.scenario(doc.Content[0])
}

// parser carries the file name, and the source and step being read, into every error.
type parser struct {
	file   string
	source string
	step   int
}

func (p *parser) errf(n *yaml.Node, format string, args ...any) error {
	return &Error{File: p.file, Line: n.Line, Source: p.source, Step: p.step, Msg: fmt.Sprintf(format, args...)}
}

// field is one key of a mapping with its value.
type field struct {
	key, value *yaml.Node
}

// mapping returns a mapping's fields by key, refusing keys not in allowed and keys given twice.
func (p *parser) mapping(n *yaml.Node, what string, allowed []string) (map[string]field, error) {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		return nil, p.errf(n, "%s must be a mapping of keys to values, got %s", what, describe(n))
	}
	fields := make(map[string]field, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			return nil, p.errf(k, "%s keys must be plain names", what)
		}
		if !slices.Contains(allowed, k.Value) {
			return nil, p.errf(k, "unknown key %q in %s (known: %s)", k.Value, what, strings.Join(allowed, ", "))
		}
		if prev, dup := fields[k.Value]; dup {
			return nil, p.errf(k, "key %q given twice in %s (first at line %d)", k.Value, what, prev.key.Line)
		}
		fields[k.Value] = field{k, v}
	}
	return fields, nil
}

var (
	topKeys    = []string{"name", "description", "drain_timeout", "steps", "sources"}
	sourceKeys = []string{"name", "key", "steps"}
	stepKeys   = []string{"pattern", "rate", "slope", "min", "max", "interval", "duration", "publishers", "target"}
)

func (p *parser) scenario(root *yaml.Node) (*Scenario, error) {
	fields, err := p.mapping(root, "the scenario", topKeys)
	if err != nil {
		return nil, err
	}
	s := &Scenario{File: p.file, DrainTimeout: DefaultDrainTimeout}
	name, ok := fields["name"]
	if !ok {
		return nil, p.errf(root, "the scenario needs a name")
	}
	if s.Name, err = p.str(name, true); err != nil {
		return nil, err
	}
	if f, ok := fields["description"]; ok {
		if s.Description, err = p.str(f, false); err != nil {
			return nil, err
		}
	}
	if f, ok := fields["drain_timeout"]; ok {
		if s.DrainTimeout, err = p.duration(f); err != nil {
			return nil, err
		}
	}
	steps, haveSteps := fields["steps"]
	sources, haveSources := fields["sources"]
	switch {
	case haveSteps && haveSources:
		later := sources.key
		if later.Line < steps.key.Line {
			later = steps.key
		}
		return nil, p.errf(later, "give either steps or sources, not both")
	case haveSources:
		s.Sources, err = p.sources(sources.value)
	case haveSteps:
		s.Steps, err = p.steps(steps.value)
	default:
		return nil, p.errf(root, "the scenario needs steps or sources")
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// steps reads a list of steps, of the scenario or of a source.
func (p *parser) steps(n *yaml.Node) ([]Step, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, p.errf(n, "steps must be a list, got %s", describe(n))
	}
	if len(n.Content) == 0 {
		what := "a scenario"
		if p.source != "" {
			what = "a source"
		}
		return nil, p.errf(n, "steps is empty; %s needs at least one step", what)
	}
	var out []Step
	for i, c := range n.Content {
		p.step = i + 1
		st, err := p.parseStep(resolve(c))
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	p.step = 0
	return out, nil
}

// sources reads the list of sources; names must be unique.
func (p *parser) sources(n *yaml.Node) ([]Source, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, p.errf(n, "sources must be a list, got %s", describe(n))
	}
	if len(n.Content) == 0 {
		return nil, p.errf(n, "sources is empty; a scenario needs at least one source")
	}
	var out []Source
	first := map[string]int{}
	for i, c := range n.Content {
		// Errors name the source by its name as soon as it has a good one, by its place until then.
		p.source = "#" + strconv.Itoa(i+1)
		if name := peekName(resolve(c)); checkSourceName(name) == "" {
			if _, dup := first[name]; !dup {
				p.source = name
			}
		}
		src, err := p.parseSource(resolve(c), first)
		if err != nil {
			return nil, err
		}
		first[src.Name] = src.Line
		out = append(out, src)
	}
	p.source = ""
	return out, nil
}

// parseSource reads one source; first holds the line of each name taken by an earlier source.
func (p *parser) parseSource(n *yaml.Node, first map[string]int) (Source, error) {
	fields, err := p.mapping(n, "the source", sourceKeys)
	if err != nil {
		return Source{}, err
	}
	src := Source{Line: n.Line}
	name, ok := fields["name"]
	if !ok {
		return Source{}, p.errf(n, "the source needs a name")
	}
	if src.Name, err = p.str(name, true); err != nil {
		return Source{}, err
	}
	if msg := checkSourceName(src.Name); msg != "" {
		return Source{}, p.errf(name.value, "%s", msg)
	}
	if line, dup := first[src.Name]; dup {
		return Source{}, p.errf(name.value, "source name %q is used twice (first at line %d)", src.Name, line)
	}
	p.source = src.Name
	if f, ok := fields["key"]; ok {
		if src.Key, err = p.key(f); err != nil {
			return Source{}, err
		}
	}
	steps, ok := fields["steps"]
	if !ok {
		return Source{}, p.errf(n, "the source needs steps")
	}
	if src.Steps, err = p.steps(steps.value); err != nil {
		return Source{}, err
	}
	return src, nil
}

// peekName returns the plain name of a source node, or "" when it has none.
func peekName(n *yaml.Node) string {
	if n.Kind != yaml.MappingNode {
		return ""
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k, v := resolve(n.Content[i]), resolve(n.Content[i+1]); k.Value == "name" && v.Kind == yaml.ScalarNode {
			return strings.TrimSpace(v.Value)
		}
	}
	return ""
}

// key reads a fairness key as written, without trimming: it is sent byte for byte. Nothing (key:) is the
// empty key, which sends no header.
func (p *parser) key(f field) (string, error) {
	if f.value.Kind == yaml.ScalarNode && f.value.Tag == "!!null" {
		return "", nil
	}
	if f.value.Kind != yaml.ScalarNode {
		return "", p.errf(f.value, "key must be text, got %s", describe(f.value))
	}
	if msg := checkKey(f.value.Value); msg != "" {
		return "", p.errf(f.value, "%s", msg)
	}
	return f.value.Value, nil
}

// parseStep reads one step and checks that each key suits the pattern, so "slope" on a steady step is an
// error at its own line rather than a value quietly ignored.
func (p *parser) parseStep(n *yaml.Node) (Step, error) {
	fields, err := p.mapping(n, "the step", stepKeys)
	if err != nil {
		return Step{}, err
	}
	st := Step{Publishers: 1, Target: Filter, Line: n.Line}
	if f, ok := fields["publishers"]; ok {
		if st.Publishers, err = p.count(f); err != nil {
			return Step{}, err
		}
	}
	spec := &st.Pattern
	if f, ok := fields["pattern"]; ok {
		v, err := p.str(f, true)
		if err != nil {
			return Step{}, err
		}
		if spec.Kind, err = pattern.ParseKind(v); err != nil {
			return Step{}, p.wrap(f.value, err)
		}
	} else if _, ok := fields["publishers"]; ok && st.Publishers == 0 {
		spec.Kind = pattern.Pause
	} else {
		return Step{}, p.errf(n, "pattern is required (one of %s)", kindNames())
	}
	if spec.Kind == pattern.Pause {
		if f, ok := fields["publishers"]; ok && st.Publishers != 0 {
			return Step{}, p.errf(f.value, "a pause has no publishers, got %d", st.Publishers)
		}
		st.Publishers = 0
	}

	// Which keys each pattern takes, and which of them it needs.
	uses := map[pattern.Kind][]string{
		pattern.Steady:  {"rate"},
		pattern.Poisson: {"rate"},
		pattern.Ramp:    {"rate", "slope"},
		pattern.Random:  {"min", "max", "interval"},
		pattern.Pause:   {},
	}[spec.Kind]
	needs := map[pattern.Kind][]string{
		pattern.Steady:  {"rate"},
		pattern.Poisson: {"rate"},
		pattern.Ramp:    {"slope"},
		pattern.Random:  {"min", "max"},
	}[spec.Kind]
	for _, key := range []string{"rate", "slope", "min", "max", "interval"} {
		if f, ok := fields[key]; ok && !slices.Contains(uses, key) {
			return Step{}, p.errf(f.key, "%s does not apply to pattern %s", key, spec.Kind)
		}
	}
	for _, key := range append(needs, "duration") {
		if _, ok := fields[key]; !ok {
			return Step{}, p.errf(n, "pattern %s needs %s", spec.Kind, key)
		}
	}

	// A slice, not a map, so a step with several bad numbers always reports the same one first.
	numbers := []struct {
		key string
		dst *float64
	}{{"rate", &spec.Rate}, {"slope", &spec.Slope}, {"min", &spec.Min}, {"max", &spec.Max}}
	for _, num := range numbers {
		if f, ok := fields[num.key]; ok {
			if *num.dst, err = p.number(f); err != nil {
				return Step{}, err
			}
		}
	}
	if f, ok := fields["interval"]; ok {
		if spec.Interval, err = p.duration(f); err != nil {
			return Step{}, err
		}
	}
	if spec.Duration, err = p.duration(fields["duration"]); err != nil {
		return Step{}, err
	}
	if f, ok := fields["target"]; ok {
		v, err := p.str(f, true)
		if err != nil {
			return Step{}, err
		}
		switch t := Target(strings.ToLower(v)); t {
		case Filter, Broadcaster:
			st.Target = t
		default:
			return Step{}, p.errf(f.value, "unknown target %q (want %s or %s)", v, Filter, Broadcaster)
		}
	}

	if err := spec.Validate(); err != nil {
		// Point at the field the pattern blames, or at the step when that field is not in the file.
		at := n
		var fe *pattern.FieldError
		if errors.As(err, &fe) {
			if f, ok := fields[fe.Field]; ok {
				at = f.value
			}
		}
		return Step{}, p.wrap(at, err)
	}
	return st, nil
}

func (p *parser) wrap(n *yaml.Node, err error) error {
	return &Error{File: p.file, Line: n.Line, Source: p.source, Step: p.step, Msg: err.Error(), Err: err}
}

func (p *parser) str(f field, required bool) (string, error) {
	if f.value.Kind != yaml.ScalarNode || f.value.Tag == "!!null" {
		return "", p.errf(f.value, "%s must be text, got %s", f.key.Value, describe(f.value))
	}
	v := strings.TrimSpace(f.value.Value)
	if required && v == "" {
		return "", p.errf(f.value, "%s must not be empty", f.key.Value)
	}
	return v, nil
}

func (p *parser) number(f field) (float64, error) {
	if f.value.Kind != yaml.ScalarNode || (f.value.Tag != "!!int" && f.value.Tag != "!!float") {
		return 0, p.errf(f.value, "%s must be a number, got %s", f.key.Value, describe(f.value))
	}
	var v float64
	if err := f.value.Decode(&v); err != nil {
		return 0, &Error{File: p.file, Line: f.value.Line, Source: p.source, Step: p.step,
			Msg: fmt.Sprintf("%s must be a number, got %s", f.key.Value, describe(f.value)), Err: err}
	}
	return v, nil
}

func (p *parser) count(f field) (int, error) {
	if f.value.Kind != yaml.ScalarNode || f.value.Tag != "!!int" {
		return 0, p.errf(f.value, "%s must be a whole number, got %s", f.key.Value, describe(f.value))
	}
	v, err := strconv.ParseInt(f.value.Value, 0, 32)
	if err != nil || v < 0 {
		return 0, &Error{File: p.file, Line: f.value.Line, Source: p.source, Step: p.step,
			Msg: fmt.Sprintf("%s must be a whole number >= 0, got %s", f.key.Value, f.value.Value), Err: err}
	}
	return int(v), nil
}

// duration reads a Go duration such as "10s" or "1m30s"; a bare number is refused because its unit would
// be a guess.
func (p *parser) duration(f field) (time.Duration, error) {
	if f.value.Kind != yaml.ScalarNode || f.value.Tag != "!!str" {
		return 0, p.errf(f.value, "%s must be a duration such as \"10s\", got %s", f.key.Value, describe(f.value))
	}
	d, err := time.ParseDuration(strings.TrimSpace(f.value.Value))
	if err != nil {
		return 0, &Error{File: p.file, Line: f.value.Line, Source: p.source, Step: p.step,
			Msg: fmt.Sprintf("%s must be a duration such as \"10s\", got %q", f.key.Value, f.value.Value), Err: err}
	}
	if d <= 0 {
		return 0, p.errf(f.value, "%s must be > 0, got %s", f.key.Value, f.value.Value)
	}
	return d, nil
}

// resolve follows an alias to the node it names, so anchors work as YAML users expect.
func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// describe names a node's value for an error message.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		if n.Tag == "!!str" {
			return strconv.Quote(n.Value)
		}
		return n.Value
	default:
		return "an unexpected value"
	}
}

func kindNames() string {
	names := make([]string, len(pattern.Kinds))
	for i, k := range pattern.Kinds {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}
