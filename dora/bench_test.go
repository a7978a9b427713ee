package dora_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/glidepath/glidepath/dora"
	"github.com/glidepath/glidepath/rollback"
	"github.com/glidepath/glidepath/strategy"
)

// A year of history for one target: 10 releases a day, one in ten rolled
// back, one in fifty undone. Run with
//
//	go test -run '^$' -bench . -benchmem ./dora/
func BenchmarkCompute(b *testing.B) {
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var h []rollback.Entry
	prev := strategy.Revision("r0")
	for i := range 3650 {
		fin := start.Add(time.Duration(i) * 52 * time.Minute * 5 / 2)
		rev := strategy.Revision(fmt.Sprintf("r%d", i+1))
		r := rollback.Entry{Target: "web", CommitTime: fin.Add(-3 * time.Hour), Result: strategy.Result{Stable: prev, Canary: rev, Phase: strategy.PhasePromoted,
			Started: fin.Add(-20 * time.Minute), Finished: fin}}
		switch {
		case i%10 == 9:
			r.Phase, r.FailedAt, r.RollbackFinished = strategy.PhaseRolledBack, fin.Add(-2*time.Minute), fin.Add(-time.Minute)
		case i%50 == 0:
			h = append(h, r, rollback.Entry{Target: "web", Undo: true, Result: strategy.Result{Stable: rev, Canary: prev, Phase: strategy.PhasePromoted,
				Started: fin.Add(10 * time.Minute), Finished: fin.Add(15 * time.Minute)}})
			continue
		default:
			prev = rev
		}
		h = append(h, r)
	}
	w := dora.Window{From: start, To: start.AddDate(1, 0, 0)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := dora.Compute(h, w); err != nil {
			b.Fatal(err)
		}
	}
}
