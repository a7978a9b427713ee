package dora_test

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/glidepath/glidepath/canary"
	"github.com/glidepath/glidepath/dora"
	"github.com/glidepath/glidepath/rollback"
	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/strategytest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Releases run through a rollback.Manager on the fake target, in fake
// time, and the metrics are computed from the Manager's history. Worked
// out by hand from what the releases did:
//
//   - v1->v2 promoted, v2->v3 rolled back by a Fail, v2->v4 promoted, then
//     v4 undone back to v2 (an immediate undo).
//   - Deployments: v2 and v4 = 2. Changes: v2, v3, v4 = 3; failures: v3
//     (rolled back) and v4 (undone) = 2, so the rate is 2/3.
//   - Lead time: only v2 has a commit time, set one hour before its
//     release started; its lead time is that hour plus the release's own
//     duration (Finished − CommitTime).
//   - Restores: v3's (FailedAt to RollbackFinished, as the history
//     records) and v4's (from its promotion to the undo's end).
func TestFromManagerHistory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		begin := time.Now()
		m := &rollback.Manager{Store: rollback.NewMemStore(), Owner: "test", Window: 3}
		tgt := strategytest.NewTarget(strategy.State{Stable: "v1"})
		tgt.ReadyAfter = 5 * time.Second
		if err := m.SetCommitTime(ctx, "web", "v2", begin.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
		run := func(stable, cand strategy.Revision, outcomes ...strategy.Outcome) (strategy.Result, error) {
			t.Helper()
			cfg := canary.Config{StepWeights: []int{50}, Interval: time.Minute,
				Analyzers: []strategy.Analyzer{strategytest.Script("errors", outcomes...)}}
			r, err := m.Start(ctx, "web", strategy.Release{Target: tgt, Stable: stable, Canary: cand, Strategy: cfg})
			if err != nil {
				t.Fatal(err)
			}
			return r.Wait(ctx)
		}
		if _, err := run("v1", "v2", strategy.Pass); err != nil {
			t.Fatal(err)
		}
		if _, err := run("v2", "v3", strategy.Fail); !errors.Is(err, strategy.ErrAnalysisFailed) {
			t.Fatalf("v3: %v", err)
		}
		if _, err := run("v2", "v4", strategy.Pass); err != nil {
			t.Fatal(err)
		}
		time.Sleep(30 * time.Minute) // v4 serves for a while before it is undone (fake time)
		u, err := m.Undo(ctx, "web", strategy.Release{Target: tgt})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := u.Wait(ctx); err != nil {
			t.Fatal(err)
		}

		entries, err := m.History(ctx, "web")
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 4 {
			t.Fatalf("%d history entries, want 4", len(entries))
		}
		v2, v3, v4, undo := entries[0], entries[1], entries[2], entries[3]
		m2, err := dora.Compute(entries, dora.Window{From: begin, To: time.Now().Add(time.Second)})
		if err != nil {
			t.Fatal(err)
		}
		wantLead := v2.Finished.Sub(begin.Add(-time.Hour))
		restores := []time.Duration{v3.RollbackFinished.Sub(v3.FailedAt), undo.Finished.Sub(v4.Finished)}
		wantRestore := (restores[0] + restores[1]) / 2
		if m2.Deployments != 2 || m2.Changes != 3 || m2.Failures != 2 || m2.FailureRate != 2.0/3 ||
			m2.LeadTimes != 1 || m2.LeadTime != wantLead || m2.Restores != 2 || m2.TimeToRestore != wantRestore || m2.Undos != 1 {
			t.Errorf("got %+v\nwant 2 deployments, 2 of 3 failed, lead time %v from 1, restore %v from 2 (%v), 1 undo",
				m2, wantLead, wantRestore, restores)
		}
		if restores[1] < 30*time.Minute {
			t.Errorf("the undo restored v2 %v after v4's promotion, less than the 30m it served", restores[1])
		}
		if !undo.Undo || undo.Stable != "v4" || undo.Canary != "v2" {
			t.Errorf("undo entry %+v", undo)
		}
	})
}
