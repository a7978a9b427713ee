package glidepath_test

import (
	"context"
	"fmt"
	"time"

	"github.com/glidepath/glidepath/analysis"
	"github.com/glidepath/glidepath/canary"
	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/strategytest"
)

// A canary release of v2 gated on its success rate. The target here is the
// in-memory fake and the success rate comes from a function; in production
// they would be, say, an httpsplit.Splitter and a Prometheus query. v2's
// success rate is 97%, below the 99% the check asks for, so the release is
// rolled back at its first analysis.
func Example() {
	target := strategytest.NewTarget(strategy.State{Stable: "v1"})
	successRate := &analysis.Check{
		Label: "success-rate",
		Source: analysis.SourceFunc(func(ctx context.Context, q analysis.Query) (any, error) {
			if q.Input.Canary == "v2" {
				return 0.97, nil
			}
			return 1.0, nil
		}),
		SuccessCondition: "result >= 0.99",
	}
	res, err := strategy.Run(context.Background(), strategy.Release{
		Target: target, Stable: "v1", Canary: "v2",
		Strategy: canary.Config{StepWeight: 20, MaxWeight: 60, Interval: time.Millisecond,
			Analyzers: []strategy.Analyzer{successRate}},
	})
	fmt.Println(res.Phase, "-", err)
	fmt.Println("target:", target.State())
	// Output:
	// RolledBack - analysis failed at step 4 (analyze): success-rate: Fail (failed (1) > failureLimit (0); last value 0.97 (!(result >= 0.99)))
	// target: stable=v1
}
