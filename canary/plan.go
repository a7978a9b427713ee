package canary

import (
	"fmt"
	"slices"

	"github.com/glidepath/glidepath/internal/replicas"
	"github.com/glidepath/glidepath/strategy"
)

// Name is the strategy name carried by canary plans.
const Name = "canary"

var _ strategy.Strategy = Config{}

// Plan validates c and turns it into the plan that releases canary over
// stable. It is pure: the same Config and revisions give the same plan.
//
// The plan applies the canary at weight 0 (with no traffic and its initial
// scale) and waits for it to be ready, runs the steps, then promotes: the
// canary at 100% with full capacity, and finally the canary alone as the
// new stable revision, with no traffic split or header route left behind.
// Plan.Stable (the rollback point) is the stable revision alone at
// Replicas; Plan.Final is the canary alone at Replicas.
func (c Config) Plan(stable, canary strategy.Revision) (strategy.Plan, error) {
	if probs := c.problems(); len(probs) > 0 {
		return strategy.Plan{}, strategy.Invalid("canary config", probs...)
	}
	p, probs := c.build(stable, canary)
	if len(probs) > 0 {
		return strategy.Plan{}, strategy.Invalid("canary config", probs...)
	}
	return p, nil
}

// mode is how a target turns weights into instances.
type mode int

const (
	modeWeightOnly mode = iota // no instances: weights only
	modeBasic                  // instances, traffic follows them
	modeRouted                 // instances, a router splits traffic
)

// builder walks the steps and records the States they lead to.
type builder struct {
	c              Config
	mode           mode
	n              int // Config.Replicas
	surge, unavail int
	stable, canary strategy.Revision

	cur    strategy.State // last State the plan applies
	weight int            // the weight asked for (routed targets)
	scale  Scale          // the canary's scale (routed targets)
	steps  []strategy.Step
	probs  []string
	label  string // names the steps emitted for the current config step
	tooBig bool   // the plan reached maxPlanSteps
}

func (c Config) build(stable, canary strategy.Revision) (strategy.Plan, []string) {
	b := &builder{c: c, n: c.Replicas, stable: stable, canary: canary}
	switch {
	case c.Replicas == 0:
		b.mode = modeWeightOnly
	case c.TrafficRouting:
		b.mode = modeRouted
	default:
		b.mode = modeBasic
	}
	surge, unavailable := c.surgeAndUnavailable()
	b.surge, b.unavail = resolveFenceposts(surge, unavailable, c.Replicas)
	if b.mode == modeBasic && b.basicMoves(c.steps()) > maxPlanSteps/2 {
		// Each move is two steps (scale, wait): reject a plan bound to
		// be too large before building it.
		return strategy.Plan{}, []string{b.tooBigProblem()}
	}

	planStable := strategy.State{Stable: stable, Replicas: strategy.Replicas{Stable: c.Replicas}}
	final := strategy.State{Stable: canary, Replicas: strategy.Replicas{Stable: c.Replicas}}

	// Deploy the canary with no traffic.
	b.cur = planStable
	b.label = "deploy canary"
	deploy := strategy.State{Stable: stable, Canary: canary, Replicas: strategy.Replicas{Stable: c.Replicas}}
	b.apply(deploy)
	b.wait()

	steps := c.steps()
	starts := make([]int, len(steps))
	for i, s := range steps {
		starts[i] = len(b.steps)
		b.label = s.Name
		if b.label == "" {
			b.label = s.String()
		}
		where := fmt.Sprintf("Steps[%d] (%s)", i, s.Kind)
		switch s.Kind {
		case KindSetWeight:
			b.moveTo(where, s.Weight, b.cur.Route, b.scale)
		case KindSetCanaryScale:
			b.moveTo(where, b.weight, b.cur.Route, s.Scale)
		case KindSetHeaderRoute:
			b.moveTo(where, b.weight, s.Route, b.scale)
		case KindPause:
			b.steps = append(b.steps, strategy.Pause(s.Duration).Named(s.Name))
		case KindAnalysis:
			b.steps = append(b.steps, strategy.Analyze(s.Analyzers...).Named(s.Name))
		}
	}

	// Promote: all traffic and full capacity on the canary, then the
	// canary alone as the new stable revision.
	b.label = "promote"
	b.moveTo("promotion", 100, strategy.HeaderRoute{}, MatchTrafficWeight())
	b.apply(final)

	plan := strategy.Plan{Strategy: Name, Stable: planStable, Final: final, Steps: b.steps}
	if len(c.Background.Analyzers) > 0 {
		from := 0
		if k := c.backgroundStart(); k >= 0 && k < len(starts) {
			from = starts[k]
		}
		plan.Background = []strategy.Background{{From: from, Analyzers: c.Background.Analyzers}}
	}
	return plan, b.probs
}

func (b *builder) apply(s strategy.State) {
	if s == b.cur || b.full() {
		return
	}
	b.steps = append(b.steps, strategy.Apply(s).Named(b.label))
	b.cur = s
}

func (b *builder) wait() {
	if b.full() {
		return
	}
	b.steps = append(b.steps, strategy.WaitReady(b.c.ProgressDeadline).Named(b.label))
}

// full reports whether the plan has reached maxPlanSteps, naming the
// problem the first time.
func (b *builder) full() bool {
	if len(b.steps) < maxPlanSteps {
		return false
	}
	if !b.tooBig {
		b.tooBig = true
		b.probs = append(b.probs, b.tooBigProblem())
	}
	return true
}

func (b *builder) tooBigProblem() string {
	return replicas.TooManySteps(maxPlanSteps, b.n, b.surge+b.unavail)
}

// moveTo emits the States that take the target from b.cur to the given
// weight, header route and canary scale.
func (b *builder) moveTo(where string, weight int, route strategy.HeaderRoute, scale Scale) {
	b.weight, b.scale = weight, scale
	switch b.mode {
	case modeWeightOnly:
		next := b.cur
		next.Weight, next.Route = weight, route
		b.apply(next)
	case modeRouted:
		b.moveRouted(where, weight, route, scale)
	case modeBasic:
		b.moveBasic(where, weight)
	}
}

// moveRouted orders a change behind a traffic router the way Argo Rollouts
// does with dynamic stable scale: first scale up whichever revision gains
// instances (under the old traffic) and wait for it, then move the
// traffic, then scale down whichever revision loses instances. Rising
// weights thus go canary up, traffic shifted, stable down; falling weights
// go stable up, traffic shifted, canary down.
func (b *builder) moveRouted(where string, weight int, route strategy.HeaderRoute, scale Scale) {
	canaryN := scale.count(b.n, weight)
	stableN := b.n
	if b.c.DynamicStableScale {
		stableN = weightToReplicas(b.n, 100-weight)
	}
	if canaryN == 0 && (weight > 0 || !route.IsZero()) {
		b.probs = append(b.probs, fmt.Sprintf("%s: sends traffic to the canary while its scale (%s) gives it no instance", where, scale))
	}
	if stableN == 0 && weight < 100 {
		b.probs = append(b.probs, fmt.Sprintf("%s: leaves the stable revision no instance while it still serves %d%% of the traffic", where, 100-weight))
	}
	target := strategy.State{Stable: b.stable, Canary: b.canary, Weight: weight, Route: route,
		Replicas: strategy.Replicas{Stable: stableN, Canary: canaryN}}

	up := b.cur
	up.Replicas = strategy.Replicas{Stable: max(b.cur.Replicas.Stable, stableN), Canary: max(b.cur.Replicas.Canary, canaryN)}
	if up != b.cur {
		b.apply(up)
		b.wait()
	}
	shifted := up
	shifted.Weight, shifted.Route = weight, route
	b.apply(shifted)
	b.apply(target)
}

// basicMoves is a lower bound on the moves a basic canary makes through
// steps and the promotion: each weight's instance split is reached moving
// at most surge+unavailable instances of each revision at a time.
func (b *builder) basicMoves(steps []Step) int {
	per := 2 * (b.surge + b.unavail)
	if per <= 0 {
		return 0
	}
	moves, prev := 0, 0
	for _, s := range append(slices.Clip(steps), SetWeight(100)) {
		if s.Kind != KindSetWeight || s.Weight < 0 || s.Weight > 100 {
			continue
		}
		c, _ := approximateSplit(b.n, s.Weight, b.surge)
		moves += (abs(c-prev) + per - 1) / per
		prev = c
	}
	return moves
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// moveBasic walks a basic canary to weight one reconcile at a time, each
// within max surge and max unavailable, waiting for the instances after
// each. The traffic weight of each State is the canary's share of the
// instances, which is what a basic canary's traffic follows.
func (b *builder) moveBasic(where string, weight int) {
	c, s := b.cur.Replicas.Canary, b.cur.Replicas.Stable
	wantC, wantS := approximateSplit(b.n, weight, b.surge)
	for range 4*b.n + 8 {
		if b.tooBig {
			return
		}
		nc, ns := basicStep(basicInput{total: b.n, weight: weight, surge: b.surge, unavailable: b.unavail,
			canary: replicaSet{c, c}, stable: replicaSet{s, s}})
		if nc == c && ns == s {
			break
		}
		c, s = nc, ns
		b.apply(strategy.State{Stable: b.stable, Canary: b.canary, Weight: replicas.Share(c, s),
			Replicas: strategy.Replicas{Stable: s, Canary: c}})
		b.wait()
	}
	if (c != wantC || s != wantS) && !b.tooBig {
		b.probs = append(b.probs, fmt.Sprintf("%s: cannot reach %d canary and %d stable instances within max surge %d and max unavailable %d (stopped at %d and %d)",
			where, wantC, wantS, b.surge, b.unavail, c, s))
	}
}
