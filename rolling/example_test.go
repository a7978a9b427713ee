package rolling_test

import (
	"context"
	"fmt"

	"github.com/glidepath/glidepath/rolling"
	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/strategytest"
)

// Four instances with Kubernetes' default bounds (25% surge rounds up to 1,
// 25% unavailable rounds down to 1), analysed after every batch.
func ExampleConfig_Plan() {
	cfg := &rolling.Config{Replicas: 4, Analyzers: []strategy.Analyzer{strategytest.Script("error-rate")}}
	plan, err := cfg.Plan("v1", "v2")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range plan.Steps {
		fmt.Println(s)
	}
	// Output:
	// batch 1: scale up: apply stable=v1 canary=v2 weight=0% replicas=4/1
	// batch 1: scale down: apply stable=v1 canary=v2 weight=0% replicas=3/1
	// batch 1: scale up: apply stable=v1 canary=v2 weight=0% replicas=3/2
	// batch 1: ready: wait until ready
	// batch 1: traffic: apply stable=v1 canary=v2 weight=40% replicas=3/2
	// batch 1: analysis: analyze [error-rate]
	// batch 2: scale down: apply stable=v1 canary=v2 weight=40% replicas=1/2
	// batch 2: scale up: apply stable=v1 canary=v2 weight=40% replicas=1/4
	// batch 2: ready: wait until ready
	// batch 2: traffic: apply stable=v1 canary=v2 weight=80% replicas=1/4
	// batch 2: analysis: analyze [error-rate]
	// batch 3: scale down: apply stable=v1 canary=v2 weight=100% replicas=0/4
	// batch 3: analysis: analyze [error-rate]
	// finish: apply stable=v2 replicas=4/0
}

// Bounds resolves surge and unavailable as Kubernetes does.
func ExampleConfig_Bounds() {
	for _, cfg := range []rolling.Config{
		{Replicas: 10}, // 25% and 25%
		{Replicas: 10, MaxSurge: new(strategy.Percent(15)), MaxUnavailable: new(strategy.Int(0))},
		{Replicas: 3, MaxSurge: new(strategy.Percent(0)), MaxUnavailable: new(strategy.Percent(10))},
	} {
		s, u := cfg.Bounds()
		fmt.Printf("N=%d: surge %d, unavailable %d\n", cfg.Replicas, s, u)
	}
	// Output:
	// N=10: surge 3, unavailable 2
	// N=10: surge 2, unavailable 0
	// N=3: surge 0, unavailable 1
}

// Validate names every problem at once.
func ExampleConfig_Validate() {
	cfg := &rolling.Config{Replicas: 4, MaxSurge: new(strategy.IntOrPercent{Str: "25"}), MaxUnavailable: new(strategy.Percent(150)), Partition: 4}
	fmt.Println(cfg.Validate())
	// Output:
	// invalid configuration: rolling config
	//   - MaxSurge: "25" is not a percentage: it must end in % (or be given as an integer)
	//   - MaxUnavailable: "150%" is over 100%
	//   - Partition (4) must be less than Replicas (4)
}

// An analysis failure in the second batch rolls back batch by batch.
func Example_rollback() {
	target := strategytest.NewTarget(strategy.State{Stable: "v1", Replicas: strategy.Replicas{Stable: 3}})
	_, err := strategy.Run(context.Background(), strategy.Release{
		Target: target, Stable: "v1", Canary: "v2",
		Strategy: &rolling.Config{
			Replicas:       3,
			MaxSurge:       new(strategy.Int(1)),
			MaxUnavailable: new(strategy.Int(0)),
			Analyzers:      []strategy.Analyzer{strategytest.Script("error-rate", strategy.Pass, strategy.Fail)},
		},
	})
	for _, s := range target.States() {
		fmt.Println(s)
	}
	fmt.Println(err != nil)
	// Output:
	// stable=v1 canary=v2 weight=0% replicas=3/1
	// stable=v1 canary=v2 weight=25% replicas=3/1
	// stable=v1 canary=v2 weight=25% replicas=2/1
	// stable=v1 canary=v2 weight=25% replicas=2/2
	// stable=v1 canary=v2 weight=50% replicas=2/2
	// stable=v1 canary=v2 weight=50% replicas=2/1
	// stable=v1 canary=v2 weight=50% replicas=3/1
	// stable=v1 canary=v2 weight=25% replicas=3/1
	// stable=v1 canary=v2 weight=0% replicas=3/0
	// stable=v1 replicas=3/0
	// true
}
