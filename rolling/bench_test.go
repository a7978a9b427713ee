package rolling_test

import (
	"testing"

	"github.com/glidepath/glidepath/rolling"
	"github.com/glidepath/glidepath/strategy"
)

func benchPlan(b *testing.B, c rolling.Config) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Plan("v1", "v2"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPlan10(b *testing.B) { benchPlan(b, rolling.Config{Replicas: 10}) }

func BenchmarkPlan1000Default(b *testing.B) { benchPlan(b, rolling.Config{Replicas: 1000}) }

// One instance at a time: 1,000 batches.
func BenchmarkPlan1000OneByOne(b *testing.B) {
	benchPlan(b, rolling.Config{Replicas: 1000, MaxSurge: new(strategy.Int(1)), MaxUnavailable: new(strategy.Int(0))})
}

func BenchmarkRollbackFromFinal1000(b *testing.B) {
	p, err := (&rolling.Config{Replicas: 1000}).Plan("v1", "v2")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if len(p.Rollback(p.Final)) == 0 {
			b.Fatal("empty rollback")
		}
	}
}
