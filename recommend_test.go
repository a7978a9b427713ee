package glidepath_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
	"pgregory.net/rapid"

	"github.com/glidepath/glidepath"
	"github.com/glidepath/glidepath/bluegreen"
	"github.com/glidepath/glidepath/canary"
	"github.com/glidepath/glidepath/rolling"
	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/strategytest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Every row of the decision table, and the variations inside each row,
// build the strategy the table promises, with reasons naming the rule.
func TestRecommendEveryRule(t *testing.T) {
	errRate := strategytest.Script("error-rate", strategy.Pass)
	latency := strategytest.Script("latency", strategy.Pass)
	metrics := []strategy.Analyzer{errRate, latency}

	type check func(t *testing.T, rec glidepath.Recommendation)
	blueGreen := func(manual bool, analyzers []strategy.Analyzer) check {
		return func(t *testing.T, rec glidepath.Recommendation) {
			cfg := rec.Strategy.(*bluegreen.Config)
			if cfg.ManualPromotion != manual || !slices.Equal(cfg.PostPromotion, analyzers) || len(cfg.PrePromotion) != 0 || cfg.Replicas != 6 {
				t.Errorf("blue-green config %+v", cfg)
			}
		}
	}
	rollingCfg := func(surge, unavailable strategy.IntOrPercent, partition int, analyzers []strategy.Analyzer) check {
		return func(t *testing.T, rec glidepath.Recommendation) {
			cfg := rec.Strategy.(*rolling.Config)
			orDefault := func(p *strategy.IntOrPercent, def strategy.IntOrPercent) strategy.IntOrPercent {
				if p == nil {
					return def
				}
				return *p
			}
			if orDefault(cfg.MaxSurge, rolling.DefaultMaxSurge) != surge || orDefault(cfg.MaxUnavailable, rolling.DefaultMaxUnavailable) != unavailable ||
				cfg.Partition != partition || !slices.Equal(cfg.Analyzers, analyzers) {
				t.Errorf("rolling config %+v", cfg)
			}
		}
	}
	canaryShorthand := func(weights []int, bake time.Duration, routing bool) check {
		return func(t *testing.T, rec glidepath.Recommendation) {
			cfg := rec.Strategy.(canary.Config)
			if !slices.Equal(cfg.StepWeights, weights) || cfg.Interval != bake || !slices.Equal(cfg.Analyzers, metrics) ||
				cfg.TrafficRouting != routing || len(cfg.Steps) != 0 {
				t.Errorf("canary config %+v", cfg)
			}
		}
	}
	canaryManual := func(routing bool) check {
		return func(t *testing.T, rec glidepath.Recommendation) {
			cfg := rec.Strategy.(canary.Config)
			var got []string
			for _, s := range cfg.Steps {
				got = append(got, s.String())
			}
			want := "[setWeight 5 pause until promoted setWeight 10 pause until promoted setWeight 25 pause until promoted setWeight 50 pause until promoted]"
			if fmt.Sprint(got) != want || cfg.TrafficRouting != routing || len(cfg.Analyzers) != 0 {
				t.Errorf("canary steps %v (routing %v), want %s", got, cfg.TrafficRouting, want)
			}
		}
	}

	for _, tc := range []struct {
		name     string
		change   glidepath.Change
		rule     int
		kind     string
		manual   bool
		hold     bool     // OnFail pauses
		reasons  []string // each must appear in some reason
		specific check
	}{
		{"1 instant cutover with metrics", glidepath.Change{InstantCutover: true, Risk: glidepath.RiskLow, Replicas: 6, Analyzers: metrics},
			1, glidepath.KindBlueGreen, false, false, []string{"rule 1, instant cutover", "error-rate, latency judge the new revision after the switch"},
			blueGreen(false, metrics)},
		{"1 instant cutover without metrics", glidepath.Change{InstantCutover: true, Risk: glidepath.RiskHigh, Replicas: 6},
			1, glidepath.KindBlueGreen, true, false, []string{"rule 1", "the switch waits for Promote"}, blueGreen(true, nil)},
		{"1 wins over stateful, which still holds on Fail", glidepath.Change{InstantCutover: true, Stateful: true, Replicas: 6, Analyzers: metrics},
			1, glidepath.KindBlueGreen, false, true, []string{"rule 1", "stateful: a Fail holds the release"}, blueGreen(false, metrics)},
		{"2 stateful with metrics", glidepath.Change{Stateful: true, Risk: glidepath.RiskHigh, Replicas: 3, Analyzers: metrics},
			2, glidepath.KindRolling, false, true, []string{"rule 2, stateful", "judge every instance"},
			rollingCfg(strategy.Int(0), strategy.Int(1), 0, metrics)},
		{"2 stateful without metrics: partition", glidepath.Change{Stateful: true, Risk: glidepath.RiskMedium, Replicas: 3},
			2, glidepath.KindRolling, true, true, []string{"rule 2", "partition 1"},
			rollingCfg(strategy.Int(0), strategy.Int(1), 1, nil)},
		{"2 stateful, one instance, no metrics", glidepath.Change{Stateful: true, Replicas: 1},
			2, glidepath.KindRolling, false, true, []string{"rule 2", "nothing to partition"},
			rollingCfg(strategy.Int(0), strategy.Int(1), 0, nil)},
		{"2 wins over low risk", glidepath.Change{Stateful: true, Risk: glidepath.RiskLow, Replicas: 4, Analyzers: metrics},
			2, glidepath.KindRolling, false, true, []string{"rule 2"}, rollingCfg(strategy.Int(0), strategy.Int(1), 0, metrics)},
		{"3 low risk with metrics", glidepath.Change{Risk: glidepath.RiskLow, Replicas: 8, Analyzers: metrics},
			3, glidepath.KindRolling, false, false, []string{"rule 3, low risk", "judge every batch"},
			rollingCfg(rolling.DefaultMaxSurge, rolling.DefaultMaxUnavailable, 0, metrics)},
		{"3 low risk without metrics", glidepath.Change{Risk: glidepath.RiskLow, Replicas: 8},
			3, glidepath.KindRolling, false, false, []string{"rule 3", "readiness is the only gate"},
			rollingCfg(rolling.DefaultMaxSurge, rolling.DefaultMaxUnavailable, 0, nil)},
		{"4 medium risk with metrics, routed", glidepath.Change{Risk: glidepath.RiskMedium, Replicas: 10, WeightedRouting: true, Analyzers: metrics},
			4, glidepath.KindCanary, false, false, []string{"rule 4, medium risk", "(10, 25, 50, 75%)", "held for 5m0s"},
			canaryShorthand([]int{10, 25, 50, 75}, 5*time.Minute, true)},
		{"4 high risk with metrics, instances only", glidepath.Change{Risk: glidepath.RiskHigh, Replicas: 10, Analyzers: metrics},
			4, glidepath.KindCanary, false, false, []string{"rule 4, high risk", "(5, 10, 25, 50, 75%)", "held for 10m0s", "share of 10 instances"},
			canaryShorthand([]int{5, 10, 25, 50, 75}, 10*time.Minute, false)},
		{"4 unassessed is high, with a set bake", glidepath.Change{Analyzers: metrics, Bake: 2 * time.Minute, WeightedRouting: true},
			4, glidepath.KindCanary, false, false, []string{"rule 4, unassessed risk", "held for 2m0s", "treated as high"},
			canaryShorthand([]int{5, 10, 25, 50, 75}, 2*time.Minute, false)},
		{"5 medium risk without metrics", glidepath.Change{Risk: glidepath.RiskMedium, Replicas: 4},
			5, glidepath.KindCanary, true, false, []string{"rule 5, medium risk without metrics", "share of 4 instances"}, canaryManual(false)},
		{"5 high risk without metrics, routed", glidepath.Change{Risk: glidepath.RiskHigh, Replicas: 4, WeightedRouting: true},
			5, glidepath.KindCanary, true, false, []string{"rule 5, high risk"}, canaryManual(true)},
		{"5 the zero Change", glidepath.Change{},
			5, glidepath.KindCanary, true, false, []string{"rule 5, unassessed risk", "treated as high"}, canaryManual(false)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec, err := glidepath.Recommend(tc.change)
			if err != nil {
				t.Fatal(err)
			}
			if rec.Rule != tc.rule || rec.Kind != tc.kind || rec.ManualGates != tc.manual || rec.OnFail.Pause != tc.hold {
				t.Errorf("rule %d kind %s manual %v hold %v, want rule %d kind %s manual %v hold %v",
					rec.Rule, rec.Kind, rec.ManualGates, rec.OnFail.Pause, tc.rule, tc.kind, tc.manual, tc.hold)
			}
			if len(rec.Reasons) == 0 || !strings.HasPrefix(rec.Reasons[0], fmt.Sprintf("rule %d", tc.rule)) {
				t.Errorf("first reason %q does not name rule %d", rec.Reasons, tc.rule)
			}
			all := strings.Join(rec.Reasons, "\n")
			for _, want := range tc.reasons {
				if !strings.Contains(all, want) {
					t.Errorf("reasons lack %q:\n%s", want, all)
				}
			}
			tc.specific(t, rec)
			plan, err := rec.Strategy.Plan("v1", "v2")
			if err != nil {
				t.Fatalf("plan: %v", err)
			}
			if plan.Strategy != rec.Kind {
				t.Errorf("plan of strategy %q, recommendation says %q", plan.Strategy, rec.Kind)
			}
			gates := 0
			for _, s := range plan.Steps {
				if s.Kind == strategy.StepPause && s.Duration == 0 {
					gates++
				}
			}
			if (gates > 0) != tc.manual {
				t.Errorf("plan has %d pauses until Promote, ManualGates %v", gates, rec.ManualGates)
			}
		})
	}
}

// Every problem with a Change is named at once, and nothing is built.
func TestRecommendValidates(t *testing.T) {
	rec, err := glidepath.Recommend(glidepath.Change{Risk: 7, Replicas: -2, Bake: -time.Second,
		Analyzers: []strategy.Analyzer{strategytest.Script("ok"), nil}})
	if !errors.Is(err, strategy.ErrInvalidConfig) {
		t.Fatalf("Recommend = %v, want ErrInvalidConfig", err)
	}
	for _, want := range []string{"Risk 7 is not one of", "Replicas is negative (-2)", "Bake is negative (-1s)", "Analyzers[1] is nil"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "Analyzers[0]") {
		t.Errorf("a valid analyzer was reported:\n%v", err)
	}
	if rec.Strategy != nil {
		t.Errorf("a strategy was built for an invalid change: %+v", rec)
	}
	if err := (glidepath.Change{Risk: -1}).Validate(); err == nil {
		t.Error("a negative Risk was accepted")
	}
}

// The Markdown table lists the five rules in order, as Recommend applies
// them.
func TestDecisionTable(t *testing.T) {
	var rules []string
	for line := range strings.Lines(glidepath.DecisionTable) {
		if f := strings.Split(line, "|"); len(f) > 2 && strings.TrimSpace(f[1]) != "Rule" && strings.TrimSpace(f[1]) != "---" {
			rules = append(rules, strings.TrimSpace(f[1])+" "+strings.TrimSpace(f[3]))
		}
	}
	want := []string{"1 blue-green", "2 rolling, one instance at a time", "3 rolling", "4 canary, gated on metrics", "5 canary with manual gates"}
	if !slices.Equal(rules, want) {
		t.Errorf("table rows %q, want %q", rules, want)
	}
}

func TestRiskString(t *testing.T) {
	for r, want := range map[glidepath.Risk]string{
		glidepath.RiskUnassessed: "unassessed", glidepath.RiskLow: "low", glidepath.RiskMedium: "medium",
		glidepath.RiskHigh: "high", glidepath.Risk(9): "Risk(9)",
	} {
		if got := r.String(); got != want {
			t.Errorf("Risk(%d).String() = %q, want %q", int(r), got, want)
		}
	}
}

// Rule 4 is gated on metrics: a Fail at the second weight rolls the
// release back, and the canary never got more than that weight.
func TestRecommendedCanaryRollsBackOnFail(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		check := strategytest.Script("error-rate", strategy.Pass, strategy.Fail)
		rec, err := glidepath.Recommend(glidepath.Change{Risk: glidepath.RiskMedium, Analyzers: []strategy.Analyzer{check}})
		if err != nil {
			t.Fatal(err)
		}
		tgt := strategytest.NewTarget(strategy.State{Stable: "v1"})
		res, err := strategy.Run(t.Context(), strategy.Release{Target: tgt, Stable: "v1", Canary: "v2", Strategy: rec.Strategy,
			Options: strategy.Options{OnFail: rec.OnFail}})
		if !errors.Is(err, strategy.ErrAnalysisFailed) || res.Phase != strategy.PhaseRolledBack {
			t.Fatalf("release: %v, %v", res.Phase, err)
		}
		if tgt.State() != (strategy.State{Stable: "v1"}) {
			t.Errorf("target ends on %s, want v1 alone", tgt.State())
		}
		most := 0
		for _, h := range tgt.History() {
			most = max(most, h.State.Share("v2"))
		}
		if most != 25 {
			t.Errorf("the canary reached %d%% of traffic, want 25%% (the weight that failed)", most)
		}
		// Two bakes of 5 minutes passed before the Fail.
		if d := res.FailedAt.Sub(res.Started); d < 10*time.Minute {
			t.Errorf("failed after %v, before two 5m bakes", d)
		}
	})
}

// Rule 2 holds a failing stateful release for a person instead of rolling
// back; rule 5 waits for Promote at each weight.
func TestRecommendedGatesHold(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		check := strategytest.Script("replication-lag", strategy.Fail)
		rec, err := glidepath.Recommend(glidepath.Change{Stateful: true, Replicas: 3, Analyzers: []strategy.Analyzer{check}})
		if err != nil {
			t.Fatal(err)
		}
		tgt := strategytest.NewTarget(strategy.State{Stable: "v1", Replicas: strategy.Replicas{Stable: 3}})
		pauses := make(pauseEvents, 8)
		r, err := strategy.Start(t.Context(), strategy.Release{Target: tgt, Stable: "v1", Canary: "v2", Strategy: rec.Strategy,
			Observer: pauses, Options: strategy.Options{OnFail: rec.OnFail}})
		if err != nil {
			t.Fatal(err)
		}
		if pc := <-pauses; pc.PauseReason != strategy.PausedForFailure {
			t.Errorf("paused for %s, want %s", pc.PauseReason, strategy.PausedForFailure)
		}
		if st := tgt.State(); st.Replicas.Canary != 1 || st.Replicas.Stable != 2 {
			t.Errorf("held at %s, want one instance of v2 and two of v1", st)
		}
		if err := r.Abort(); err != nil {
			t.Fatal(err)
		}
		if res, err := r.Wait(t.Context()); !errors.Is(err, strategy.ErrAborted) || res.Phase != strategy.PhaseRolledBack {
			t.Errorf("after Abort: %v, %v", res.Phase, err)
		}

		rec, err = glidepath.Recommend(glidepath.Change{Risk: glidepath.RiskMedium})
		if err != nil {
			t.Fatal(err)
		}
		tgt = strategytest.NewTarget(strategy.State{Stable: "v1"})
		r, err = strategy.Start(t.Context(), strategy.Release{Target: tgt, Stable: "v1", Canary: "v2", Strategy: rec.Strategy, Observer: pauses})
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range []int{5, 10, 25, 50} {
			if pc := <-pauses; pc.PauseReason != strategy.PausedForStep {
				t.Fatalf("paused for %s, want %s", pc.PauseReason, strategy.PausedForStep)
			}
			if got := tgt.State().Weight; got != w {
				t.Errorf("waiting for Promote at %d%%, want %d%%", got, w)
			}
			if err := r.Promote(); err != nil {
				t.Fatal(err)
			}
		}
		if res, err := r.Wait(t.Context()); err != nil || res.Phase != strategy.PhasePromoted {
			t.Errorf("after four promotions: %v, %v", res.Phase, err)
		}
	})
}

type pauseEvents chan strategy.PhaseChanged

func (p pauseEvents) OnEvent(e strategy.Event) {
	if pc, ok := e.(strategy.PhaseChanged); ok && pc.To == strategy.PhasePaused {
		p <- pc
	}
}

// Any Change either is rejected by Validate, with Recommend returning the
// same error, or gets the rule the decision table names for it, a reason
// naming that rule, and a strategy that plans without error; Recommend
// never panics.
func TestRecommendProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c := glidepath.Change{
			Risk:            glidepath.Risk(rapid.IntRange(-1, 4).Draw(t, "risk")),
			Stateful:        rapid.Bool().Draw(t, "stateful"),
			InstantCutover:  rapid.Bool().Draw(t, "cutover"),
			WeightedRouting: rapid.Bool().Draw(t, "routing"),
			Replicas:        rapid.IntRange(-1, 50).Draw(t, "replicas"),
			Bake:            time.Duration(rapid.Int64Range(-1, int64(time.Hour)).Draw(t, "bake")),
		}
		for i := range rapid.IntRange(0, 3).Draw(t, "analyzers") {
			c.Analyzers = append(c.Analyzers, strategytest.Script(fmt.Sprintf("check-%d", i), strategy.Pass))
		}
		rec, err := glidepath.Recommend(c)
		if verr := c.Validate(); verr != nil {
			if err == nil || err.Error() != verr.Error() {
				t.Fatalf("invalid change %+v: Recommend = %v, Validate = %v", c, err, verr)
			}
			return
		}
		if err != nil {
			t.Fatalf("valid change %+v: %v", c, err)
		}
		want := 5
		switch {
		case c.InstantCutover:
			want = 1
		case c.Stateful:
			want = 2
		case c.Risk == glidepath.RiskLow:
			want = 3
		case len(c.Analyzers) > 0:
			want = 4
		}
		if rec.Rule != want || !strings.HasPrefix(rec.Reasons[0], fmt.Sprintf("rule %d", want)) {
			t.Fatalf("change %+v: rule %d (%q), want %d", c, rec.Rule, rec.Reasons[0], want)
		}
		if rec.OnFail.Pause != c.Stateful {
			t.Fatalf("change %+v: pause on fail %v", c, rec.OnFail.Pause)
		}
		plan, err := rec.Strategy.Plan("v1", "v2")
		if err != nil || plan.Strategy != rec.Kind {
			t.Fatalf("change %+v: plan %q, %v; kind %s", c, plan.Strategy, err, rec.Kind)
		}
	})
}
