package bluegreen_test

import (
	"testing"

	"github.com/glidepath/glidepath/bluegreen"
	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/strategytest"
)

func BenchmarkPlan(b *testing.B) {
	c := &bluegreen.Config{Replicas: 10, CanaryReplicas: 2, ManualPromotion: true,
		PrePromotion: []strategy.Analyzer{strategytest.Script("pre")}, PostPromotion: []strategy.Analyzer{strategytest.Script("post")}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Plan("v1", "v2"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRollback(b *testing.B) {
	p, err := (&bluegreen.Config{Replicas: 10}).Plan("v1", "v2")
	if err != nil {
		b.Fatal(err)
	}
	from := strategy.State{Stable: "v1", Canary: "v2", Weight: 100, Replicas: strategy.Replicas{Stable: 10, Canary: 10}}
	b.ReportAllocs()
	for b.Loop() {
		if len(p.Rollback(from)) != 1 {
			b.Fatal("want one State")
		}
	}
}
