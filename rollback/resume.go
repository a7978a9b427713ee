package rollback

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/glidepath/glidepath/internal/sleep"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/glidepath/glidepath/strategy"
)

// ResumeMode says how [Manager.Resume] continues a release.
type ResumeMode int

const (
	// Continue runs the release on from the recorded step (re-running
	// that step: Apply is idempotent). A release recorded as rolling back
	// (or degraded) rolls back whatever the mode.
	Continue ResumeMode = iota
	// RollBack rolls the release back to its stable State. It does not
	// need the plan the release started with: see [Manager.Resume].
	RollBack
)

// ResumeOptions tune [Manager.Resume]. The zero value continues the
// release and fails at once if the dead process's lease has not expired.
type ResumeOptions struct {
	// Mode is Continue (the default) or RollBack.
	Mode ResumeMode
	// WaitForLease waits (honouring ctx) for the lease of the process that
	// ran the release to expire, then takes it over, instead of failing
	// with [ErrLeaseHeld].
	WaitForLease bool
}

// Resume picks up target's unfinished release: one whose process died,
// that stopped (OnCancel.Leave, a journal failure) or that degraded. It
// takes over the target's lease (after it expires), reads the journal,
// rebuilds the plan from rel and checks its fingerprint against the
// recorded one ([ErrPlanChanged]), and starts the release from the
// recorded [strategy.Checkpoint]: the executor observes the target and
// runs on from the recorded step, or rolls back (per opts.Mode, and always
// when the journal says the release was rolling back).
//
// rel must describe the same release: its Target, its Strategy (the
// analyzers must have the same names), and its Options. Empty Name, Stable
// and Canary are filled in from the record; differing ones are refused.
// The Strategy of an immediate undo is ignored: its recorded plan is used.
// A plan that differs from the recorded one is refused with a
// [*PlanChangedError] (matching [ErrPlanChanged]) that names each
// differing step and field.
//
// A resume that rolls back (opts.Mode RollBack, or a journal that was
// rolling back or degraded) needs only the Target and Options: when
// rel.Strategy is nil or plans differently from the recorded plan (the
// configuration changed since), the target is rolled back to the stable
// State recorded with the release ([Active.Recorded]), along the
// executor's default path (capacity before traffic, every State
// journaled and fenced), and its history entry records RolledBack. With
// the same plan, the plan's own rollback path is used. A release recorded
// without its plan (by an earlier version) still needs its Strategy.
//
// A journal whose final record is torn is resumed as if that record had
// not been written (see [ErrTornRecord]); any other damage refuses the
// resume with a [*CorruptError]. When the journal shows the release had
// already ended, Resume writes its history entry and returns
// [ErrNothingToResume].
func (m *Manager) Resume(ctx context.Context, target string, rel strategy.Release, opts ResumeOptions) (*strategy.Rollout, error) {
	if err := m.check(target); err != nil {
		return nil, err
	}
	if opts.Mode != Continue && opts.Mode != RollBack {
		return nil, strategy.Invalid("resume options", fmt.Sprintf("unknown Mode %d", opts.Mode))
	}
	if rel.Resume != nil {
		return nil, strategy.Invalid("release", "Resume is set: Manager.Resume builds the checkpoint from the journal")
	}
	lease, err := m.acquire(ctx, target, opts.WaitForLease)
	if err != nil {
		return nil, fmt.Errorf("rollback: resuming on %q: %w", target, err)
	}
	return m.resumeUnder(ctx, lease, target, rel, opts)
}

// resumeUnder resumes target's release under lease, which it owns from
// then on.
func (m *Manager) resumeUnder(ctx context.Context, lease Lease, target string, rel strategy.Release, opts ResumeOptions) (*strategy.Rollout, error) {
	rel, err := m.prepareResume(ctx, lease, target, rel, opts)
	if err != nil {
		m.release(ctx, lease)
		return nil, err
	}
	return m.launch(ctx, lease, target, rel, nil)
}

func (m *Manager) prepareResume(ctx context.Context, lease Lease, target string, rel strategy.Release, opts ResumeOptions) (strategy.Release, error) {
	tr, err := m.Store.Load(ctx, target)
	if err != nil {
		return rel, err
	}
	a := tr.Active
	if a == nil {
		return rel, fmt.Errorf("rollback: %w: target %q has no unfinished release", ErrNothingToResume, target)
	}
	recs, err := m.Store.Journal(ctx, target, a.Journal)
	if err != nil && !errors.Is(err, ErrTornRecord) {
		return rel, fmt.Errorf("rollback: resuming %s on %q: %w", a.Release, target, err)
	}
	p := Replay(recs)
	if !p.Pending() {
		if _, err := m.settle(ctx, target, lease, ""); err != nil {
			return rel, err
		}
		return rel, fmt.Errorf("rollback: %w: release %s on %q had already ended %s; its history entry is recorded",
			ErrNothingToResume, a.Release, target, p.Phase)
	}
	var probs []string
	fill := func(what string, got *strategy.Revision, want strategy.Revision) {
		if *got == "" {
			*got = want
		} else if *got != want {
			probs = append(probs, fmt.Sprintf("%s revision %q differs from the recorded %q", what, *got, want))
		}
	}
	fill("stable", &rel.Stable, a.Stable)
	fill("canary", &rel.Canary, a.Canary)
	if rel.Name == "" {
		rel.Name = a.Release
	} else if rel.Name != a.Release {
		probs = append(probs, fmt.Sprintf("name %q differs from the recorded %q", rel.Name, a.Release))
	}
	if a.Plan != nil {
		rel.Strategy = fixedPlan(*a.Plan)
		rel.Background = nil
	}
	cp := p.Checkpoint
	rollingBack := opts.Mode == RollBack || cp.Rollback
	if rollingBack && a.Plan == nil && a.Recorded == nil && rel.Strategy == nil {
		probs = append(probs, "no Strategy: the release was recorded without its plan (by an earlier version of glidepath), so rolling it back needs the Strategy it was started with")
	}
	if err := strategy.Invalid("resume of "+a.Release+" on "+target, probs...); err != nil {
		return rel, err
	}
	if rollingBack && a.Plan == nil && a.Recorded != nil && (p.Fingerprint == "" || a.Recorded.Fingerprint == p.Fingerprint) &&
		!samePlan(rel, p.Fingerprint) {
		// Rolling back needs only the recorded stable State: the plan
		// given (if any) differs from the recorded one, so the release is
		// rolled back from its record, along the executor's default path.
		rel.Strategy = fixedPlan(a.Recorded.rollbackPlan())
		rel.Background = nil
		if _, err := strategy.Validate(rel); err != nil {
			return rel, err
		}
		cp.Step, cp.Fingerprint, cp.Rollback = 0, "", true
		rel.Resume = &cp
		return rel, nil
	}
	plan, err := strategy.Validate(rel)
	if err != nil {
		return rel, err
	}
	if p.Fingerprint != "" && plan.Fingerprint() != p.Fingerprint {
		pc := &PlanChangedError{Target: target, Release: a.Release, Recorded: p.Fingerprint, Now: plan.Fingerprint()}
		if a.Recorded != nil && a.Recorded.Fingerprint == p.Fingerprint {
			pc.Differences = a.Recorded.diff(recordPlan(plan))
		}
		return rel, pc
	}
	if cp.Step > len(plan.Steps) {
		return rel, fmt.Errorf("rollback: %w: journal of %s records step %d of a %d-step plan", ErrCorrupt, a.Release, cp.Step, len(plan.Steps))
	}
	// The fingerprint was checked above against the plan the executor
	// runs. The executor's own check compares it with the plan before
	// Release.Background is appended, which differs when there is any, so
	// it is left to this check then.
	if len(rel.Background) > 0 {
		cp.Fingerprint = ""
	}
	if opts.Mode == RollBack {
		cp.Rollback = true
	}
	rel.Resume = &cp
	return rel, nil
}

// samePlan reports whether rel plans the release recorded with
// fingerprint.
func samePlan(rel strategy.Release, fingerprint string) bool {
	if rel.Strategy == nil {
		return false
	}
	plan, err := strategy.Validate(rel)
	return err == nil && plan.Fingerprint() == fingerprint
}

// acquire takes target's lease, waiting for a held lease to expire when
// wait is set.
func (m *Manager) acquire(ctx context.Context, target string, wait bool) (Lease, error) {
	for {
		l, err := m.Store.Acquire(ctx, target, m.Owner, m.ttl())
		var held *LeaseHeldError
		if !wait || !errors.As(err, &held) {
			return l, err
		}
		d := max(time.Until(held.Expires), time.Millisecond)
		if !sleep.For(ctx, d) {
			return Lease{}, errors.Join(err, context.Cause(ctx))
		}
	}
}

// fixedPlan is a Strategy that always returns plan.
func fixedPlan(plan strategy.Plan) strategy.Strategy {
	return strategy.StrategyFunc(func(strategy.Revision, strategy.Revision) (strategy.Plan, error) {
		p := plan
		p.Steps = slices.Clone(plan.Steps)
		return p, nil
	})
}

// PendingRelease describes a target's unfinished release.
type PendingRelease struct {
	// Active is the store's record of the release.
	Active Active
	// Progress is what its journal says.
	Progress Progress
	// Torn, when set, reports a torn final record, which a resume treats
	// as not written.
	Torn *CorruptError
}

// Pending returns target's unfinished release, or nil when there is none.
// A journal damaged other than by a torn final record is an error (a
// [*CorruptError] naming the file and offset).
func (m *Manager) Pending(ctx context.Context, target string) (*PendingRelease, error) {
	if err := m.check(target); err != nil {
		return nil, err
	}
	tr, err := m.Store.Load(ctx, target)
	if err != nil || tr.Active == nil {
		return nil, err
	}
	recs, err := m.Store.Journal(ctx, target, tr.Active.Journal)
	out := &PendingRelease{Active: *tr.Active}
	if err != nil {
		var ce *CorruptError
		if !errors.Is(err, ErrTornRecord) || !errors.As(err, &ce) {
			return nil, err
		}
		out.Torn = ce
	}
	out.Progress = Replay(recs)
	return out, nil
}

// Abandon gives up target's unfinished release without driving the target
// any further: for a degraded release that a person has repaired by hand,
// or a journal that cannot be read. It leaves the target as it is, traffic
// split included; to return the target to its stable State instead, call
// [Manager.Resume] with Mode RollBack, which needs no plan. Its history
// entry records the outcome the journal last recorded (Stopped when it
// recorded none) and reason.
// It takes the target's lease, so it fails while a process runs the
// release.
func (m *Manager) Abandon(ctx context.Context, target, reason string) (Entry, error) {
	if err := m.check(target); err != nil {
		return Entry{}, err
	}
	if reason == "" {
		return Entry{}, strategy.Invalid("abandon", "no reason given")
	}
	lease, err := m.Store.Acquire(ctx, target, m.Owner, m.ttl())
	if err != nil {
		return Entry{}, fmt.Errorf("rollback: abandoning the release on %q: %w", target, err)
	}
	defer m.release(ctx, lease)
	return m.settle(ctx, target, lease, reason)
}

// maxRecordedSteps bounds the steps a [RecordedPlan] keeps, so that the
// target's record stays small; a longer plan keeps only its States and
// step count.
const maxRecordedSteps = 256

// RecordedPlan is what the [Store] keeps of a release's plan (in
// [Active.Recorded]): enough to roll the release back without the plan
// (its stable State and rollback delay) and to say which step or field a
// changed plan differs in.
type RecordedPlan struct {
	// Fingerprint is the plan's [strategy.Plan.Fingerprint].
	Fingerprint string `json:"fingerprint"`
	// Strategy names the strategy that built the plan.
	Strategy string `json:"strategy"`
	// Stable is the plan's rollback point; Final its promoted State.
	Stable strategy.State `json:"stable"`
	Final  strategy.State `json:"final"`
	// RollbackDelay is the plan's [strategy.Plan.RollbackDelay].
	RollbackDelay time.Duration `json:"rollbackDelay,omitempty"`
	// StepCount is the number of steps; Steps are the steps themselves,
	// nil when there are more than 256 of them.
	StepCount int            `json:"stepCount"`
	Steps     []RecordedStep `json:"steps,omitempty"`
	// Background lists the background analyses as "from:[names]".
	Background []string `json:"background,omitempty"`
}

// RecordedStep is one step of a [RecordedPlan]: a [strategy.Step] with
// its analyzers' names in place of the analyzers.
type RecordedStep struct {
	Kind      strategy.StepKind `json:"kind"`
	Name      string            `json:"name,omitempty"`
	State     strategy.State    `json:"state,omitzero"`
	Duration  time.Duration     `json:"duration,omitempty"`
	Timeout   time.Duration     `json:"timeout,omitempty"`
	Analyzers []string          `json:"analyzers,omitempty"`
}

// recordPlan records p (as validated: with the release's background
// analysis appended).
func recordPlan(p strategy.Plan) *RecordedPlan {
	rp := &RecordedPlan{Fingerprint: p.Fingerprint(), Strategy: p.Strategy, Stable: p.Stable, Final: p.Final,
		RollbackDelay: p.RollbackDelay, StepCount: len(p.Steps)}
	if len(p.Steps) <= maxRecordedSteps {
		rp.Steps = make([]RecordedStep, len(p.Steps))
		for i, s := range p.Steps {
			rp.Steps[i] = RecordedStep{Kind: s.Kind, Name: s.Name, State: s.State, Duration: s.Duration, Timeout: s.Timeout,
				Analyzers: strategy.AnalyzerNames(s.Analyzers)}
		}
	}
	for _, b := range p.Background {
		rp.Background = append(rp.Background, fmt.Sprintf("%d:%v", b.From, strategy.AnalyzerNames(b.Analyzers)))
	}
	return rp
}

// rollbackPlan is the plan of a release rolled back from its record
// alone: its only step applies the stable State, and it is never run,
// because the resumed release starts by rolling back (along the
// executor's default path: capacity first, then traffic, then the canary
// removed).
func (rp *RecordedPlan) rollbackPlan() strategy.Plan {
	return strategy.Plan{
		Strategy:      rp.Strategy,
		Stable:        rp.Stable,
		Final:         rp.Stable,
		RollbackDelay: rp.RollbackDelay,
		Steps:         []strategy.Step{strategy.Apply(rp.Stable).Named("roll back to " + string(rp.Stable.Stable))},
	}
}

// label names a step in a difference: its name, else what it does.
func (s RecordedStep) label() string {
	if s.Name != "" {
		return s.Name
	}
	if s.Kind == strategy.StepApply {
		return "apply " + s.State.String()
	}
	return string(s.Kind)
}

// diff lists what differs between the recorded plan rp and now, one
// entry per field of the plan and per step.
func (rp *RecordedPlan) diff(now *RecordedPlan) []string {
	var d []string
	if rp.Strategy != now.Strategy {
		d = append(d, fmt.Sprintf("strategy %s → %s", rp.Strategy, now.Strategy))
	}
	add := func(where string, fields []string) {
		if len(fields) > 0 {
			d = append(d, where+": "+joinFields(fields))
		}
	}
	add("stable State", stateDiff(rp.Stable, now.Stable))
	add("final State", stateDiff(rp.Final, now.Final))
	if rp.RollbackDelay != now.RollbackDelay {
		d = append(d, fmt.Sprintf("rollback delay %v → %v", rp.RollbackDelay, now.RollbackDelay))
	}
	if rp.StepCount != now.StepCount {
		d = append(d, fmt.Sprintf("%d steps → %d", rp.StepCount, now.StepCount))
	}
	if rp.Steps != nil && now.Steps != nil {
		for i := range min(len(rp.Steps), len(now.Steps)) {
			add(fmt.Sprintf("step %d (%s)", i, rp.Steps[i].label()), stepDiff(rp.Steps[i], now.Steps[i]))
		}
		for i := len(now.Steps); i < len(rp.Steps); i++ {
			d = append(d, fmt.Sprintf("step %d (%s) removed", i, rp.Steps[i].label()))
		}
		for i := len(rp.Steps); i < len(now.Steps); i++ {
			d = append(d, fmt.Sprintf("step %d (%s) added", i, now.Steps[i].label()))
		}
	}
	if !slices.Equal(rp.Background, now.Background) {
		d = append(d, fmt.Sprintf("background analysis %v → %v", rp.Background, now.Background))
	}
	return d
}

func joinFields(fields []string) string { return strings.Join(fields, ", ") }

func stepDiff(a, b RecordedStep) []string {
	var d []string
	if a.Kind != b.Kind {
		d = append(d, fmt.Sprintf("kind %s → %s", a.Kind, b.Kind))
	}
	if a.Name != b.Name {
		d = append(d, fmt.Sprintf("name %s → %s", orNone(a.Name), orNone(b.Name)))
	}
	d = append(d, stateDiff(a.State, b.State)...)
	if a.Duration != b.Duration {
		d = append(d, fmt.Sprintf("duration %v → %v", a.Duration, b.Duration))
	}
	if a.Timeout != b.Timeout {
		d = append(d, fmt.Sprintf("timeout %v → %v", a.Timeout, b.Timeout))
	}
	if !slices.Equal(a.Analyzers, b.Analyzers) {
		d = append(d, fmt.Sprintf("analyzers %v → %v", a.Analyzers, b.Analyzers))
	}
	return d
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// stateDiff lists the fields of two States that differ, by their JSON
// names ("weight 40 → 50", "replicas.canary 2 → 3"), so that a field
// added to State is compared without change here.
func stateDiff(a, b strategy.State) []string {
	if a == b {
		return nil
	}
	fa, fb := flatten(a), flatten(b)
	keys := slices.Sorted(maps.Keys(fa))
	for k := range fb {
		if _, ok := fa[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var d []string
	for _, k := range keys {
		va, oka := fa[k]
		vb, okb := fb[k]
		if oka && okb && va == vb {
			continue
		}
		if !oka {
			va = "(none)"
		}
		if !okb {
			vb = "(none)"
		}
		d = append(d, fmt.Sprintf("%s %s → %s", k, va, vb))
	}
	if len(d) == 0 { // cannot happen: equal JSON means equal States
		d = append(d, fmt.Sprintf("%v → %v", a, b))
	}
	return d
}

// flatten renders a State's JSON as dotted field names and values.
func flatten(s strategy.State) map[string]string {
	data, err := json.Marshal(s)
	if err != nil { // cannot happen: State is plain data
		panic(err)
	}
	var v map[string]any
	if err := json.Unmarshal(data, &v); err != nil {
		panic(err)
	}
	out := map[string]string{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		if m, ok := v.(map[string]any); ok {
			for k, x := range m {
				if prefix != "" {
					k = prefix + "." + k
				}
				walk(k, x)
			}
			return
		}
		b, _ := json.Marshal(v)
		if str, ok := v.(string); ok {
			out[prefix] = str
			return
		}
		out[prefix] = string(b)
	}
	walk("", v)
	return out
}
