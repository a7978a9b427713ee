package canary_test

import (
	"context"
	"fmt"
	"time"

	"github.com/glidepath/glidepath/canary"
	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/strategytest"
)

// The Flagger-style shorthand: 10% more traffic every interval up to 50%,
// with the analyzers run at the end of each interval, then promotion.
func ExampleConfig_shorthand() {
	successRate := strategytest.Script("success-rate")
	cfg := canary.Config{
		StepWeight: 10,
		MaxWeight:  50,
		Interval:   time.Minute,
		Analyzers:  []strategy.Analyzer{successRate},
	}
	fmt.Println("weights:", cfg.Weights())
	plan, err := cfg.Plan("v1", "v2")
	if err != nil {
		fmt.Println(err)
		return
	}
	for i, s := range plan.Steps {
		fmt.Printf("%2d %s\n", i, s)
	}
	// Output:
	// weights: [10 20 30 40 50]
	//  0 deploy canary: apply stable=v1 canary=v2 weight=0%
	//  1 deploy canary: wait until ready
	//  2 setWeight 10: apply stable=v1 canary=v2 weight=10%
	//  3 interval at 10%: pause 1m0s
	//  4 analyze [success-rate]
	//  5 setWeight 20: apply stable=v1 canary=v2 weight=20%
	//  6 interval at 20%: pause 1m0s
	//  7 analyze [success-rate]
	//  8 setWeight 30: apply stable=v1 canary=v2 weight=30%
	//  9 interval at 30%: pause 1m0s
	// 10 analyze [success-rate]
	// 11 setWeight 40: apply stable=v1 canary=v2 weight=40%
	// 12 interval at 40%: pause 1m0s
	// 13 analyze [success-rate]
	// 14 setWeight 50: apply stable=v1 canary=v2 weight=50%
	// 15 interval at 50%: pause 1m0s
	// 16 analyze [success-rate]
	// 17 promote: apply stable=v1 canary=v2 weight=100%
	// 18 promote: apply stable=v2
}

// Explicit, Argo Rollouts-style steps on a service of 10 instances behind
// a traffic router: a header route for testers on one canary instance,
// then weights, with the stable scaled down as the canary takes traffic
// and a background analysis from the first weight on.
func ExampleConfig_steps() {
	errorsBg := strategytest.Script("error-rate")
	latency := strategytest.Script("latency")
	cfg := canary.Config{
		Replicas:           10,
		TrafficRouting:     true,
		DynamicStableScale: true,
		Steps: []canary.Step{
			canary.SetCanaryScale(canary.Replicas(1)),
			canary.SetHeaderRoute(strategy.HeaderRoute{Header: "X-Tester", Exact: "yes"}),
			canary.PauseUntilPromoted().Named("testers"),
			canary.SetHeaderRoute(strategy.HeaderRoute{}),
			canary.SetCanaryScale(canary.MatchTrafficWeight()),
			canary.SetWeight(30),
			canary.Analysis(latency),
		},
		Background: canary.Background{Analyzers: []strategy.Analyzer{errorsBg}, From: 5},
	}
	plan, err := cfg.Plan("v1", "v2")
	if err != nil {
		fmt.Println(err)
		return
	}
	for i, s := range plan.Steps {
		fmt.Printf("%2d %s\n", i, s)
	}
	fmt.Printf("background %v from step %d\n", strategy.AnalyzerNames(plan.Background[0].Analyzers), plan.Background[0].From)
	// Output:
	//  0 deploy canary: apply stable=v1 canary=v2 weight=0% replicas=10/0
	//  1 deploy canary: wait until ready
	//  2 setCanaryScale replicas=1: apply stable=v1 canary=v2 weight=0% replicas=10/1
	//  3 setCanaryScale replicas=1: wait until ready
	//  4 setHeaderRoute X-Tester="yes": apply stable=v1 canary=v2 weight=0% replicas=10/1 route=X-Tester
	//  5 testers: pause until promoted
	//  6 setHeaderRoute off: apply stable=v1 canary=v2 weight=0% replicas=10/1
	//  7 setCanaryScale matchTrafficWeight: apply stable=v1 canary=v2 weight=0% replicas=10/0
	//  8 setWeight 30: apply stable=v1 canary=v2 weight=0% replicas=10/3
	//  9 setWeight 30: wait until ready
	// 10 setWeight 30: apply stable=v1 canary=v2 weight=30% replicas=10/3
	// 11 setWeight 30: apply stable=v1 canary=v2 weight=30% replicas=7/3
	// 12 analyze [latency]
	// 13 promote: apply stable=v1 canary=v2 weight=30% replicas=7/10
	// 14 promote: wait until ready
	// 15 promote: apply stable=v1 canary=v2 weight=100% replicas=7/10
	// 16 promote: apply stable=v1 canary=v2 weight=100% replicas=0/10
	// 17 promote: apply stable=v2 replicas=10/0
	// background [error-rate] from step 8
}

// A whole release on an in-memory target: every analysis passes and the
// canary becomes the new stable revision.
func Example_release() {
	tgt := strategytest.NewTarget(strategy.State{Stable: "v1", Replicas: strategy.Replicas{Stable: 4}})
	cfg := canary.Config{
		Replicas:       4,
		MaxSurge:       new(strategy.Int(1)),
		MaxUnavailable: new(strategy.Int(0)),
		Steps: []canary.Step{
			canary.SetWeight(25),
			canary.Analysis(strategytest.Script("smoke", strategy.Pass)),
		},
	}
	res, err := strategy.Run(context.Background(), strategy.Release{
		Target: tgt, Stable: "v1", Canary: "v2", Strategy: cfg,
	})
	fmt.Println(res.Phase, err)
	for _, s := range tgt.States() {
		fmt.Println(s)
	}
	// Output:
	// Promoted <nil>
	// stable=v1 canary=v2 weight=0% replicas=4/0
	// stable=v1 canary=v2 weight=0% replicas=4/1
	// stable=v1 canary=v2 weight=20% replicas=4/1
	// stable=v1 canary=v2 weight=25% replicas=3/1
	// stable=v1 canary=v2 weight=25% replicas=3/2
	// stable=v1 canary=v2 weight=40% replicas=3/2
	// stable=v1 canary=v2 weight=50% replicas=2/2
	// stable=v1 canary=v2 weight=50% replicas=2/3
	// stable=v1 canary=v2 weight=60% replicas=2/3
	// stable=v1 canary=v2 weight=75% replicas=1/3
	// stable=v1 canary=v2 weight=75% replicas=1/4
	// stable=v1 canary=v2 weight=80% replicas=1/4
	// stable=v1 canary=v2 weight=100% replicas=0/4
	// stable=v2 replicas=4/0
}
