package strategy

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"time"
)

// StepKind says what a [Step] does.
type StepKind string

// The kinds of step a [Plan] may contain.
const (
	// StepApply applies Step.State to the target. Traffic moves onto a
	// revision only once that revision's capacity is ready: when the State
	// raises a revision's traffic and its instances are not ready yet, the
	// executor first applies the new capacity under the old traffic, waits
	// (bounded by the progress deadline), then moves the traffic.
	StepApply StepKind = "apply"
	// StepWaitReady waits until the target reports the current State ready,
	// bounded by Step.Timeout or the release's progress deadline.
	StepWaitReady StepKind = "wait-ready"
	// StepPause pauses for Step.Duration, or until Promote when it is 0.
	StepPause StepKind = "pause"
	// StepAnalyze runs Step.Analyzers concurrently and waits for their
	// verdicts; the worst verdict decides.
	StepAnalyze StepKind = "analyze"
)

// Step is one instruction of a [Plan]. Steps are plain data apart from the
// Analyzers, which are not serialized; a plan is rebuilt from its [Strategy]
// (a pure function) when a release resumes, and matched by [Plan.Fingerprint].
type Step struct {
	// Kind says what the step does.
	Kind StepKind `json:"kind"`
	// Name labels the step in events, status and history (optional).
	Name string `json:"name,omitempty"`
	// State is the State to apply (StepApply).
	State State `json:"state,omitzero"`
	// Duration is how long a StepPause lasts; 0 waits for Promote.
	Duration time.Duration `json:"duration,omitempty"`
	// Timeout bounds a StepWaitReady (0 uses the release's
	// ProgressDeadline) or a StepAnalyze (0: no bound; an analyzer still
	// running when it passes has its context cancelled, and an error it
	// returns then makes the step Inconclusive).
	Timeout time.Duration `json:"timeout,omitempty"`
	// Analyzers are run by a StepAnalyze.
	Analyzers []Analyzer `json:"-"`
}

// Apply returns a step that applies s.
func Apply(s State) Step { return Step{Kind: StepApply, State: s} }

// WaitReady returns a step that waits until the target is ready, bounded by
// timeout (0: the release's progress deadline).
func WaitReady(timeout time.Duration) Step { return Step{Kind: StepWaitReady, Timeout: timeout} }

// Pause returns a step that pauses for d; d == 0 pauses until Promote.
func Pause(d time.Duration) Step { return Step{Kind: StepPause, Duration: d} }

// Analyze returns a step that runs analyzers inline.
func Analyze(analyzers ...Analyzer) Step { return Step{Kind: StepAnalyze, Analyzers: analyzers} }

// WithTimeout returns a copy of s with Timeout set: an analysis step that
// has no verdict after timeout ends Inconclusive.
func (s Step) WithTimeout(timeout time.Duration) Step { s.Timeout = timeout; return s }

// Named returns a copy of s labelled name.
func (s Step) Named(name string) Step { s.Name = name; return s }

// String describes the step in a few words.
func (s Step) String() string {
	var d string
	switch s.Kind {
	case StepApply:
		d = "apply " + s.State.String()
	case StepWaitReady:
		d = "wait until ready"
	case StepPause:
		if s.Duration == 0 {
			d = "pause until promoted"
		} else {
			d = "pause " + s.Duration.String()
		}
	case StepAnalyze:
		d = fmt.Sprintf("analyze %v", AnalyzerNames(s.Analyzers))
	default:
		d = string(s.Kind)
	}
	if s.Name != "" {
		d = s.Name + ": " + d
	}
	return d
}

// Background attaches analyzers that run alongside a plan from step From
// (an index into Plan.Steps) until the release ends. Any Fail verdict rolls
// the release back whatever step it is in, pauses included.
//
// Each analyzer is called once, with Input.Background set, and is expected
// to keep analysing until its context is cancelled at the end of the
// release, returning early only to report a problem. An early Pass is
// recorded and not restarted; an Inconclusive pauses the release, and the
// analyzer is started again when a person promotes it; a tolerated Fail
// (Options.OnFail.Allowed) starts it again at once.
type Background struct {
	// From is the index of the step the analyzers start at.
	From int `json:"from"`
	// Analyzers run concurrently until the release ends.
	Analyzers []Analyzer `json:"-"`
}

// Plan is an ordered list of steps produced by a [Strategy]. It is plain data:
// it can be printed (a dry run), compared and tested without a target.
type Plan struct {
	// Strategy names the strategy that built the plan ("canary", ...).
	Strategy string `json:"strategy"`
	// Stable is the rollback point: the State a failed release ends on.
	Stable State `json:"stable"`
	// Final is the State of a fully promoted release; PromoteFull applies it.
	Final State `json:"final"`
	// Steps run in order.
	Steps []Step `json:"steps"`
	// Background analyzers attached by the strategy.
	Background []Background `json:"-"`
	// Rollback, when set, is the path back to Stable that the strategy wants
	// instead of the executor's default (capacity first, then traffic, then
	// remove the canary). It is called with the last State applied and
	// returns the States to apply in order; the last must equal Stable.
	Rollback func(from State) []State `json:"-"`
	// RollbackDelay, when positive, is how long a rollback keeps the
	// failed revision up once it gets no traffic: the executor waits that
	// long before applying the last State of the path, when that State
	// removes (or scales down) a canary without traffic (Argo Rollouts'
	// abort scale-down delay). A cancelled release context cuts the wait
	// short. It must be shorter than the release's Options.RollbackTimeout.
	RollbackDelay time.Duration `json:"rollbackDelay,omitempty"`
}

// Fingerprint identifies the plan's serializable content (strategy, states,
// step kinds, names, durations and analyzer names). A resumed release checks
// that the rebuilt plan has the fingerprint recorded in its journal.
func (p Plan) Fingerprint() string {
	type fpStep struct {
		Step
		Analyzers []string `json:"analyzers,omitempty"`
	}
	type fpPlan struct {
		Plan
		Steps      []fpStep `json:"steps"`
		Background []string `json:"background,omitempty"`
	}
	fp := fpPlan{Plan: p}
	for _, s := range p.Steps {
		fp.Steps = append(fp.Steps, fpStep{Step: s, Analyzers: AnalyzerNames(s.Analyzers)})
	}
	for _, b := range p.Background {
		fp.Background = append(fp.Background, fmt.Sprintf("%d:%v", b.From, AnalyzerNames(b.Analyzers)))
	}
	data, err := json.Marshal(fp)
	if err != nil { // cannot happen: every field is plain data
		panic(err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8])
}

// Strategy turns a stable and a canary (the new) revision into a [Plan]. It must be
// pure: no I/O, no goroutines, no clock; the same input gives the same plan.
type Strategy interface {
	Plan(stable, canary Revision) (Plan, error)
}

// StrategyFunc adapts a function to [Strategy].
type StrategyFunc func(stable, canary Revision) (Plan, error)

// Plan calls f.
func (f StrategyFunc) Plan(stable, canary Revision) (Plan, error) { return f(stable, canary) }

// Validate reports everything wrong with the plan for target t as one
// [*ConfigError], or nil. A nil target skips the capability checks.
func (p Plan) Validate(t Target) error { return Invalid("plan", p.problems(t)...) }

// problems lists everything wrong with the plan for target t, or nil.
func (p Plan) problems(t Target) []string {
	var probs []string
	if len(p.Steps) == 0 {
		probs = append(probs, "plan has no steps")
	}
	for _, q := range p.Stable.problems() {
		probs = append(probs, "stable state: "+q)
	}
	for _, q := range p.Final.problems() {
		probs = append(probs, "final state: "+q)
	}
	routes := false
	for i, s := range p.Steps {
		where := fmt.Sprintf("step %d (%s)", i, s.Kind)
		switch s.Kind {
		case StepApply:
			for _, q := range s.State.problems() {
				probs = append(probs, where+": "+q)
			}
			if !s.State.Route.IsZero() {
				routes = true
			}
		case StepWaitReady:
		case StepPause:
			if s.Duration < 0 {
				probs = append(probs, fmt.Sprintf("%s: negative duration %v", where, s.Duration))
			}
		case StepAnalyze:
			if len(s.Analyzers) == 0 {
				probs = append(probs, where+": no analyzers")
			}
			for j, a := range s.Analyzers {
				probs = append(probs, analyzerProblems(fmt.Sprintf("%s: analyzer %d", where, j), a)...)
				if iv, ok := a.(InlineValidator); ok && s.Timeout == 0 {
					if err := iv.ValidateInline(); err != nil {
						probs = append(probs, fmt.Sprintf("%s: analyzer %d (%s): %v", where, j, AnalyzerName(a), err))
					}
				}
			}
		default:
			probs = append(probs, fmt.Sprintf("step %d: unknown kind %q", i, s.Kind))
		}
		if s.Timeout < 0 {
			probs = append(probs, fmt.Sprintf("%s: negative timeout %v", where, s.Timeout))
		}
	}
	if p.RollbackDelay < 0 {
		probs = append(probs, fmt.Sprintf("negative rollback delay %v", p.RollbackDelay))
	}
	for i, b := range p.Background {
		if b.From < 0 || b.From >= len(p.Steps) && len(p.Steps) > 0 {
			probs = append(probs, fmt.Sprintf("background analysis %d starts at step %d, outside 0..%d", i, b.From, len(p.Steps)-1))
		}
		if len(b.Analyzers) == 0 {
			probs = append(probs, fmt.Sprintf("background analysis %d has no analyzers", i))
		}
		for j, a := range b.Analyzers {
			probs = append(probs, analyzerProblems(fmt.Sprintf("background analysis %d: analyzer %d", i, j), a)...)
		}
	}
	if routes && t != nil && !CanRouteHeaders(t) {
		probs = append(probs, fmt.Sprintf("plan routes requests by header but target %T does not support header routing (it must implement strategy.HeaderRouter)", t))
	}
	return probs
}

// withDefaults fills a zero Stable with the plain stable revision and a zero
// Final with the last State the plan applies, and appends an Apply of Final
// when the steps do not end on it, so a completed plan never leaves a
// traffic split behind.
func (p Plan) withDefaults(stable Revision) Plan {
	if p.Stable == (State{}) {
		p.Stable = State{Stable: stable}
	}
	last, found := State{}, false
	for _, s := range p.Steps {
		if s.Kind == StepApply {
			last, found = s.State, true
		}
	}
	if p.Final == (State{}) {
		p.Final = last
	}
	if p.Final != (State{}) && (!found || last != p.Final) {
		p.Steps = append(slices.Clip(p.Steps), Apply(p.Final).Named("final"))
	}
	return p
}

// Validator is implemented by analyzers (and other parts) that can check
// their own configuration. The executor calls it before anything is
// applied and rejects the release with every problem it reports.
type Validator interface {
	Validate() error
}

// InlineValidator is implemented by analyzers whose configuration may suit
// background analysis but not an inline analysis step, for example a
// metric check that measures at an interval until its context ends and so
// would never let the step finish. The executor calls ValidateInline for
// the analyzers of analysis steps that have no Timeout, before anything is
// applied.
type InlineValidator interface {
	ValidateInline() error
}

func analyzerProblems(where string, a Analyzer) []string {
	if isNil(a) {
		return []string{where + " is nil"}
	}
	v, ok := a.(Validator)
	if !ok {
		return nil
	}
	var out []string
	for _, p := range problemsOf(v.Validate()) {
		out = append(out, fmt.Sprintf("%s (%s): %s", where, AnalyzerName(a), p))
	}
	return out
}

// isNil reports whether v is nil or an interface holding a nil pointer,
// map, slice, channel or function (a typed nil, which would panic when
// called).
func isNil(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Chan, reflect.Func, reflect.Interface:
		return rv.IsNil()
	}
	return false
}
