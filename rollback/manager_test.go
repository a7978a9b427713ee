package rollback_test

import (
	"errors"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/glidepath/glidepath/rollback"
	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/strategytest"
)

func TestStartRecordsHistory(t *testing.T) {
	for _, outcome := range []strategy.Outcome{strategy.Pass, strategy.Fail} {
		t.Run(string(outcome), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				store := rollback.NewMemStore()
				m := newManager(store, "a")
				tgt := strategytest.NewTarget(v1State)
				tgt.ReadyAfter = 0
				res, err := release(t, m, tgt, "v1", "v2", outcome)
				hist, herr := m.History(t.Context(), "svc")
				if herr != nil {
					t.Fatal(herr)
				}
				if len(hist) != 1 {
					t.Fatalf("history has %d entries, want 1", len(hist))
				}
				e := hist[0]
				if e.Phase != res.Phase || e.Stable != "v1" || e.Canary != "v2" || e.Strategy != "test-canary" || e.Release != "v1->v2" {
					t.Fatalf("entry %+v does not match result %v", e, res.Phase)
				}
				if !e.Started.Equal(res.Started) || e.Finished.Before(e.Started) {
					t.Fatalf("entry times %v..%v, result started %v", e.Started, e.Finished, res.Started)
				}
				if outcome == strategy.Pass {
					if err != nil || e.Phase != strategy.PhasePromoted {
						t.Fatalf("got %v %v", e.Phase, err)
					}
					if len(e.Verdicts) != 1 || e.Verdicts[0].Outcome != strategy.Pass {
						t.Fatalf("verdicts %v", e.Verdicts)
					}
				} else {
					if !errors.Is(err, strategy.ErrAnalysisFailed) || e.Phase != strategy.PhaseRolledBack {
						t.Fatalf("got %v %v", e.Phase, err)
					}
					if len(e.Verdicts) != 1 || e.Verdicts[0].Outcome != strategy.Fail {
						t.Fatalf("verdicts %v", e.Verdicts)
					}
					if e.FailedAt.IsZero() || e.RollbackStarted.Before(e.FailedAt) || e.RollbackFinished.Before(e.RollbackStarted) {
						t.Fatalf("failure times: failed %v rollback %v..%v", e.FailedAt, e.RollbackStarted, e.RollbackFinished)
					}
					if !e.FailedAt.Equal(res.FailedAt) || !e.RollbackFinished.Equal(res.RollbackFinished) {
						t.Fatalf("entry failure times %v/%v, result %v/%v", e.FailedAt, e.RollbackFinished, res.FailedAt, res.RollbackFinished)
					}
				}
				// Every applied State was recorded as an intent first.
				p := rollback.Replay(journalOf(t, store, "svc", e))
				if i := subsequence(p.Intents, tgt.States()); i >= 0 {
					t.Fatalf("apply %d (%v) was not a recorded intent; intents %v", i, tgt.States()[i], p.Intents)
				}
				if len(p.Applied) != len(tgt.States()) {
					t.Fatalf("journal records %d applies, target saw %d", len(p.Applied), len(tgt.States()))
				}
				if pend, err := m.Pending(t.Context(), "svc"); err != nil || pend != nil {
					t.Fatalf("pending after the end: %v %v", pend, err)
				}
				// The lease was released: another owner may start at once.
				m2 := newManager(store, "b")
				if _, err := release(t, m2, tgt, tgt.State().Stable, "v3", strategy.Pass); err != nil {
					t.Fatalf("second release: %v", err)
				}
			})
		})
	}
}

// TestStartRefusesAStableTheHistoryContradicts: history says v2 is served;
// a release v1 -> v3 would move traffic back onto v1.
func TestStartRefusesAStableTheHistoryContradicts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newManager(rollback.NewMemStore(), "a")
		tgt := strategytest.NewTarget(stateOf("v1"))
		if res, err := release(t, m, tgt, "v1", "v2", strategy.Pass); err != nil || res.Phase != strategy.PhasePromoted {
			t.Fatalf("first release: %v %v", res.Phase, err)
		}
		applied := len(tgt.History())
		_, err := m.Start(t.Context(), "svc", strategy.Release{Target: tgt, Stable: "v1", Canary: "v3",
			Strategy: canaryPlan(strategytest.Script("checks", strategy.Pass))})
		if !errors.Is(err, rollback.ErrStableMismatch) || !strings.Contains(err.Error(), "v1") || !strings.Contains(err.Error(), "serves v2") {
			t.Fatalf("start v1 -> v3 after v2 was promoted: %v, want ErrStableMismatch naming v1 and v2", err)
		}
		if len(tgt.History()) != applied {
			t.Fatal("a refused start applied something")
		}
		// Someone put v1 back by hand; adopting it on purpose is possible.
		if err := tgt.Apply(t.Context(), stateOf("v1")); err != nil {
			t.Fatal(err)
		}
		ro, err := m.Start(t.Context(), "svc", strategy.Release{Target: tgt, Stable: "v1", Canary: "v3",
			Strategy: canaryPlan(strategytest.Script("checks", strategy.Pass))}, rollback.AdoptStable())
		if err != nil {
			t.Fatalf("start with AdoptStable: %v", err)
		}
		if res, err := ro.Wait(t.Context()); err != nil || res.Phase != strategy.PhasePromoted {
			t.Fatalf("adopted release: %v %v", res.Phase, err)
		}
		if res, err := release(t, m, tgt, "v3", "v4", strategy.Fail); err != nil && !errors.Is(err, strategy.ErrAnalysisFailed) || res.Phase != strategy.PhaseRolledBack {
			t.Fatalf("release from the served revision: %v %v", res.Phase, err)
		}
		// After a rollback the target serves the old stable again.
		if _, err := m.Start(t.Context(), "svc", strategy.Release{Target: tgt, Stable: "v4", Canary: "v5",
			Strategy: canaryPlan(strategytest.Script("checks", strategy.Pass))}); !errors.Is(err, rollback.ErrStableMismatch) {
			t.Fatalf("start from the rolled-back v4: %v", err)
		}
	})
}
