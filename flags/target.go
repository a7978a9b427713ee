package flags

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/glidepath/glidepath/strategy"
)

// Target releases a flag's variants the way a service's revisions are
// released: it is a [strategy.Target] whose States map onto the flag's
// [Rollout]. The stable revision names the control variant, the canary
// revision the treatment variant, and the weight the rollout percentage:
//
//	State{Stable: "off", Canary: "on", Weight: 10}  ->  Rollout{Control: "off", Treatment: "on", Percent: 10}
//	State{Stable: "on"}                             ->  Rollout{Control: "on"}
//
// so the canary and rolling strategies, with their pauses, analysis and
// rollback, release a feature exactly as they release a service. A flag
// has no instances: Apply ignores State.Replicas, and Observe reports
// each variant present as ready (1, or the replica count the applied
// State asked for, since a variant is available at any capacity). Header
// routes are not supported. Create it with [NewTarget].
type Target struct {
	p    *Provider
	flag string

	mu      sync.Mutex
	applied strategy.State
	rollout Rollout
	has     bool
}

var _ strategy.Target = (*Target)(nil)

// NewTarget returns the Target that releases the flag flagKey of p.
func NewTarget(p *Provider, flagKey string) *Target {
	return &Target{p: p, flag: flagKey}
}

// Name is "flag:<key>".
func (t *Target) Name() string { return "flag:" + t.flag }

// RolloutFor maps a State onto the rollout it stands for.
func RolloutFor(s strategy.State) Rollout {
	switch {
	case s.Canary == "" || s.Canary == s.Stable:
		return Rollout{Control: string(s.Stable)}
	case s.Stable == "":
		return Rollout{Control: string(s.Canary)}
	default:
		return Rollout{Control: string(s.Stable), Treatment: string(s.Canary), Percent: float64(s.Weight)}
	}
}

// StateFor maps a rollout onto a State; the percentage is rounded to a
// whole weight.
func StateFor(r Rollout) strategy.State {
	s := strategy.State{Stable: strategy.Revision(r.Control)}
	if r.Treatment != "" {
		s.Canary = strategy.Revision(r.Treatment)
		s.Weight = int(math.Round(r.Percent))
	}
	return s
}

// Apply sets the flag's rollout to the one desired stands for. It is
// idempotent. Invalid States, header routes, unknown variants and an
// undefined flag are permanent errors.
func (t *Target) Apply(ctx context.Context, desired strategy.State) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var probs []string
	var ce *strategy.ConfigError
	if errors.As(desired.Validate(), &ce) {
		probs = append(probs, ce.Problems...)
	}
	if !desired.Route.IsZero() {
		probs = append(probs, "a flag cannot route requests by header")
	}
	if len(probs) > 0 {
		return strategy.Permanent(strategy.Invalid(fmt.Sprintf("state %s for flag %s", desired, t.flag), probs...))
	}
	r := RolloutFor(desired)
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.p.SetRollout(t.flag, r); err != nil {
		return strategy.Permanent(err)
	}
	t.applied, t.rollout, t.has = desired, r, true
	return nil
}

// Observe reports the State the flag serves: the last State applied
// through this Target while the flag still has the rollout it set, else
// the State its current rollout maps to.
func (t *Target) Observe(ctx context.Context) (strategy.Observation, error) {
	if err := ctx.Err(); err != nil {
		return strategy.Observation{}, err
	}
	r, ok := t.p.Rollout(t.flag)
	if !ok {
		return strategy.Observation{}, strategy.Permanent(errors.New("flags: flag " + t.flag + " is not defined"))
	}
	t.mu.Lock()
	s := StateFor(r)
	if t.has && t.rollout.Equal(r) {
		s = t.applied
	}
	t.mu.Unlock()
	o := strategy.Observation{State: s}
	if s.Stable != "" {
		o.Ready.Stable = max(1, s.Replicas.Stable)
	}
	if s.Canary != "" && s.Canary != s.Stable {
		o.Ready.Canary = max(1, s.Replicas.Canary)
	}
	return o, nil
}
