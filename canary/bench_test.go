package canary_test

import (
	"testing"
	"time"

	"github.com/glidepath/glidepath/canary"
	"github.com/glidepath/glidepath/strategy"
)

// Planning a basic canary walks every move of every weight; this is the
// most work Plan does.
func BenchmarkPlanBasic1000(b *testing.B) {
	cfg := canary.Config{StepWeight: 10, Interval: time.Minute, Replicas: 1000,
		MaxSurge: new(strategy.Int(10)), MaxUnavailable: new(strategy.Int(0))}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cfg.Plan(v1, v2); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPlanShorthand(b *testing.B) {
	cfg := canary.Config{StepWeight: 5, Interval: time.Minute}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cfg.Plan(v1, v2); err != nil {
			b.Fatal(err)
		}
	}
}
