package bluegreen_test

import (
	"context"
	"fmt"
	"time"

	"github.com/glidepath/glidepath/bluegreen"
	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/strategytest"
)

// The plan is plain data: print it for a dry run.
func ExampleConfig_Plan() {
	cfg := &bluegreen.Config{
		Replicas:        4,
		CanaryReplicas:  1,
		PrePromotion:    []strategy.Analyzer{strategytest.Script("smoke-tests")},
		PostPromotion:   []strategy.Analyzer{strategytest.Script("error-rate")},
		ManualPromotion: true,
		ScaleDownDelay:  time.Minute,
	}
	plan, err := cfg.Plan("v1", "v2")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range plan.Steps {
		fmt.Println(s)
	}
	// Output:
	// canary: apply stable=v1 canary=v2 weight=0% replicas=4/1
	// canary-ready: wait until ready
	// pre-promotion: analyze [smoke-tests]
	// promotion-gate: pause until promoted
	// scale-up: apply stable=v1 canary=v2 weight=0% replicas=4/4
	// scale-up-ready: wait until ready
	// switch: apply stable=v1 canary=v2 weight=100% replicas=4/4
	// post-promotion: analyze [error-rate]
	// scale-down-delay: pause 1m0s
	// finish: apply stable=v2 replicas=4/0
}

// Validate names every problem at once.
func ExampleConfig_Validate() {
	cfg := &bluegreen.Config{Replicas: 2, CanaryReplicas: 3, ManualPromotion: true, AutoPromotionDelay: time.Minute}
	fmt.Println(cfg.Validate())
	// Output:
	// invalid configuration: bluegreen config
	//   - CanaryReplicas (3) exceeds Replicas (2)
	//   - AutoPromotionDelay (1m0s) has no effect with ManualPromotion: choose one
}

// A post-promotion analysis failure switches traffic straight back to the
// old revision, which is still running at full capacity.
func Example_postPromotionFailure() {
	target := strategytest.NewTarget(strategy.State{Stable: "v1", Replicas: strategy.Replicas{Stable: 3}})
	res, err := strategy.Run(context.Background(), strategy.Release{
		Target: target, Stable: "v1", Canary: "v2",
		Strategy: &bluegreen.Config{
			Replicas:      3,
			PostPromotion: []strategy.Analyzer{strategytest.Script("error-rate", strategy.Fail)},
		},
	})
	for _, s := range target.States() {
		fmt.Println(s)
	}
	fmt.Println(res.Phase, err != nil)
	// Output:
	// stable=v1 canary=v2 weight=0% replicas=3/3
	// stable=v1 canary=v2 weight=100% replicas=3/3
	// stable=v1 replicas=3/0
	// RolledBack true
}

// A release whose new revision passes: preview, switch, and the old
// revision removed once the scale-down delay has passed.
func Example() {
	target := strategytest.NewTarget(strategy.State{Stable: "v1", Replicas: strategy.Replicas{Stable: 2}})
	res, err := strategy.Run(context.Background(), strategy.Release{
		Target: target, Stable: "v1", Canary: "v2",
		Strategy: &bluegreen.Config{Replicas: 2, ScaleDownDelay: -1},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range target.States() {
		fmt.Println(s)
	}
	fmt.Println(res.Phase)
	// Output:
	// stable=v1 canary=v2 weight=0% replicas=2/2
	// stable=v1 canary=v2 weight=100% replicas=2/2
	// stable=v2 replicas=2/0
	// Promoted
}
