package strategy_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/strategytest"
)

// A release whose stable revision is not what the target serves is
// refused before anything is applied, with an error naming both; a first
// release onto an empty target and a deliberate adoption are options.
func TestRefusesWhenTheTargetDoesNotServeStable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		plan := planOf(strategy.Apply(at(20, 1)), strategy.Apply(at(100, 4)))
		v0 := strategy.State{Stable: "v0", Replicas: strategy.Replicas{Stable: 4}}
		for _, tc := range []struct {
			name    string
			serving strategy.State
			opts    strategy.Options
			refused bool
			names   []string
		}{
			{"other revision", v0, strategy.Options{}, true, []string{"v0", "v1"}},
			{"half-done release", at(30, 2), strategy.Options{}, true, []string{"v1 (70%)", "v2 (30%)"}},
			{"empty target", strategy.State{}, strategy.Options{}, true, []string{"no revision", "AllowEmptyTarget"}},
			{"empty target allowed", strategy.State{}, strategy.Options{AllowEmptyTarget: true}, false, nil},
			{"adopted", v0, strategy.Options{AdoptServing: true}, false, nil},
			{"serving stable", stable4, strategy.Options{}, false, nil},
		} {
			tgt := strategytest.NewTarget(tc.serving)
			res, err := strategy.Run(t.Context(), release(tgt, plan, tc.opts))
			if tc.opts.AdoptServing {
				// Not refused: the executor goes on from what is served
				// (here it cannot add v1 under v0's traffic, and says so).
				if errors.Is(err, strategy.ErrServingMismatch) {
					t.Errorf("%s: refused: %v", tc.name, err)
				}
				continue
			}
			if !tc.refused {
				if err != nil || tgt.State() != final4 {
					t.Errorf("%s: %s %v", tc.name, res.Phase, err)
				}
				continue
			}
			if !errors.Is(err, strategy.ErrServingMismatch) || len(tgt.History()) != 0 || res.Phase != strategy.PhaseStopped {
				t.Errorf("%s: %s %v, applied %v", tc.name, res.Phase, err, tgt.States())
				continue
			}
			for _, n := range tc.names {
				if !strings.Contains(err.Error(), n) {
					t.Errorf("%s: the error does not name %q: %v", tc.name, n, err)
				}
			}
		}
	})
}

// A hand-written plan whose stable State is another revision is refused.
func TestRefusesAPlanWithAnotherStable(t *testing.T) {
	s := strategy.StrategyFunc(func(_, _ strategy.Revision) (strategy.Plan, error) {
		return strategy.Plan{Stable: strategy.State{Stable: "v0"}, Steps: []strategy.Step{strategy.Apply(at(100, 4))}}, nil
	})
	_, err := strategy.Validate(release(strategytest.NewTarget(stable4), s, strategy.Options{}))
	if !errors.Is(err, strategy.ErrInvalidConfig) || !strategytest.HasProblem(err, `the plan's stable State is on revision "v0", but the release's stable revision is "v1"`) {
		t.Fatalf("%v", err)
	}
}

// A typed nil Target or Analyzer is refused at validation instead of
// crashing a goroutine later.
func TestRefusesTypedNils(t *testing.T) {
	var tgt *strategytest.Target
	var a *strategytest.Analyzer
	_, err := strategy.Validate(release(tgt, planOf(strategy.Analyze(a), strategy.Apply(at(100, 4))), strategy.Options{}))
	if !errors.Is(err, strategy.ErrInvalidConfig) || !strategytest.HasProblem(err, "nil *strategytest.Target") || !strategytest.HasProblem(err, "analyzer 0 is nil") {
		t.Fatalf("%v", err)
	}
}

// A second Promote while the first is pending is refused with
// ErrNotPaused; it is not kept for the next pause.
func TestSecondPromoteIsRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tgt := strategytest.NewTarget(stable4)
		r, err := strategy.Start(t.Context(), release(tgt, planOf(strategy.Apply(at(20, 1)), strategy.Pause(0), strategy.Pause(0), strategy.Apply(at(100, 4))), strategy.Options{}))
		if err != nil {
			t.Fatal(err)
		}
		waitPhase(t, r, strategy.PhasePaused)
		if err := r.Promote(); err != nil {
			t.Fatal(err)
		}
		if err := r.Promote(); !errors.Is(err, strategy.ErrNotPaused) {
			t.Fatalf("second Promote: %v", err)
		}
		synctest.Wait()
		if st := r.Status(); st.Phase != strategy.PhasePaused || st.Step != 2 {
			t.Fatalf("the second pause was skipped: %+v", st)
		}
		_ = r.Abort()
		_, _ = r.Wait(t.Context())
	})
}

// Status tells a timed pause (and when it ends) from a wait for Promote.
func TestStatusTellsTimedPauseFromWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tgt := strategytest.NewTarget(stable4)
		r, err := strategy.Start(t.Context(), release(tgt, planOf(strategy.Apply(at(20, 1)), strategy.Pause(time.Minute), strategy.Pause(0), strategy.Apply(at(100, 4))), strategy.Options{}))
		if err != nil {
			t.Fatal(err)
		}
		began := time.Now()
		waitPhase(t, r, strategy.PhasePaused)
		if st := r.Status(); !st.PausedUntil.Equal(began.Add(time.Minute)) {
			t.Fatalf("timed pause: until %v, want %v", st.PausedUntil, began.Add(time.Minute))
		}
		time.Sleep(time.Minute)
		waitPhase(t, r, strategy.PhasePaused)
		if st := r.Status(); !st.PausedUntil.IsZero() || st.Step != 2 {
			t.Fatalf("a wait for Promote says until %v (step %d)", st.PausedUntil, st.Step)
		}
		_ = r.Promote()
		if _, err := r.Wait(t.Context()); err != nil {
			t.Fatal(err)
		}
	})
}

type panicky struct {
	*strategytest.Target
	applyPanics, observePanics bool
}

func (p *panicky) Apply(ctx context.Context, s strategy.State) error {
	if p.applyPanics && s.Canary != "" {
		_ = p.Target.Apply(ctx, s) // the work is done, then it panics
		panic("apply exploded")
	}
	return p.Target.Apply(ctx, s)
}

func (p *panicky) Observe(ctx context.Context) (strategy.Observation, error) {
	if p.observePanics {
		panic("observe exploded")
	}
	return p.Target.Observe(ctx)
}

type panicAnalyzer struct{}

func (panicAnalyzer) Analyze(context.Context, strategy.Input) (strategy.Verdict, error) {
	panic("analyzer exploded")
}

type panicJournal struct{ after int }

func (j *panicJournal) Record(context.Context, strategy.Record) error {
	if j.after--; j.after < 0 {
		panic("journal exploded")
	}
	return nil
}

// Panics in user code do not kill the process or leave the target at a
// canary weight.
func TestPanicsInUserCode(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		plan := planOf(strategy.Apply(at(20, 1)), strategy.Analyze(strategytest.Script("ok", strategy.Pass)), strategy.Apply(at(100, 4)))

		// Apply: an Apply of unknown outcome; the rollback restores stable.
		tgt := &panicky{Target: strategytest.NewTarget(stable4), applyPanics: true}
		res, err := strategy.Run(t.Context(), release(tgt, plan, strategy.Options{}))
		if !errors.Is(err, strategy.ErrTarget) || res.Phase != strategy.PhaseRolledBack || tgt.State() != stable4 || !strings.Contains(err.Error(), "apply exploded") {
			t.Fatalf("apply: %s %v, target %s", res.Phase, err, tgt.State())
		}

		// Observe: the target cannot be observed; nothing is applied.
		tgt = &panicky{Target: strategytest.NewTarget(stable4), observePanics: true}
		res, err = strategy.Run(t.Context(), release(tgt, plan, strategy.Options{RetryBudget: time.Second}))
		if !errors.Is(err, strategy.ErrTarget) || len(tgt.History()) != 0 {
			t.Fatalf("observe: %s %v", res.Phase, err)
		}

		// Analyzer: an Inconclusive verdict carrying the panic and stack.
		tgt2 := strategytest.NewTarget(stable4)
		r, err := strategy.Start(t.Context(), release(tgt2, planOf(strategy.Apply(at(20, 1)), strategy.Analyze(panicAnalyzer{}), strategy.Apply(at(100, 4))), strategy.Options{}))
		if err != nil {
			t.Fatal(err)
		}
		waitPhase(t, r, strategy.PhasePaused)
		st := r.Status()
		if st.PauseReason != strategy.PausedForInconclusive || len(st.Verdicts) == 0 || !strings.Contains(st.Verdicts[0].Reason, "analyzer exploded") ||
			!strings.Contains(st.Verdicts[0].Reason, "goroutine") {
			t.Fatalf("analyzer: %+v", st)
		}
		_ = r.Abort()
		_, _ = r.Wait(t.Context())

		// Observer: logged, the release goes on.
		var logs bytes.Buffer
		old := slog.Default()
		slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
		defer slog.SetDefault(old)
		rel := release(strategytest.NewTarget(stable4), plan, strategy.Options{})
		rel.Observer = strategy.ObserverFunc(func(strategy.Event) { panic("observer exploded") })
		if _, err := strategy.Run(t.Context(), rel); err != nil || !strings.Contains(logs.String(), "observer exploded") {
			t.Fatalf("observer: %v, logs %q", err, logs.String())
		}

		// Journal: a journal error; nothing unrecorded is applied.
		tgt3 := strategytest.NewTarget(stable4)
		res, err = strategy.Run(t.Context(), release(tgt3, plan, strategy.Options{Journal: &panicJournal{after: 1}}))
		if !errors.Is(err, strategy.ErrJournal) || len(tgt3.History()) != 0 || !strings.Contains(err.Error(), "journal exploded") {
			t.Fatalf("journal: %s %v, applied %v", res.Phase, err, tgt3.States())
		}
	})
}

// A rollback in batches on a weighted router: the State that halves the
// canary's weight and its instances is preceded by one that halves the
// weight only, so the remaining share never lands on instances that are
// going away.
func TestRollbackTrafficLeavesBeforeCapacity(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tgt := strategytest.NewTarget(stable4)
		st := func(w, s, c int) strategy.State {
			return strategy.State{Stable: "v1", Canary: "v2", Weight: w, Replicas: strategy.Replicas{Stable: s, Canary: c}}
		}
		plan := strategy.StrategyFunc(func(_, _ strategy.Revision) (strategy.Plan, error) {
			return strategy.Plan{Strategy: "batches", Stable: stable4, Final: final4,
				Steps: []strategy.Step{strategy.Apply(st(0, 4, 2)), strategy.Apply(st(50, 2, 2)), strategy.Analyze(strategytest.Script("bad", strategy.Fail))},
				Rollback: func(strategy.State) []strategy.State {
					return []strategy.State{st(50, 4, 2), st(25, 4, 1), stable4}
				}}, nil
		})
		if _, err := strategy.Run(t.Context(), release(tgt, plan, strategy.Options{})); !errors.Is(err, strategy.ErrAnalysisFailed) {
			t.Fatal(err)
		}
		h := tgt.History()
		if err := strategytest.CheckTrafficBeforeCapacity(st(50, 2, 2), h[2:]); err != nil {
			t.Fatalf("%v\nhistory %v", err, tgt.States())
		}
		want := []strategy.State{st(50, 4, 2), st(25, 4, 2), st(25, 4, 1), stable4}
		if got := tgt.States()[2:]; !slices.Equal(got, want) {
			t.Fatalf("rollback applied %v, want %v", got, want)
		}
	})
}
