package rolling_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/glidepath/glidepath/rolling"
	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/strategytest"
)

func live(n int) strategy.State {
	return strategy.State{Stable: "v1", Replicas: strategy.Replicas{Stable: n}}
}

func final(n int) strategy.State {
	return strategy.State{Stable: "v2", Replicas: strategy.Replicas{Stable: n}}
}

// boundViolations checks a fake target's history against the bounds: no
// State runs more than n+surge instances, and right after each Apply
// (before anything new became ready) at least n-unavailable instances are
// available, counting an instance when it was ready before the Apply, is
// kept by it (the target removes instances that are not ready first) and
// its revision receives traffic.
func boundViolations(hist []strategytest.Applied, n, surge, unavail int) []string {
	var out []string
	for i, h := range hist {
		if t := h.State.Replicas.Total(); t > n+surge {
			out = append(out, fmt.Sprintf("apply %d (%s): %d instances, more than %d", i, h.State, t, n+surge))
		}
		avail := 0
		for _, rev := range []strategy.Revision{h.State.Stable, h.State.Canary} {
			if rev != "" && h.State.Share(rev) > 0 {
				avail += min(h.ReadyBefore.ReadyCount(rev), h.State.Desired(rev))
			}
		}
		if avail < n-unavail {
			out = append(out, fmt.Sprintf("apply %d (%s): %d available, fewer than %d", i, h.State, avail, n-unavail))
		}
	}
	return out
}

func checkHistory(t *testing.T, tgt *strategytest.Target, c *rolling.Config) {
	t.Helper()
	hist := tgt.History()
	if err := strategytest.CheckCapacityBeforeTraffic(live(c.Replicas), hist); err != nil {
		t.Error(err)
	}
	s, u := c.Bounds()
	for _, v := range boundViolations(hist, c.Replicas, s, u) {
		t.Error(v)
	}
}

func planStates(t *testing.T, c *rolling.Config) []strategy.State {
	t.Helper()
	p, err := c.Plan("v1", "v2")
	if err != nil {
		t.Fatal(err)
	}
	var out []strategy.State
	for _, s := range p.Steps {
		if s.Kind == strategy.StepApply {
			out = append(out, s.State)
		}
	}
	return out
}

func TestBoundViolationsCatchesBreaches(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tgt := strategytest.NewTarget(live(4))
		tgt.ReadyAfter = time.Minute
		ctx := t.Context()
		for _, s := range []strategy.State{
			{Stable: "v1", Canary: "v2", Replicas: strategy.Replicas{Stable: 4, Canary: 3}},             // too many
			{Stable: "v1", Canary: "v2", Weight: 50, Replicas: strategy.Replicas{Stable: 1, Canary: 3}}, // too few available
		} {
			if err := tgt.Apply(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
		got := boundViolations(tgt.History(), 4, 1, 1)
		want := []string{
			"apply 0 (stable=v1 canary=v2 weight=0% replicas=4/3): 7 instances, more than 5",
			"apply 1 (stable=v1 canary=v2 weight=50% replicas=1/3): 1 available, fewer than 3",
		}
		if !slices.Equal(got, want) {
			t.Errorf("violations\n got %q\nwant %q", got, want)
		}
	})
}

func TestCleanRollout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tgt := strategytest.NewTarget(live(4))
		tgt.ReadyAfter = 10 * time.Second
		check := strategytest.Script("errors", strategy.Pass)
		c := &rolling.Config{Replicas: 4, MinReady: 30 * time.Second, Analyzers: []strategy.Analyzer{check}}
		start := time.Now()
		res, err := strategy.Run(t.Context(), strategy.Release{Target: tgt, Stable: "v1", Canary: "v2", Strategy: c})
		if err != nil || res.Phase != strategy.PhasePromoted {
			t.Fatalf("Run = %v %v", res.Phase, err)
		}
		// The executor applied exactly the planned States: traffic
		// followed ready instances, so it never had to hold one back.
		if got, want := tgt.States(), planStates(t, c); !slices.Equal(got, want) {
			t.Errorf("history %v\nwant %v", got, want)
		}
		if tgt.State() != final(4) {
			t.Errorf("final %v", tgt.State())
		}
		if check.Calls() != 3 {
			t.Errorf("analysis ran %d times, want once per batch (3)", check.Calls())
		}
		// Batch 2 starts once batch 1 is ready (10s) and has been held
		// for MinReady (30s).
		hist := tgt.History()
		k := slices.IndexFunc(hist, func(h strategytest.Applied) bool { return h.State.Replicas == strategy.Replicas{Stable: 1, Canary: 2} })
		if k < 0 || hist[k].At.Sub(start) != 40*time.Second {
			t.Errorf("batch 2 scale-down at %v, want 40s", hist[k].At.Sub(start))
		}
		checkHistory(t, tgt, c)
	})
}

func TestNeverReadyMissesDeadlineAndRollsBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tgt := strategytest.NewTarget(live(6))
		tgt.ReadyAfter = 10 * time.Second
		tgt.NeverReady = []strategy.Revision{"v2"}
		c := &rolling.Config{Replicas: 6, MaxSurge: new(strategy.Int(2)), MaxUnavailable: new(strategy.Int(1)), ProgressDeadline: 2 * time.Minute}
		start := time.Now()
		res, err := strategy.Run(t.Context(), strategy.Release{Target: tgt, Stable: "v1", Canary: "v2", Strategy: c})
		if !errors.Is(err, strategy.ErrDeadlineExceeded) || res.Phase != strategy.PhaseRolledBack {
			t.Fatalf("Run = %v %v", res.Phase, err)
		}
		if got := res.FailedAt.Sub(start); got != 2*time.Minute {
			t.Errorf("failed after %v, want the 2m progress deadline", got)
		}
		if tgt.State() != live(6) {
			t.Errorf("ends on %v", tgt.State())
		}
		for _, h := range tgt.History() {
			if h.State.Share("v2") > 0 {
				t.Errorf("%s sends traffic to instances that never became ready", h.State)
			}
		}
		checkHistory(t, tgt, c)
	})
}

func TestDeadlinePausesWhenAsked(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tgt := strategytest.NewTarget(live(4))
		tgt.NeverReady = []strategy.Revision{"v2"}
		c := &rolling.Config{Replicas: 4, ProgressDeadline: time.Minute}
		r, err := strategy.Start(t.Context(), strategy.Release{Target: tgt, Stable: "v1", Canary: "v2", Strategy: c,
			Options: strategy.Options{OnDeadline: strategy.Policy{Pause: true}}})
		if err != nil {
			t.Fatal(err)
		}
		wait := time.NewTimer(time.Hour)
		<-wait.C
		synctest.Wait()
		if s := r.Status(); s.Phase != strategy.PhasePaused || s.PauseReason != strategy.PausedForDeadline {
			t.Fatalf("status %+v, want paused on the deadline", s)
		}
		held := tgt.State()
		if err := r.Abort(); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Wait(t.Context()); !errors.Is(err, strategy.ErrAborted) {
			t.Fatalf("Wait = %v", err)
		}
		if held.Canary != "v2" || tgt.State() != live(4) {
			t.Errorf("held %v, ended %v", held, tgt.State())
		}
		checkHistory(t, tgt, c)
	})
}

func TestAnalysisFailRollsBackWithinBounds(t *testing.T) {
	for _, tc := range []struct {
		name        string
		surge, unav *strategy.IntOrPercent
		failAt      int
	}{
		{"surge 1", new(strategy.Int(1)), new(strategy.Int(0)), 4},
		{"unavailable 1", new(strategy.Int(0)), new(strategy.Int(1)), 6},
		{"25% each", new(strategy.Percent(25)), new(strategy.Percent(25)), 2},
		{"surge 30% unavailable 10%", new(strategy.Percent(30)), new(strategy.Percent(10)), 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tgt := strategytest.NewTarget(live(10))
				tgt.ReadyAfter = 15 * time.Second
				answers := make([]strategy.Outcome, tc.failAt)
				for k := range answers {
					answers[k] = strategy.Pass
				}
				answers[tc.failAt-1] = strategy.Fail
				check := strategytest.Script("latency", answers...)
				c := &rolling.Config{Replicas: 10, MaxSurge: tc.surge, MaxUnavailable: tc.unav, Analyzers: []strategy.Analyzer{check}}
				res, err := strategy.Run(t.Context(), strategy.Release{Target: tgt, Stable: "v1", Canary: "v2", Strategy: c})
				if !errors.Is(err, strategy.ErrAnalysisFailed) || res.Phase != strategy.PhaseRolledBack {
					t.Fatalf("Run = %v %v", res.Phase, err)
				}
				if check.Calls() != tc.failAt {
					t.Fatalf("analysis ran %d times, want %d", check.Calls(), tc.failAt)
				}
				if tgt.State() != live(10) {
					t.Fatalf("ends on %v", tgt.State())
				}
				// Not a big-bang switch: the way back takes several
				// batches, each moving no more instances than the
				// bounds allow.
				hist := tgt.History()
				k := slices.IndexFunc(hist, func(h strategytest.Applied) bool { return !h.At.Before(res.RollbackStarted) })
				back := hist[k:]
				s, u := c.Bounds()
				maxMove := s + u
				prev := hist[k-1].State
				waits := 0
				for _, h := range back {
					if d := prev.Desired("v2") - h.State.Desired("v2"); d > maxMove {
						t.Errorf("%s removes %d new instances at once (bound %d)", h.State, d, maxMove)
					}
					if !h.At.Equal(hist[k].At) {
						waits++
					}
					prev = h.State
				}
				if len(back) < 3 || waits == 0 {
					t.Errorf("rollback in %d applies with %d waits: %v", len(back), waits, back)
				}
				checkHistory(t, tgt, c)
			})
		})
	}
}

// Rollout.Pause holds the release between batches; Resume carries on.
func TestPauseAndResumeBetweenBatches(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tgt := strategytest.NewTarget(live(4))
		tgt.ReadyAfter = 10 * time.Second
		ev := make(chan string, 256)
		obs := strategy.ObserverFunc(func(e strategy.Event) {
			if s, ok := e.(strategy.StepStarted); ok {
				select {
				case ev <- s.Step.Name:
				default:
				}
			}
		})
		c := &rolling.Config{Replicas: 4}
		r, err := strategy.Start(t.Context(), strategy.Release{Target: tgt, Stable: "v1", Canary: "v2", Strategy: c, Observer: obs})
		if err != nil {
			t.Fatal(err)
		}
		for name := range ev {
			if name == "batch 1: ready" {
				break
			}
		}
		if err := r.Pause(); err != nil {
			t.Fatal(err)
		}
		hold := time.NewTimer(time.Hour)
		<-hold.C
		synctest.Wait()
		s := r.Status()
		if s.Phase != strategy.PhasePaused || s.PauseReason != strategy.PausedForUser {
			t.Fatalf("status %+v, want paused by the user", s)
		}
		// Batch 1 finished (its wait was under way) and nothing of batch 2 ran.
		if got := r.Plan().Steps[s.Step].Name; got != "batch 1: traffic" {
			t.Errorf("held before %q", got)
		}
		if got := tgt.State(); got.Replicas != (strategy.Replicas{Stable: 3, Canary: 2}) {
			t.Errorf("target moved while paused: %v", got)
		}
		if err := r.Unpause(); err != nil {
			t.Fatal(err)
		}
		res, err := r.Wait(t.Context())
		if err != nil || tgt.State() != final(4) {
			t.Fatalf("after Resume: %v %v %v", res.Phase, err, tgt.State())
		}
		checkHistory(t, tgt, c)
	})
}

func TestPartitionWaitsForPromote(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tgt := strategytest.NewTarget(live(5))
		tgt.ReadyAfter = 10 * time.Second
		c := &rolling.Config{Replicas: 5, MaxSurge: new(strategy.Int(1)), MaxUnavailable: new(strategy.Int(1)), Partition: 2}
		r, err := strategy.Start(t.Context(), strategy.Release{Target: tgt, Stable: "v1", Canary: "v2", Strategy: c})
		if err != nil {
			t.Fatal(err)
		}
		wait := time.NewTimer(24 * time.Hour)
		<-wait.C
		synctest.Wait()
		s := r.Status()
		if s.Phase != strategy.PhasePaused || r.Plan().Steps[s.Step].Name != rolling.StepPartition {
			t.Fatalf("status %+v, want paused at the partition", s)
		}
		if got := tgt.State(); got.Replicas != (strategy.Replicas{Stable: 3, Canary: 2}) || got.Weight != 40 {
			t.Fatalf("partitioned target %v, want 3 old and 2 new instances, 40%% of traffic on the new", got)
		}
		if err := r.Promote(); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Wait(t.Context()); err != nil || tgt.State() != final(5) {
			t.Fatalf("after Promote: %v %v", err, tgt.State())
		}
		checkHistory(t, tgt, c)
	})
}

func TestSmallFleets(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  rolling.Config
	}{
		{"N=0", rolling.Config{}},
		{"N=1 defaults", rolling.Config{Replicas: 1}},
		{"N=1 unavailable only", rolling.Config{Replicas: 1, MaxSurge: new(strategy.Int(0)), MaxUnavailable: new(strategy.Int(1))}},
		{"N=1 100%", rolling.Config{Replicas: 1, MaxSurge: new(strategy.Percent(100)), MaxUnavailable: new(strategy.Percent(100))}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tgt := strategytest.NewTarget(live(tc.cfg.Replicas))
				tgt.ReadyAfter = 10 * time.Second
				res, err := strategy.Run(t.Context(), strategy.Release{Target: tgt, Stable: "v1", Canary: "v2", Strategy: &tc.cfg})
				if err != nil || res.Phase != strategy.PhasePromoted || tgt.State() != final(tc.cfg.Replicas) {
					t.Fatalf("Run = %v %v, target %v", res.Phase, err, tgt.State())
				}
				checkHistory(t, tgt, &tc.cfg)
				// And back: an analysis failure rolls back to the old revision.
				tgt2 := strategytest.NewTarget(live(tc.cfg.Replicas))
				tgt2.ReadyAfter = 10 * time.Second
				cfg := tc.cfg
				cfg.Analyzers = []strategy.Analyzer{strategytest.Script("a", strategy.Fail)}
				if _, err := strategy.Run(t.Context(), strategy.Release{Target: tgt2, Stable: "v1", Canary: "v2", Strategy: &cfg}); !errors.Is(err, strategy.ErrAnalysisFailed) {
					t.Fatalf("Run = %v", err)
				}
				if tgt2.State() != live(tc.cfg.Replicas) {
					t.Fatalf("rolled back to %v", tgt2.State())
				}
				checkHistory(t, tgt2, &cfg)
			})
		})
	}
}
