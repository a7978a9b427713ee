package rollback_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/glidepath/glidepath/rollback"
	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/strategytest"
)

func TestFailurePolicies(t *testing.T) {
	cases := []struct {
		name     string
		policy   strategy.Policy
		script   []strategy.Outcome
		calls    int
		phase    strategy.Phase
		paused   bool
		finalRev strategy.Revision
	}{
		{"at once", rollback.RollBackAtOnce(), []strategy.Outcome{strategy.Fail, strategy.Pass}, 1, strategy.PhaseRolledBack, false, "v1"},
		{"after 3 of 3", rollback.RollBackAfter(3), []strategy.Outcome{strategy.Fail}, 3, strategy.PhaseRolledBack, false, "v1"},
		{"after 3, passes on the third", rollback.RollBackAfter(3), []strategy.Outcome{strategy.Fail, strategy.Fail, strategy.Pass}, 3, strategy.PhasePromoted, false, "v2"},
		{"after 0 is after 1", rollback.RollBackAfter(0), []strategy.Outcome{strategy.Fail, strategy.Pass}, 1, strategy.PhaseRolledBack, false, "v1"},
		{"pause and hold", rollback.PauseAndHold(), []strategy.Outcome{strategy.Fail}, 1, strategy.PhaseRolledBack, true, "v1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := newManager(rollback.NewMemStore(), "a")
				tgt := strategytest.NewTarget(v1State)
				checks := strategytest.Script("checks", c.script...)
				ro, err := m.Start(t.Context(), "svc", strategy.Release{Target: tgt, Stable: "v1", Canary: "v2",
					Strategy: canaryPlan(checks), Options: strategy.Options{OnFail: c.policy}})
				if err != nil {
					t.Fatal(err)
				}
				if c.paused {
					advance(time.Hour) // a failure under PauseAndHold waits for a person, however long
					synctest.Wait()
					st := ro.Status()
					if st.Phase != strategy.PhasePaused || st.PauseReason != strategy.PausedForFailure || tgt.State().Weight != 25 {
						t.Fatalf("held: %s %s, target %v", st.Phase, st.PauseReason, tgt.State())
					}
					if p, _ := m.Pending(t.Context(), "svc"); p == nil || p.Progress.Phase != strategy.PhasePaused {
						t.Fatalf("the journal does not record the hold: %+v", p)
					}
					ro.Abort()
				}
				res, _ := ro.Wait(t.Context())
				if res.Phase != c.phase || checks.Calls() != c.calls || tgt.State().Stable != c.finalRev || tgt.State().Canary != "" {
					t.Fatalf("phase %s after %d analyses, target %v; want %s after %d", res.Phase, checks.Calls(), tgt.State(), c.phase, c.calls)
				}
			})
		})
	}
}

// TestDegradedRollbackIsLoudAndBlocksTheTarget makes the rollback itself
// impossible: the executor retries it with backoff, then degrades; the
// release stays active so that nothing else starts on the target until it
// is resumed, which rolls back once the target accepts changes again.
func TestDegradedRollbackIsLoudAndBlocksTheTarget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := rollback.NewMemStore()
		m := newManager(store, "a")
		tgt := strategytest.NewTarget(v1State)
		tgt.Faults = []strategytest.Fault{{Op: strategytest.OpApply, After: 2}} // the canary's capacity and traffic are applied, nothing after
		var degraded atomic.Int32
		obs := strategy.ObserverFunc(func(e strategy.Event) {
			if _, ok := e.(strategy.ReleaseDegraded); ok {
				degraded.Add(1)
			}
		})
		ro, err := m.Start(t.Context(), "svc", strategy.Release{Target: tgt, Stable: "v1", Canary: "v2", Observer: obs,
			Strategy: canaryPlan(strategytest.Script("checks", strategy.Fail)),
			Options:  strategy.Options{RetryBudget: 20 * time.Second}})
		if err != nil {
			t.Fatal(err)
		}
		res, err := ro.Wait(t.Context())
		if !errors.Is(err, strategy.ErrDegraded) || res.Phase != strategy.PhaseDegraded || degraded.Load() != 1 {
			t.Fatalf("got %s %v (%d degraded events)", res.Phase, err, degraded.Load())
		}
		if calls := tgt.Calls(strategytest.OpApply); calls < 4 {
			t.Fatalf("the rollback was tried %d times; it must be retried", calls-1)
		}
		p, err := m.Pending(t.Context(), "svc")
		if err != nil || p == nil || p.Progress.Phase != strategy.PhaseDegraded || !p.Progress.Checkpoint.Rollback {
			t.Fatalf("pending: %+v %v", p, err)
		}
		_, err = release(t, newManager(store, "b"), tgt, "v1", "v3", strategy.Pass)
		if !errors.Is(err, rollback.ErrPending) || !strings.Contains(err.Error(), "v1->v2") {
			t.Fatalf("a release on a degraded target: %v", err)
		}
		tgt.Faults = nil // the target recovers
		ro, err = newManager(store, "b").Resume(t.Context(), "svc", strategy.Release{Target: tgt,
			Strategy: canaryPlan(strategytest.Script("checks", strategy.Pass))}, rollback.ResumeOptions{Mode: rollback.Continue})
		if err != nil {
			t.Fatal(err)
		}
		res, err = ro.Wait(t.Context())
		if res.Phase != strategy.PhaseRolledBack || tgt.State() != v1State {
			t.Fatalf("resumed a degraded release: %s %v, target %v", res.Phase, err, tgt.State())
		}
		hist, _ := m.History(t.Context(), "svc")
		if len(hist) != 1 || hist[0].Phase != strategy.PhaseRolledBack || hist[0].Resumed != 1 || len(hist[0].Verdicts) != 1 ||
			hist[0].Verdicts[0].Outcome != strategy.Fail || !strings.Contains(hist[0].Reason, "analysis failed") {
			t.Fatalf("history %+v", hist)
		}
	})
}

func TestOneRolloutPerTargetInProcess(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		tgt := strategytest.NewTarget(v1State)
		var wg sync.WaitGroup
		var mu sync.Mutex
		var won []*strategy.Rollout
		var lost []error
		for _, owner := range []string{"a", "b", "c"} {
			s, err := rollback.OpenFileStore(dir, rollback.FileOptions{}) // separate file handles
			if err != nil {
				t.Fatal(err)
			}
			m := newManager(s, owner)
			wg.Go(func() {
				ro, err := m.Start(t.Context(), "svc", strategy.Release{Target: tgt, Stable: "v1", Canary: "v2",
					Strategy: canaryPlan(strategytest.Script("checks", strategy.Pass))})
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					lost = append(lost, err)
				} else {
					won = append(won, ro)
				}
			})
		}
		wg.Wait()
		if len(won) != 1 || len(lost) != 2 {
			t.Fatalf("%d rollouts started, %d refused: %v", len(won), len(lost), lost)
		}
		for _, err := range lost {
			var held *rollback.LeaseHeldError
			if !errors.As(err, &held) || held.Target != "svc" || held.Expires.IsZero() {
				t.Fatalf("refusal: %v", err)
			}
		}
		if _, err := won[0].Wait(t.Context()); err != nil {
			t.Fatal(err)
		}
	})
}

// TestLeaseRenewedWhileRunning runs a release far longer than its lease:
// the lease is renewed throughout, then released at the end.
func TestLeaseRenewedWhileRunning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := rollback.NewMemStore()
		m := &rollback.Manager{Store: store, Owner: "a", LeaseTTL: 30 * time.Second}
		tgt := strategytest.NewTarget(v1State)
		long := strategy.StrategyFunc(func(stable, canary strategy.Revision) (strategy.Plan, error) {
			return strategy.Plan{Strategy: "slow", Steps: []strategy.Step{
				strategy.Apply(strategy.State{Stable: stable, Canary: canary, Weight: 10, Replicas: strategy.Replicas{Stable: 4, Canary: 1}}),
				strategy.Pause(time.Hour),
				strategy.Apply(strategy.State{Stable: canary, Replicas: strategy.Replicas{Stable: 4}}),
			}}, nil
		})
		ro, err := m.Start(t.Context(), "svc", strategy.Release{Target: tgt, Stable: "v1", Canary: "v2", Strategy: long})
		if err != nil {
			t.Fatal(err)
		}
		other := &rollback.Manager{Store: store, Owner: "b"}
		for range 5 { // 50 minutes into the hour-long pause
			advance(10 * time.Minute)
			_, err := other.Start(t.Context(), "svc", strategy.Release{Target: tgt, Stable: "v1", Canary: "v3", Strategy: long})
			var held *rollback.LeaseHeldError
			if !errors.As(err, &held) || held.Owner != "a" || !held.Expires.After(time.Now()) {
				t.Fatalf("at %v: %v", time.Now(), err)
			}
		}
		if _, err := ro.Wait(t.Context()); err != nil {
			t.Fatal(err)
		}
		ro, err = other.Start(t.Context(), "svc", strategy.Release{Target: tgt, Stable: "v2", Canary: "v3", Strategy: long})
		if err != nil {
			t.Fatalf("after the release: %v", err)
		}
		ro.Abort()
		ro.Wait(t.Context())
	})
}

func TestResumeChecks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		tgt := strategytest.NewTarget(v1State)
		s, _ := rollback.OpenFileStore(dir, rollback.FileOptions{})
		m := newManager(s, "b")
		if _, err := m.Resume(t.Context(), "svc", strategy.Release{Target: tgt}, rollback.ResumeOptions{}); !errors.Is(err, rollback.ErrNothingToResume) {
			t.Fatalf("nothing recorded: %v", err)
		}
		stoppedRelease(t, dir, tgt)
		n := len(tgt.States())
		_, err := release(t, m, tgt, "v1", "v3", strategy.Pass)
		if !errors.Is(err, rollback.ErrPending) || !strings.Contains(err.Error(), "000001") {
			t.Fatalf("start over an unfinished release: %v", err)
		}
		changed := strategy.StrategyFunc(func(stable, canary strategy.Revision) (strategy.Plan, error) {
			return strategy.Plan{Strategy: "other", Steps: []strategy.Step{strategy.Apply(strategy.State{Stable: canary})}}, nil
		})
		_, err = m.Resume(t.Context(), "svc", strategy.Release{Target: tgt, Strategy: changed}, rollback.ResumeOptions{})
		if !errors.Is(err, rollback.ErrPlanChanged) {
			t.Fatalf("changed plan: %v", err)
		}
		_, err = m.Resume(t.Context(), "svc", strategy.Release{Target: tgt, Canary: "v9",
			Strategy: canaryPlan(strategytest.Script("checks", strategy.Pass))}, rollback.ResumeOptions{})
		if !errors.Is(err, strategy.ErrInvalidConfig) || !strings.Contains(err.Error(), "v9") {
			t.Fatalf("other revision: %v", err)
		}
		_, err = m.Resume(t.Context(), "svc", strategy.Release{Target: tgt, Strategy: canaryPlan(strategytest.Script("renamed", strategy.Pass))}, rollback.ResumeOptions{})
		if !errors.Is(err, rollback.ErrPlanChanged) {
			t.Fatalf("renamed analyzer: %v", err)
		}
		if len(tgt.States()) != n {
			t.Fatal("a refused resume touched the target")
		}
		// RollBack mode rolls the stopped release back.
		ro, err := m.Resume(t.Context(), "svc", strategy.Release{Target: tgt,
			Strategy: canaryPlan(strategytest.Script("checks", strategy.Pass))}, rollback.ResumeOptions{Mode: rollback.RollBack})
		if err != nil {
			t.Fatal(err)
		}
		if res, _ := ro.Wait(t.Context()); res.Phase != strategy.PhaseRolledBack || tgt.State() != v1State {
			t.Fatalf("rolled back: %s, target %v", res.Phase, tgt.State())
		}
		// The rolled-back canary is refused from now on.
		if _, err := release(t, m, tgt, "v1", "v2", strategy.Pass); !errors.Is(err, rollback.ErrRolledBackBefore) {
			t.Fatalf("re-release: %v", err)
		}
		_ = context.Background
	})
}

// TestResumeWithBackgroundAnalysis resumes a release that carries
// background analysis of its own (Release.Background), whose plan
// fingerprint includes those analyzers.
func TestResumeWithBackgroundAnalysis(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := rollback.NewMemStore()
		tgt := strategytest.NewTarget(v1State)
		rel := func() strategy.Release {
			bg := &strategytest.Analyzer{ID: "bg", Answers: []strategytest.Answer{{Block: true}}}
			return strategy.Release{Target: tgt, Stable: "v1", Canary: "v2",
				Strategy:   canaryPlan(strategytest.Script("checks", strategy.Pass)),
				Background: []strategy.Background{{From: 0, Analyzers: []strategy.Analyzer{bg}}},
				Options:    strategy.Options{OnCancel: strategy.Policy{Leave: true}}}
		}
		ctx, cancel := context.WithCancel(t.Context())
		ro, err := newManager(store, "a").Start(ctx, "svc", rel())
		if err != nil {
			t.Fatal(err)
		}
		advance(30 * time.Second)
		cancel()
		if _, err := ro.Wait(t.Context()); !errors.Is(err, strategy.ErrStopped) {
			t.Fatal(err)
		}
		r := rel()
		r.Stable, r.Canary = "", ""
		ro, err = newManager(store, "b").Resume(t.Context(), "svc", r, rollback.ResumeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if res, err := ro.Wait(t.Context()); err != nil || tgt.State() != stateOf("v2") {
			t.Fatalf("resumed: %s %v", res.Phase, err)
		}
		// A different background analyzer is a different plan.
		m := newManager(store, "c")
		tgt2 := strategytest.NewTarget(stateOf("v2"))
		ctx, cancel = context.WithCancel(t.Context())
		first := rel()
		first.Target, first.Stable, first.Canary = tgt2, "v2", "v3"
		ro, _ = m.Start(ctx, "svc", first)
		advance(30 * time.Second)
		cancel()
		ro.Wait(t.Context())
		other := rel()
		other.Target, other.Stable, other.Canary = tgt2, "", ""
		other.Background[0].Analyzers = []strategy.Analyzer{strategytest.Script("another", strategy.Pass)}
		if _, err := m.Resume(t.Context(), "svc", other, rollback.ResumeOptions{}); !errors.Is(err, rollback.ErrPlanChanged) {
			t.Fatalf("changed background: %v", err)
		}
	})
}
