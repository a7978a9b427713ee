package rollback_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/glidepath/glidepath/rollback"
	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/strategytest"
)

// promoted runs v1->v2->v3 through m on a fresh target.
func promoted(t *testing.T, m *rollback.Manager) *strategytest.Target {
	t.Helper()
	tgt := strategytest.NewTarget(v1State)
	tgt.ReadyAfter = 10 * time.Second
	for _, r := range [][2]strategy.Revision{{"v1", "v2"}, {"v2", "v3"}} {
		if _, err := release(t, m, tgt, r[0], r[1], strategy.Pass); err != nil {
			t.Fatal(err)
		}
	}
	return tgt
}

func TestUndoWithinWindowIsImmediate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newManager(rollback.NewMemStore(), "a")
		m.Window = 3
		tgt := promoted(t, m)
		before := len(tgt.States())
		ro, err := m.Undo(t.Context(), "svc", strategy.Release{Target: tgt})
		if err != nil {
			t.Fatal(err)
		}
		res, err := ro.Wait(t.Context())
		if err != nil || res.Phase != strategy.PhasePromoted || tgt.State() != stateOf("v2") {
			t.Fatalf("undo: %v %v, target %v", res.Phase, err, tgt.State())
		}
		// Capacity first, then traffic, then the bad revision retired; no
		// pauses or analysis replayed.
		want := []strategy.State{
			{Stable: "v3", Canary: "v2", Weight: 0, Replicas: strategy.Replicas{Stable: 4, Canary: 4}},
			{Stable: "v3", Canary: "v2", Weight: 100, Replicas: strategy.Replicas{Stable: 4, Canary: 4}},
			stateOf("v2"),
		}
		got := tgt.States()[before:]
		if len(got) != len(want) {
			t.Fatalf("undo applied %v, want %v", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("undo applied %v, want %v", got, want)
			}
		}
		if err := strategytest.CheckCapacityBeforeTraffic(v1State, tgt.History()); err != nil {
			t.Fatal(err)
		}
		if len(res.Steps) != 2 || len(res.Verdicts) != 0 {
			t.Fatalf("undo ran %d steps and %d analyses", len(res.Steps), len(res.Verdicts))
		}
		hist, _ := m.History(t.Context(), "svc")
		e := hist[len(hist)-1]
		if !e.Undo || e.Strategy != "undo" || e.Stable != "v3" || e.Canary != "v2" || e.Phase != strategy.PhasePromoted {
			t.Fatalf("undo entry %+v", e)
		}
		// The undone revision is refused unless asked for explicitly.
		_, err = release(t, m, tgt, "v2", "v3", strategy.Pass)
		if !errors.Is(err, rollback.ErrRolledBackBefore) || !strings.Contains(err.Error(), "v3") {
			t.Fatalf("re-release of an undone revision: %v", err)
		}
		if len(tgt.States()) != before+3 {
			t.Fatal("a refused release touched the target")
		}
		// Undo again: v3 was undone, so the previous good revision is v1,
		// two revisions back: still within the window.
		ro, err = m.Undo(t.Context(), "svc", strategy.Release{Target: tgt})
		if err != nil {
			t.Fatal(err)
		}
		if res, err := ro.Wait(t.Context()); err != nil || res.Strategy != "undo" || tgt.State() != v1State {
			t.Fatalf("second undo: %v %v, target %v", res.Strategy, err, tgt.State())
		}
		// Nothing good is left before v1.
		if _, err := m.Undo(t.Context(), "svc", strategy.Release{Target: tgt}); !errors.Is(err, rollback.ErrNoPreviousRevision) {
			t.Fatalf("third undo: %v", err)
		}
		ro, err = m.Start(t.Context(), "svc", strategy.Release{Target: tgt, Stable: "v1", Canary: "v3",
			Strategy: canaryPlan(strategytest.Script("checks", strategy.Pass))}, rollback.AllowRolledBack())
		if err != nil {
			t.Fatalf("explicit re-release: %v", err)
		}
		if _, err := ro.Wait(t.Context()); err != nil || tgt.State() != stateOf("v3") {
			t.Fatalf("explicit re-release: %v, target %v", err, tgt.State())
		}
	})
}

func TestUndoOutsideWindowRunsTheStrategy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newManager(rollback.NewMemStore(), "a")
		m.Window = 1 // only the current revision: no undo is immediate
		tgt := promoted(t, m)
		_, err := m.Undo(t.Context(), "svc", strategy.Release{Target: tgt})
		if !errors.Is(err, strategy.ErrInvalidConfig) || !strings.Contains(err.Error(), "outside the rollback window") {
			t.Fatalf("undo without a strategy: %v", err)
		}
		checks := strategytest.Script("checks", strategy.Pass)
		ro, err := m.Undo(t.Context(), "svc", strategy.Release{Target: tgt, Strategy: canaryPlan(checks)})
		if err != nil {
			t.Fatal(err)
		}
		res, err := ro.Wait(t.Context())
		if err != nil || tgt.State() != stateOf("v2") || checks.Calls() != 1 || len(res.Steps) != 5 {
			t.Fatalf("undo through the strategy: %v, target %v, %d analyses, %d steps", err, tgt.State(), checks.Calls(), len(res.Steps))
		}
		hist, _ := m.History(t.Context(), "svc")
		if e := hist[len(hist)-1]; !e.Undo || e.Strategy != "test-canary" {
			t.Fatalf("entry %+v", e)
		}
	})
}

func TestUndoRefusesADivergedTarget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newManager(rollback.NewMemStore(), "a")
		m.Window = 3
		tgt := promoted(t, m)
		tgt.Apply(t.Context(), stateOf("hotfix"))
		n := len(tgt.States())
		_, err := m.Undo(t.Context(), "svc", strategy.Release{Target: tgt})
		if !errors.Is(err, rollback.ErrDiverged) || !strings.Contains(err.Error(), "hotfix") {
			t.Fatalf("got %v", err)
		}
		if len(tgt.States()) != n {
			t.Fatal("a refused undo touched the target")
		}
		if _, err := newManager(rollback.NewMemStore(), "a").Undo(t.Context(), "svc", strategy.Release{Target: tgt}); !errors.Is(err, rollback.ErrNoPreviousRevision) {
			t.Fatalf("undo with no history: %v", err)
		}
		if _, err := m.Undo(t.Context(), "svc", strategy.Release{Target: tgt, Stable: "v1"}); !errors.Is(err, strategy.ErrInvalidConfig) {
			t.Fatalf("undo with revisions: %v", err)
		}
	})
}

func TestHistoryForDeliveryMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newManager(rollback.NewMemStore(), "a")
		m.Keep = 2
		committed := time.Now().Add(-time.Hour)
		if err := m.SetCommitTime(t.Context(), "svc", "v2", committed); err != nil {
			t.Fatal(err)
		}
		tgt := strategytest.NewTarget(v1State)
		release(t, m, tgt, "v1", "v2", strategy.Pass)
		release(t, m, tgt, "v2", "v3", strategy.Fail)
		release(t, m, tgt, "v2", "v4", strategy.Pass)
		hist, err := m.History(t.Context(), "svc")
		if err != nil || len(hist) != 2 {
			t.Fatalf("history %v %v (Keep 2)", hist, err)
		}
		if hist[0].Canary != "v3" || hist[1].Canary != "v4" {
			t.Fatalf("history keeps %s, %s; want the last two", hist[0].Canary, hist[1].Canary)
		}
		bad := hist[0]
		if bad.FailedAt.IsZero() || bad.RollbackFinished.IsZero() || bad.TimeToRestore() != bad.RollbackFinished.Sub(bad.FailedAt) || bad.LeadTime() != 0 {
			t.Fatalf("rolled-back entry: restore %v lead %v", bad.TimeToRestore(), bad.LeadTime())
		}
		// A commit time attached after the release still reaches its entry.
		at := time.Now().Add(-30 * time.Minute)
		if err := m.SetCommitTime(t.Context(), "svc", "v4", at); err != nil {
			t.Fatal(err)
		}
		hist, _ = m.History(t.Context(), "svc")
		if got := hist[1].LeadTime(); got != hist[1].Finished.Sub(at) || got < 30*time.Minute {
			t.Fatalf("lead time %v", got)
		}
	})
}

func TestCommitTimeBeforeRelease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newManager(rollback.NewMemStore(), "a")
		at := time.Now().Add(-2 * time.Hour)
		m.SetCommitTime(t.Context(), "svc", "v2", at)
		release(t, m, strategytest.NewTarget(v1State), "v1", "v2", strategy.Pass)
		hist, _ := m.History(t.Context(), "svc")
		if !hist[0].CommitTime.Equal(at) || hist[0].LeadTime() < 2*time.Hour {
			t.Fatalf("entry %+v", hist[0])
		}
		if err := m.SetCommitTime(context.WithoutCancel(t.Context()), "svc", "", at); !errors.Is(err, strategy.ErrInvalidConfig) {
			t.Fatalf("empty revision: %v", err)
		}
	})
}

// TestResumeImmediateUndo stops an immediate undo while it waits for the
// previous revision's capacity; the resume runs the recorded undo plan.
func TestResumeImmediateUndo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := rollback.NewMemStore()
		m := newManager(store, "a")
		m.Window = 2
		tgt := promoted(t, m) // ReadyAfter 10s
		ctx, cancel := context.WithCancel(t.Context())
		ro, err := m.Undo(ctx, "svc", strategy.Release{Target: tgt, Options: strategy.Options{OnCancel: strategy.Policy{Leave: true}}})
		if err != nil {
			t.Fatal(err)
		}
		advance(5 * time.Second)
		cancel()
		if res, err := ro.Wait(t.Context()); !errors.Is(err, strategy.ErrStopped) || tgt.State().Weight != 0 || tgt.State().Canary != "v2" {
			t.Fatalf("stopped undo: %s %v, target %v", res.Phase, err, tgt.State())
		}
		ro, err = newManager(store, "b").Resume(t.Context(), "svc", strategy.Release{Target: tgt}, rollback.ResumeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if res, err := ro.Wait(t.Context()); err != nil || res.Strategy != "undo" || tgt.State() != stateOf("v2") {
			t.Fatalf("resumed undo: %v %v, target %v", res.Strategy, err, tgt.State())
		}
		if err := strategytest.CheckCapacityBeforeTraffic(v1State, tgt.History()); err != nil {
			t.Fatal(err)
		}
		hist, _ := m.History(t.Context(), "svc")
		if e := hist[len(hist)-1]; !e.Undo || e.Resumed != 1 || e.Phase != strategy.PhasePromoted {
			t.Fatalf("entry %+v", e)
		}
	})
}
