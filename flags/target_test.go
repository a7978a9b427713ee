package flags_test

import (
	"errors"
	"testing"

	"github.com/glidepath/glidepath/flags"
	"github.com/glidepath/glidepath/strategy"
)

func TestTargetMapsStatesOntoRollouts(t *testing.T) {
	p := newProvider(t, checkout(0))
	tgt := flags.NewTarget(p, "new-checkout")
	ctx := t.Context()
	for _, c := range []struct {
		state strategy.State
		want  flags.Rollout
		ready strategy.Replicas
	}{
		{strategy.State{Stable: "off", Canary: "on", Weight: 10}, flags.Rollout{Control: "off", Treatment: "on", Percent: 10}, strategy.Replicas{Stable: 1, Canary: 1}},
		{strategy.State{Stable: "off", Canary: "on", Weight: 0}, flags.Rollout{Control: "off", Treatment: "on"}, strategy.Replicas{Stable: 1, Canary: 1}},
		{strategy.State{Stable: "off", Canary: "on", Weight: 100, Replicas: strategy.Replicas{Stable: 3, Canary: 3}}, flags.Rollout{Control: "off", Treatment: "on", Percent: 100}, strategy.Replicas{Stable: 3, Canary: 3}},
		{strategy.State{Canary: "on", Weight: 100}, flags.Rollout{Control: "on"}, strategy.Replicas{Canary: 1}},
		{strategy.State{Stable: "on"}, flags.Rollout{Control: "on"}, strategy.Replicas{Stable: 1}},
	} {
		if err := tgt.Apply(ctx, c.state); err != nil {
			t.Fatalf("apply %s: %v", c.state, err)
		}
		if r, _ := p.Rollout("new-checkout"); !r.Equal(c.want) {
			t.Errorf("apply %s: rollout %+v, want %+v", c.state, r, c.want)
		}
		obs, err := tgt.Observe(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if obs.State != c.state || obs.Ready != c.ready || !obs.Satisfies(c.state) {
			t.Errorf("apply %s: observed %s ready %+v", c.state, obs.State, obs.Ready)
		}
	}

	// A change made directly on the provider is what Observe reports.
	if err := p.SetRollout("new-checkout", flags.Rollout{Control: "off", Treatment: "on", Percent: 12.6}); err != nil {
		t.Fatal(err)
	}
	obs, err := tgt.Observe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := (strategy.State{Stable: "off", Canary: "on", Weight: 13}); obs.State != want {
		t.Errorf("observed %s, want %s", obs.State, want)
	}
}

func TestTargetRejectsPermanently(t *testing.T) {
	p := newProvider(t, checkout(0))
	ctx := t.Context()
	tgt := flags.NewTarget(p, "new-checkout")
	for _, s := range []strategy.State{
		{Stable: "off", Canary: "maybe", Weight: 5},
		{Stable: "off", Canary: "on", Weight: 101},
		{Stable: "off", Canary: "on", Weight: 5, Route: strategy.HeaderRoute{Header: "X-Canary", Exact: "1"}},
	} {
		err := tgt.Apply(ctx, s)
		if err == nil || !strategy.IsPermanent(err) {
			t.Errorf("apply %s: %v, want a permanent error", s, err)
		}
	}
	if r, _ := p.Rollout("new-checkout"); !r.Equal(flags.Rollout{Control: "off", Treatment: "on"}) {
		t.Errorf("rejected states changed the rollout to %+v", r)
	}
	missing := flags.NewTarget(p, "missing")
	if err := missing.Apply(ctx, strategy.State{Stable: "off"}); !strategy.IsPermanent(err) {
		t.Errorf("apply to a missing flag: %v", err)
	}
	if _, err := missing.Observe(ctx); !strategy.IsPermanent(err) {
		t.Errorf("observe of a missing flag: %v", err)
	}
	if strategy.CanRouteHeaders(tgt) {
		t.Error("flag target claims header routing")
	}
	_, err := strategy.Validate(strategy.Release{Target: tgt, Stable: "off", Canary: "on",
		Strategy: strategy.StrategyFunc(func(stable, canary strategy.Revision) (strategy.Plan, error) {
			return strategy.Plan{Steps: []strategy.Step{strategy.Apply(strategy.State{Stable: stable, Canary: canary, Weight: 5,
				Route: strategy.HeaderRoute{Header: "X-Canary", Exact: "1"}})}}, nil
		})})
	if !errors.Is(err, strategy.ErrInvalidConfig) {
		t.Errorf("a header-routed plan was accepted for a flag: %v", err)
	}
}
