package glidepath

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/glidepath/glidepath/bluegreen"
	"github.com/glidepath/glidepath/canary"
	"github.com/glidepath/glidepath/rollback"
	"github.com/glidepath/glidepath/rolling"
	"github.com/glidepath/glidepath/strategy"
)

// Risk is the expected blast radius of a change: how much harm a bad
// revision would do before it is caught.
type Risk int

// Levels of risk. The zero Risk is a change nobody assessed, which
// [Recommend] treats as [RiskHigh].
const (
	RiskUnassessed Risk = iota
	// RiskLow: a bad revision would hurt little (an internal tool, a
	// change behind a flag, a dependency bump with good tests).
	RiskLow
	// RiskMedium: a bad revision would hurt some users for a while.
	RiskMedium
	// RiskHigh: a bad revision would hurt many users, money or data.
	RiskHigh
)

// String returns "unassessed", "low", "medium", "high", or "Risk(n)".
func (r Risk) String() string {
	switch r {
	case RiskUnassessed:
		return "unassessed"
	case RiskLow:
		return "low"
	case RiskMedium:
		return "medium"
	case RiskHigh:
		return "high"
	}
	return "Risk(" + strconv.Itoa(int(r)) + ")"
}

// Change describes a change to release, for [Recommend]. The zero value is
// valid: a change of unassessed risk, without metrics, to a target without
// instances that routes traffic by weight (a feature flag, a traffic
// splitter), which gets a canary with manual gates.
type Change struct {
	// Risk is the expected blast radius. The zero value (unassessed) is
	// treated as RiskHigh.
	Risk Risk
	// Stateful says the new revision changes state that the old one
	// depends on, or keeps state in its instances: a data migration, a new
	// on-disk format, sessions held in memory. Instances are then replaced
	// one at a time, and a failed analysis holds the release for a person
	// instead of rolling back on its own, because rolling back over
	// migrated state can do more harm than waiting.
	Stateful bool
	// InstantCutover says users must never be served by both revisions at
	// once (an incompatible protocol or API between client and server): all
	// traffic moves in one switch, once the new revision runs at full
	// capacity.
	InstantCutover bool
	// Analyzers judge the release from its metrics (error rate, latency,
	// saturation). None means there are no metrics to judge it by, and the
	// recommendation gates progress on people instead. They run inline at
	// each step, so each should measure for a bounded time and return
	// (analysis.Check with a Count, or a judge with a fixed sample).
	Analyzers []strategy.Analyzer
	// WeightedRouting says the target splits traffic by weight
	// independently of its instance counts (a service mesh, an ingress
	// or load balancer with weights, a feature flag). Without it, a
	// canary's traffic follows its share of instances. Implied when
	// Replicas is 0.
	WeightedRouting bool
	// Replicas is the number of instances the service runs; 0 means the
	// target has no instances (a flag, a splitter in front of fixed
	// upstreams).
	Replicas int
	// Bake is how long each canary weight is held before its analysis
	// (rule 4 below). 0 means 5 minutes for RiskMedium and 10 minutes for
	// RiskHigh.
	Bake time.Duration
}

// Validate reports every problem with c at once, in an error matching
// [strategy.ErrInvalidConfig], or returns nil.
func (c Change) Validate() error {
	var p []string
	if c.Risk < RiskUnassessed || c.Risk > RiskHigh {
		p = append(p, fmt.Sprintf("Risk %d is not one of RiskLow, RiskMedium, RiskHigh (or RiskUnassessed, the zero value)", int(c.Risk)))
	}
	if c.Replicas < 0 {
		p = append(p, fmt.Sprintf("Replicas is negative (%d)", c.Replicas))
	}
	if c.Bake < 0 {
		p = append(p, fmt.Sprintf("Bake is negative (%v)", c.Bake))
	}
	for i, a := range c.Analyzers {
		if a == nil {
			p = append(p, fmt.Sprintf("Analyzers[%d] is nil", i))
		}
	}
	return strategy.Invalid("change", p...)
}

// Kinds of strategy a [Recommendation] names: the Plan.Strategy names of
// the packages that build them.
const (
	KindRolling   = rolling.Name
	KindCanary    = canary.Name
	KindBlueGreen = bluegreen.Name
)

// Recommendation is the strategy [Recommend] chose for a [Change], built
// and validated, with why.
type Recommendation struct {
	// Kind is KindRolling, KindCanary or KindBlueGreen.
	Kind string
	// Strategy is the configured strategy: a *rolling.Config, a
	// canary.Config or a *bluegreen.Config, ready for Release.Strategy.
	// Adjust it through a type assertion if needed.
	Strategy strategy.Strategy
	// Rule is the row of the decision table that matched (1 to 5).
	Rule int
	// Reasons explain the choice and its settings, one sentence each,
	// starting with the rule that matched.
	Reasons []string
	// OnFail is what a Fail verdict should do, for
	// Release.Options.OnFail: roll back at once (the zero value), or, for
	// a stateful change, hold the release for a person.
	OnFail strategy.Policy
	// ManualGates reports that the release waits for Rollout.Promote at
	// least once: someone must watch it.
	ManualGates bool
}

// Default weights of the canary rules.
var (
	mediumWeights = []int{10, 25, 50, 75}
	highWeights   = []int{5, 10, 25, 50, 75}
	manualWeights = []int{5, 10, 25, 50}
)

// DecisionTable is the table [Recommend] follows, in Markdown, for a README
// or a design document.
const DecisionTable = `| Rule | When (first match wins) | Strategy | Built with |
| --- | --- | --- | --- |
| 1 | InstantCutover | blue-green | the new revision at full capacity before one switch of all traffic; Analyzers run after the switch (a Fail switches back at once, the old revision still at full capacity); without Analyzers the switch waits for Promote |
| 2 | Stateful | rolling, one instance at a time | maxSurge 0, maxUnavailable 1 (a Kubernetes StatefulSet's update); Analyzers after every instance; without Analyzers and with more than one instance, a partition of 1: one instance is updated, then the release waits for Promote |
| 3 | Risk low | rolling | maxSurge 25%, maxUnavailable 25% (Kubernetes' defaults); Analyzers after every batch |
| 4 | Risk medium, high or unassessed, with Analyzers | canary, gated on metrics | medium: 10, 25, 50, 75%; high or unassessed: 5, 10, 25, 50, 75%; each weight held for Bake (5m medium, 10m high) then analysed; a Fail rolls back at once |
| 5 | Risk medium, high or unassessed, no Analyzers | canary with manual gates | 5, 10, 25, 50%, each followed by a pause until Promote |

On every rule, a Stateful change gets a failure policy that holds the release for a person (rollback.PauseAndHold) instead of rolling back; otherwise a Fail rolls back at once. A canary on a target without weighted routing approximates each weight by its share of instances.
`

// Recommend chooses a strategy for c, builds it with sensible defaults and
// explains why. It returns c.Validate's error for an invalid Change.
//
// The decision table (first match wins; also in [DecisionTable], in
// Markdown):
//
//	Rule  When                             Strategy and defaults
//	1     InstantCutover                   blue-green: the new revision at full capacity, then one
//	                                       switch of all traffic; Analyzers after the switch (a Fail
//	                                       switches back at once); no Analyzers: the switch waits for
//	                                       Promote.
//	2     Stateful                         rolling, one instance at a time (maxSurge 0,
//	                                       maxUnavailable 1, as a Kubernetes StatefulSet updates its
//	                                       pods); Analyzers after every instance; no Analyzers and
//	                                       Replicas > 1: partition 1 (one instance, then wait for
//	                                       Promote).
//	3     Risk low                         rolling with Kubernetes' defaults (maxSurge 25%,
//	                                       maxUnavailable 25%); Analyzers after every batch.
//	4     Risk medium/high/unassessed,     canary gated on metrics: weights 10 25 50 75 (medium) or
//	      with Analyzers                   5 10 25 50 75 (high, unassessed), each held for Bake
//	                                       (5m / 10m) and then analysed; a Fail rolls back at once.
//	5     Risk medium/high/unassessed,     canary with manual gates: weights 5 10 25 50, each followed
//	      no Analyzers                     by a pause until Promote.
//
// On every rule, a Stateful change gets OnFail Policy{Pause: true}
// (rollback.PauseAndHold): a Fail holds the release for a person. Canaries
// use Replicas and, when WeightedRouting is set and Replicas > 0, the
// target's router (canary.Config.TrafficRouting); without a router each
// weight is approximated by the canary's share of instances.
func Recommend(c Change) (Recommendation, error) {
	if err := c.Validate(); err != nil {
		return Recommendation{}, err
	}
	var rec Recommendation
	metrics := len(c.Analyzers) > 0
	judge := judges(c.Analyzers)
	risk := c.Risk
	if risk == RiskUnassessed {
		risk = RiskHigh
	}
	switch {
	case c.InstantCutover:
		cfg := &bluegreen.Config{Replicas: c.Replicas, PostPromotion: c.Analyzers, ManualPromotion: !metrics}
		rec = Recommendation{Kind: KindBlueGreen, Strategy: cfg, Rule: 1, ManualGates: !metrics}
		rec.Reasons = append(rec.Reasons,
			"rule 1, instant cutover: users must not be served by both revisions, so blue-green brings the new revision up at full capacity and switches all traffic at once")
		if metrics {
			rec.Reasons = append(rec.Reasons, fmt.Sprintf(
				"metrics: %s the new revision after the switch; a Fail switches traffic back at once to the old revision, still at full capacity", judge))
		} else {
			rec.Reasons = append(rec.Reasons, "no metrics: the switch waits for Promote, so a person checks the new revision first")
		}
	case c.Stateful:
		cfg := &rolling.Config{Replicas: c.Replicas, MaxSurge: new(strategy.Int(0)), MaxUnavailable: new(strategy.Int(1)), Analyzers: c.Analyzers}
		rec = Recommendation{Kind: KindRolling, Strategy: cfg, Rule: 2}
		rec.Reasons = append(rec.Reasons,
			"rule 2, stateful: instances are replaced one at a time (maxSurge 0, maxUnavailable 1, as a Kubernetes StatefulSet updates its pods), so at most one instance runs unfamiliar code against the state at first")
		switch {
		case metrics:
			rec.Reasons = append(rec.Reasons, fmt.Sprintf("metrics: %s every instance before the next is replaced", judge))
		case c.Replicas > 1:
			cfg.Partition = 1
			rec.ManualGates = true
			rec.Reasons = append(rec.Reasons, "no metrics: the release updates one instance and waits for Promote (partition 1), so a person checks it before the rest")
		default:
			if c.Replicas == 1 {
				rec.Reasons = append(rec.Reasons, "no metrics: readiness is the only gate (with one instance there is nothing to partition)")
			} else {
				rec.Reasons = append(rec.Reasons, "no metrics: readiness is the only gate (a target without instances has nothing to partition)")
			}
		}
	case risk == RiskLow:
		cfg := &rolling.Config{Replicas: c.Replicas, Analyzers: c.Analyzers}
		rec = Recommendation{Kind: KindRolling, Strategy: cfg, Rule: 3}
		rec.Reasons = append(rec.Reasons,
			"rule 3, low risk: a rolling update with Kubernetes' defaults (maxSurge 25%, maxUnavailable 25%) is the quickest safe release")
		if metrics {
			rec.Reasons = append(rec.Reasons, fmt.Sprintf("metrics: %s every batch; a Fail rolls back", judge))
		} else {
			rec.Reasons = append(rec.Reasons, "no metrics: readiness is the only gate, acceptable at low risk")
		}
	case metrics:
		weights, bake := mediumWeights, 5*time.Minute
		if risk == RiskHigh {
			weights, bake = highWeights, 10*time.Minute
		}
		if c.Bake > 0 {
			bake = c.Bake
		}
		cfg := canary.Config{StepWeights: weights, Interval: bake, Analyzers: c.Analyzers,
			Replicas: c.Replicas, TrafficRouting: c.WeightedRouting && c.Replicas > 0}
		rec = Recommendation{Kind: KindCanary, Strategy: cfg, Rule: 4}
		rec.Reasons = append(rec.Reasons, fmt.Sprintf(
			"rule 4, %s risk with metrics: a canary exposes the new revision to a growing share of traffic (%s), gated on its metrics", c.Risk, percents(weights)))
		rec.Reasons = append(rec.Reasons, fmt.Sprintf(
			"metrics: each weight is held for %v, then %s it; a Fail rolls back at once", bake, judge))
	default:
		var steps []canary.Step
		for _, w := range manualWeights {
			steps = append(steps, canary.SetWeight(w), canary.PauseUntilPromoted())
		}
		cfg := canary.Config{Steps: steps, Replicas: c.Replicas, TrafficRouting: c.WeightedRouting && c.Replicas > 0}
		rec = Recommendation{Kind: KindCanary, Strategy: cfg, Rule: 5, ManualGates: true}
		rec.Reasons = append(rec.Reasons, fmt.Sprintf(
			"rule 5, %s risk without metrics: a canary in small steps (%s), each waiting for Promote, so a person judges each step", c.Risk, percents(manualWeights)))
	}
	if c.Risk == RiskUnassessed && rec.Kind == KindCanary {
		rec.Reasons = append(rec.Reasons, "risk was not assessed, so it is treated as high")
	}
	if rec.Kind == KindCanary && c.Replicas > 0 && !c.WeightedRouting {
		reason := fmt.Sprintf("the target cannot split traffic by weight: each weight is approximated by the canary's share of %d instances", c.Replicas)
		if shares := instanceShares(rec.Strategy); len(shares) > 0 {
			reason += fmt.Sprintf(", so the canary actually gets %s of traffic", percents(shares))
		}
		rec.Reasons = append(rec.Reasons, reason)
	}
	if c.Stateful {
		rec.OnFail = rollback.PauseAndHold()
		rec.Reasons = append(rec.Reasons,
			"stateful: a Fail holds the release for a person (Options.OnFail = Recommendation.OnFail) instead of rolling back over changed state")
	}
	if err := validate(rec.Strategy); err != nil {
		return Recommendation{}, fmt.Errorf("glidepath: the recommended %s strategy is invalid: %w", rec.Kind, err)
	}
	return rec, nil
}

// instanceShares lists the canary's traffic shares a plan steps through,
// strictly between 0 and 100, without repeats.
func instanceShares(s strategy.Strategy) []int {
	p, err := s.Plan("stable", "canary")
	if err != nil {
		return nil
	}
	var out []int
	for _, st := range p.Steps {
		w := st.State.Weight
		if st.Kind != strategy.StepApply || st.State.Canary == "" || w <= 0 || w >= 100 {
			continue
		}
		if len(out) == 0 || out[len(out)-1] != w {
			out = append(out, w)
		}
	}
	return out
}

// validate calls the strategy's own Validate.
func validate(s strategy.Strategy) error {
	if v, ok := s.(interface{ Validate() error }); ok {
		return v.Validate()
	}
	return nil
}

// judges renders "a judges" or "a, b judge".
func judges(as []strategy.Analyzer) string {
	verb := " judge"
	if len(as) == 1 {
		verb = " judges"
	}
	return strings.Join(strategy.AnalyzerNames(as), ", ") + verb
}

func percents(ws []int) string {
	parts := make([]string, len(ws))
	for i, w := range ws {
		parts[i] = strconv.Itoa(w)
	}
	return strings.Join(parts, ", ") + "%"
}
