package strategy_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/strategytest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	stable4 = strategy.State{Stable: "v1", Replicas: strategy.Replicas{Stable: 4}}
	final4  = strategy.State{Stable: "v2", Replicas: strategy.Replicas{Stable: 4}}
)

func at(w, c int) strategy.State {
	return strategy.State{Stable: "v1", Canary: "v2", Weight: w, Replicas: strategy.Replicas{Stable: 4, Canary: c}}
}

func planOf(steps ...strategy.Step) strategy.Strategy {
	return strategy.StrategyFunc(func(_, _ strategy.Revision) (strategy.Plan, error) {
		return strategy.Plan{Strategy: "test", Stable: stable4, Final: final4, Steps: steps}, nil
	})
}

// events collects events for assertions.
type events struct {
	mu  sync.Mutex
	all []strategy.Event
}

func (e *events) OnEvent(ev strategy.Event) {
	e.mu.Lock()
	e.all = append(e.all, ev)
	e.mu.Unlock()
}

func (e *events) snapshot() []strategy.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.all)
}

func (e *events) phases() []strategy.Phase {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []strategy.Phase
	for _, ev := range e.all {
		if pc, ok := ev.(strategy.PhaseChanged); ok {
			out = append(out, pc.To)
		}
	}
	return out
}

func release(tgt strategy.Target, s strategy.Strategy, opts strategy.Options) strategy.Release {
	return strategy.Release{Name: "r", Target: tgt, Stable: "v1", Canary: "v2", Strategy: s, Options: opts}
}

func waitPhase(t *testing.T, r *strategy.Rollout, want strategy.Phase) {
	t.Helper()
	synctest.Wait()
	if got := r.Status().Phase; got != want {
		t.Fatalf("phase %s, want %s (%s)", got, want, r.Status().Reason)
	}
}

func TestValidationNamesEveryProblem(t *testing.T) {
	tgt := strategytest.NewTarget(stable4)
	bad := planOf(
		strategy.Pause(-time.Second),
		strategy.Analyze(),
		strategy.Apply(strategy.State{Stable: "v1", Canary: "v2", Weight: 120}),
		strategy.Apply(strategy.State{Stable: "v1", Canary: "v2", Weight: 10, Route: strategy.HeaderRoute{Header: "X", Exact: "y"}}),
	)
	_, err := strategy.Run(t.Context(), strategy.Release{Target: tgt, Stable: "v1", Canary: "v1", Strategy: bad,
		Options: strategy.Options{ProgressDeadline: -1}})
	if !errors.Is(err, strategy.ErrInvalidConfig) {
		t.Fatalf("error %v does not match ErrInvalidConfig", err)
	}
	for _, want := range []string{"same revision", "negative duration", "no analyzers", "weight 120", "header routing", "ProgressDeadline"} {
		if !strategytest.HasProblem(err, want) {
			t.Errorf("error does not name %q:\n%v", want, err)
		}
	}
	_, err = strategy.Run(t.Context(), strategy.Release{})
	for _, want := range []string{"no target", "no stable revision", "no canary revision", "no strategy"} {
		if !strategytest.HasProblem(err, want) {
			t.Errorf("error does not name %q:\n%v", want, err)
		}
	}
	if n := len(tgt.History()); n != 0 {
		t.Fatalf("an invalid release applied %d states", n)
	}
	// A strategy's own error is reported too.
	_, err = strategy.Validate(release(tgt, strategy.StrategyFunc(func(_, _ strategy.Revision) (strategy.Plan, error) {
		return strategy.Plan{}, strategy.Invalid("canary config", "maxWeight 0 is outside 1..100")
	}), strategy.Options{}))
	if !errors.Is(err, strategy.ErrInvalidConfig) || !strategytest.HasProblem(err, "strategy: maxWeight 0 is outside 1..100") {
		t.Fatalf("strategy error not reported: %v", err)
	}
}

func TestPromoteLeavesPauseStep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tgt := strategytest.NewTarget(stable4)
		r, err := strategy.Start(t.Context(), release(tgt, planOf(strategy.Apply(at(20, 1)), strategy.Pause(0), strategy.Apply(at(100, 4))), strategy.Options{}))
		if err != nil {
			t.Fatal(err)
		}
		waitPhase(t, r, strategy.PhasePaused)
		if st := r.Status(); st.PauseReason != strategy.PausedForStep || st.Step != 1 {
			t.Fatalf("status %+v", st)
		}
		time.Sleep(time.Hour) // an indefinite pause stays paused
		waitPhase(t, r, strategy.PhasePaused)
		if err := r.Promote(); err != nil {
			t.Fatal(err)
		}
		res, err := r.Wait(t.Context())
		if err != nil || res.Phase != strategy.PhasePromoted || tgt.State() != final4 {
			t.Fatalf("%s %v %s", res.Phase, err, tgt.State())
		}
		if err := r.Promote(); !errors.Is(err, strategy.ErrNotRunning) {
			t.Fatalf("promote after the end: %v", err)
		}
	})
}

func TestPromoteFullSkipsTheRest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tgt := strategytest.NewTarget(stable4)
		tgt.ReadyAfter = 30 * time.Second
		a := strategytest.Script("never-called", strategy.Fail)
		r, _ := strategy.Start(t.Context(), release(tgt, planOf(strategy.Apply(at(20, 1)), strategy.Pause(time.Hour), strategy.Analyze(a), strategy.Apply(at(100, 4))), strategy.Options{}))
		time.Sleep(time.Minute)
		if err := r.PromoteFull(); err != nil {
			t.Fatal(err)
		}
		res, err := r.Wait(t.Context())
		if err != nil || res.Phase != strategy.PhasePromoted || tgt.State() != final4 {
			t.Fatalf("%s %v %s", res.Phase, err, tgt.State())
		}
		if a.Calls() != 0 {
			t.Fatal("PromoteFull ran the analysis it should skip")
		}
		if err := strategytest.CheckCapacityBeforeTraffic(stable4, tgt.History()); err != nil {
			t.Fatal(err)
		}
	})
}

func TestAbortDuringEveryStepKind(t *testing.T) {
	slow := &strategytest.Analyzer{ID: "slow", Answers: []strategytest.Answer{{Outcome: strategy.Pass, After: time.Hour}}}
	cases := []struct {
		name  string
		steps []strategy.Step
		ready time.Duration
		hang  bool
	}{
		{"apply", []strategy.Step{strategy.Apply(at(20, 1))}, 0, true},
		{"wait-ready", []strategy.Step{strategy.Apply(at(0, 1)), strategy.WaitReady(0)}, time.Hour, false},
		{"pause", []strategy.Step{strategy.Apply(at(20, 1)), strategy.Pause(time.Hour)}, time.Minute, false},
		{"analyze", []strategy.Step{strategy.Apply(at(20, 1)), strategy.Analyze(slow)}, time.Minute, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tgt := strategytest.NewTarget(stable4)
				tgt.ReadyAfter = c.ready
				if c.hang {
					tgt.Faults = []strategytest.Fault{{Op: strategytest.OpApply, Hang: true}}
				}
				r, _ := strategy.Start(t.Context(), release(tgt, planOf(c.steps...), strategy.Options{}))
				time.Sleep(90 * time.Second)
				synctest.Wait()
				want := len(c.steps) - 1
				if st := r.Status(); st.Step != want {
					t.Fatalf("at step %d, want %d", st.Step, want)
				}
				tgt.Faults = nil
				if err := r.Abort(); err != nil {
					t.Fatal(err)
				}
				res, err := r.Wait(t.Context())
				if !errors.Is(err, strategy.ErrAborted) || res.Phase != strategy.PhaseRolledBack || tgt.State() != stable4 {
					t.Fatalf("%s %v %s", res.Phase, err, tgt.State())
				}
				var se *strategy.StepError
				if !errors.As(err, &se) || se.Step != want {
					t.Fatalf("error %v does not name step %d", err, want)
				}
				if err := strategytest.CheckCapacityBeforeTraffic(stable4, tgt.History()); err != nil {
					t.Fatal(err)
				}
			})
		})
	}
}

func TestFailRollsBackCapacityFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Dynamic stable scale: the stable revision was scaled down to 1
		// while the canary took 75% of traffic; rolling back must scale
		// it up and wait before moving traffic.
		tgt := strategytest.NewTarget(stable4)
		tgt.ReadyAfter = 20 * time.Second
		ev := &events{}
		rel := release(tgt, planOf(
			strategy.Apply(at(0, 3)), strategy.WaitReady(0),
			strategy.Apply(at(75, 3)),
			strategy.Apply(strategy.State{Stable: "v1", Canary: "v2", Weight: 75, Replicas: strategy.Replicas{Stable: 1, Canary: 3}}),
			strategy.Analyze(strategytest.Script("errors", strategy.Fail)),
		), strategy.Options{})
		rel.Observer = ev
		res, err := strategy.Run(t.Context(), rel)
		if !errors.Is(err, strategy.ErrAnalysisFailed) || res.Phase != strategy.PhaseRolledBack {
			t.Fatalf("%s %v", res.Phase, err)
		}
		h := tgt.History()
		n := len(h)
		want := []strategy.State{
			{Stable: "v1", Canary: "v2", Weight: 75, Replicas: strategy.Replicas{Stable: 4, Canary: 3}}, // capacity first
			{Stable: "v1", Canary: "v2", Weight: 0, Replicas: strategy.Replicas{Stable: 4, Canary: 3}},  // then traffic
			stable4, // then the canary goes
		}
		for i, w := range want {
			if got := h[n-3+i].State; got != w {
				t.Fatalf("rollback apply %d = %s, want %s", i, got, w)
			}
		}
		if gap := h[n-2].At.Sub(h[n-3].At); gap != 20*time.Second {
			t.Fatalf("traffic moved %v after capacity, want the 20s readiness delay", gap)
		}
		if err := strategytest.CheckCapacityBeforeTraffic(stable4, h); err != nil {
			t.Fatal(err)
		}
		if res.RollbackFinished.Sub(res.FailedAt) != 20*time.Second {
			t.Fatalf("time to restore %v", res.RollbackFinished.Sub(res.FailedAt))
		}
		ph := ev.phases()
		if len(ph) < 3 || ph[len(ph)-2] != strategy.PhaseRollingBack || ph[len(ph)-1] != strategy.PhaseRolledBack {
			t.Fatalf("phases %v", ph)
		}
	})
}

func TestBackgroundFailDuringPause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tgt := strategytest.NewTarget(stable4)
		bg := &strategytest.Analyzer{ID: "bg", Answers: []strategytest.Answer{{Outcome: strategy.Fail, After: 5 * time.Minute}}}
		rel := release(tgt, planOf(strategy.Apply(at(20, 1)), strategy.Pause(time.Hour), strategy.Apply(at(100, 4))), strategy.Options{})
		rel.Background = []strategy.Background{{From: 0, Analyzers: []strategy.Analyzer{bg}}}
		start := time.Now()
		res, err := strategy.Run(t.Context(), rel)
		if !errors.Is(err, strategy.ErrAnalysisFailed) || tgt.State() != stable4 {
			t.Fatalf("%s %v", res.Phase, err)
		}
		if d := res.FailedAt.Sub(start); d != 5*time.Minute {
			t.Fatalf("failed after %v, want the analyzer's 5m", d)
		}
		if d := res.RollbackFinished.Sub(res.FailedAt); d != 0 {
			t.Fatalf("rollback took %v in a target with instant readiness", d)
		}
	})
}

func TestInconclusivePausesThenPromoteOrAbort(t *testing.T) {
	for _, promote := range []bool{true, false} {
		synctest.Test(t, func(t *testing.T) {
			tgt := strategytest.NewTarget(stable4)
			r, _ := strategy.Start(t.Context(), release(tgt, planOf(strategy.Apply(at(20, 1)),
				strategy.Analyze(strategytest.Script("low-traffic", strategy.Inconclusive)), strategy.Apply(at(100, 4))), strategy.Options{}))
			waitPhase(t, r, strategy.PhasePaused)
			if st := r.Status(); st.PauseReason != strategy.PausedForInconclusive || !strings.Contains(st.Reason, "low-traffic") {
				t.Fatalf("status %+v", st)
			}
			if promote {
				_ = r.Promote()
			} else {
				_ = r.Abort()
			}
			res, err := r.Wait(t.Context())
			if promote && (err != nil || tgt.State() != final4) {
				t.Fatalf("promote: %s %v", res.Phase, err)
			}
			if !promote && (!errors.Is(err, strategy.ErrAborted) || tgt.State() != stable4) {
				t.Fatalf("abort: %s %v", res.Phase, err)
			}
		})
	}
}

func TestAnalyzerErrorIsNeverAPass(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tgt := strategytest.NewTarget(stable4)
		a := &strategytest.Analyzer{ID: "prom", Answers: []strategytest.Answer{{Err: errors.New("connection refused")}}}
		r, _ := strategy.Start(t.Context(), release(tgt, planOf(strategy.Apply(at(20, 1)), strategy.Analyze(a), strategy.Apply(at(100, 4))), strategy.Options{}))
		waitPhase(t, r, strategy.PhasePaused)
		st := r.Status()
		if len(st.Verdicts) != 1 || st.Verdicts[0].Outcome != strategy.Inconclusive || !strings.Contains(st.Verdicts[0].Reason, "connection refused") {
			t.Fatalf("verdicts %+v", st.Verdicts)
		}
		_ = r.Abort()
		_, _ = r.Wait(t.Context())
	})
}

func TestFailurePolicies(t *testing.T) {
	t.Run("tolerate one", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			tgt := strategytest.NewTarget(stable4)
			a := strategytest.Script("flaky", strategy.Fail, strategy.Pass)
			res, err := strategy.Run(t.Context(), release(tgt, planOf(strategy.Apply(at(20, 1)), strategy.Analyze(a), strategy.Apply(at(100, 4))),
				strategy.Options{OnFail: strategy.Policy{Allowed: 1}}))
			if err != nil || a.Calls() != 2 {
				t.Fatalf("%s %v calls %d", res.Phase, err, a.Calls())
			}
		})
	})
	t.Run("second failure rolls back", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			tgt := strategytest.NewTarget(stable4)
			a := strategytest.Script("bad", strategy.Fail)
			_, err := strategy.Run(t.Context(), release(tgt, planOf(strategy.Apply(at(20, 1)), strategy.Analyze(a), strategy.Apply(at(100, 4))),
				strategy.Options{OnFail: strategy.Policy{Allowed: 1}}))
			if !errors.Is(err, strategy.ErrAnalysisFailed) || a.Calls() != 2 || tgt.State() != stable4 {
				t.Fatalf("%v calls %d", err, a.Calls())
			}
		})
	})
	t.Run("pause and hold", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			tgt := strategytest.NewTarget(stable4)
			r, _ := strategy.Start(t.Context(), release(tgt, planOf(strategy.Apply(at(20, 1)), strategy.Analyze(strategytest.Script("bad", strategy.Fail)), strategy.Apply(at(100, 4))),
				strategy.Options{OnFail: strategy.Policy{Pause: true}}))
			time.Sleep(24 * time.Hour)
			waitPhase(t, r, strategy.PhasePaused)
			if st := r.Status(); st.PauseReason != strategy.PausedForFailure || st.State != at(20, 1) {
				t.Fatalf("status %+v", st)
			}
			_ = r.Abort()
			if _, err := r.Wait(t.Context()); !errors.Is(err, strategy.ErrAborted) || tgt.State() != stable4 {
				t.Fatalf("%v", err)
			}
		})
	})
}

func TestDeadline(t *testing.T) {
	t.Run("rolls back", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			tgt := strategytest.NewTarget(stable4)
			tgt.NeverReady = []strategy.Revision{"v2"}
			start := time.Now()
			res, err := strategy.Run(t.Context(), release(tgt, planOf(strategy.Apply(at(0, 1)), strategy.WaitReady(0), strategy.Apply(at(20, 1))),
				strategy.Options{ProgressDeadline: 3 * time.Minute}))
			if !errors.Is(err, strategy.ErrDeadlineExceeded) || tgt.State() != stable4 {
				t.Fatalf("%s %v", res.Phase, err)
			}
			if d := time.Since(start); d != 3*time.Minute {
				t.Fatalf("gave up after %v", d)
			}
			for _, h := range tgt.History() {
				if h.State.Weight > 0 {
					t.Fatalf("traffic moved onto a canary that never became ready: %s", h.State)
				}
			}
		})
	})
	t.Run("pauses", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			tgt := strategytest.NewTarget(stable4)
			tgt.NeverReady = []strategy.Revision{"v2"}
			r, _ := strategy.Start(t.Context(), release(tgt, planOf(strategy.Apply(at(20, 1)), strategy.Apply(at(100, 4))),
				strategy.Options{ProgressDeadline: time.Minute, OnDeadline: strategy.Policy{Pause: true}}))
			time.Sleep(2 * time.Minute)
			waitPhase(t, r, strategy.PhasePaused)
			if st := r.Status(); st.PauseReason != strategy.PausedForDeadline || st.State.Weight != 0 {
				t.Fatalf("status %+v", st)
			}
			tgt.NeverReady = nil
			_ = r.Promote() // try again
			if _, err := r.Wait(t.Context()); err != nil || tgt.State() != final4 {
				t.Fatalf("%v %s", err, tgt.State())
			}
		})
	})
}

func TestApplyRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tgt := strategytest.NewTarget(stable4)
		tgt.Faults = []strategytest.Fault{{Op: strategytest.OpApply, Times: 3}}
		ev := &events{}
		rel := release(tgt, planOf(strategy.Apply(at(20, 1)), strategy.Apply(at(100, 4))), strategy.Options{})
		rel.Observer = ev
		if _, err := strategy.Run(t.Context(), rel); err != nil {
			t.Fatal(err)
		}
		fails := 0
		for _, e := range ev.all {
			if f, ok := e.(strategy.ApplyFailed); ok && f.WillRetry {
				fails++
			}
		}
		if fails != 3 || tgt.Calls(strategytest.OpApply) != 3+len(tgt.History()) {
			t.Fatalf("%d retried failures, %d apply calls", fails, tgt.Calls(strategytest.OpApply))
		}
	})
}

func TestPermanentErrorIsNotRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tgt := strategytest.NewTarget(stable4)
		tgt.Faults = []strategytest.Fault{{Op: strategytest.OpApply, Times: 1, Permanent: true}}
		_, err := strategy.Run(t.Context(), release(tgt, planOf(strategy.Apply(at(20, 1)), strategy.Apply(at(100, 4))), strategy.Options{}))
		if !errors.Is(err, strategy.ErrTarget) || !errors.Is(err, strategytest.ErrInjected) {
			t.Fatalf("%v", err)
		}
		// One failed attempt and no retry; the target never left the
		// stable State, so the rollback has nothing to apply.
		if n := tgt.Calls(strategytest.OpApply); n != 1 || tgt.State() != stable4 {
			t.Fatalf("%d apply calls, state %s", n, tgt.State())
		}
	})
}

func TestDegradedIsLoud(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tgt := strategytest.NewTarget(stable4)
		tgt.Faults = []strategytest.Fault{{Op: strategytest.OpApply, After: 2}} // every apply after the release's two fails
		ev := &events{}
		rel := release(tgt, planOf(strategy.Apply(at(20, 1)), strategy.Analyze(strategytest.Script("bad", strategy.Fail))), strategy.Options{RetryBudget: time.Minute})
		rel.Observer = ev
		res, err := strategy.Run(t.Context(), rel)
		if !errors.Is(err, strategy.ErrDegraded) || !errors.Is(err, strategy.ErrAnalysisFailed) || res.Phase != strategy.PhaseDegraded {
			t.Fatalf("%s %v", res.Phase, err)
		}
		found := false
		for _, e := range ev.all {
			if _, ok := e.(strategy.ReleaseDegraded); ok {
				found = true
			}
		}
		if !found || !strings.Contains(res.Reason, "rollback could not be applied") {
			t.Fatalf("degraded without an event or reason: %q", res.Reason)
		}
	})
}

func TestCancelRollsBackOnFreshContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tgt := strategytest.NewTarget(stable4)
		tgt.ReadyAfter = 10 * time.Second
		ctx, cancel := context.WithCancel(t.Context())
		r, _ := strategy.Start(ctx, release(tgt, planOf(strategy.Apply(at(50, 2)), strategy.Pause(time.Hour), strategy.Apply(at(100, 4))), strategy.Options{}))
		time.Sleep(time.Minute)
		cancel()
		res, err := r.Wait(t.Context())
		if !errors.Is(err, strategy.ErrCancelled) || !errors.Is(err, context.Canceled) || res.Phase != strategy.PhaseRolledBack || tgt.State() != stable4 {
			t.Fatalf("%s %v %s", res.Phase, err, tgt.State())
		}
	})
}

func TestCancelLeaveAsRecorded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tgt := strategytest.NewTarget(stable4)
		ctx, cancel := context.WithCancel(t.Context())
		r, _ := strategy.Start(ctx, release(tgt, planOf(strategy.Apply(at(50, 2)), strategy.Pause(time.Hour), strategy.Apply(at(100, 4))),
			strategy.Options{OnCancel: strategy.Policy{Leave: true}}))
		time.Sleep(time.Minute)
		cancel()
		res, err := r.Wait(t.Context())
		if !errors.Is(err, strategy.ErrStopped) || res.Phase != strategy.PhaseStopped || tgt.State() != at(50, 2) {
			t.Fatalf("%s %v %s", res.Phase, err, tgt.State())
		}
	})
}

func TestUserPauseHoldsBetweenSteps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tgt := strategytest.NewTarget(stable4)
		r, _ := strategy.Start(t.Context(), release(tgt, planOf(strategy.Apply(at(20, 1)), strategy.Pause(time.Minute), strategy.Apply(at(100, 4))), strategy.Options{}))
		synctest.Wait()
		_ = r.Pause()
		time.Sleep(time.Hour)
		waitPhase(t, r, strategy.PhasePaused)
		if st := r.Status(); st.State != at(20, 1) {
			t.Fatalf("moved on while paused: %s", st.State)
		}
		_ = r.Unpause()
		if _, err := r.Wait(t.Context()); err != nil || tgt.State() != final4 {
			t.Fatalf("%v", err)
		}
	})
}

func TestRetryAfterAbort(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tgt := strategytest.NewTarget(stable4)
		r, _ := strategy.Start(t.Context(), release(tgt, planOf(strategy.Apply(at(20, 1)), strategy.Pause(0), strategy.Apply(at(100, 4))), strategy.Options{}))
		synctest.Wait()
		if _, err := r.Retry(t.Context()); err == nil {
			t.Fatal("retry of a running release was allowed")
		}
		_ = r.Abort()
		_, _ = r.Wait(t.Context())
		r2, err := r.Retry(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		waitPhase(t, r2, strategy.PhasePaused)
		_ = r2.Promote()
		if _, err := r2.Wait(t.Context()); err != nil || tgt.State() != final4 {
			t.Fatalf("%v", err)
		}
	})
}

func TestJournalFailureStopsBeforeApply(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tgt := strategytest.NewTarget(stable4)
		j := &recordingJournal{tgt: tgt, failAt: 6}
		res, err := strategy.Run(t.Context(), release(tgt, planOf(strategy.Apply(at(20, 1)), strategy.Apply(at(50, 2)), strategy.Apply(at(100, 4))),
			strategy.Options{Journal: j}))
		if !errors.Is(err, strategy.ErrJournal) || res.Phase != strategy.PhaseStopped {
			t.Fatalf("%s %v", res.Phase, err)
		}
		if err := checkRecordedBeforeApplied(tgt.History(), 0, j.all()); err != nil {
			t.Fatal(err)
		}
		if len(tgt.History()) == 0 || len(tgt.History()) >= 3 {
			t.Fatalf("%d applies", len(tgt.History()))
		}
	})
}

func TestHeaderRouteNeedsCapability(t *testing.T) {
	routed := at(0, 1)
	routed.Route = strategy.HeaderRoute{Header: "X-Beta", Exact: "1"}
	tgt := strategytest.NewTarget(stable4)
	_, err := strategy.Validate(release(tgt, planOf(strategy.Apply(routed)), strategy.Options{}))
	if !errors.Is(err, strategy.ErrInvalidConfig) {
		t.Fatalf("%v", err)
	}
	tgt.HeaderRouting = true
	synctest.Test(t, func(t *testing.T) {
		if _, err := strategy.Run(t.Context(), release(tgt, planOf(strategy.Apply(routed), strategy.Apply(at(100, 4))), strategy.Options{})); err != nil {
			t.Fatal(err)
		}
	})
}

func TestSlogObserver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf bytes.Buffer
		logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}}))
		rel := release(strategytest.NewTarget(stable4), planOf(strategy.Apply(at(20, 1)), strategy.Analyze(strategytest.Script("errors", strategy.Fail))), strategy.Options{})
		rel.Observer = strategy.SlogObserver(logger)
		_, _ = strategy.Run(t.Context(), rel)
		out := buf.String()
		for _, want := range []string{"release started", "level=WARN msg=verdict", "outcome=Fail", "rollback started", "rollback finished", "phase=RolledBack"} {
			if !strings.Contains(out, want) {
				t.Errorf("log lacks %q:\n%s", want, out)
			}
		}
	})
}

func TestResumeFingerprintIncludesReleaseBackground(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tgt := strategytest.NewTarget(stable4)
		j := &recordingJournal{tgt: tgt}
		rel := release(tgt, planOf(strategy.Apply(at(20, 1)), strategy.Apply(at(100, 4))), strategy.Options{Journal: j})
		rel.Background = []strategy.Background{{From: 0, Analyzers: []strategy.Analyzer{&strategytest.Analyzer{ID: "bg", Answers: []strategytest.Answer{{Block: true}}}}}}
		if _, err := strategy.Run(t.Context(), rel); err != nil {
			t.Fatal(err)
		}
		fp := j.all()[0].rec.Fingerprint
		rel.Options.Journal = nil
		rel.Resume = &strategy.Checkpoint{Fingerprint: fp, Step: 1}
		if _, err := strategy.Validate(rel); err != nil {
			t.Fatalf("the recorded fingerprint does not match the same release: %v", err)
		}
		rel.Background = nil
		if _, err := strategy.Validate(rel); !errors.Is(err, strategy.ErrInvalidConfig) || !strings.Contains(err.Error(), "plan changed") {
			t.Fatalf("a changed plan was accepted for resume: %v", err)
		}
	})
}

func TestStrategyRollbackPathWaitsForAddedInstances(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tgt := strategytest.NewTarget(stable4)
		tgt.ReadyAfter = 15 * time.Second
		half := func(s, c int) strategy.State {
			return strategy.State{Stable: "v1", Canary: "v2", Weight: 50, Replicas: strategy.Replicas{Stable: s, Canary: c}}
		}
		s := strategy.StrategyFunc(func(_, _ strategy.Revision) (strategy.Plan, error) {
			return strategy.Plan{Strategy: "batches", Stable: stable4, Final: final4,
				Steps: []strategy.Step{strategy.Apply(half(4, 2)), strategy.Apply(half(2, 2)),
					strategy.Analyze(strategytest.Script("bad", strategy.Fail))},
				// Back batch by batch: add old instances, and only once they
				// are ready remove new ones.
				Rollback: func(from strategy.State) []strategy.State {
					return []strategy.State{half(4, 2), half(4, 1), stable4}
				}}, nil
		})
		if _, err := strategy.Run(t.Context(), release(tgt, s, strategy.Options{})); !errors.Is(err, strategy.ErrAnalysisFailed) {
			t.Fatal(err)
		}
		h := tgt.History()
		n := len(h)
		if h[n-3].State != half(4, 2) || h[n-2].State != half(4, 1) || h[n-2].At.Sub(h[n-3].At) != 15*time.Second {
			t.Fatalf("the rollback did not wait for the added instances: %v then %v after %v", h[n-3].State, h[n-2].State, h[n-2].At.Sub(h[n-3].At))
		}
		if err := strategytest.CheckCapacityBeforeTraffic(stable4, h); err != nil {
			t.Fatal(err)
		}
	})
}

func TestInstancelessRevisionMustBeUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// A target without instances (a splitter in front of fixed
		// upstreams): the canary's upstream is down, so a wait-ready step
		// must not pass even though no traffic goes to it yet.
		plain := strategy.State{Stable: "v1"}
		tgt := strategytest.NewTarget(plain)
		tgt.NeverReady = []strategy.Revision{"v2"}
		a := strategytest.Script("pre", strategy.Pass)
		s := strategy.StrategyFunc(func(_, _ strategy.Revision) (strategy.Plan, error) {
			return strategy.Plan{Strategy: "preview", Steps: []strategy.Step{
				strategy.Apply(strategy.State{Stable: "v1", Canary: "v2"}), strategy.WaitReady(time.Minute), strategy.Analyze(a),
				strategy.Apply(strategy.State{Stable: "v2"}),
			}}, nil
		})
		_, err := strategy.Run(t.Context(), release(tgt, s, strategy.Options{}))
		if !errors.Is(err, strategy.ErrDeadlineExceeded) || a.Calls() != 0 || tgt.State() != plain {
			t.Fatalf("%v, analysis calls %d, state %s", err, a.Calls(), tgt.State())
		}
	})
}

// lastWord is a background analyzer that watches until cancelled and then
// says what it saw.
type lastWord struct{ final strategy.Outcome }

func (l lastWord) Name() string { return "last-word" }
func (l lastWord) Analyze(ctx context.Context, in strategy.Input) (strategy.Verdict, error) {
	<-ctx.Done()
	if context.Cause(ctx) != strategy.ErrPlanComplete {
		return strategy.Verdict{}, ctx.Err()
	}
	return strategy.Verdict{Outcome: l.final, Reason: "no data seen"}, nil
}

func TestBackgroundLastWordBeforeFinalStep(t *testing.T) {
	for _, final := range []strategy.Outcome{strategy.Pass, strategy.Inconclusive, strategy.Fail} {
		t.Run(string(final), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tgt := strategytest.NewTarget(stable4)
				rel := release(tgt, planOf(strategy.Apply(at(50, 2)), strategy.Pause(time.Minute), strategy.Apply(at(100, 4))), strategy.Options{})
				rel.Background = []strategy.Background{{From: 0, Analyzers: []strategy.Analyzer{lastWord{final}}}}
				r, _ := strategy.Start(t.Context(), rel)
				time.Sleep(2 * time.Minute)
				synctest.Wait()
				switch final {
				case strategy.Pass:
					if res, err := r.Wait(t.Context()); err != nil || res.Phase != strategy.PhasePromoted {
						t.Fatalf("%s %v", res.Phase, err)
					}
				case strategy.Inconclusive:
					st := r.Status()
					if st.Phase != strategy.PhasePaused || st.PauseReason != strategy.PausedForInconclusive || tgt.State() == final4 {
						t.Fatalf("did not pause before promoting: %+v", st)
					}
					_ = r.Promote()
					if res, err := r.Wait(t.Context()); err != nil || tgt.State() != final4 {
						t.Fatalf("%s %v", res.Phase, err)
					}
				case strategy.Fail:
					if _, err := r.Wait(t.Context()); !errors.Is(err, strategy.ErrAnalysisFailed) || tgt.State() != stable4 {
						t.Fatalf("%v %s", err, tgt.State())
					}
				}
			})
		})
	}
}

type badConfig struct{ strategytest.Analyzer }

func (b *badConfig) Validate() error {
	return strategy.Invalid("check "+b.ID, "interval is negative", "unparseable condition \"result >\"")
}

func TestAnalyzersAreValidatedUpFront(t *testing.T) {
	tgt := strategytest.NewTarget(stable4)
	rel := release(tgt, planOf(strategy.Apply(at(20, 1)), strategy.Analyze(&badConfig{strategytest.Analyzer{ID: "rate"}})), strategy.Options{})
	rel.Background = []strategy.Background{{From: 0, Analyzers: []strategy.Analyzer{&badConfig{strategytest.Analyzer{ID: "latency"}}}}}
	_, err := strategy.Run(t.Context(), rel)
	if !errors.Is(err, strategy.ErrInvalidConfig) {
		t.Fatal(err)
	}
	for _, want := range []string{"step 1 (analyze): analyzer 0 (rate): interval is negative", "(rate): unparseable condition", "release background analysis 0: analyzer 0 (latency): interval is negative"} {
		if !strategytest.HasProblem(err, want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if len(tgt.History()) != 0 {
		t.Fatal("applied a release with invalid analyzers")
	}
}

func TestAnalysisStepTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tgt := strategytest.NewTarget(stable4)
		forever := &strategytest.Analyzer{ID: "forever", Answers: []strategytest.Answer{{Outcome: strategy.Pass, After: 24 * time.Hour}}}
		r, _ := strategy.Start(t.Context(), release(tgt, planOf(strategy.Apply(at(20, 1)), strategy.Analyze(forever).WithTimeout(5*time.Minute), strategy.Apply(at(100, 4))), strategy.Options{}))
		time.Sleep(5 * time.Minute)
		waitPhase(t, r, strategy.PhasePaused)
		st := r.Status()
		if st.PauseReason != strategy.PausedForInconclusive || !strings.Contains(st.Reason, "within the step's timeout of 5m0s") {
			t.Fatalf("status %+v", st)
		}
		_ = r.Abort()
		if _, err := r.Wait(t.Context()); !errors.Is(err, strategy.ErrAborted) {
			t.Fatal(err)
		}
	})
}

func TestCancelledBeforeStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tgt := strategytest.NewTarget(stable4)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		res, err := strategy.Run(ctx, release(tgt, planOf(strategy.Apply(at(20, 1))), strategy.Options{}))
		if !errors.Is(err, strategy.ErrCancelled) || res.Phase != strategy.PhaseStopped || len(tgt.History()) != 0 {
			t.Fatalf("%s %v, %d applies", res.Phase, err, len(tgt.History()))
		}
	})
}

func TestInterruptedPauseResumesWithTimeLeft(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tgt := strategytest.NewTarget(stable4)
		bg := &strategytest.Analyzer{ID: "bg", Answers: []strategytest.Answer{
			{Outcome: strategy.Inconclusive, After: 4 * time.Minute}, {Block: true}}}
		rel := release(tgt, planOf(strategy.Apply(at(20, 1)), strategy.Pause(10*time.Minute), strategy.Apply(at(100, 4))), strategy.Options{})
		rel.Background = []strategy.Background{{From: 0, Analyzers: []strategy.Analyzer{bg}}}
		start := time.Now()
		r, _ := strategy.Start(t.Context(), rel)
		time.Sleep(5 * time.Minute)
		waitPhase(t, r, strategy.PhasePaused)
		if st := r.Status(); st.PauseReason != strategy.PausedForInconclusive {
			t.Fatalf("status %+v", st)
		}
		_ = r.Promote()
		if _, err := r.Wait(t.Context()); err != nil {
			t.Fatal(err)
		}
		// 4 minutes of the pause before the verdict, a minute on hold, and
		// the 6 minutes the pause had left.
		h := tgt.History()
		if d := h[len(h)-1].At.Sub(start); d != 11*time.Minute {
			t.Fatalf("promoted after %v, want 11m", d)
		}
	})
}

func TestRetryRefusesAJournaledRelease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tgt := strategytest.NewTarget(stable4)
		j := &recordingJournal{tgt: tgt}
		r, _ := strategy.Start(t.Context(), release(tgt, planOf(strategy.Apply(at(20, 1)), strategy.Analyze(strategytest.Script("bad", strategy.Fail))), strategy.Options{Journal: j}))
		if _, err := r.Wait(t.Context()); !errors.Is(err, strategy.ErrAnalysisFailed) {
			t.Fatal(err)
		}
		if next, err := r.Retry(t.Context()); err == nil || next != nil || !strings.Contains(err.Error(), "journal") {
			t.Fatalf("retry of a journaled release: %v", err)
		}
	})
}
