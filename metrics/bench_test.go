package metrics_test

import (
	"testing"
	"time"

	"github.com/glidepath/glidepath/metrics"
	"github.com/glidepath/glidepath/strategy"
)

// The cost an observed release pays per event. Run with
//
//	go test -run '^$' -bench . -benchmem ./metrics/
func BenchmarkOnEvent(b *testing.B) {
	c, err := metrics.New(metrics.Options{})
	if err != nil {
		b.Fatal(err)
	}
	obs := c.ForTarget("checkout")
	meta := strategy.EventMeta{Release: "v1->v2"}
	start := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	events := map[string]strategy.Event{
		"verdict":  strategy.VerdictReached{EventMeta: meta, Verdict: strategy.Verdict{Analyzer: "success-rate", Outcome: strategy.Pass}},
		"state":    strategy.StateApplied{EventMeta: meta, State: strategy.State{Stable: "v1", Canary: "v2", Weight: 30}},
		"step":     strategy.StepStarted{EventMeta: meta},
		"rollback": strategy.RollbackStarted{EventMeta: meta, Cause: &strategy.StepError{Kind: strategy.ErrAnalysisFailed}},
	}
	for name, e := range events {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				obs.OnEvent(e)
			}
		})
	}
	// A whole release's worth of lifecycle events: start, state, finish.
	b.Run("release", func(b *testing.B) {
		b.ReportAllocs()
		res := strategy.Result{Release: "v1->v2", Strategy: "canary", Phase: strategy.PhaseRolledBack,
			Started: start, Finished: start.Add(10 * time.Minute), FailedAt: start.Add(9 * time.Minute), RollbackFinished: start.Add(9*time.Minute + 20*time.Second)}
		for b.Loop() {
			obs.OnEvent(strategy.ReleaseStarted{EventMeta: meta, Strategy: "canary"})
			obs.OnEvent(events["state"])
			obs.OnEvent(strategy.ReleaseFinished{EventMeta: meta, Result: res, Err: &strategy.StepError{Kind: strategy.ErrAnalysisFailed}})
		}
	})
}
