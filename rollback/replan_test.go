package rollback_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/glidepath/glidepath/rollback"
	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/strategytest"
)

// weightedPlan is a canary that holds at weight% for a minute, analyses,
// then goes to 100% and promotes.
func weightedPlan(weight int) strategy.Strategy {
	return strategy.StrategyFunc(func(stable, canary strategy.Revision) (strategy.Plan, error) {
		st := strategy.State{Stable: stable, Replicas: strategy.Replicas{Stable: 4}}
		return strategy.Plan{
			Strategy: "test-canary",
			Stable:   st,
			Steps: []strategy.Step{
				strategy.Apply(strategy.State{Stable: stable, Canary: canary, Weight: weight, Replicas: strategy.Replicas{Stable: 4, Canary: 2}}).
					Named("canary " + strconv.Itoa(weight) + "%"),
				strategy.Pause(time.Minute).Named("bake"),
				strategy.Analyze(strategytest.Script("checks", strategy.Pass)),
				strategy.Apply(strategy.State{Stable: stable, Canary: canary, Weight: 100, Replicas: strategy.Replicas{Stable: 4, Canary: 4}}),
				strategy.Apply(strategy.State{Stable: canary, Replicas: strategy.Replicas{Stable: 4}}),
			},
		}, nil
	})
}

// stoppedAt40 leaves a v1->v2 release on s stopped inside its pause, with
// 40% of the target's traffic on v2.
func stoppedAt40(t *testing.T, s rollback.Store, tgt *strategytest.Target) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	ro, err := newManager(s, "a").Start(ctx, "svc", strategy.Release{Target: tgt, Stable: "v1", Canary: "v2",
		Strategy: weightedPlan(40), Options: strategy.Options{OnCancel: strategy.Policy{Leave: true}}})
	if err != nil {
		t.Fatal(err)
	}
	advance(30 * time.Second) // inside the one-minute pause
	cancel()
	if _, err := ro.Wait(t.Context()); !errors.Is(err, strategy.ErrStopped) {
		t.Fatalf("stop: %v", err)
	}
	if st := tgt.State(); st.Canary != "v2" || st.Weight != 40 {
		t.Fatalf("stopped release left %v", st)
	}
}

func TestRollBackResumeAfterPlanChange(t *testing.T) {
	for sname, newStore := range stores(t) {
		for name, strat := range map[string]strategy.Strategy{"changed plan": weightedPlan(50), "no plan": nil} {
			t.Run(sname+"/"+name, func(t *testing.T) {
				rollBackResume(t, newStore, strat)
			})
		}
	}
}

func rollBackResume(t *testing.T, newStore func(*testing.T) rollback.Store, strat strategy.Strategy) {
	synctest.Test(t, func(t *testing.T) {
		s := newStore(t)
		tgt := strategytest.NewTarget(v1State)
		tgt.ReadyAfter = 5 * time.Second
		stoppedAt40(t, s, tgt)
		m := newManager(s, "b")
		ro, err := m.Resume(t.Context(), "svc", strategy.Release{Target: tgt, Strategy: strat},
			rollback.ResumeOptions{Mode: rollback.RollBack})
		if err != nil {
			t.Fatalf("rollback resume: %v", err)
		}
		res, err := ro.Wait(t.Context())
		if res.Phase != strategy.PhaseRolledBack || !errors.Is(err, strategy.ErrAborted) {
			t.Fatalf("rollback resume ended %v: %v", res.Phase, err)
		}
		if got := tgt.State(); got != v1State {
			t.Fatalf("target left at %v, want %v", got, v1State)
		}
		if err := strategytest.CheckCapacityBeforeTraffic(v1State, tgt.History()); err != nil {
			t.Fatal(err)
		}
		hist, err := m.History(t.Context(), "svc")
		if err != nil || len(hist) != 1 {
			t.Fatalf("history %v %v", hist, err)
		}
		// Every State the rollback applied was journaled first.
		p := rollback.Replay(journalOf(t, s, "svc", hist[0]))
		if i := subsequence(p.Intents, tgt.States()); i >= 0 {
			t.Fatalf("applied %v without a journaled intent", tgt.States()[i])
		}
		if e := hist[0]; e.Phase != strategy.PhaseRolledBack || e.Stable != "v1" || e.Canary != "v2" ||
			e.Resumed != 1 || e.Final != v1State || e.Strategy != "test-canary" {
			t.Fatalf("history entry %+v", e)
		}
		if p, err := m.Pending(t.Context(), "svc"); p != nil || err != nil {
			t.Fatalf("pending after the rollback: %v %v", p, err)
		}
	})
}

func TestResumeWithChangedPlanNamesTheStep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := rollback.NewMemStore()
		tgt := strategytest.NewTarget(v1State)
		stoppedAt40(t, s, tgt)
		applied := len(tgt.States())
		m := newManager(s, "b")
		_, err := m.Resume(t.Context(), "svc", strategy.Release{Target: tgt, Strategy: weightedPlan(50)}, rollback.ResumeOptions{})
		if !errors.Is(err, rollback.ErrPlanChanged) {
			t.Fatalf("resume with a changed plan: %v", err)
		}
		for _, want := range []string{"step 0 (canary 40%)", "name canary 40% → canary 50%", "weight 40 → 50"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
		var pc *rollback.PlanChangedError
		if !errors.As(err, &pc) || len(pc.Differences) != 1 || pc.Recorded == pc.Now {
			t.Fatalf("error %#v", err)
		}
		if len(tgt.States()) != applied {
			t.Fatal("a refused resume touched the target")
		}
		// Nothing else differs in the message than what changed.
		if strings.Contains(err.Error(), "bake") || strings.Contains(err.Error(), "replicas") {
			t.Errorf("error names unchanged steps or fields: %v", err)
		}

		// Other changes: a step added, a pause lengthened, the stable State.
		longer := strategy.StrategyFunc(func(stable, canary strategy.Revision) (strategy.Plan, error) {
			p, _ := weightedPlan(40).Plan(stable, canary)
			p.Stable.Replicas.Stable = 5
			p.Steps[1].Duration = 2 * time.Minute
			p.Steps = append(p.Steps, strategy.Pause(time.Second).Named("extra"))
			return p, nil
		})
		_, err = m.Resume(t.Context(), "svc", strategy.Release{Target: tgt, Strategy: longer}, rollback.ResumeOptions{})
		if !errors.Is(err, rollback.ErrPlanChanged) {
			t.Fatalf("resume with a changed plan: %v", err)
		}
		t.Log(err)
		for _, want := range []string{"stable State: replicas.stable 4 → 5", "step 1 (bake): duration 1m0s → 2m0s",
			"5 steps → 6", "step 5 (extra) added"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}

		// The same plan still resumes and finishes the release.
		ro, err := m.Resume(t.Context(), "svc", strategy.Release{Target: tgt, Strategy: weightedPlan(40)}, rollback.ResumeOptions{})
		if err != nil {
			t.Fatalf("resume with the same plan: %v", err)
		}
		if res, err := ro.Wait(t.Context()); err != nil || res.Phase != strategy.PhasePromoted || tgt.State() != stateOf("v2") {
			t.Fatalf("resume with the same plan: %v %v, target %v", res.Phase, err, tgt.State())
		}
	})
}

// A release recorded before the plan was kept in the store: the error
// falls back to the fingerprints, and a rollback needs the same plan.
func TestResumeOfReleaseWithoutRecordedPlan(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := rollback.NewMemStore()
		tgt := strategytest.NewTarget(v1State)
		stoppedAt40(t, s, tgt)
		err := s.Update(t.Context(), "svc", nil, func(tr *rollback.TargetRecord) error {
			if tr.Active == nil || tr.Active.Recorded == nil {
				t.Fatalf("active release %+v does not record its plan", tr.Active)
			}
			tr.Active.Recorded = nil
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		applied := len(tgt.States())
		m := newManager(s, "b")
		_, err = m.Resume(t.Context(), "svc", strategy.Release{Target: tgt, Strategy: weightedPlan(50)}, rollback.ResumeOptions{})
		var pc *rollback.PlanChangedError
		if !errors.Is(err, rollback.ErrPlanChanged) || !errors.As(err, &pc) || len(pc.Differences) != 0 ||
			!strings.Contains(err.Error(), pc.Recorded) || !strings.Contains(err.Error(), pc.Now) {
			t.Fatalf("resume with a changed plan: %v", err)
		}
		_, err = m.Resume(t.Context(), "svc", strategy.Release{Target: tgt}, rollback.ResumeOptions{Mode: rollback.RollBack})
		if err == nil || !strings.Contains(err.Error(), "Strategy") {
			t.Fatalf("rollback resume without a plan or a recorded one: %v", err)
		}
		if len(tgt.States()) != applied {
			t.Fatal("a refused resume touched the target")
		}
		ro, err := m.Resume(t.Context(), "svc", strategy.Release{Target: tgt, Strategy: weightedPlan(40)}, rollback.ResumeOptions{Mode: rollback.RollBack})
		if err != nil {
			t.Fatal(err)
		}
		if res, _ := ro.Wait(t.Context()); res.Phase != strategy.PhaseRolledBack || tgt.State() != v1State {
			t.Fatalf("rollback: %v, target %v", res.Phase, tgt.State())
		}
	})
}

// A release whose rollback degraded (the target refused it) is finished
// from its record by a plain resume, with no plan at all: Undo refuses a
// half-applied target and Abandon would leave its traffic split.
func TestDegradedRollbackFinishesWithoutPlan(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := rollback.NewMemStore()
		tgt := strategytest.NewTarget(v1State)
		stoppedAt40(t, s, tgt)
		tgt.Faults = []strategytest.Fault{{Op: strategytest.OpApply, Permanent: true}}
		m := newManager(s, "b")
		ro, err := m.Resume(t.Context(), "svc", strategy.Release{Target: tgt, Strategy: weightedPlan(40)}, rollback.ResumeOptions{Mode: rollback.RollBack})
		if err != nil {
			t.Fatal(err)
		}
		if res, _ := ro.Wait(t.Context()); res.Phase != strategy.PhaseDegraded || tgt.State().Weight != 40 {
			t.Fatalf("rollback against a refusing target: %v, target %v", res.Phase, tgt.State())
		}
		tgt.Faults = nil
		ro, err = m.Resume(t.Context(), "svc", strategy.Release{Target: tgt}, rollback.ResumeOptions{})
		if err != nil {
			t.Fatalf("resume of a degraded release without a plan: %v", err)
		}
		if res, _ := ro.Wait(t.Context()); res.Phase != strategy.PhaseRolledBack || tgt.State() != v1State {
			t.Fatalf("resume of a degraded release: %v, target %v", res.Phase, tgt.State())
		}
		if err := strategytest.CheckCapacityBeforeTraffic(v1State, tgt.History()); err != nil {
			t.Fatal(err)
		}
		hist, _ := m.History(t.Context(), "svc")
		if len(hist) != 1 || hist[0].Phase != strategy.PhaseRolledBack || hist[0].Resumed != 2 {
			t.Fatalf("history %+v", hist)
		}
	})
}

// mutedStore records the start of a run and nothing after it while muted,
// as a disk that fills up just after a resume starts.
type mutedStore struct {
	rollback.Store
	muted atomic.Bool
}

func (s *mutedStore) Append(ctx context.Context, l rollback.Lease, journal string, rec strategy.Record) error {
	if s.muted.Load() && rec.Kind != strategy.RecordStarted {
		return errors.New("disk full")
	}
	return s.Store.Append(ctx, l, journal, rec)
}

// A rollback from the record that stops before its first rollback record
// is still a rollback: a later resume with the release's own plan, in
// Continue mode (as a failover Worker resumes), rolls back rather than
// take the canary on.
func TestRollbackFromRecordStaysARollback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &mutedStore{Store: rollback.NewMemStore()}
		tgt := strategytest.NewTarget(v1State)
		stoppedAt40(t, s, tgt)
		s.muted.Store(true)
		m := newManager(s, "b")
		ro, err := m.Resume(t.Context(), "svc", strategy.Release{Target: tgt}, rollback.ResumeOptions{Mode: rollback.RollBack})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ro.Wait(t.Context()); !errors.Is(err, strategy.ErrJournal) {
			t.Fatalf("rollback with a failing journal: %v", err)
		}
		if st := tgt.State(); st.Weight != 40 {
			t.Fatalf("an unrecorded rollback moved the target to %v", st)
		}
		s.muted.Store(false)
		p, err := m.Pending(t.Context(), "svc")
		if err != nil || p == nil || !p.Progress.Checkpoint.Rollback {
			t.Fatalf("pending after the stopped rollback: %+v %v", p, err)
		}
		ro, err = newManager(s, "c").Resume(t.Context(), "svc", strategy.Release{Target: tgt, Strategy: weightedPlan(40)},
			rollback.ResumeOptions{WaitForLease: true})
		if err != nil {
			t.Fatal(err)
		}
		if res, _ := ro.Wait(t.Context()); res.Phase != strategy.PhaseRolledBack || tgt.State() != v1State {
			t.Fatalf("resume after the stopped rollback: %v, target %v", res.Phase, tgt.State())
		}
	})
}

// A plan too long to keep step by step still keeps its stable State: the
// changed-plan error falls back to the fingerprints, and rolling back
// needs no plan.
func TestLongPlanIsRecordedWithinBounds(t *testing.T) {
	long := func(weight int) strategy.Strategy {
		return strategy.StrategyFunc(func(stable, canary strategy.Revision) (strategy.Plan, error) {
			p, _ := weightedPlan(weight).Plan(stable, canary)
			for range 300 {
				p.Steps = slices.Insert(p.Steps, 2, strategy.Pause(time.Second))
			}
			return p, nil
		})
	}
	synctest.Test(t, func(t *testing.T) {
		s := rollback.NewMemStore()
		tgt := strategytest.NewTarget(v1State)
		ctx, cancel := context.WithCancel(t.Context())
		ro, err := newManager(s, "a").Start(ctx, "svc", strategy.Release{Target: tgt, Stable: "v1", Canary: "v2",
			Strategy: long(40), Options: strategy.Options{OnCancel: strategy.Policy{Leave: true}}})
		if err != nil {
			t.Fatal(err)
		}
		advance(30 * time.Second)
		cancel()
		ro.Wait(t.Context())
		tr, _ := s.Load(t.Context(), "svc")
		if r := tr.Active.Recorded; r == nil || r.StepCount != 305 || r.Steps != nil || r.Stable != v1State {
			t.Fatalf("recorded plan %+v", tr.Active.Recorded)
		}
		m := newManager(s, "b")
		_, err = m.Resume(t.Context(), "svc", strategy.Release{Target: tgt, Strategy: long(50)}, rollback.ResumeOptions{})
		var pc *rollback.PlanChangedError
		if !errors.As(err, &pc) || len(pc.Differences) != 0 || !strings.Contains(err.Error(), pc.Recorded) {
			t.Fatalf("resume with a changed long plan: %v", err)
		}
		ro, err = m.Resume(t.Context(), "svc", strategy.Release{Target: tgt}, rollback.ResumeOptions{Mode: rollback.RollBack})
		if err != nil {
			t.Fatal(err)
		}
		if res, _ := ro.Wait(t.Context()); res.Phase != strategy.PhaseRolledBack || tgt.State() != v1State {
			t.Fatalf("rollback: %v, target %v", res.Phase, tgt.State())
		}
	})
}

// Undo and Start on a target with a stopped release point the operator
// at the rollback that needs no plan.
func TestPendingErrorPointsAtRollBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := rollback.NewMemStore()
		tgt := strategytest.NewTarget(v1State)
		stoppedAt40(t, s, tgt)
		m := newManager(s, "b")
		_, err := m.Undo(t.Context(), "svc", strategy.Release{Target: tgt})
		if !errors.Is(err, rollback.ErrPending) || !strings.Contains(err.Error(), "rollback.RollBack") {
			t.Fatalf("undo over a stopped release: %v", err)
		}
		_, err = m.Start(t.Context(), "svc", strategy.Release{Target: tgt, Stable: "v1", Canary: "v3", Strategy: weightedPlan(40)})
		if !errors.Is(err, rollback.ErrPending) || !strings.Contains(err.Error(), "rollback.RollBack") {
			t.Fatalf("start over a stopped release: %v", err)
		}
	})
}
