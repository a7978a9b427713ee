package strategytest_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/strategytest"
)

// A fake target records every State applied to it; faults make it refuse
// or hang, and CheckCapacityBeforeTraffic verifies from its history that traffic never
// moved onto capacity that was not ready.
func ExampleTarget() {
	live := strategy.State{Stable: "v1", Replicas: strategy.Replicas{Stable: 3}}
	tgt := strategytest.NewTarget(live)
	tgt.Faults = []strategytest.Fault{{Op: strategytest.OpApply, Times: 1}} // the first Apply fails

	plan := strategy.StrategyFunc(func(stable, canary strategy.Revision) (strategy.Plan, error) {
		return strategy.Plan{Strategy: "by-hand", Stable: live, Steps: []strategy.Step{
			strategy.Apply(strategy.State{Stable: stable, Canary: canary, Weight: 30, Replicas: strategy.Replicas{Stable: 3, Canary: 1}}),
			strategy.Apply(strategy.State{Stable: canary, Replicas: strategy.Replicas{Stable: 3}}),
		}}, nil
	})
	res, err := strategy.Run(context.Background(), strategy.Release{Target: tgt, Stable: "v1", Canary: "v2", Strategy: plan})
	fmt.Println(res.Phase, err, "- apply calls:", tgt.Calls(strategytest.OpApply))
	for _, s := range tgt.States() {
		fmt.Println(s)
	}
	fmt.Println("traffic only on ready capacity:", strategytest.CheckCapacityBeforeTraffic(live, tgt.History()) == nil)
	// Output:
	// Promoted <nil> - apply calls: 5
	// stable=v1 canary=v2 weight=0% replicas=3/1
	// stable=v1 canary=v2 weight=30% replicas=3/1
	// stable=v1 canary=v2 weight=30% replicas=3/3
	// stable=v2 replicas=3/0
	// traffic only on ready capacity: true
}

// A scripted analyzer answers from its script, repeating the last answer.
func ExampleScript() {
	a := strategytest.Script("error-rate", strategy.Pass, strategy.Fail)
	for range 3 {
		v, _ := a.Analyze(context.Background(), strategy.Input{})
		fmt.Println(v)
	}
	flaky := &strategytest.Analyzer{ID: "prom", Answers: []strategytest.Answer{{Err: errors.New("connection refused")}}}
	_, err := flaky.Analyze(context.Background(), strategy.Input{})
	fmt.Println(err)
	// Output:
	// error-rate: Pass (scripted Pass)
	// error-rate: Fail (scripted Fail)
	// error-rate: Fail (scripted Fail)
	// connection refused
}
