package dora_test

import (
	"fmt"
	"os"
	"time"

	"github.com/glidepath/glidepath/dora"
	"github.com/glidepath/glidepath/rollback"
	"github.com/glidepath/glidepath/strategy"
)

// Compute a week's metrics from a target's history (here built by hand;
// in a program, from rollback.Manager.History) and print the report.
func Example() {
	day := func(d, hh, mm int) time.Time { return time.Date(2025, 3, d, hh, mm, 0, 0, time.UTC) }
	entries := []rollback.Entry{
		{Target: "web", CommitTime: day(3, 7, 40), Result: strategy.Result{Release: "v1->v2", Stable: "v1", Canary: "v2", Phase: "Promoted",
			Started: day(3, 10, 0), Finished: day(3, 10, 40)}},
		{Target: "web", CommitTime: day(4, 11, 0), Result: strategy.Result{Release: "v2->v3", Stable: "v2", Canary: "v3", Phase: "RolledBack",
			Started: day(4, 15, 0), Finished: day(4, 15, 20), FailedAt: day(4, 15, 12), RollbackStarted: day(4, 15, 12), RollbackFinished: day(4, 15, 14)}},
		{Target: "web", CommitTime: day(4, 17, 30), Result: strategy.Result{Release: "v2->v4", Stable: "v2", Canary: "v4", Phase: "Promoted",
			Started: day(5, 9, 0), Finished: day(5, 9, 30)}},
		{Target: "web", Undo: true, Result: strategy.Result{Release: "undo v4->v2", Strategy: "undo", Stable: "v4", Canary: "v2", Phase: "Promoted",
			Started: day(5, 10, 20), Finished: day(5, 10, 30)}},
		{Target: "web", CommitTime: day(6, 9, 30), Result: strategy.Result{Release: "v2->v5", Stable: "v2", Canary: "v5", Phase: "Promoted",
			Started: day(6, 14, 0), Finished: day(6, 14, 30)}},
	}
	m, err := dora.Compute(entries, dora.Window{From: day(3, 0, 0), To: day(10, 0, 0)})
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := m.WriteTo(os.Stdout); err != nil {
		fmt.Println(err)
	}
	// Output:
	// DORA metrics, 2025-03-03 00:00 UTC to 2025-03-10 00:00 UTC (7 days)
	// metric                 value     basis
	// deployment frequency   0.43/day  3 deployments
	// lead time for changes  5h0m0s    median of 3 deployments with a commit time
	// change failure rate    50.0%     2 of 4 changes failed
	// time to restore        31m0s     median of 2 restores
}
