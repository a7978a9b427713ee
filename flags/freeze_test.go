package flags_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
	"github.com/open-feature/go-sdk/openfeature/isolated"

	"github.com/glidepath/glidepath/flags"
	"github.com/glidepath/glidepath/strategy"
)

func freezeFlag(frozen bool) flags.Flag {
	c := "thawed"
	if frozen {
		c = "frozen"
	}
	return flags.Flag{Key: "release-freeze", Variants: map[string]any{"frozen": true, "thawed": false}, Rollout: flags.Rollout{Control: c}}
}

func setFrozen(t testing.TB, p *flags.Provider, frozen bool) {
	t.Helper()
	if err := p.SetFlag(freezeFlag(frozen)); err != nil {
		t.Fatal(err)
	}
}

// inBubble runs f with a provider serving the freeze flag and a client
// bound to it, inside a synctest bubble.
func inBubble(t *testing.T, frozen bool, f func(t *testing.T, p *flags.Provider, c *openfeature.Client)) {
	synctest.Test(t, func(t *testing.T) {
		p := newProvider(t, freezeFlag(frozen), checkout(0))
		api := isolated.NewAPI()
		if err := api.SetProviderAndWait(t.Context(), p); err != nil {
			t.Fatal(err)
		}
		f(t, p, api.NewClient())
		if err := api.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

func TestFreezeGateInline(t *testing.T) {
	for _, c := range []struct {
		frozen, fail bool
		want         strategy.Outcome
	}{
		{false, false, strategy.Pass},
		{true, false, strategy.Inconclusive},
		{true, true, strategy.Fail},
		{false, true, strategy.Pass},
	} {
		inBubble(t, c.frozen, func(t *testing.T, _ *flags.Provider, client *openfeature.Client) {
			g := &flags.FreezeGate{Client: client, Flag: "release-freeze", Fail: c.fail}
			v, err := g.Analyze(t.Context(), strategy.Input{})
			if err != nil {
				t.Fatal(err)
			}
			if v.Outcome != c.want || v.Analyzer != "freeze:release-freeze" || len(v.Measurements) != 1 {
				t.Fatalf("frozen=%v fail=%v: %v %+v", c.frozen, c.fail, v, v.Measurements)
			}
		})
	}
}

// An inline gate with Wait holds until the freeze lifts, or answers when
// Wait runs out.
func TestFreezeGateWaits(t *testing.T) {
	inBubble(t, true, func(t *testing.T, p *flags.Provider, client *openfeature.Client) {
		time.AfterFunc(2*time.Minute+time.Second, func() { setFrozen(t, p, false) })
		g := &flags.FreezeGate{Client: client, Flag: "release-freeze", Wait: 10 * time.Minute, Interval: time.Minute}
		start := time.Now()
		v, err := g.Analyze(t.Context(), strategy.Input{})
		if err != nil || v.Outcome != strategy.Pass {
			t.Fatalf("%v, %v", v, err)
		}
		if took := time.Since(start); took != 3*time.Minute {
			t.Fatalf("passed after %v, want 3m (the first poll after the thaw)", took)
		}
	})
	inBubble(t, true, func(t *testing.T, p *flags.Provider, client *openfeature.Client) {
		g := &flags.FreezeGate{Client: client, Flag: "release-freeze", Wait: 150 * time.Second, Interval: time.Minute}
		start := time.Now()
		v, err := g.Analyze(t.Context(), strategy.Input{})
		if err != nil || v.Outcome != strategy.Inconclusive {
			t.Fatalf("%v, %v", v, err)
		}
		if took := time.Since(start); took != 150*time.Second {
			t.Fatalf("answered after %v, want 2m30s", took)
		}
	})
}

// A background gate watches the flag and answers as soon as releases
// are frozen.
func TestFreezeGateBackground(t *testing.T) {
	inBubble(t, false, func(t *testing.T, p *flags.Provider, client *openfeature.Client) {
		time.AfterFunc(5*time.Minute+time.Second, func() { setFrozen(t, p, true) })
		g := &flags.FreezeGate{Client: client, Flag: "release-freeze", Fail: true, Interval: 30 * time.Second}
		start := time.Now()
		v, err := g.Analyze(t.Context(), strategy.Input{Background: true})
		if err != nil || v.Outcome != strategy.Fail {
			t.Fatalf("%v, %v", v, err)
		}
		if took := time.Since(start); took != 5*time.Minute+30*time.Second {
			t.Fatalf("failed after %v", took)
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Hour)
		defer cancel()
		setFrozen(t, p, false)
		v, err = g.Analyze(ctx, strategy.Input{Background: true})
		if err != nil || v.Outcome != strategy.Pass || time.Since(start) != time.Hour+5*time.Minute+30*time.Second {
			t.Fatalf("background gate at the end of a release: %v, %v", v, err)
		}
	})
}

// A flag that cannot be evaluated never reads as "not frozen".
func TestFreezeGateErrors(t *testing.T) {
	inBubble(t, false, func(t *testing.T, p *flags.Provider, client *openfeature.Client) {
		g := &flags.FreezeGate{Client: client, Flag: "missing"}
		if v, err := g.Analyze(t.Context(), strategy.Input{}); err == nil || v.Outcome == strategy.Pass {
			t.Fatalf("missing flag: %v, %v", v, err)
		}
		if err := p.SetFlag(flags.Flag{Key: "mode", Variants: map[string]any{"x": "frozen"}, Rollout: flags.Rollout{Control: "x"}}); err != nil {
			t.Fatal(err)
		}
		g = &flags.FreezeGate{Client: client, Flag: "mode"}
		if v, err := g.Analyze(t.Context(), strategy.Input{Background: true}); err == nil || v.Outcome == strategy.Pass {
			t.Fatalf("string flag: %v, %v", v, err)
		}
	})
	err := (&flags.FreezeGate{Wait: -1, Interval: -1}).Validate()
	if !errors.Is(err, strategy.ErrInvalidConfig) {
		t.Fatalf("validate: %v", err)
	}
	for _, want := range []string{"no client", "no flag", "wait -1ns is negative", "interval -1ns is negative"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("validate does not name %q: %v", want, err)
		}
	}
}

// In a release, a freeze holds the release at its analysis step; it
// continues once a person promotes it after the freeze lifts.
func TestFreezeGateHoldsRelease(t *testing.T) {
	inBubble(t, true, func(t *testing.T, p *flags.Provider, client *openfeature.Client) {
		gate := &flags.FreezeGate{Client: client, Flag: "release-freeze"}
		plan := strategy.StrategyFunc(func(stable, canary strategy.Revision) (strategy.Plan, error) {
			return strategy.Plan{Strategy: "test", Steps: []strategy.Step{
				strategy.Analyze(gate),
				strategy.Apply(strategy.State{Stable: stable, Canary: canary, Weight: 50}),
				strategy.Apply(strategy.State{Stable: canary}),
			}}, nil
		})
		ro, err := strategy.Start(t.Context(), strategy.Release{Target: flags.NewTarget(p, "new-checkout"), Stable: "off", Canary: "on", Strategy: plan})
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		st := ro.Status()
		if st.Phase != strategy.PhasePaused || st.PauseReason != strategy.PausedForInconclusive {
			t.Fatalf("status while frozen: %+v", st)
		}
		if r, _ := p.Rollout("new-checkout"); r.Percent != 0 {
			t.Fatalf("a frozen release changed the flag: %+v", r)
		}
		setFrozen(t, p, false)
		if err := ro.Promote(); err != nil {
			t.Fatal(err)
		}
		res, err := ro.Wait(t.Context())
		if err != nil || res.Phase != strategy.PhasePromoted {
			t.Fatalf("%v, %v", res.Phase, err)
		}
		if r, _ := p.Rollout("new-checkout"); !r.Equal(flags.Rollout{Control: "on"}) {
			t.Fatalf("final rollout %+v", r)
		}
	})
}

// A background gate has a last word before the final step: a freeze that
// began after its last poll still stops the promotion. Unfrozen, the
// release promotes.
func TestFreezeGateLastWord(t *testing.T) {
	for _, frozen := range []bool{true, false} {
		t.Run(fmt.Sprintf("frozen=%v", frozen), func(t *testing.T) {
			inBubble(t, false, func(t *testing.T, p *flags.Provider, client *openfeature.Client) {
				// Polled hourly: the freeze at 5m falls between polls.
				gate := &flags.FreezeGate{Client: client, Flag: "release-freeze", Fail: true, Interval: time.Hour}
				if frozen {
					time.AfterFunc(5*time.Minute, func() { setFrozen(t, p, true) })
				}
				plan := strategy.StrategyFunc(func(stable, canary strategy.Revision) (strategy.Plan, error) {
					return strategy.Plan{Strategy: "test", Steps: []strategy.Step{
						strategy.Apply(strategy.State{Stable: stable, Canary: canary, Weight: 50}),
						strategy.Pause(10 * time.Minute),
						strategy.Apply(strategy.State{Stable: canary}),
					}}, nil
				})
				res, err := strategy.Run(t.Context(), strategy.Release{Target: flags.NewTarget(p, "new-checkout"),
					Stable: "off", Canary: "on", Strategy: plan,
					Background: []strategy.Background{{Analyzers: []strategy.Analyzer{gate}}}})
				final, _ := p.Rollout("new-checkout")
				if frozen {
					if !errors.Is(err, strategy.ErrAnalysisFailed) || res.Phase != strategy.PhaseRolledBack || !final.Equal(flags.Rollout{Control: "off"}) {
						t.Fatalf("a freeze before promotion: %s %v, rollout %+v", res.Phase, err, final)
					}
					if len(res.Verdicts) == 0 || res.Verdicts[len(res.Verdicts)-1].Outcome != strategy.Fail {
						t.Fatalf("verdicts %v", res.Verdicts)
					}
					return
				}
				if err != nil || res.Phase != strategy.PhasePromoted || !final.Equal(flags.Rollout{Control: "on"}) {
					t.Fatalf("no freeze: %s %v, rollout %+v", res.Phase, err, final)
				}
			})
		})
	}
}
