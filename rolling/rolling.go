package rolling

import (
	"errors"
	"fmt"
	"time"

	"github.com/glidepath/glidepath/internal/replicas"
	"github.com/glidepath/glidepath/strategy"
)

// Name is the Plan.Strategy of every plan this package builds.
const Name = "rolling"

// DefaultMaxSurge and DefaultMaxUnavailable apply when MaxSurge or
// MaxUnavailable is nil: Kubernetes' defaults for a Deployment's
// RollingUpdate strategy (25% each), each field defaulted on its own.
var (
	DefaultMaxSurge       = replicas.DefaultBound
	DefaultMaxUnavailable = replicas.DefaultBound
)

// MaxReplicas is the largest Replicas a Config accepts (2^24): far beyond
// any fleet released in batches, and small enough that no count or
// percentage of it can overflow.
const MaxReplicas = 1 << 24

// MaxPlanSteps bounds the size of a plan, so that a large fleet moved a
// few instances at a time cannot make Validate or Plan use much memory or
// time: a step takes about a kilobyte to build, so the largest plan takes
// about 10 MiB. Ten thousand steps are some three thousand batches; a
// configuration that needs more is refused, with a request for larger
// bounds.
const MaxPlanSteps = 10_000

// Config describes a rolling update. The zero value is valid: a target
// without instances, switched in one batch.
type Config struct {
	// Replicas is N, the number of instances of the stable revision to
	// replace. 0 means the target has no instances (a feature flag, a
	// traffic splitter in front of fixed upstreams): the plan is a single
	// batch that starts the canary revision, waits until it is up and moves
	// all traffic to it. At most [MaxReplicas].
	Replicas int `json:"replicas,omitempty" yaml:"replicas,omitempty"`
	// MaxSurge is how many instances may run above N during the update,
	// as a count or a percentage of N rounded up (Kubernetes' maxSurge).
	// MaxUnavailable is how many of the N may be unavailable, as a count
	// or a percentage of N rounded down (maxUnavailable). Each is
	// [DefaultMaxSurge] or [DefaultMaxUnavailable] (25%) when nil, as in
	// Kubernetes. Both may not be zero ("0" or "0%"), which Kubernetes
	// rejects too. When both resolve to 0 for a given N, one instance may
	// be unavailable, so the update can move.
	MaxSurge       *strategy.IntOrPercent `json:"maxSurge,omitempty" yaml:"maxSurge,omitempty"`
	MaxUnavailable *strategy.IntOrPercent `json:"maxUnavailable,omitempty" yaml:"maxUnavailable,omitempty"`
	// MinReady is how long new instances must stay ready before the next
	// batch counts them as available (Kubernetes' minReadySeconds): each
	// batch is held that long and then checked again, so an instance that
	// failed during the hold stops the update. 0: available as soon as
	// ready.
	MinReady time.Duration `json:"-" yaml:"minReady,omitempty"`
	// ProgressDeadline bounds the wait for each batch to become ready (the
	// clock restarts with each batch, as Kubernetes' progressDeadlineSeconds
	// does). 0 uses the release's Options.ProgressDeadline. Missing it rolls
	// back (or pauses, per Options.OnDeadline.Pause).
	ProgressDeadline time.Duration `json:"-" yaml:"progressDeadline,omitempty"`
	// Partition, when positive, stops the update once that many instances
	// run the canary revision and waits for Rollout.Promote before updating
	// the rest. Must be less than Replicas. 0: no partition.
	Partition int `json:"partition,omitempty" yaml:"partition,omitempty"`
	// Analyzers run after every batch, once the batch is ready and has
	// been held for MinReady. A Fail rolls back batch by batch. None: no
	// analysis.
	Analyzers []strategy.Analyzer `json:"-" yaml:"-"`
}

var _ strategy.Strategy = Config{}

// Validate reports every problem with c at once, in an error matching
// strategy.ErrInvalidConfig, or returns nil. A configuration whose plan
// would exceed [MaxPlanSteps] (a large fleet moved a few instances at a
// time) is rejected too, with a request for larger bounds; building stops
// at the bound, so refusing costs no more than the largest plan.
func (c Config) Validate() error {
	p := c.problems()
	if len(p) == 0 {
		if _, err := c.build("stable", "canary"); err != nil {
			return err
		}
	}
	return strategy.Invalid("rolling config", p...)
}

// problems lists what is wrong with c without building the plan.
func (c Config) problems() []string {
	var p []string
	if c.Replicas < 0 {
		p = append(p, fmt.Sprintf("Replicas is negative (%d)", c.Replicas))
	}
	if c.Replicas > MaxReplicas {
		p = append(p, fmt.Sprintf("Replicas (%d) is more than %d", c.Replicas, MaxReplicas))
	}
	ms, mu := c.bounds()
	surgeOK, unavailOK := true, true
	var ce *strategy.ConfigError
	if errors.As(ms.Validate(), &ce) {
		for _, q := range ce.Problems {
			p = append(p, "MaxSurge: "+q)
		}
		surgeOK = false
	}
	if errors.As(mu.Validate(), &ce) {
		for _, q := range ce.Problems {
			p = append(p, "MaxUnavailable: "+q)
		}
		unavailOK = false
	}
	if surgeOK && unavailOK && replicas.IsZero(ms) && replicas.IsZero(mu) {
		p = append(p, fmt.Sprintf("MaxSurge (%s) and MaxUnavailable (%s) are both zero: the update could never move", ms, mu))
	}
	if c.MinReady < 0 {
		p = append(p, fmt.Sprintf("MinReady is negative (%v)", c.MinReady))
	}
	if c.ProgressDeadline < 0 {
		p = append(p, fmt.Sprintf("ProgressDeadline is negative (%v)", c.ProgressDeadline))
	}
	if c.Partition < 0 {
		p = append(p, fmt.Sprintf("Partition is negative (%d)", c.Partition))
	}
	if c.Partition > 0 && c.Partition >= c.Replicas {
		p = append(p, fmt.Sprintf("Partition (%d) must be less than Replicas (%d)", c.Partition, c.Replicas))
	}
	for i, a := range c.Analyzers {
		if a == nil {
			p = append(p, fmt.Sprintf("Analyzers: analyzer %d is nil", i))
		}
	}
	return p
}

// bounds returns MaxSurge and MaxUnavailable with their defaults.
func (c Config) bounds() (surge, unavailable strategy.IntOrPercent) {
	return replicas.Bounds(c.MaxSurge, c.MaxUnavailable)
}

// Bounds resolves MaxSurge and MaxUnavailable against Replicas, defaults
// included, as Kubernetes' deployment controller does: surge is how many
// instances may run above Replicas, unavailable how many of Replicas may
// be unavailable, capped at Replicas (and 0 for 0 replicas), with one
// instance unavailable when both resolve to 0. Call Validate first;
// malformed values resolve to 0.
func (c Config) Bounds() (surge, unavailable int) {
	ms, mu := c.bounds()
	n := max(c.Replicas, 0)
	surge, unavailable = strategy.SurgeAndUnavailable(ms, mu, n)
	return surge, min(unavailable, n)
}

// limits are the plan's bounds on the fleet: at most maxTotal instances,
// at least minAvail available. A surge above N changes nothing (no batch
// starts more than N new instances) and an unavailable budget above N
// means N, as in Kubernetes; clamping both keeps the sums from
// overflowing.
func (c Config) limits() (maxTotal, minAvail int) {
	n := max(c.Replicas, 0)
	surge, unavail := c.Bounds()
	return n + min(surge, n), n - min(unavail, n)
}

// Step names of the plans this package builds. Batch steps are named
// "batch K: <what>", K counting from 1.
const (
	StepPartition = "partition"
	StepFinish    = "finish"
)

// Plan builds the rolling update that replaces stable with canary. It
// validates c first and returns its error unchanged. Plan is pure: the same
// Config and revisions always give the same plan.
func (c Config) Plan(stable, canary strategy.Revision) (strategy.Plan, error) {
	if p := c.problems(); len(p) > 0 {
		return strategy.Plan{}, strategy.Invalid("rolling config", p...)
	}
	return c.build(stable, canary)
}

// build builds the plan of a Config without static problems; it fails
// only when the plan would be too large.
func (c Config) build(stable, canary strategy.Revision) (strategy.Plan, error) {
	n := c.Replicas
	maxTotal, minAvail := c.limits()
	tooBig := func() (strategy.Plan, error) {
		return strategy.Plan{}, strategy.Invalid("rolling config", replicas.TooManySteps(MaxPlanSteps, n, maxTotal-minAvail))
	}
	// Each batch raises the ready new instances by at most
	// maxTotal-minAvail and takes at least two steps (the last one, one):
	// reject a plan that is bound to be too large before building it.
	if per := maxTotal - minAvail; n > 0 && per > 0 && 2*((n+per-1)/per)-1 > MaxPlanSteps {
		return tooBig()
	}
	live := strategy.State{Stable: stable, Replicas: strategy.Replicas{Stable: n}}
	final := strategy.State{Stable: canary, Replicas: strategy.Replicas{Stable: n}}
	plan := strategy.Plan{Strategy: Name, Stable: live, Final: final}

	var steps []strategy.Step
	batch := 0
	if n == 0 {
		// No instances: one batch that moves all traffic once the new
		// revision is up (the executor waits for it before the switch).
		steps = append(steps,
			strategy.Apply(strategy.State{Stable: stable, Canary: canary, Weight: 100}).Named("batch 1: traffic"),
			strategy.WaitReady(c.ProgressDeadline).Named("batch 1: ready"))
		steps = c.afterBatch(steps, 1, true)
		steps = append(steps, strategy.Apply(final).Named(StepFinish))
		plan.Steps = steps
		plan.Rollback = func(strategy.State) []strategy.State { return []strategy.State{live} }
		return plan, nil
	}

	f := &fleet{stable: stable, canary: canary, n: n, maxTotal: maxTotal, minAvail: minAvail,
		grow: &pool{}, shrink: &pool{want: n, ready: n}}
	targets := []int{n}
	if c.Partition > 0 {
		targets = []int{c.Partition, n}
	}
	for ti, target := range targets {
		for f.grow.want < target || f.shrink.want > n-target {
			batch++
			states, scaledUp := f.round(target, n-target)
			for _, s := range states {
				steps = append(steps, strategy.Apply(s.state).Named(fmt.Sprintf("batch %d: %s", batch, s.what)))
			}
			if scaledUp && (f.shrink.want > 0 || f.weight == 100) {
				steps = append(steps, strategy.WaitReady(c.ProgressDeadline).Named(fmt.Sprintf("batch %d: ready", batch)))
			}
			// Otherwise the old revision has no instance left but still
			// has traffic (a budget that lets every instance be
			// unavailable): no State is ready until the traffic moves, and
			// the executor waits for the new instances before it moves it,
			// bounded by the release's progress deadline.
			f.grow.ready, f.shrink.ready = f.grow.want, f.shrink.want
			if s, ok := f.reweight(); ok {
				steps = append(steps, strategy.Apply(s).Named(fmt.Sprintf("batch %d: traffic", batch)))
			}
			steps = c.afterBatch(steps, batch, scaledUp)
			if len(steps) > MaxPlanSteps {
				return tooBig()
			}
		}
		if ti < len(targets)-1 {
			steps = append(steps, strategy.Pause(0).Named(StepPartition))
		}
	}
	steps = append(steps, strategy.Apply(final).Named(StepFinish))
	plan.Steps = steps
	plan.Rollback = c.rollback(stable, canary)
	return plan, nil
}

// afterBatch appends the MinReady hold (when new instances came up) and
// the analysis of batch k.
func (c Config) afterBatch(steps []strategy.Step, k int, scaledUp bool) []strategy.Step {
	if scaledUp && c.MinReady > 0 {
		// Hold the batch for MinReady, then check it is still ready: an
		// instance that failed during the hold is not available.
		steps = append(steps, strategy.Pause(c.MinReady).Named(fmt.Sprintf("batch %d: min ready", k)),
			strategy.WaitReady(c.ProgressDeadline).Named(fmt.Sprintf("batch %d: still ready", k)))
	}
	if len(c.Analyzers) > 0 {
		steps = append(steps, strategy.Analyze(c.Analyzers...).Named(fmt.Sprintf("batch %d: analysis", k)))
	}
	return steps
}

// pool is one revision's instances as the planner models them: how many
// are asked for, and how many of those count as available.
type pool struct{ want, ready int }

// fleet models the two revisions during an update (grow = canary, shrink =
// stable) or a rollback (the other way round).
type fleet struct {
	stable, canary strategy.Revision
	n              int
	maxTotal       int // N + surge
	minAvail       int // N - unavailable
	grow, shrink   *pool
	back           bool // rolling back: grow is the stable revision
	weight         int  // canary's traffic share in the last State
}

type planned struct {
	state strategy.State
	what  string
}

// state renders the fleet as a State with the current weight, adjusted so
// that a revision without instances gets no traffic.
func (f *fleet) state() strategy.State {
	s, c := f.shrink, f.grow
	if f.back {
		s, c = f.grow, f.shrink
	}
	// All traffic goes to the only revision left once it is ready. Before
	// that the weight stays: moving traffic onto capacity that is not
	// ready would make the executor add capacity first, beyond the surge.
	switch {
	case c.want == 0 && s.ready >= s.want:
		f.weight = 0
	case s.want == 0 && c.ready >= c.want:
		f.weight = 100
	}
	return strategy.State{Stable: f.stable, Canary: f.canary, Weight: f.weight,
		Replicas: strategy.Replicas{Stable: s.want, Canary: c.want}}
}

// round scales the growing revision up and the shrinking one down, as the
// Deployment controller's successive syncs do, until neither can move
// without instances becoming available. It returns the States in order
// and whether anything was scaled up. growTo caps the growing revision and
// shrinkTo floors the shrinking one.
func (f *fleet) round(growTo, shrinkTo int) ([]planned, bool) {
	var out []planned
	scaledUp := false
	emit := func(what string) {
		if f.grow.want == 0 && f.shrink.want == 0 {
			// Zero replicas means "no instances" to a target; fold this
			// State into the scale-up that follows.
			return
		}
		out = append(out, planned{f.state(), what})
	}
	for range 2*f.n + 4 { // each pass moves at least one instance or ends
		moved := false
		// Scale up: total stays within N + surge.
		if up := min(f.maxTotal-(f.grow.want+f.shrink.want), growTo-f.grow.want); up > 0 {
			f.grow.want += up
			scaledUp, moved = true, true
			emit("scale up")
		}
		// Scale down: unready instances first (they cost no
		// availability), then as many as keep minAvail available.
		avail := f.grow.ready + f.shrink.ready
		budget := (f.shrink.want - f.shrink.ready) + max(0, avail-f.minAvail)
		if down := min(f.shrink.want-shrinkTo, budget); down > 0 {
			f.shrink.want -= down
			f.shrink.ready = min(f.shrink.ready, f.shrink.want)
			moved = true
			emit("scale down")
		}
		if !moved {
			break
		}
	}
	return out, scaledUp
}

// reweight sets the canary's weight to its share of the available
// instances, returning the State when the weight changed.
func (f *fleet) reweight() (strategy.State, bool) {
	s, c := f.shrink, f.grow
	if f.back {
		s, c = f.grow, f.shrink
	}
	w := replicas.Share(c.ready, s.ready)
	if c.want == 0 {
		w = 0
	}
	if w == f.weight {
		return strategy.State{}, false
	}
	f.weight = w
	return f.state(), true
}

// rollback returns the Plan.Rollback hook: a rolling update back to the
// stable revision, from whatever State was applied last.
func (c Config) rollback(stable, canary strategy.Revision) func(from strategy.State) []strategy.State {
	n := c.Replicas
	maxTotal, minAvail := c.limits()
	live := strategy.State{Stable: stable, Replicas: strategy.Replicas{Stable: n}}
	return func(from strategy.State) []strategy.State {
		known := func(r strategy.Revision) bool { return r == "" || r == stable || r == canary }
		if from == live || !known(from.Stable) || !known(from.Canary) || from.Desired(canary) == 0 && from.Share(canary) == 0 {
			// Nothing of the canary revision runs (or the State is not one
			// this plan makes): the executor applies live capacity first.
			return []strategy.State{live}
		}
		o, nw, w := from.Desired(stable), from.Desired(canary), from.Share(canary)
		nwReady := nw
		if w == 0 {
			nwReady = 0 // no traffic: not counted as available
		}
		f := &fleet{stable: stable, canary: canary, n: n, maxTotal: maxTotal, minAvail: minAvail,
			grow: &pool{want: o, ready: o}, shrink: &pool{want: nw, ready: nwReady}, back: true, weight: w}
		var out []strategy.State
		add := func(s strategy.State) {
			last := from
			if len(out) > 0 {
				last = out[len(out)-1]
			}
			if s != last {
				out = append(out, s)
			}
		}
		// A State with the canary revision in the stable slot (the final
		// State, or a promotion under way) is first expressed with the
		// old revision back in its slot and the same traffic.
		add(f.state())
		for range 4*maxTotal + 8 {
			if f.grow.want >= n && f.shrink.want == 0 {
				break
			}
			states, _ := f.round(n, 0)
			for _, s := range states {
				add(s.state)
			}
			// The executor waits for the instances a rollback State adds
			// before it applies the next State, so the old revision's new
			// instances are ready here; traffic follows them back.
			f.grow.ready = f.grow.want
			if s, ok := f.reweight(); ok {
				add(s)
			}
		}
		add(live)
		return out
	}
}
