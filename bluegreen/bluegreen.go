package bluegreen

import (
	"fmt"
	"time"

	"github.com/glidepath/glidepath/strategy"
)

// Name is the Plan.Strategy of every plan this package builds.
const Name = "bluegreen"

// DefaultScaleDownDelay is how long the old revision stays up after the
// switch when Config.ScaleDownDelay is zero: Argo Rollouts' documented
// default for scaleDownDelaySeconds (30 seconds).
const DefaultScaleDownDelay = 30 * time.Second

// Step names used in the plans this package builds, so that events, status
// and tests can tell the phases apart. The first two start the canary
// revision (Argo Rollouts: the preview) beside the stable one.
const (
	StepCanary        = "canary"
	StepCanaryReady   = "canary-ready"
	StepPrePromotion  = "pre-promotion"
	StepScaleUp       = "scale-up"
	StepScaleUpReady  = "scale-up-ready"
	StepGate          = "promotion-gate"
	StepSwitch        = "switch"
	StepPostPromotion = "post-promotion"
	StepScaleDown     = "scale-down-delay"
	StepFinish        = "finish"
)

// Names of the first two steps before they were called after the canary.
const (
	// Deprecated: use StepCanary. The step's name is now "canary".
	StepPreview = StepCanary
	// Deprecated: use StepCanaryReady. The step's name is now "canary-ready".
	StepPreviewReady = StepCanaryReady
)

// Config describes a blue-green release. The zero value is valid: a target
// without instances, promoted automatically as soon as the canary revision
// is up, with the stable revision kept for 30 seconds after the switch.
type Config struct {
	// Replicas is the full capacity N: how many instances the stable
	// revision runs and the canary must run before it receives traffic.
	// 0 means the target has no instances (a feature flag, a traffic
	// splitter in front of fixed upstreams): the States carry no replica
	// counts and a revision counts as ready when it is up.
	Replicas int `json:"replicas,omitempty" yaml:"replicas,omitempty"`
	// CanaryReplicas is how many instances the canary revision runs while
	// it is started, analysed and waiting at the promotion gate (Argo
	// Rollouts' previewReplicaCount), to save resources during testing. 0
	// means the full Replicas. Once the gate opens it is scaled to
	// Replicas, and waited for, before the switch. Must not exceed
	// Replicas.
	CanaryReplicas int `json:"canaryReplicas,omitempty" yaml:"canaryReplicas,omitempty"`
	// PrePromotion analyzers run against the canary before any traffic
	// is switched (Argo's prePromotionAnalysis). A Fail rolls back; the
	// live revision never loses traffic. None: no analysis.
	PrePromotion []strategy.Analyzer `json:"-" yaml:"-"`
	// PostPromotion analyzers run once all traffic is on the canary
	// (Argo's postPromotionAnalysis). A Fail switches traffic straight
	// back to the stable revision, which is still at full capacity. None: no
	// analysis.
	PostPromotion []strategy.Analyzer `json:"-" yaml:"-"`
	// ManualPromotion pauses the release after pre-promotion analysis,
	// with the canary at its CanaryReplicas scale, until Rollout.Promote is
	// called (Argo's autoPromotionEnabled: false); then the canary
	// is scaled to Replicas, waited for, and switched to. The zero value
	// promotes automatically, Argo's default.
	ManualPromotion bool `json:"manualPromotion,omitempty" yaml:"manualPromotion,omitempty"`
	// AutoPromotionDelay, when positive, pauses that long before the
	// switch and then promotes automatically (Argo's autoPromotionSeconds).
	// Promote ends the wait early. Argo ignores autoPromotionSeconds when
	// automatic promotion is disabled; glidepath rejects the combination
	// with ManualPromotion instead of ignoring it. 0: no delay.
	AutoPromotionDelay time.Duration `json:"-" yaml:"autoPromotionDelay,omitempty"`
	// ScaleDownDelay is how long the stable revision keeps running, at full
	// capacity and without traffic, once post-promotion analysis has
	// passed: the window in which Abort switches back in one Apply (Argo's
	// scaleDownDelaySeconds). 0 means [DefaultScaleDownDelay], Argo's
	// default; a negative value removes the stable revision at once.
	ScaleDownDelay time.Duration `json:"-" yaml:"scaleDownDelay,omitempty"`
	// KeepAborted leaves the failed revision running, without traffic and
	// at its CanaryReplicas scale, when a release is rolled back, so it can
	// be inspected through a preview route (Argo's abortScaleDownDelaySeconds:
	// 0).
	KeepAborted bool `json:"keepAborted,omitempty" yaml:"keepAborted,omitempty"`
	// AbortScaleDownDelay, when positive, keeps the failed revision up,
	// without traffic, for that long after a rollback (once traffic has
	// switched back, or at once for a canary that never had traffic),
	// and then removes it (Argo's abortScaleDownDelaySeconds). The zero value
	// removes it in the same Apply that switches traffic back, so a
	// rollback is one Apply; Argo's default is 30 seconds. It must be
	// shorter than the release's Options.RollbackTimeout (5m by default),
	// and cannot be combined with KeepAborted.
	AbortScaleDownDelay time.Duration `json:"-" yaml:"abortScaleDownDelay,omitempty"`
	// ProgressDeadline bounds each wait for the canary to be ready (Argo's
	// progressDeadlineSeconds). 0 uses the release's
	// Options.ProgressDeadline. Missing it rolls back
	// (or pauses, per Options.OnDeadline.Pause).
	ProgressDeadline time.Duration `json:"-" yaml:"progressDeadline,omitempty"`
}

var _ strategy.Strategy = Config{}

// Validate reports every problem with c at once, in an error matching
// strategy.ErrInvalidConfig, or returns nil.
func (c Config) Validate() error {
	var p []string
	if c.Replicas < 0 {
		p = append(p, fmt.Sprintf("Replicas is negative (%d)", c.Replicas))
	}
	if c.CanaryReplicas < 0 {
		p = append(p, fmt.Sprintf("CanaryReplicas is negative (%d)", c.CanaryReplicas))
	}
	if c.CanaryReplicas > 0 && c.Replicas >= 0 && c.CanaryReplicas > c.Replicas {
		p = append(p, fmt.Sprintf("CanaryReplicas (%d) exceeds Replicas (%d)", c.CanaryReplicas, c.Replicas))
	}
	if c.AutoPromotionDelay < 0 {
		p = append(p, fmt.Sprintf("AutoPromotionDelay is negative (%v)", c.AutoPromotionDelay))
	}
	if c.ManualPromotion && c.AutoPromotionDelay > 0 {
		p = append(p, fmt.Sprintf("AutoPromotionDelay (%v) has no effect with ManualPromotion: choose one", c.AutoPromotionDelay))
	}
	if c.ProgressDeadline < 0 {
		p = append(p, fmt.Sprintf("ProgressDeadline is negative (%v)", c.ProgressDeadline))
	}
	if c.AbortScaleDownDelay < 0 {
		p = append(p, fmt.Sprintf("AbortScaleDownDelay is negative (%v)", c.AbortScaleDownDelay))
	}
	if c.KeepAborted && c.AbortScaleDownDelay > 0 {
		p = append(p, fmt.Sprintf("AbortScaleDownDelay (%v) has no effect with KeepAborted: choose one", c.AbortScaleDownDelay))
	}
	for i, a := range c.PrePromotion {
		if a == nil {
			p = append(p, fmt.Sprintf("PrePromotion analyzer %d is nil", i))
		}
	}
	for i, a := range c.PostPromotion {
		if a == nil {
			p = append(p, fmt.Sprintf("PostPromotion analyzer %d is nil", i))
		}
	}
	return strategy.Invalid("bluegreen config", p...)
}

// canaryScale is the canary's scale P before the promotion gate.
func (c Config) canaryScale() int {
	if c.CanaryReplicas == 0 {
		return c.Replicas
	}
	return c.CanaryReplicas
}

// scaleDownDelay resolves ScaleDownDelay's zero and negative values.
func (c Config) scaleDownDelay() time.Duration {
	switch {
	case c.ScaleDownDelay == 0:
		return DefaultScaleDownDelay
	case c.ScaleDownDelay < 0:
		return 0
	}
	return c.ScaleDownDelay
}

// Plan builds the blue-green plan that releases canary in place of stable.
// It validates c first and returns its error unchanged. Plan is pure: the
// same Config and revisions always give the same plan.
func (c Config) Plan(stable, canary strategy.Revision) (strategy.Plan, error) {
	if err := c.Validate(); err != nil {
		return strategy.Plan{}, err
	}
	n, pv := c.Replicas, c.canaryScale()
	both := func(weight, canaryReplicas int) strategy.State {
		return strategy.State{Stable: stable, Canary: canary, Weight: weight,
			Replicas: strategy.Replicas{Stable: n, Canary: canaryReplicas}}
	}
	live := strategy.State{Stable: stable, Replicas: strategy.Replicas{Stable: n}}
	final := strategy.State{Stable: canary, Replicas: strategy.Replicas{Stable: n}}

	steps := []strategy.Step{
		strategy.Apply(both(0, pv)).Named(StepCanary),
		strategy.WaitReady(c.ProgressDeadline).Named(StepCanaryReady),
	}
	if len(c.PrePromotion) > 0 {
		steps = append(steps, strategy.Analyze(c.PrePromotion...).Named(StepPrePromotion))
	}
	// The gate comes before the scale-up, as in Argo Rollouts: a release
	// waiting for a person runs only the canary scale.
	switch {
	case c.ManualPromotion:
		steps = append(steps, strategy.Pause(0).Named(StepGate))
	case c.AutoPromotionDelay > 0:
		steps = append(steps, strategy.Pause(c.AutoPromotionDelay).Named(StepGate))
	}
	if pv < n {
		steps = append(steps,
			strategy.Apply(both(0, n)).Named(StepScaleUp),
			strategy.WaitReady(c.ProgressDeadline).Named(StepScaleUpReady))
	}
	steps = append(steps, strategy.Apply(both(100, n)).Named(StepSwitch))
	if len(c.PostPromotion) > 0 {
		steps = append(steps, strategy.Analyze(c.PostPromotion...).Named(StepPostPromotion))
	}
	if d := c.scaleDownDelay(); d > 0 {
		steps = append(steps, strategy.Pause(d).Named(StepScaleDown))
	}
	steps = append(steps, strategy.Apply(final).Named(StepFinish))

	// The rollback point: the old revision alone or, with KeepAborted,
	// the failed revision kept beside it with no traffic (for a target
	// without instances, kept by naming it).
	rollbackPoint := live
	if c.KeepAborted {
		rollbackPoint = both(0, pv)
	}
	return strategy.Plan{
		Strategy:      Name,
		Stable:        rollbackPoint,
		Final:         final,
		Steps:         steps,
		Rollback:      c.rollback(stable, canary),
		RollbackDelay: c.AbortScaleDownDelay,
	}, nil
}

// rollback returns the Plan.Rollback hook: the States that bring the target
// from the last applied State back to the old revision.
func (c Config) rollback(stable, canary strategy.Revision) func(from strategy.State) []strategy.State {
	n, pv := c.Replicas, c.canaryScale()
	live := strategy.State{Stable: stable, Replicas: strategy.Replicas{Stable: n}}
	return func(from strategy.State) []strategy.State {
		// What the rollback ends on: the old revision alone, or, with
		// KeepAborted, the failed revision left at zero traffic and at
		// most its canary scale.
		end := live
		if c.KeepAborted {
			keep := min(from.Desired(canary), pv)
			if n == 0 && (from.Stable == canary || from.Canary == canary) {
				keep = 0 // no instances: the revision is kept by naming it
				end = strategy.State{Stable: stable, Canary: canary}
			} else if keep > 0 {
				end = strategy.State{Stable: stable, Canary: canary, Replicas: strategy.Replicas{Stable: n, Canary: keep}}
			}
		}
		// The old revision is still at full capacity (every State before
		// "finish"): one Apply moves all traffic back, and the executor
		// still checks that the old revision is ready before it does.
		if from.Stable == stable && from.Desired(stable) >= n {
			if c.AbortScaleDownDelay > 0 && from.Canary == canary {
				// Traffic back now; the failed revision goes after the
				// delay, which the executor holds before the last State.
				back := strategy.State{Stable: stable, Canary: canary, Replicas: from.Replicas}
				if back != from && back != end {
					return []strategy.State{back, end}
				}
			}
			return []strategy.State{end}
		}
		// The old revision was scaled down (after "finish", or a State
		// this plan never applies): start it again at full capacity under
		// the current traffic, then switch back. The executor waits for
		// its capacity before the traffic moves.
		if from.Stable == canary || from.Canary == canary {
			restore := strategy.State{Stable: stable, Canary: canary, Weight: from.Share(canary),
				Replicas: strategy.Replicas{Stable: n, Canary: from.Desired(canary)}}
			if n == 0 {
				restore.Replicas = strategy.Replicas{}
			}
			if restore != from && restore != end {
				return []strategy.State{restore, end}
			}
		}
		return []strategy.State{end}
	}
}
