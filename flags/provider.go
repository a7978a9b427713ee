package flags

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/glidepath/glidepath/strategy"
)

// Rollout is the mutable part of a flag: who is served which variant.
// The zero Rollout is invalid (it names no control variant).
type Rollout struct {
	// Control is the variant served to every targeting key outside the
	// rollout, and to evaluations without a targeting key. Required.
	Control string `json:"control"`
	// Treatment is the variant being rolled out; empty when none.
	Treatment string `json:"treatment,omitempty"`
	// Percent is the share of targeting keys served Treatment, 0..100;
	// 0 (the zero value) serves Control to everyone. It has a resolution
	// of 0.001% (see [Threshold]). A non-zero Percent needs a Treatment.
	Percent float64 `json:"percent,omitempty"`
	// Split, when set, serves every targeting key one of several variants
	// by relative weight: a sticky N-variant split (an A/B/C test, a
	// three-way migration) with glidepath's SHA-256 bucketing. Keys are
	// assigned by bucket (see [Bucket]) to consecutive ranges in the order
	// of Split, each Weight / (sum of weights) of the buckets wide.
	// Control is still required (it serves evaluations without a
	// targeting key); Treatment and Percent must be empty. For flagd's
	// bucketing instead, give the flag a fractional Targeting rule.
	Split []Share `json:"split,omitempty"`
}

// Share is one variant of a [Rollout.Split] and its relative weight.
type Share struct {
	Variant string `json:"variant"`
	Weight  int    `json:"weight"`
}

// Equal reports whether r and o are the same rollout.
func (r Rollout) Equal(o Rollout) bool {
	return r.Control == o.Control && r.Treatment == o.Treatment && r.Percent == o.Percent && slices.Equal(r.Split, o.Split)
}

// problems lists what is wrong with r for a flag with the given variants
// (nil variants skips the membership checks).
func (r Rollout) problems(variants map[string]any) []string {
	var p []string
	if r.Control == "" {
		p = append(p, "rollout names no control variant")
	} else if _, ok := variants[r.Control]; variants != nil && !ok {
		p = append(p, fmt.Sprintf("control variant %q is not defined", r.Control))
	}
	if r.Treatment != "" {
		if _, ok := variants[r.Treatment]; variants != nil && !ok {
			p = append(p, fmt.Sprintf("treatment variant %q is not defined", r.Treatment))
		}
		if r.Treatment == r.Control {
			p = append(p, fmt.Sprintf("treatment and control are the same variant %q", r.Control))
		}
	}
	if len(r.Split) > 0 {
		if r.Treatment != "" || r.Percent != 0 {
			p = append(p, "a split has no treatment or percentage")
		}
		total, seen := 0, map[string]bool{}
		for i, sh := range r.Split {
			if _, ok := variants[sh.Variant]; variants != nil && !ok {
				p = append(p, fmt.Sprintf("split %d: variant %q is not defined", i, sh.Variant))
			}
			if seen[sh.Variant] {
				p = append(p, fmt.Sprintf("split %d: variant %q is listed twice", i, sh.Variant))
			}
			seen[sh.Variant] = true
			if sh.Weight < 0 {
				p = append(p, fmt.Sprintf("split %d: weight %d of %q is negative", i, sh.Weight, sh.Variant))
			} else {
				total += sh.Weight
			}
		}
		if total == 0 {
			p = append(p, "split weights are all zero")
		} else if total > math.MaxInt32 {
			p = append(p, fmt.Sprintf("split weights sum to %d, more than %d", total, math.MaxInt32))
		}
		return p
	}
	if math.IsNaN(r.Percent) || r.Percent < 0 || r.Percent > 100 {
		p = append(p, fmt.Sprintf("percent %v is outside 0..100", r.Percent))
	} else if r.Percent > 0 && r.Treatment == "" {
		p = append(p, fmt.Sprintf("percent %v with no treatment variant", r.Percent))
	}
	return p
}

// Flag defines one feature flag: its variants and its current rollout.
type Flag struct {
	// Key identifies the flag in evaluations. Required.
	Key string `json:"key"`
	// Variants maps each variant's name to its value. A value is a bool,
	// a string, an integer of any Go integer type (served as int64), a
	// float32 or float64 (served as float64), or anything else, served by
	// object evaluations only. Required.
	Variants map[string]any `json:"variants"`
	// Rollout says who is served which variant. Rollout.Control is required.
	Rollout Rollout `json:"rollout"`
	// Salt is mixed into the bucketing hash (see [Bucket]); empty uses
	// Key. Flags with different salts bucket independently. Changing the
	// salt reshuffles every targeting key, so set it once.
	Salt string `json:"salt,omitempty"`
	// Metadata is returned with every evaluation as OpenFeature
	// FlagMetadata. Values are booleans, strings, integers (served as
	// int64) or floats (served as float64).
	Metadata map[string]any `json:"metadata,omitempty"`
	// Targeting is a flagd targeting rule (JSON Logic with flagd's
	// operations, see [ParseFlagd]). When set, the rule picks the variant
	// exactly as flagd does, Rollout.Control is the default variant
	// (flagd's defaultVariant; empty returns the caller's default), and
	// Rollout may name nothing else. null and {} are no rule.
	Targeting json.RawMessage `json:"targeting,omitempty"`
	// Disabled is flagd's state DISABLED: evaluations return the
	// caller's default with reason DISABLED.
	Disabled bool `json:"disabled,omitempty"`
}

// ruled reports whether f is evaluated flagd's way.
func (f Flag) ruled() bool { return len(f.Targeting) > 0 || f.Disabled }

// Validate reports every problem with f at once, as an error matching
// [strategy.ErrInvalidConfig], or nil.
func (f Flag) Validate() error {
	return strategy.Invalid("flag "+f.Key, f.problems()...)
}

func (f Flag) problems() []string {
	var p []string
	if f.Key == "" {
		p = append(p, "flag has no key")
	}
	if len(f.Variants) == 0 {
		p = append(p, "flag has no variants")
	}
	for _, name := range slices.Sorted(maps.Keys(f.Variants)) {
		if name == "" {
			p = append(p, "a variant has an empty name")
		}
		if _, err := normalize(f.Variants[name]); err != nil {
			p = append(p, fmt.Sprintf("variant %q: %v", name, err))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(f.Metadata)) {
		switch v, _ := normalize(f.Metadata[k]); v.(type) {
		case bool, string, int64, float64:
		default:
			p = append(p, fmt.Sprintf("metadata %q is a %T, not a boolean, string or number", k, f.Metadata[k]))
		}
	}
	variants := f.Variants
	if variants == nil {
		variants = map[string]any{}
	}
	if !f.ruled() {
		return append(p, f.Rollout.problems(variants)...)
	}
	r := f.Rollout
	if _, ok := variants[r.Control]; r.Control != "" && !ok {
		p = append(p, fmt.Sprintf("flags.%s.defaultVariant: %q is not a variant of the flag", f.Key, r.Control))
	}
	if r.Treatment != "" || r.Percent != 0 || len(r.Split) > 0 {
		p = append(p, "a flag with a targeting rule has no treatment, percentage or split: its rule decides")
	}
	return append(p, f.targetingProblems("flags."+f.Key+".targeting")...)
}

// normalize converts integers to int64 and float32 to float64, so typed
// evaluations see one Go type per OpenFeature type.
func normalize(v any) (any, error) {
	if v == nil {
		return nil, fmt.Errorf("value is nil")
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int(), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		u := rv.Uint()
		if u > math.MaxInt64 {
			return nil, fmt.Errorf("integer %d overflows int64", u)
		}
		return int64(u), nil
	case reflect.Float32, reflect.Float64:
		return rv.Float(), nil
	case reflect.Bool:
		return rv.Bool(), nil
	case reflect.String:
		return rv.String(), nil
	}
	return v, nil
}

// Config configures a [Provider]. The zero Config is a provider named
// "glidepath" with no flags.
type Config struct {
	// Name is the provider's name in OpenFeature metadata (default
	// "glidepath").
	Name string
	// Flags are the initial flags. Keys must be unique.
	Flags []Flag
	// EventBuffer is the capacity of the provider's event channel
	// (default 16). Configuration changes are never dropped: when the
	// buffer is full, pending changes are merged into one event.
	EventBuffer int
	// File is a flagd flag definition file (see [ParseFlagd]) served by
	// the provider: NewProvider loads it (an invalid file is an error),
	// and once OpenFeature initializes the provider it is read again
	// every PollInterval and reloaded when its content changed (see
	// [Provider.Reload]). Empty serves Flags only.
	File string
	// PollInterval is how often File is checked for changes (default 1s).
	PollInterval time.Duration
	// OnReloadError, when set, is called with the error of every reload
	// of File that failed; the provider keeps serving the last good
	// definitions. It is called from the watching goroutine.
	OnReloadError func(error)
	// Hooks are returned by [Provider.Hooks], so OpenFeature runs them
	// around this provider's evaluations.
	Hooks []openfeature.Hook
}

// Validate reports every problem with c at once, as an error matching
// [strategy.ErrInvalidConfig], or nil.
func (c Config) Validate() error {
	var p []string
	seen := map[string]bool{}
	for i, f := range c.Flags {
		for _, q := range f.problems() {
			p = append(p, fmt.Sprintf("flag %d (%s): %s", i, f.Key, q))
		}
		if f.Key != "" && seen[f.Key] {
			p = append(p, fmt.Sprintf("flag %d: key %q is defined twice", i, f.Key))
		}
		seen[f.Key] = true
	}
	if c.PollInterval < 0 {
		p = append(p, fmt.Sprintf("poll interval %v is negative", c.PollInterval))
	}
	for i, h := range c.Hooks {
		if h == nil {
			p = append(p, fmt.Sprintf("hook %d is nil", i))
		}
	}
	if c.EventBuffer < 0 {
		p = append(p, fmt.Sprintf("event buffer %d is negative", c.EventBuffer))
	}
	return strategy.Invalid("flags provider config", p...)
}

// variant is a resolved variant of a compiled flag.
type variant struct {
	name  string
	value any
	evals *atomic.Int64 // evaluations that served this variant
}

// flagState is an immutable compiled flag; a change replaces it.
type flagState struct {
	key       string
	salt      string
	values    map[string]any
	rollout   Rollout
	threshold int
	shares    []share // a Rollout.Split: variants with the end of their bucket range
	meta      openfeature.FlagMetadata
	def       Flag // the definition, as set
	ruled     bool
	rule      *node // nil: no rule
	disabled  bool
	byName    map[string]*variant // every variant of a flag with a rule
	control   variant
	treatment variant // zero name when there is none
	metrics   *flagMetrics
}

// flagMetrics holds a flag's evaluation counters; it survives changes to
// the flag's definition and rollout. Evaluations are counted only once a
// CountSource asked for them (on), so that evaluations of flags nobody
// measures write no shared memory.
type flagMetrics struct {
	on    atomic.Bool
	mu    sync.Mutex
	evals map[string]*atomic.Int64
}

func (m *flagMetrics) counter(name string) *atomic.Int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.evals[name]
	if c == nil {
		c = new(atomic.Int64)
		m.evals[name] = c
	}
	return c
}

func (m *flagMetrics) load(name string) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c := m.evals[name]; c != nil {
		return c.Load()
	}
	return 0
}

// assign returns the variant served to targetingKey.
func (s *flagState) assign(targetingKey string) *variant {
	if len(s.shares) > 0 {
		b := Bucket(s.salt, s.key, targetingKey)
		for i := range s.shares {
			if b < s.shares[i].end {
				return &s.shares[i].v
			}
		}
		return &s.shares[len(s.shares)-1].v // unreachable: the last range ends at Buckets
	}
	if s.threshold == 0 {
		return &s.control
	}
	if s.threshold >= Buckets || Bucket(s.salt, s.key, targetingKey) < s.threshold {
		return &s.treatment
	}
	return &s.control
}

// split reports whether the variant served depends on the targeting key.
func (s *flagState) split() bool { return s.threshold > 0 || len(s.shares) > 0 }

// share is a variant of a split and the end of its bucket range.
type share struct {
	v   variant
	end int
}

// Provider is an OpenFeature provider that serves flags with sticky
// percentage rollouts (see the package documentation). It implements
// openfeature.FeatureProvider, StateHandler, EventHandler and Tracker.
// Create it with [NewProvider]; it is safe for concurrent use, and
// evaluations never take a lock.
type Provider struct {
	name string

	mu      sync.Mutex // serializes changes
	metrics map[string]*flagMetrics
	loaded  map[string]bool // keys served from the last LoadFlagd
	flags   atomic.Pointer[map[string]*flagState]
	sinks   atomic.Pointer[map[string][]*sink] // tracking event name -> sinks

	events chan openfeature.Event
	hooks  []openfeature.Hook
	file   *fileWatch // nil without Config.File
}

var (
	_ openfeature.FeatureProvider = (*Provider)(nil)
	_ openfeature.StateHandler    = (*Provider)(nil)
	_ openfeature.EventHandler    = (*Provider)(nil)
	_ openfeature.Tracker         = (*Provider)(nil)

	_ openfeature.ContextAwareStateHandler = (*Provider)(nil)
)

// NewProvider validates cfg and returns a provider serving its flags.
func NewProvider(cfg Config) (*Provider, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &Provider{
		name:    cfg.Name,
		metrics: map[string]*flagMetrics{},
		events:  make(chan openfeature.Event, orDefault(cfg.EventBuffer, 16)),
	}
	if p.name == "" {
		p.name = "glidepath"
	}
	m := make(map[string]*flagState, len(cfg.Flags))
	for _, f := range cfg.Flags {
		m[f.Key] = p.compile(f)
	}
	p.flags.Store(&m)
	empty := map[string][]*sink{}
	p.sinks.Store(&empty)
	p.hooks = slices.Clone(cfg.Hooks)
	if cfg.File != "" {
		p.file = &fileWatch{path: cfg.File, interval: cfg.PollInterval, onError: cfg.OnReloadError}
		if p.file.interval == 0 {
			p.file.interval = time.Second
		}
		if _, err := p.Reload(); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func orDefault(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

// compile builds the immutable state of a validated flag. p.mu is held
// (or p is not yet shared).
func (p *Provider) compile(f Flag) *flagState {
	values := make(map[string]any, len(f.Variants))
	for name, v := range f.Variants {
		values[name], _ = normalize(v) // validated
	}
	m := p.metrics[f.Key]
	if m == nil {
		m = &flagMetrics{evals: map[string]*atomic.Int64{}}
		p.metrics[f.Key] = m
	}
	salt := f.Salt
	if salt == "" {
		salt = f.Key
	}
	var meta openfeature.FlagMetadata
	if len(f.Metadata) > 0 {
		meta = make(openfeature.FlagMetadata, len(f.Metadata))
		for k, v := range f.Metadata {
			meta[k], _ = normalize(v) // validated
		}
	}
	s := &flagState{key: f.Key, salt: salt, values: values, meta: meta, metrics: m, def: f}
	if f.ruled() {
		s.ruled, s.disabled = true, f.Disabled
		s.rule, _ = f.compileTargeting("targeting") // validated
		s.byName = make(map[string]*variant, len(values))
		for name, v := range values {
			s.byName[name] = &variant{name: name, value: v, evals: m.counter(name)}
		}
	}
	return p.withRollout(s, f.Rollout)
}

// withRollout returns a copy of s serving r (already validated).
func (p *Provider) withRollout(s *flagState, r Rollout) *flagState {
	n := *s
	n.rollout = r
	n.threshold = Threshold(r.Percent)
	if r.Treatment == "" {
		n.threshold = 0
	}
	n.control = variant{name: r.Control, value: s.values[r.Control], evals: s.metrics.counter(r.Control)}
	n.shares = nil
	if len(r.Split) > 0 {
		total := 0
		for _, sh := range r.Split {
			total += sh.Weight
		}
		cum := 0
		for _, sh := range r.Split {
			cum += sh.Weight
			n.shares = append(n.shares, share{
				v:   variant{name: sh.Variant, value: s.values[sh.Variant], evals: s.metrics.counter(sh.Variant)},
				end: int(int64(cum) * Buckets / int64(total)),
			})
		}
		n.rollout.Split = slices.Clone(r.Split)
	}
	if s.ruled {
		n.threshold = 0
		if c := s.byName[r.Control]; c != nil {
			n.control = *c
		}
	}
	n.treatment = variant{}
	if r.Treatment != "" {
		n.treatment = variant{name: r.Treatment, value: s.values[r.Treatment], evals: s.metrics.counter(r.Treatment)}
	}
	return &n
}

func (p *Provider) lookup(key string) *flagState { return (*p.flags.Load())[key] }

// SetFlag adds a flag or replaces its definition (variants, salt and
// rollout), and emits PROVIDER_CONFIGURATION_CHANGED naming it.
func (p *Provider) SetFlag(f Flag) error {
	if err := f.Validate(); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.store(p.compile(f))
	p.changed(f.Key)
	return nil
}

// SetRollout changes the rollout of the flag flagKey. A rollout equal to
// the current one changes nothing and emits nothing; any other change
// takes effect for the next evaluation and emits
// PROVIDER_CONFIGURATION_CHANGED with the flag key in FlagChanges.
func (p *Provider) SetRollout(flagKey string, r Rollout) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.lookup(flagKey)
	if s == nil {
		return fmt.Errorf("flags: flag %q is not defined", flagKey)
	}
	if s.ruled {
		return fmt.Errorf("flags: flag %q is served by its targeting rule; change the flag (SetFlag) or release it with a FractionalTarget", flagKey)
	}
	if err := strategy.Invalid("rollout of flag "+flagKey, r.problems(s.values)...); err != nil {
		return err
	}
	if s.rollout.Equal(r) {
		return nil
	}
	p.store(p.withRollout(s, r))
	p.changed(flagKey)
	return nil
}

// store publishes s. p.mu is held.
func (p *Provider) store(s *flagState) {
	old := *p.flags.Load()
	m := make(map[string]*flagState, len(old)+1)
	maps.Copy(m, old)
	m[s.key] = s
	p.flags.Store(&m)
}

// Rollout returns the current rollout of the flag flagKey.
func (p *Provider) Rollout(flagKey string) (Rollout, bool) {
	s := p.lookup(flagKey)
	if s == nil {
		return Rollout{}, false
	}
	r := s.rollout
	r.Split = slices.Clone(r.Split)
	return r, true
}

// Flags returns the keys of the defined flags, sorted.
func (p *Provider) Flags() []string {
	keys := slices.Collect(maps.Keys(*p.flags.Load()))
	sort.Strings(keys)
	return keys
}

// Variant returns the variant the flag flagKey serves targetingKey now,
// without counting an evaluation. An empty targeting key is served the
// control variant. ok is false when the flag is not defined.
func (p *Provider) Variant(flagKey, targetingKey string) (name string, ok bool) {
	s := p.lookup(flagKey)
	if s == nil {
		return "", false
	}
	if s.ruled {
		v, _ := s.resolveRule(map[string]any{openfeature.TargetingKey: targetingKey})
		if v == nil {
			return "", true
		}
		return v.name, true
	}
	if targetingKey == "" {
		return s.control.name, true
	}
	return s.assign(targetingKey).name, true
}

// changed emits a configuration-change event for keys without ever
// blocking: when the channel is full, the oldest queued event is taken
// back and merged with this one, so every change is still reported.
// p.mu is held, which makes this the channel's only sender.
func (p *Provider) changed(keys ...string) {
	ev := openfeature.Event{
		ProviderName: p.name,
		EventType:    openfeature.ProviderConfigChange,
		ProviderEventDetails: openfeature.ProviderEventDetails{
			Message:     "flag configuration changed",
			FlagChanges: slices.Clone(keys),
		},
	}
	for {
		select {
		case p.events <- ev:
			return
		default:
		}
		select {
		case old := <-p.events:
			for _, k := range old.FlagChanges {
				if !slices.Contains(ev.FlagChanges, k) {
					ev.FlagChanges = append(ev.FlagChanges, k)
				}
			}
		default:
		}
	}
}

// Metadata returns the provider's name.
func (p *Provider) Metadata() openfeature.Metadata { return openfeature.Metadata{Name: p.name} }

// Hooks returns the hooks of Config.Hooks; OpenFeature runs them
// around every evaluation this provider serves.
func (p *Provider) Hooks() []openfeature.Hook { return p.hooks }

// EventChannel returns the channel of PROVIDER_CONFIGURATION_CHANGED
// events emitted by SetFlag and SetRollout.
func (p *Provider) EventChannel() <-chan openfeature.Event { return p.events }

// resolve picks the variant of flagKey for the evaluation context.
func (p *Provider) resolve(flagKey string, flat openfeature.FlattenedContext) (*flagState, *variant, openfeature.ProviderResolutionDetail) {
	s := p.lookup(flagKey)
	if s == nil {
		return nil, nil, openfeature.ProviderResolutionDetail{
			ResolutionError: openfeature.NewFlagNotFoundResolutionError("flag " + flagKey + " is not defined"),
			Reason:          openfeature.ErrorReason,
		}
	}
	if s.ruled {
		v, d := s.resolveRule(flat)
		return s, v, d
	}
	if !s.split() {
		return s, &s.control, openfeature.ProviderResolutionDetail{Reason: openfeature.StaticReason, Variant: s.control.name}
	}
	key, _ := flat[openfeature.TargetingKey].(string)
	if key == "" {
		// Spec 2.2.7: abnormal execution carries an error code; 1.4.8:
		// the reason indicates an error. The variant and value are the
		// control's, which is what the provider serves such users.
		return s, &s.control, openfeature.ProviderResolutionDetail{
			ResolutionError: openfeature.NewTargetingKeyMissingResolutionError("flag " + flagKey + " is in a percentage rollout and needs a targeting key"),
			Reason:          openfeature.ErrorReason,
			Variant:         s.control.name,
		}
	}
	v := s.assign(key)
	return s, v, openfeature.ProviderResolutionDetail{Reason: openfeature.SplitReason, Variant: v.name}
}

func evaluate[T any](p *Provider, flagKey string, def T, flat openfeature.FlattenedContext, conv func(any) (T, bool)) openfeature.GenericResolutionDetail[T] {
	s, v, d := p.resolve(flagKey, flat)
	if s == nil {
		return openfeature.GenericResolutionDetail[T]{Value: def, ProviderResolutionDetail: d}
	}
	d.FlagMetadata = s.meta
	if v == nil { // disabled, the caller's default, or an error
		return openfeature.GenericResolutionDetail[T]{Value: def, ProviderResolutionDetail: d}
	}
	val, ok := conv(v.value)
	if !ok {
		return openfeature.GenericResolutionDetail[T]{Value: def, ProviderResolutionDetail: openfeature.ProviderResolutionDetail{
			ResolutionError: openfeature.NewTypeMismatchResolutionError(fmt.Sprintf("variant %q of flag %s is a %T", v.name, flagKey, v.value)),
			Reason:          openfeature.ErrorReason,
			Variant:         v.name,
			FlagMetadata:    s.meta,
		}}
	}
	if s.metrics.on.Load() && d.ResolutionError == (openfeature.ResolutionError{}) {
		v.evals.Add(1)
	}
	return openfeature.GenericResolutionDetail[T]{Value: val, ProviderResolutionDetail: d}
}

func asBool(v any) (bool, bool)     { b, ok := v.(bool); return b, ok }
func asString(v any) (string, bool) { s, ok := v.(string); return s, ok }

// asInt serves int64 variants, and float64 variants with an integral
// value (flagd serves integer flags from JSON numbers).
func asInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case float64:
		if x == math.Trunc(x) && x >= math.MinInt64 && x < math.MaxInt64 {
			return int64(x), true
		}
	}
	return 0, false
}
func asAny(v any) (any, bool) { return v, true }

func asFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int64:
		return float64(x), true
	}
	return 0, false
}

// BooleanEvaluation resolves a boolean flag.
func (p *Provider) BooleanEvaluation(_ context.Context, flag string, defaultValue bool, flatCtx openfeature.FlattenedContext) openfeature.BoolResolutionDetail {
	return evaluate(p, flag, defaultValue, flatCtx, asBool)
}

// StringEvaluation resolves a string flag.
func (p *Provider) StringEvaluation(_ context.Context, flag string, defaultValue string, flatCtx openfeature.FlattenedContext) openfeature.StringResolutionDetail {
	return evaluate(p, flag, defaultValue, flatCtx, asString)
}

// FloatEvaluation resolves a number flag; integer variants are converted.
func (p *Provider) FloatEvaluation(_ context.Context, flag string, defaultValue float64, flatCtx openfeature.FlattenedContext) openfeature.FloatResolutionDetail {
	return evaluate(p, flag, defaultValue, flatCtx, asFloat)
}

// IntEvaluation resolves an integer flag; float variants with a fraction
// are a type mismatch.
func (p *Provider) IntEvaluation(_ context.Context, flag string, defaultValue int64, flatCtx openfeature.FlattenedContext) openfeature.IntResolutionDetail {
	return evaluate(p, flag, defaultValue, flatCtx, asInt)
}

// ObjectEvaluation resolves a flag of any type, returning the variant's value.
func (p *Provider) ObjectEvaluation(_ context.Context, flag string, defaultValue any, flatCtx openfeature.FlattenedContext) openfeature.InterfaceResolutionDetail {
	return evaluate(p, flag, defaultValue, flatCtx, asAny)
}
