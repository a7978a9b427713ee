package analysis

import (
	"context"
	"errors"
	"fmt"
	"github.com/glidepath/glidepath/internal/sleep"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/glidepath/glidepath/strategy"
)

// Defaults for the zero values of [Check] fields.
const (
	// DefaultConsecutiveErrorLimit is Argo Rollouts' default
	// consecutiveErrorLimit: the fifth error in a row ends the check.
	DefaultConsecutiveErrorLimit = 4
	// DefaultErrorRetryInterval is how soon a check with no Interval
	// measures again after an error (Argo Rollouts' 10s).
	DefaultErrorRetryInterval = 10 * time.Second
	// DefaultTimeout bounds one measurement.
	DefaultTimeout = 30 * time.Second
	// DefaultHistoryLimit is how many measurements a check keeps
	// (Argo Rollouts keeps 10 per metric).
	DefaultHistoryLimit = 10
	// DefaultNoDataLimit is how many measurements may lack MinSamples
	// before the check ends Inconclusive.
	DefaultNoDataLimit = 10
)

// Check is a metric check: a [strategy.Analyzer] that measures a query from a
// [Source] at an interval and judges each value with success and failure
// conditions, the way an Argo Rollouts AnalysisTemplate metric does. See the
// package documentation for the exact semantics and where they differ from
// Argo's.
//
// Set the fields, then use the Check by pointer; do not change or copy it
// after its first use. A Check may be analysed concurrently (an inline step
// and background analysis); each Analyze call measures on its own and all
// of them add to the check's History.
type Check struct {
	// Label names the check in verdicts, measurements and errors. Required.
	Label string `json:"label,omitempty" yaml:"label,omitempty"`
	// Source takes the measurements. Required.
	Source Source `json:"-" yaml:"-"`
	// Query is passed to the Source with placeholders expanded:
	// {{args.NAME}} for an [Arg], and {{release.name}}, {{release.stable}},
	// {{release.canary}}, {{release.weight}} and {{release.step}} for the
	// release (the weight is read when each measurement is taken). Values
	// are escaped for where they sit: for PromQL, inside a string literal
	// they are escaped for that literal's quote kind (and regexp-quoted
	// after =~ or !~; a `…` literal has no escapes, so a value holding a
	// backtick is refused there), and outside one they may only be a
	// decimal number, a duration or a name that is not a PromQL keyword.
	// The query is read with PromQL's lexical rules, # comments included;
	// a placeholder inside a comment, or right after a backslash in a
	// literal, is a validation error. A Source that implements [Escaper]
	// escapes its own way (and its queries have no comments). So a revision
	// name cannot change the query.
	Query string `json:"query,omitempty" yaml:"query,omitempty"`
	// Args are the values for {{args.NAME}}. Secret ones never appear in
	// verdicts, measurements or errors.
	Args []Arg `json:"args,omitempty" yaml:"args,omitempty"`

	// SuccessCondition and FailureCondition are expressions over `result`
	// (github.com/expr-lang/expr, as in Argo Rollouts), for example
	// "result[0] >= 0.99" or "isNaN(result)". Besides expr's built-ins
	// they may call isNaN, isInf, isNil, default(value, fallback), asFloat
	// and asInt. Either, both or neither may be set; see the package
	// documentation for how a measurement is judged in each case.
	SuccessCondition string `json:"successCondition,omitempty" yaml:"successCondition,omitempty"`
	FailureCondition string `json:"failureCondition,omitempty" yaml:"failureCondition,omitempty"`

	// InitialDelay postpones the first measurement.
	InitialDelay time.Duration `json:"-" yaml:"initialDelay,omitempty"`
	// Interval is the time between the end of one measurement and the
	// start of the next. Required when Count > 1.
	Interval time.Duration `json:"-" yaml:"interval,omitempty"`
	// Count is how many measurements to judge. Zero means one when
	// Interval is zero, and "until the context ends" otherwise (for
	// background analysis; an inline check without a Count then ends
	// only when a limit decides, so give it a Count or bound its step
	// with strategy.Step.Within). Errored measurements, and measurements
	// waiting for MinSamples, do not count.
	Count int `json:"count,omitempty" yaml:"count,omitempty"`

	// FailureLimit is how many failed measurements are tolerated: the
	// check fails when failures exceed it. Zero (the default) fails on the
	// first failure; -1 disables it (ConsecutiveSuccessLimit must then be
	// set).
	FailureLimit int `json:"failureLimit,omitempty" yaml:"failureLimit,omitempty"`
	// InconclusiveLimit is how many inconclusive measurements are
	// tolerated before the check is Inconclusive. Zero (the default)
	// stops at the first.
	InconclusiveLimit int `json:"inconclusiveLimit,omitempty" yaml:"inconclusiveLimit,omitempty"`
	// ConsecutiveErrorLimit is how many measurement errors in a row are
	// tolerated before the check fails. Nil means
	// [DefaultConsecutiveErrorLimit] (4); new(0) fails on the first error.
	ConsecutiveErrorLimit *int `json:"consecutiveErrorLimit,omitempty" yaml:"consecutiveErrorLimit,omitempty"`
	// ConsecutiveSuccessLimit, when positive, passes the check as soon as
	// that many measurements in a row succeed. Zero (the default)
	// disables it.
	ConsecutiveSuccessLimit int `json:"consecutiveSuccessLimit,omitempty" yaml:"consecutiveSuccessLimit,omitempty"`

	// MinSamples, when positive, makes the check wait for data: a
	// measurement backed by fewer samples is recorded but not judged, and
	// the check measures again at the next interval. The samples are the
	// number of data points in the result (NaN does not count), or the
	// number SamplesQuery returns (for example a request count).
	MinSamples float64 `json:"minSamples,omitempty" yaml:"minSamples,omitempty"`
	// SamplesQuery, when set, is measured through the same Source and
	// must return one number: how many samples back the measurement.
	SamplesQuery string `json:"samplesQuery,omitempty" yaml:"samplesQuery,omitempty"`
	// NoDataLimit is how many measurements may lack MinSamples before the
	// check ends Inconclusive (default [DefaultNoDataLimit]).
	NoDataLimit int `json:"noDataLimit,omitempty" yaml:"noDataLimit,omitempty"`

	// Timeout bounds one measurement (default [DefaultTimeout]); a
	// timeout is a measurement error.
	Timeout time.Duration `json:"-" yaml:"timeout,omitempty"`
	// ErrorRetryInterval is how soon a check with no Interval measures
	// again after an error or a measurement without enough data (default
	// [DefaultErrorRetryInterval]).
	ErrorRetryInterval time.Duration `json:"-" yaml:"errorRetryInterval,omitempty"`
	// HistoryLimit bounds the measurements kept by History and carried by
	// each verdict (default [DefaultHistoryLimit]).
	HistoryLimit int `json:"historyLimit,omitempty" yaml:"historyLimit,omitempty"`

	// DryRun runs and reports the check but never lets it decide: its
	// verdict is always Pass, with the outcome it would have had in the
	// reason.
	DryRun bool `json:"dryRun,omitempty" yaml:"dryRun,omitempty"`

	mu       sync.Mutex
	compiled *compiled
	history  []strategy.Measurement
}

// compiled is a validated Check, ready to run.
type compiled struct {
	success, failure *vm.Program
	query, samples   *template
	args             map[string]Arg
	escape           func(string, Placeholder) (string, error)
	count            int // 0: until the context ends
	errLimit         int
	noDataLimit      int
	timeout, retry   time.Duration
	historyLimit     int
}

// Name returns the check's Label.
func (c *Check) Name() string { return c.Label }

// ValidateInline reports a check that would never let an inline analysis
// step finish: one with an Interval and no Count or ConsecutiveSuccessLimit
// measures until its context ends, which suits background analysis only.
// The executor calls it for checks in analysis steps without a Timeout.
func (c *Check) ValidateInline() error {
	if c.Count == 0 && c.Interval > 0 && c.ConsecutiveSuccessLimit <= 0 {
		return fmt.Errorf("check %q measures every %v until its context ends (no Count), so an inline analysis step would never finish while it passes: give it a Count or a ConsecutiveSuccessLimit, bound the step (strategy.Step.Within), or run it as background analysis", c.Label, c.Interval)
	}
	return nil
}

// Validate reports every problem with the check at once, in an error that
// matches [strategy.ErrInvalidConfig] and names the check. It compiles the
// conditions once; Analyze reuses them.
func (c *Check) Validate() error {
	p, err := c.compile()
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.compiled = p
	c.mu.Unlock()
	return nil
}

func (c *Check) prepared() (*compiled, error) {
	c.mu.Lock()
	p := c.compiled
	c.mu.Unlock()
	if p != nil {
		return p, nil
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.compiled, nil
}

func (c *Check) compile() (*compiled, error) {
	var probs []string
	add := func(format string, a ...any) { probs = append(probs, fmt.Sprintf(format, a...)) }
	p := &compiled{args: map[string]Arg{}}
	if c.Label == "" {
		add("no Label: every check needs a name")
	}
	switch {
	case c.Source == nil:
		add("no Source")
	case isNilPointer(c.Source):
		add("Source is a nil %T", c.Source)
	default:
		// A source that can check itself (an address, a path) is checked
		// with the check, before anything is applied.
		if v, ok := c.Source.(interface{ Validate() error }); ok {
			var ce *strategy.ConfigError
			if err := v.Validate(); errors.As(err, &ce) {
				for _, pr := range ce.Problems {
					add("Source: %s", pr)
				}
			} else if err != nil {
				add("Source: %v", err)
			}
		}
	}
	for i, a := range c.Args {
		switch {
		case a.Name == "":
			add("args[%d] has no name", i)
		case !argNameOK(a.Name):
			add("args[%d] name %q may only hold letters, digits, '-' and '_'", i, a.Name)
		}
		if _, dup := p.args[a.Name]; dup && a.Name != "" {
			add("argument %q is given twice", a.Name)
		}
		p.args[a.Name] = a
	}
	var tprobs []string
	_, escapes := c.Source.(Escaper)
	promql := !escapes // sources without an Escaper get PromQL's rules
	p.query, tprobs = parseTemplate(c.Query, p.args, promql)
	probs = append(probs, tprobs...)
	if c.SamplesQuery != "" {
		p.samples, tprobs = parseTemplate(c.SamplesQuery, p.args, promql)
		for _, q := range tprobs {
			add("samples %s", q)
		}
	}
	for _, cond := range []struct{ name, src string }{{"SuccessCondition", c.SuccessCondition}, {"FailureCondition", c.FailureCondition}} {
		if cond.src == "" {
			continue
		}
		if strings.Contains(cond.src, "{{") {
			add("%s %q: placeholders are expanded in queries, not in conditions", cond.name, cond.src)
			continue
		}
		prog, err := compileCondition(cond.src)
		if err != nil {
			add("%s %q does not compile: %s", cond.name, cond.src, oneLine(err.Error()))
			continue
		}
		if why := conditionResultProblem(cond.src); why != "" {
			add("%s %q %s", cond.name, cond.src, why)
			continue
		}
		if cond.name == "SuccessCondition" {
			p.success = prog
		} else {
			p.failure = prog
		}
	}
	neg := func(name string, d time.Duration) {
		if d < 0 {
			add("%s is negative (%v)", name, d)
		}
	}
	neg("InitialDelay", c.InitialDelay)
	neg("Interval", c.Interval)
	neg("Timeout", c.Timeout)
	neg("ErrorRetryInterval", c.ErrorRetryInterval)
	if c.Count < 0 {
		add("Count is negative (%d)", c.Count)
	}
	if c.Count > 1 && c.Interval == 0 {
		add("Count %d needs an Interval between measurements", c.Count)
	}
	if c.FailureLimit < -1 {
		add("FailureLimit %d is below -1 (-1 disables it)", c.FailureLimit)
	}
	if c.InconclusiveLimit < 0 {
		add("InconclusiveLimit is negative (%d)", c.InconclusiveLimit)
	}
	if c.ConsecutiveErrorLimit != nil && *c.ConsecutiveErrorLimit < 0 {
		add("ConsecutiveErrorLimit is negative (%d)", *c.ConsecutiveErrorLimit)
	}
	if c.ConsecutiveSuccessLimit < 0 {
		add("ConsecutiveSuccessLimit is negative (%d)", c.ConsecutiveSuccessLimit)
	}
	if c.FailureLimit == -1 && c.ConsecutiveSuccessLimit <= 0 {
		add("FailureLimit and ConsecutiveSuccessLimit are both disabled: the check could never decide")
	}
	if c.Count > 0 && c.ConsecutiveSuccessLimit >= 0 {
		// Argo Rollouts' rules (ValidateMetric): with the failure limit
		// in force, count must be >= failureLimit +
		// consecutiveSuccessLimit; with it disabled, >=
		// consecutiveSuccessLimit; and always >= inconclusiveLimit.
		switch {
		case c.FailureLimit >= 0 && c.ConsecutiveSuccessLimit > 0 && c.Count < c.FailureLimit+c.ConsecutiveSuccessLimit:
			why := ""
			if c.Count < c.ConsecutiveSuccessLimit {
				why = ": the check could never pass"
			}
			add("Count %d is smaller than FailureLimit + ConsecutiveSuccessLimit (%d + %d), which Argo Rollouts requires when both apply%s", c.Count, c.FailureLimit, c.ConsecutiveSuccessLimit, why)
		case c.FailureLimit >= 0 && c.Count < c.FailureLimit:
			add("Count %d is smaller than FailureLimit %d", c.Count, c.FailureLimit)
		case c.FailureLimit < 0 && c.Count < c.ConsecutiveSuccessLimit:
			add("Count %d is smaller than ConsecutiveSuccessLimit %d: the check could never pass", c.Count, c.ConsecutiveSuccessLimit)
		}
	}
	if c.Count > 0 && c.Count < c.InconclusiveLimit {
		add("Count %d is smaller than InconclusiveLimit %d", c.Count, c.InconclusiveLimit)
	}
	if c.MinSamples < 0 {
		add("MinSamples is negative (%v)", c.MinSamples)
	}
	if c.SamplesQuery != "" && c.MinSamples <= 0 {
		add("SamplesQuery is set but MinSamples is not")
	}
	if c.NoDataLimit < 0 {
		add("NoDataLimit is negative (%d)", c.NoDataLimit)
	}
	if c.HistoryLimit < 0 {
		add("HistoryLimit is negative (%d)", c.HistoryLimit)
	}
	if len(probs) > 0 {
		name := c.Label
		if name == "" {
			name = "(unnamed)"
		}
		return nil, strategy.Invalid(fmt.Sprintf("check %q", name), probs...)
	}
	p.escape = escapePromQL
	if e, ok := c.Source.(Escaper); ok {
		p.escape = e.Escape
	}
	p.count = c.Count
	if p.count == 0 && c.Interval == 0 {
		p.count = 1
	}
	p.errLimit = DefaultConsecutiveErrorLimit
	if c.ConsecutiveErrorLimit != nil {
		p.errLimit = *c.ConsecutiveErrorLimit
	}
	p.noDataLimit = orInt(c.NoDataLimit, DefaultNoDataLimit)
	p.timeout = orDur(c.Timeout, DefaultTimeout)
	p.retry = c.Interval
	if p.retry == 0 {
		p.retry = orDur(c.ErrorRetryInterval, DefaultErrorRetryInterval)
	}
	p.historyLimit = orInt(c.HistoryLimit, DefaultHistoryLimit)
	return p, nil
}

// isNilPointer reports whether v holds a nil pointer (a typed nil), whose
// methods would panic.
func isNilPointer(v any) bool {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan, reflect.Interface:
		return rv.IsNil()
	}
	return false
}

func argNameOK(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func orInt(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

func orDur(v, def time.Duration) time.Duration {
	if v <= 0 {
		return def
	}
	return v
}

// History returns the most recent measurements of the check, oldest first,
// across every Analyze call (at most HistoryLimit).
func (c *Check) History() []strategy.Measurement {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]strategy.Measurement(nil), c.history...)
}

func (c *Check) remember(m strategy.Measurement, limit int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.history = appendBounded(c.history, m, limit)
}

func appendBounded(ms []strategy.Measurement, m strategy.Measurement, limit int) []strategy.Measurement {
	if len(ms) >= limit {
		n := copy(ms, ms[len(ms)-limit+1:])
		ms = ms[:n]
	}
	return append(ms, m)
}

// Analyze measures and judges until a limit decides, the count is reached
// or ctx ends, and returns the verdict with the measurements behind it.
//
// An invalid check returns an Inconclusive verdict and its validation error
// (marked [strategy.Permanent]). A permanent error from the Source ends the
// check at once with an Inconclusive verdict and that error. When ctx ends,
// a background check ([strategy.Input].Background) returns the verdict its
// measurements support so far and no error; an inline one returns an
// Inconclusive verdict and the context's error.
func (c *Check) Analyze(ctx context.Context, in strategy.Input) (strategy.Verdict, error) {
	p, err := c.prepared()
	if err != nil {
		return strategy.Verdict{Analyzer: c.Label, Outcome: strategy.Inconclusive, Reason: err.Error(), At: time.Now()},
			strategy.Permanent(err)
	}
	r := &run{c: c, p: p, in: in, redact: newRedactor(c.Args)}
	v, err := r.loop(ctx)
	v.Analyzer = c.Label
	v.At = time.Now()
	v.Measurements = r.ms
	if c.DryRun {
		v.Reason = fmt.Sprintf("dry run, would be %s: %s", v.Outcome, v.Reason)
		v.Outcome = strategy.Pass
		if strategy.IsPermanent(err) {
			// A dry-run check never decides, not even by failing to run.
			err = nil
		}
	}
	v.Reason = r.redact.apply(v.Reason)
	return v, r.redact.redactErr(err)
}

// run is the state of one Analyze call.
type run struct {
	c      *Check
	p      *compiled
	in     strategy.Input
	redact *redactor
	ms     []strategy.Measurement

	count, successful, failed, inconclusive, errors, noData int
	consecErrors, consecSuccess                             int
	dataSeen                                                bool
	last                                                    strategy.Measurement
}

// measureKind classifies one measurement.
type measureKind int

const (
	judged measureKind = iota
	errored
	waiting
)

func (r *run) loop(ctx context.Context) (strategy.Verdict, error) {
	if !sleep.For(ctx, r.c.InitialDelay) {
		return r.terminated(ctx)
	}
	for {
		kind, err := r.measure(ctx)
		if ctx.Err() != nil {
			return r.terminated(ctx)
		}
		if err != nil { // permanent
			return r.verdict(strategy.Inconclusive, "measurement cannot be taken: "+err.Error()), err
		}
		if v, done := r.assess(); done {
			return v, nil
		}
		wait := r.c.Interval
		if kind != judged {
			wait = r.p.retry
		}
		if !sleep.For(ctx, wait) {
			return r.terminated(ctx)
		}
	}
}

// measure takes and records one measurement. It returns an error only when
// the check must stop: a permanent error.
func (r *run) measure(ctx context.Context) (measureKind, error) {
	state := r.in.CurrentState()
	m := strategy.Measurement{Name: r.c.Label, At: time.Now()}
	fail := func(err error) (measureKind, error) {
		m.Error = r.redact.apply(err.Error())
		if ctx.Err() != nil {
			return errored, nil // ended by the caller: not recorded
		}
		r.errors++
		r.consecErrors++
		r.consecSuccess = 0
		r.record(m)
		if strategy.IsPermanent(err) {
			return errored, err
		}
		return errored, nil
	}
	text, secrets, err := r.p.query.render(r.p.args, r.in, state, r.p.escape)
	r.redact.add(secrets...)
	if err != nil {
		return fail(strategy.Permanent(fmt.Errorf("query: %w", err)))
	}
	value, err := r.source(ctx, text, state)
	if err != nil {
		return fail(err)
	}
	value = normalize(value)
	m.Value = r.redact.apply(formatValue(value))
	switch x := value.(type) { // the number measured, for metrics and logs
	case float64:
		m.Values = map[string]float64{"value": x}
	case []float64:
		if len(x) == 1 {
			m.Values = map[string]float64{"value": x[0]}
		}
	}
	samples := float64(dataPoints(value))
	if r.p.samples != nil {
		text, secrets, err := r.p.samples.render(r.p.args, r.in, state, r.p.escape)
		r.redact.add(secrets...)
		if err != nil {
			return fail(strategy.Permanent(fmt.Errorf("samples query: %w", err)))
		}
		sv, err := r.source(ctx, text, state)
		if err != nil {
			return fail(fmt.Errorf("samples query: %w", err))
		}
		n, ok := single(normalize(sv))
		if !ok {
			return fail(fmt.Errorf("samples query returned %s, not one number", formatValue(normalize(sv))))
		}
		samples = n
	}
	if r.c.MinSamples > 0 && !(samples >= r.c.MinSamples) {
		r.noData++
		r.consecErrors = 0
		r.consecSuccess = 0
		m.Condition = fmt.Sprintf("samples %s < MinSamples %s", fmtNum(samples), fmtNum(r.c.MinSamples))
		r.record(m)
		return waiting, nil
	}
	outcome, cond, err := r.judge(value)
	if err != nil {
		if isNil(value) || isEmptySlice(value) {
			err = fmt.Errorf("%w (the result is empty: guard the condition with len(result) > 0 or use default(result, ...))", err)
		}
		return fail(fmt.Errorf("evaluating %s: %w", cond, err))
	}
	m.Outcome, m.Condition = outcome, cond
	r.count++
	r.consecErrors = 0
	if samples > 0 {
		r.dataSeen = true
	}
	switch outcome {
	case strategy.Pass:
		r.successful++
		r.consecSuccess++
	case strategy.Fail:
		r.failed++
		r.consecSuccess = 0
	default:
		r.inconclusive++
		r.consecSuccess = 0
	}
	r.record(m)
	return judged, nil
}

func (r *run) source(ctx context.Context, text string, state strategy.State) (v any, err error) {
	mctx, cancel := context.WithTimeout(withRedactor(ctx, r.redact), r.p.timeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			v, err = nil, fmt.Errorf("source panicked: %v", p)
		}
	}()
	v, err = r.c.Source.Measure(mctx, Query{Check: r.c.Label, Text: text, Input: r.in, State: state})
	if err != nil && ctx.Err() == nil && errors.Is(mctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("measurement timed out after %v: %w", r.p.timeout, err)
	}
	return v, err
}

func single(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case []float64:
		if len(x) == 1 {
			return x[0], true
		}
		if len(x) == 0 {
			return 0, true // no series: no samples
		}
	}
	return 0, false
}

func fmtNum(f float64) string { return formatValue(f) }

// judge applies the conditions to one value, as Argo Rollouts does: with
// neither condition the measurement succeeds; with one, the other is its
// negation; with both, failure wins and neither being true is
// Inconclusive.
func (r *run) judge(value any) (strategy.Outcome, string, error) {
	sc, fc := r.c.SuccessCondition, r.c.FailureCondition
	var succ, fail bool
	var err error
	if r.p.success != nil {
		if succ, err = evalCondition(r.p.success, value); err != nil {
			return "", sc, err
		}
	}
	if r.p.failure != nil {
		if fail, err = evalCondition(r.p.failure, value); err != nil {
			return "", fc, err
		}
	}
	switch {
	case r.p.success == nil && r.p.failure == nil:
		return strategy.Pass, "no conditions", nil
	case r.p.failure == nil:
		if succ {
			return strategy.Pass, sc, nil
		}
		return strategy.Fail, "!(" + sc + ")", nil
	case r.p.success == nil:
		if fail {
			return strategy.Fail, fc, nil
		}
		return strategy.Pass, "!(" + fc + ")", nil
	}
	switch {
	case fail:
		return strategy.Fail, fc, nil
	case succ:
		return strategy.Pass, sc, nil
	}
	return strategy.Inconclusive, "!(" + sc + ") && !(" + fc + ")", nil
}

func (r *run) record(m strategy.Measurement) {
	r.last = m
	r.ms = appendBounded(r.ms, m, r.p.historyLimit)
	r.c.remember(m, r.p.historyLimit)
}

func (r *run) verdict(o strategy.Outcome, reason string) strategy.Verdict {
	return strategy.Verdict{Outcome: o, Reason: reason}
}

// lastSaid describes the last measurement for a reason.
func (r *run) lastSaid() string {
	m := r.last
	if m.Error != "" {
		return "last error: " + m.Error
	}
	s := "last value " + m.Value
	if m.Condition != "" {
		s += " (" + m.Condition + ")"
	}
	return s
}

// assess applies the limits after a measurement, in Argo Rollouts' order,
// and says whether the check is decided.
func (r *run) assess() (strategy.Verdict, bool) {
	c, p := r.c, r.p
	switch {
	case c.FailureLimit >= 0 && r.failed > c.FailureLimit:
		return r.verdict(strategy.Fail, fmt.Sprintf("failed (%d) > failureLimit (%d); %s", r.failed, c.FailureLimit, r.lastSaid())), true
	case r.inconclusive > c.InconclusiveLimit:
		return r.verdict(strategy.Inconclusive, fmt.Sprintf("inconclusive (%d) > inconclusiveLimit (%d); %s", r.inconclusive, c.InconclusiveLimit, r.lastSaid())), true
	case r.consecErrors > p.errLimit:
		return r.verdict(strategy.Fail, fmt.Sprintf("consecutiveErrors (%d) > consecutiveErrorLimit (%d); %s", r.consecErrors, p.errLimit, r.lastSaid())), true
	case c.MinSamples > 0 && r.noData > p.noDataLimit:
		return r.verdict(strategy.Inconclusive, fmt.Sprintf("not enough data: %d measurements had fewer than %s samples (noDataLimit %d); %s", r.noData, fmtNum(c.MinSamples), p.noDataLimit, r.lastSaid())), true
	case c.ConsecutiveSuccessLimit > 0 && r.consecSuccess >= c.ConsecutiveSuccessLimit:
		if !r.dataSeen {
			return r.verdict(strategy.Inconclusive, fmt.Sprintf("consecutiveSuccessLimit (%d) reached but no measurement had data", c.ConsecutiveSuccessLimit)), true
		}
		return r.verdict(strategy.Pass, fmt.Sprintf("consecutive successes (%d) reached consecutiveSuccessLimit (%d); %s", r.consecSuccess, c.ConsecutiveSuccessLimit, r.lastSaid())), true
	case p.count > 0 && r.count >= p.count:
		return r.countReached(), true
	}
	return strategy.Verdict{}, false
}

// countReached decides a check that took its count of measurements with no
// limit met: Argo Rollouts passes it when only the failure limit applies,
// fails it when only the success limit applies, and calls it Inconclusive
// when both do.
func (r *run) countReached() strategy.Verdict {
	c := r.c
	tally := fmt.Sprintf("count (%d) reached: %d successful, %d failed, %d inconclusive, %d errors", r.count, r.successful, r.failed, r.inconclusive, r.errors)
	failureApplies, successApplies := c.FailureLimit >= 0, c.ConsecutiveSuccessLimit > 0
	switch {
	case failureApplies && successApplies:
		return r.verdict(strategy.Inconclusive, tally+fmt.Sprintf("; neither failureLimit (%d) nor consecutiveSuccessLimit (%d) was met", c.FailureLimit, c.ConsecutiveSuccessLimit))
	case successApplies:
		return r.verdict(strategy.Fail, tally+fmt.Sprintf("; consecutiveSuccessLimit (%d) was not reached", c.ConsecutiveSuccessLimit))
	}
	if !r.dataSeen {
		return r.verdict(strategy.Inconclusive, tally+"; no measurement had data")
	}
	return r.verdict(strategy.Pass, tally)
}

// terminated decides a check whose context ended before a limit or the
// count did.
func (r *run) terminated(ctx context.Context) (strategy.Verdict, error) {
	if !r.in.Background {
		return r.verdict(strategy.Inconclusive, "stopped before a decision: "+context.Cause(ctx).Error()), context.Cause(ctx)
	}
	switch {
	case r.count == 0 && r.errors > 0:
		return r.verdict(strategy.Inconclusive, fmt.Sprintf("stopped: all %d measurements errored; %s", r.errors, r.lastSaid())), nil
	case !r.dataSeen:
		return r.verdict(strategy.Inconclusive, "stopped: no measurement had data"), nil
	}
	return r.verdict(strategy.Pass, fmt.Sprintf("stopped with the release: %d successful, %d failed, %d inconclusive, %d errors; no limit was met", r.successful, r.failed, r.inconclusive, r.errors)), nil
}
