package canary_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/glidepath/glidepath/canary"
	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/strategytest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	v1 = strategy.Revision("v1")
	v2 = strategy.Revision("v2")
)

// stableOf is the State a target serves before the release.
func stableOf(cfg canary.Config) strategy.State {
	return strategy.State{Stable: v1, Replicas: strategy.Replicas{Stable: cfg.Replicas}}
}

// newTarget is a fake target serving v1, whose new instances take 10s to
// become ready.
func newTarget(cfg canary.Config) *strategytest.Target {
	tgt := strategytest.NewTarget(stableOf(cfg))
	tgt.ReadyAfter = 10 * time.Second
	tgt.HeaderRouting = true
	return tgt
}

// pauses collects the pauses a release enters, for tests to wait on.
type pauses chan strategy.PhaseChanged

func newPauses() pauses { return make(pauses, 64) }

func (p pauses) OnEvent(e strategy.Event) {
	if pc, ok := e.(strategy.PhaseChanged); ok && pc.To == strategy.PhasePaused {
		p <- pc
	}
}

// await blocks (in the bubble's fake time) until the release pauses for
// reason.
func (p pauses) await(t *testing.T, reason strategy.PauseReason) strategy.PhaseChanged {
	t.Helper()
	for pc := range p {
		if pc.PauseReason == reason {
			return pc
		}
	}
	t.Fatalf("no pause for %s", reason)
	return strategy.PhaseChanged{}
}

// checkHistory asserts the invariants every release must keep: traffic
// never moved onto capacity that was not ready, and the target ends on
// want.
func checkHistory(t *testing.T, cfg canary.Config, tgt *strategytest.Target, want strategy.State) {
	t.Helper()
	if err := strategytest.CheckCapacityBeforeTraffic(stableOf(cfg), tgt.History()); err != nil {
		t.Errorf("traffic moved onto capacity that was not ready:\n%v", err)
	}
	if got := tgt.State(); got != want {
		t.Errorf("target ends on %s, want %s", got, want)
	}
	if t.Failed() {
		for _, h := range tgt.History() {
			t.Logf("%s  %s  (ready before %d/%d)", h.At.Format(time.TimeOnly), h.State, h.ReadyBefore.Ready.Stable, h.ReadyBefore.Ready.Canary)
		}
	}
}

func promoted(cfg canary.Config) strategy.State {
	return strategy.State{Stable: v2, Replicas: strategy.Replicas{Stable: cfg.Replicas}}
}

func release(cfg canary.Config, tgt strategy.Target, obs strategy.Observer) strategy.Release {
	return strategy.Release{Target: tgt, Stable: v1, Canary: v2, Strategy: cfg, Observer: obs}
}

// configs are typical configurations, each given a fresh analyzer.
func configs(a func(name string) strategy.Analyzer) map[string]canary.Config {
	route := strategy.HeaderRoute{Header: "X-Canary", Exact: "yes"}
	return map[string]canary.Config{
		"shorthand, weights only": {StepWeight: 25, MaxWeight: 50, Interval: time.Minute,
			Analyzers: []strategy.Analyzer{a("success-rate")}},
		"shorthand, basic canary of 10": {StepWeights: []int{5, 30, 60}, Interval: time.Minute, Replicas: 10,
			MaxSurge: new(strategy.Int(1)), MaxUnavailable: new(strategy.Int(0)),
			Analyzers: []strategy.Analyzer{a("success-rate")}},
		"steps, routed": {Replicas: 6, TrafficRouting: true, Steps: []canary.Step{
			canary.SetCanaryScale(canary.Replicas(1)), canary.SetHeaderRoute(route), canary.Analysis(a("ab")),
			canary.SetHeaderRoute(strategy.HeaderRoute{}), canary.SetCanaryScale(canary.MatchTrafficWeight()),
			canary.SetWeight(33), canary.Pause(time.Minute), canary.Analysis(a("latency")),
			canary.SetWeight(80), canary.Pause(time.Minute),
		}},
		"steps, routed with dynamic stable scale": {Replicas: 5, TrafficRouting: true, DynamicStableScale: true, Steps: []canary.Step{
			canary.SetWeight(20), canary.Analysis(a("latency")), canary.SetWeight(60), canary.Pause(time.Minute),
			canary.SetWeight(40), canary.Analysis(a("errors")),
		}},
		"steps, basic canary with percentages": {Replicas: 7, MaxSurge: new(strategy.Percent(30)), MaxUnavailable: new(strategy.Percent(10)),
			Steps: []canary.Step{canary.SetWeight(10), canary.Analysis(a("latency")), canary.SetWeight(50), canary.Pause(2 * time.Minute)}},
	}
}

func TestGoodReleasePromotes(t *testing.T) {
	var scripts []*strategytest.Analyzer
	for name, cfg := range configs(func(n string) strategy.Analyzer {
		s := strategytest.Script(n, strategy.Pass)
		scripts = append(scripts, s)
		return s
	}) {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tgt := newTarget(cfg)
				res, err := strategy.Run(t.Context(), release(cfg, tgt, nil))
				if err != nil || res.Phase != strategy.PhasePromoted {
					t.Fatalf("got %s, %v; want promoted", res.Phase, err)
				}
				checkHistory(t, cfg, tgt, promoted(cfg))
				routed := false
				for _, h := range tgt.History() {
					if !h.State.Route.IsZero() {
						routed = true
					}
				}
				plan, _ := cfg.Plan(v1, v2)
				if want := planRoutes(plan); routed != want {
					t.Errorf("header route applied: %v, planned: %v", routed, want)
				}
			})
		})
	}
	for _, s := range scripts {
		if s.Calls() == 0 {
			t.Errorf("analyzer %s was never called", s.Name())
		}
	}
}

func planRoutes(p strategy.Plan) bool {
	for _, s := range p.Steps {
		if s.Kind == strategy.StepApply && !s.State.Route.IsZero() {
			return true
		}
	}
	return false
}

// A Fail at any inline analysis ends the release on the stable State.
func TestFailAtAnyAnalysisRollsBack(t *testing.T) {
	count := map[string]int{}
	for name, cfg := range configs(func(n string) strategy.Analyzer { return strategytest.Script(n) }) {
		plan, err := cfg.Plan(v1, v2)
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range plan.Steps {
			if s.Kind != strategy.StepAnalyze {
				continue
			}
			count[name]++
			t.Run(fmt.Sprintf("%s/step %d", name, i), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					failing := i
					fail := strategy.AnalyzerFunc(func(ctx context.Context, in strategy.Input) (strategy.Verdict, error) {
						if in.Step == failing {
							return strategy.Verdict{Outcome: strategy.Fail, Reason: "error rate 12%"}, nil
						}
						return strategy.Verdict{Outcome: strategy.Pass}, nil
					})
					cfg := withAnalyzer(cfg, fail)
					tgt := newTarget(cfg)
					res, err := strategy.Run(t.Context(), release(cfg, tgt, nil))
					if !errors.Is(err, strategy.ErrAnalysisFailed) || res.Phase != strategy.PhaseRolledBack {
						t.Fatalf("got %s, %v; want rolled back on analysis failure", res.Phase, err)
					}
					var se *strategy.StepError
					if !errors.As(err, &se) || se.Step != failing {
						t.Errorf("error %v does not name step %d", err, failing)
					}
					checkHistory(t, cfg, tgt, stableOf(cfg))
				})
			})
		}
	}
	for name, n := range count {
		if n == 0 {
			t.Errorf("%s has no analysis step to fail", name)
		}
	}
}

// withAnalyzer replaces every analyzer of cfg by a.
func withAnalyzer(cfg canary.Config, a strategy.Analyzer) canary.Config {
	if len(cfg.Analyzers) > 0 {
		cfg.Analyzers = []strategy.Analyzer{a}
	}
	steps := make([]canary.Step, len(cfg.Steps))
	for i, s := range cfg.Steps {
		if s.Kind == canary.KindAnalysis {
			s.Analyzers = []strategy.Analyzer{a}
		}
		steps[i] = s
	}
	if len(cfg.Steps) > 0 {
		cfg.Steps = steps
	}
	return cfg
}

// Background analysis that fails rolls the release back within its
// interval, whatever step the release is in, pauses included.
func TestBackgroundFailRollsBackDuringPause(t *testing.T) {
	const interval = 30 * time.Second
	for _, tc := range []struct {
		name  string
		pause canary.Step
	}{
		{"timed pause", canary.Pause(time.Hour)},
		{"pause until promoted", canary.PauseUntilPromoted()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				// Measures every interval; the third measurement fails.
				bg := &strategytest.Analyzer{ID: "background", Answers: []strategytest.Answer{{After: 3 * interval, Outcome: strategy.Fail}}}
				cfg := canary.Config{Replicas: 4, TrafficRouting: true,
					Steps:      []canary.Step{canary.SetWeight(10), canary.Pause(time.Minute), canary.SetWeight(25), tc.pause, canary.SetWeight(50)},
					Background: canary.Background{Analyzers: []strategy.Analyzer{bg}, From: 2}}
				tgt := newTarget(cfg)
				p := newPauses()
				r, err := strategy.Start(t.Context(), release(cfg, tgt, p))
				if err != nil {
					t.Fatal(err)
				}
				res, err := r.Wait(t.Context())
				if !errors.Is(err, strategy.ErrAnalysisFailed) || res.Phase != strategy.PhaseRolledBack {
					t.Fatalf("got %s, %v; want rolled back by background analysis", res.Phase, err)
				}
				in := bg.Inputs()
				if len(in) != 1 || !in[0].Background || in[0].State.Weight != 10 {
					t.Fatalf("background analysis started with %+v; want once, at weight 10 before the 25%% step", in)
				}
				// It failed during the pause, and the rollback began at once.
				var pausedAt time.Time
				for _, s := range res.Steps {
					if s.Kind == strategy.StepPause && s.Index > r.Plan().Background[0].From {
						pausedAt = s.Started
					}
				}
				if pausedAt.IsZero() {
					t.Fatalf("the release never reached the second pause: %+v", res.Steps)
				}
				if d := res.RollbackStarted.Sub(pausedAt); d < 0 || d > 3*interval {
					t.Errorf("rollback began %v after the pause started; want within the analysis interval", d)
				}
				for _, h := range tgt.History() {
					if h.State.Weight == 50 {
						t.Errorf("the release went past the pause: %s", h.State)
					}
				}
				checkHistory(t, cfg, tgt, stableOf(cfg))
			})
		})
	}
}

// Inconclusive analysis pauses the release; Promote continues it, Abort
// rolls it back.
func TestInconclusivePauses(t *testing.T) {
	for _, promote := range []bool{true, false} {
		t.Run(fmt.Sprintf("promote=%v", promote), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				a := strategytest.Script("latency", strategy.Inconclusive, strategy.Pass)
				cfg := canary.Config{StepWeight: 50, Interval: time.Minute, Analyzers: []strategy.Analyzer{a}}
				tgt := newTarget(cfg)
				p := newPauses()
				r, err := strategy.Start(t.Context(), release(cfg, tgt, p))
				if err != nil {
					t.Fatal(err)
				}
				p.await(t, strategy.PausedForInconclusive)
				if got := tgt.State(); got.Weight != 50 || got.Canary != v2 {
					t.Fatalf("paused on %s; want the canary at 50%%", got)
				}
				var want strategy.State
				if promote {
					if err := r.Promote(); err != nil {
						t.Fatal(err)
					}
					want = promoted(cfg)
				} else {
					if err := r.Abort(); err != nil {
						t.Fatal(err)
					}
					want = stableOf(cfg)
				}
				res, err := r.Wait(t.Context())
				switch {
				case promote && (err != nil || res.Phase != strategy.PhasePromoted):
					t.Fatalf("got %s, %v; want promoted", res.Phase, err)
				case !promote && (!errors.Is(err, strategy.ErrAborted) || res.Phase != strategy.PhaseRolledBack):
					t.Fatalf("got %s, %v; want aborted", res.Phase, err)
				}
				// A person judged the inconclusive step: the release went
				// on to the next weight, 100%, and analysed it once more
				// before promoting (Flagger's stepWeight 50: 50, 100).
				if in := a.Inputs(); promote && (len(in) != 2 || in[0].State.Weight != 50 || in[1].State.Weight != 100) {
					t.Errorf("analyzer inputs %+v; want one at 50%% and one at 100%%", in)
				}
				checkHistory(t, cfg, tgt, want)
			})
		})
	}
}

// PromoteFull skips every step left, analysis included.
func TestPromoteFullSkipsTheRest(t *testing.T) {
	for _, replicas := range []int{0, 6} {
		t.Run(fmt.Sprintf("replicas=%d", replicas), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				later := strategytest.Script("later", strategy.Fail)
				cfg := canary.Config{Replicas: replicas, Steps: []canary.Step{
					canary.SetWeight(20), canary.PauseUntilPromoted(), canary.SetWeight(40), canary.Analysis(later),
					canary.SetWeight(60), canary.Pause(time.Hour),
				}}
				tgt := newTarget(cfg)
				p := newPauses()
				r, err := strategy.Start(t.Context(), release(cfg, tgt, p))
				if err != nil {
					t.Fatal(err)
				}
				p.await(t, strategy.PausedForStep)
				if err := r.PromoteFull(); err != nil {
					t.Fatal(err)
				}
				res, err := r.Wait(t.Context())
				if err != nil || res.Phase != strategy.PhasePromoted {
					t.Fatalf("got %s, %v; want promoted", res.Phase, err)
				}
				if later.Calls() != 0 {
					t.Errorf("analysis after the pause ran %d times", later.Calls())
				}
				for _, h := range tgt.History() {
					if h.State.Weight == 40 || h.State.Weight == 60 {
						t.Errorf("a skipped step was applied: %s", h.State)
					}
				}
				checkHistory(t, cfg, tgt, promoted(cfg))
			})
		})
	}
}

// Abort rolls back from a pause; Retry runs the same release again from
// its first step, and Promote moves it past the pause.
func TestAbortThenRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := canary.Config{Replicas: 4, MaxSurge: new(strategy.Int(1)), MaxUnavailable: new(strategy.Int(0)),
			Steps: []canary.Step{canary.SetWeight(25), canary.PauseUntilPromoted(), canary.SetWeight(75)}}
		tgt := newTarget(cfg)
		p := newPauses()
		r, err := strategy.Start(t.Context(), release(cfg, tgt, p))
		if err != nil {
			t.Fatal(err)
		}
		p.await(t, strategy.PausedForStep)
		if got := tgt.State(); got.Replicas != (strategy.Replicas{Stable: 3, Canary: 1}) {
			t.Fatalf("paused on %s; want 1 canary instance next to 3 stable", got)
		}
		if err := r.Abort(); err != nil {
			t.Fatal(err)
		}
		res, err := r.Wait(t.Context())
		if !errors.Is(err, strategy.ErrAborted) || res.Phase != strategy.PhaseRolledBack {
			t.Fatalf("got %s, %v; want aborted", res.Phase, err)
		}
		checkHistory(t, cfg, tgt, stableOf(cfg))
		first := len(tgt.History())

		r2, err := r.Retry(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		p.await(t, strategy.PausedForStep)
		if err := r2.Promote(); err != nil {
			t.Fatal(err)
		}
		res, err = r2.Wait(t.Context())
		if err != nil || res.Phase != strategy.PhasePromoted {
			t.Fatalf("retry: got %s, %v; want promoted", res.Phase, err)
		}
		retried := tgt.History()[first:]
		if retried[0].State.Canary != v2 || retried[0].State.Weight != 0 {
			t.Errorf("retry began with %s; want the canary deployed at 0%%", retried[0].State)
		}
		checkHistory(t, cfg, tgt, promoted(cfg))
	})
}

// A plan with a header route is rejected up front by a target that cannot
// route headers; nothing is applied.
func TestHeaderRouteNeedsCapability(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := canary.Config{Steps: []canary.Step{
			canary.SetHeaderRoute(strategy.HeaderRoute{Header: "X-Canary", Prefix: "beta"}), canary.Pause(time.Minute),
			canary.SetWeight(50),
		}}
		tgt := newTarget(cfg)
		tgt.HeaderRouting = false
		_, err := strategy.Start(t.Context(), release(cfg, tgt, nil))
		if !errors.Is(err, strategy.ErrInvalidConfig) {
			t.Fatalf("got %v; want the plan rejected", err)
		}
		if n := len(tgt.History()); n != 0 {
			t.Errorf("%d States applied to a target that rejected the plan", n)
		}
		tgt.HeaderRouting = true
		res, err := strategy.Run(t.Context(), release(cfg, tgt, nil))
		if err != nil || res.Phase != strategy.PhasePromoted {
			t.Fatalf("with header routing: got %s, %v", res.Phase, err)
		}
		checkHistory(t, cfg, tgt, promoted(cfg))
	})
}

// With dynamic stable scale a failure after the stable was scaled down
// brings it back up before traffic returns to it.
func TestDynamicStableScaleRollback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := canary.Config{Replicas: 10, TrafficRouting: true, DynamicStableScale: true, Steps: []canary.Step{
			canary.SetWeight(70), canary.Analysis(strategytest.Script("errors", strategy.Fail)),
		}}
		tgt := newTarget(cfg)
		res, err := strategy.Run(t.Context(), release(cfg, tgt, nil))
		if !errors.Is(err, strategy.ErrAnalysisFailed) {
			t.Fatalf("got %s, %v", res.Phase, err)
		}
		h := tgt.History()
		low := false
		for _, a := range h {
			if a.State.Weight == 70 && a.State.Replicas.Stable == 3 {
				low = true
			}
		}
		if !low {
			t.Errorf("the stable was never scaled down to 3 at 70%%")
		}
		checkHistory(t, cfg, tgt, stableOf(cfg))
	})
}

// A background Fail ends the release on the stable State whichever step it
// lands in: a move of instances, a wait for readiness, an analysis or a
// pause.
func TestBackgroundFailAtAnyMoment(t *testing.T) {
	for _, after := range []time.Duration{time.Second, 15 * time.Second, 45 * time.Second, 70 * time.Second, 100 * time.Second, 150 * time.Second} {
		t.Run(after.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				bg := &strategytest.Analyzer{ID: "bg", Answers: []strategytest.Answer{{After: after, Outcome: strategy.Fail}}}
				slow := &strategytest.Analyzer{ID: "slow", Answers: []strategytest.Answer{{After: 20 * time.Second, Outcome: strategy.Pass}}}
				cfg := canary.Config{Replicas: 7, MaxSurge: new(strategy.Int(1)), MaxUnavailable: new(strategy.Int(1)),
					Steps:      []canary.Step{canary.SetWeight(30), canary.Analysis(slow), canary.SetWeight(60), canary.Pause(time.Hour)},
					Background: canary.Background{Analyzers: []strategy.Analyzer{bg}}}
				tgt := newTarget(cfg)
				start := time.Now()
				res, err := strategy.Run(t.Context(), release(cfg, tgt, nil))
				if !errors.Is(err, strategy.ErrAnalysisFailed) || res.Phase != strategy.PhaseRolledBack {
					t.Fatalf("got %s, %v; want rolled back", res.Phase, err)
				}
				// Background analysis starts once the canary is deployed
				// and ready, which takes no time at weight 0.
				if d := res.RollbackStarted.Sub(start); d != after {
					t.Errorf("rollback started %v in; want at the failure, %v in", d, after)
				}
				checkHistory(t, cfg, tgt, stableOf(cfg))
			})
		})
	}
}
