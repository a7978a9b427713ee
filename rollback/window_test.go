package rollback_test

import (
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/glidepath/glidepath/rollback"
	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/strategytest"
)

// TestUndoWindowFollowsArgo checks the rollback window against the example
// of Argo Rollouts' documentation of spec.rollbackWindow: with a linear
// history of revisions 1, 2, 3, 4, 5 (5 current) and a window of 3
// revisions, a rollback from 5 to 4 or to 3 is fast-tracked; one to 2 or 1
// is not. Undo goes to the most recent revision not rolled back, so the
// revisions in between are marked rolled back to make it reach further.
func TestUndoWindowFollowsArgo(t *testing.T) {
	for _, c := range []struct {
		skip      []strategy.Revision // marked rolled back, so Undo passes over them
		to        strategy.Revision
		immediate bool
	}{
		{nil, "r4", true},
		{[]strategy.Revision{"r4"}, "r3", true},
		{[]strategy.Revision{"r4", "r3"}, "r2", false},
		{[]strategy.Revision{"r4", "r3", "r2"}, "r1", false},
	} {
		t.Run(fmt.Sprintf("to %s", c.to), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				store := rollback.NewMemStore()
				m := newManager(store, "a")
				m.Window = 3
				start := time.Now()
				err := store.Update(t.Context(), "svc", nil, func(tr *rollback.TargetRecord) error {
					for i := 1; i < 5; i++ {
						at := start.Add(time.Duration(i) * time.Hour)
						tr.History = append(tr.History, rollback.Entry{Target: "svc", Result: strategy.Result{
							Release: fmt.Sprintf("r%d->r%d", i, i+1), Strategy: "test-canary",
							Stable: strategy.Revision(fmt.Sprintf("r%d", i)), Canary: strategy.Revision(fmt.Sprintf("r%d", i+1)),
							Phase: strategy.PhasePromoted, Started: at, Finished: at.Add(time.Minute),
						}})
					}
					tr.RolledBack = c.skip
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				tgt := strategytest.NewTarget(stateOf("r5"))
				checks := strategytest.Script("checks", strategy.Pass)
				rel := strategy.Release{Target: tgt, Strategy: canaryPlan(checks)}
				ro, err := m.Undo(t.Context(), "svc", rel)
				if err != nil {
					t.Fatal(err)
				}
				res, err := ro.Wait(t.Context())
				if err != nil || tgt.State() != stateOf(c.to) {
					t.Fatalf("undo: %v, target %v, want %s", err, tgt.State(), c.to)
				}
				if immediate := res.Strategy == "undo"; immediate != c.immediate {
					t.Fatalf("undo to %s ran strategy %q (%d analyses); immediate = %v, want %v",
						c.to, res.Strategy, checks.Calls(), immediate, c.immediate)
				}
				if c.immediate && checks.Calls() != 0 {
					t.Fatalf("an immediate undo ran %d analyses", checks.Calls())
				}
			})
		})
	}
}

// Outside the window, an undo without a Strategy is refused before the
// target is touched.
func TestUndoOutsideWindowNeedsStrategy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := rollback.NewMemStore()
		m := newManager(store, "a")
		m.Window = 3
		err := store.Update(t.Context(), "svc", nil, func(tr *rollback.TargetRecord) error {
			for i := 1; i < 5; i++ {
				tr.History = append(tr.History, rollback.Entry{Target: "svc", Result: strategy.Result{
					Stable: strategy.Revision(fmt.Sprintf("r%d", i)), Canary: strategy.Revision(fmt.Sprintf("r%d", i+1)),
					Phase: strategy.PhasePromoted}})
			}
			tr.RolledBack = []strategy.Revision{"r4", "r3"}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		tgt := strategytest.NewTarget(stateOf("r5"))
		_, err = m.Undo(t.Context(), "svc", strategy.Release{Target: tgt})
		if !errors.Is(err, strategy.ErrInvalidConfig) {
			t.Fatalf("undo to r2 without a strategy: %v", err)
		}
		if n := tgt.Calls(strategytest.OpApply); n != 0 {
			t.Fatalf("a refused undo applied %d States", n)
		}
	})
}
