package glidepath_test

import (
	"context"
	"fmt"

	"github.com/glidepath/glidepath"
	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/strategytest"
)

// A high-risk change to a service of 10 instances behind a mesh, with an
// error-rate check: a canary gated on the check.
func ExampleRecommend() {
	errorRate := strategytest.Script("error-rate", strategy.Pass)
	rec, err := glidepath.Recommend(glidepath.Change{
		Risk:            glidepath.RiskHigh,
		Replicas:        10,
		WeightedRouting: true,
		Analyzers:       []strategy.Analyzer{errorRate},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(rec.Kind, "rule", rec.Rule)
	for _, r := range rec.Reasons {
		fmt.Println("-", r)
	}
	// Output:
	// canary rule 4
	// - rule 4, high risk with metrics: a canary exposes the new revision to a growing share of traffic (5, 10, 25, 50, 75%), gated on its metrics
	// - metrics: each weight is held for 10m0s, then error-rate judges it; a Fail rolls back at once
}

// A stateful change without metrics: one instance is replaced, then the
// release waits for a person; a Fail would hold rather than roll back.
// The recommendation plugs into a release as its Strategy and OnFail.
func ExampleRecommend_stateful() {
	rec, err := glidepath.Recommend(glidepath.Change{Risk: glidepath.RiskMedium, Stateful: true, Replicas: 3})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(rec.Kind, "rule", rec.Rule, "manual gates:", rec.ManualGates, "pause on fail:", rec.OnFail.Pause)
	for _, r := range rec.Reasons {
		fmt.Println("-", r)
	}

	target := strategytest.NewTarget(strategy.State{Stable: "v1", Replicas: strategy.Replicas{Stable: 3}})
	r, err := strategy.Start(context.Background(), strategy.Release{
		Target: target, Stable: "v1", Canary: "v2",
		Strategy: rec.Strategy,
		Options:  strategy.Options{OnFail: rec.OnFail},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := r.PromoteFull(); err != nil {
		fmt.Println(err)
	}
	res, err := r.Wait(context.Background())
	fmt.Println(res.Phase, err, target.State())
	// Output:
	// rolling rule 2 manual gates: true pause on fail: true
	// - rule 2, stateful: instances are replaced one at a time (maxSurge 0, maxUnavailable 1, as a Kubernetes StatefulSet updates its pods), so at most one instance runs unfamiliar code against the state at first
	// - no metrics: the release updates one instance and waits for Promote (partition 1), so a person checks it before the rest
	// - stateful: a Fail holds the release for a person (Options.OnFail = Recommendation.OnFail) instead of rolling back over changed state
	// Promoted <nil> stable=v2 replicas=3/0
}
