package rolling_test

import (
	"runtime"
	"testing"

	"github.com/glidepath/glidepath/rolling"
	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/strategytest"
)

// A fleet of 16,777,175 instances moved 172 at a time would plan hundreds
// of thousands of steps and hundreds of MiB: Validate and Plan refuse it
// with a clear error, cheaply.
func TestHugePlanRefusedCheaply(t *testing.T) {
	cfg := rolling.Config{Replicas: 16_777_175, MaxSurge: new(strategy.Int(86)), MaxUnavailable: new(strategy.Int(86))}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	verr := cfg.Validate()
	_, perr := cfg.Plan("v1", "v2")
	runtime.ReadMemStats(&after)
	for _, err := range []error{verr, perr} {
		if err == nil {
			t.Fatal("a plan of hundreds of thousands of steps was accepted")
		}
		if !strategytest.HasProblem(err, "the plan would take more than 10000 steps (16777175 instances, at most 172 moving at a time): raise MaxSurge or MaxUnavailable") {
			t.Errorf("unclear error: %v", err)
		}
	}
	if mib := (after.TotalAlloc - before.TotalAlloc) >> 20; mib > 64 {
		t.Errorf("refusing the plan allocated %d MiB", mib)
	}
	// The largest plan accepted stays small.
	ok := rolling.Config{Replicas: 2_000, MaxSurge: new(strategy.Int(1)), MaxUnavailable: new(strategy.Int(0))}
	p, err := ok.Plan("v1", "v2")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Steps) > rolling.MaxPlanSteps {
		t.Fatalf("%d steps", len(p.Steps))
	}
}

// Bounds caps max-unavailable by Replicas, and is 0 for 0 replicas, as
// Kubernetes' MaxUnavailable does; max-surge is not capped.
func TestBoundsCapUnavailable(t *testing.T) {
	for _, tc := range []struct {
		cfg                rolling.Config
		surge, unavailable int
	}{
		{rolling.Config{Replicas: 3, MaxSurge: new(strategy.Int(10)), MaxUnavailable: new(strategy.Int(10))}, 10, 3},
		{rolling.Config{Replicas: 0, MaxSurge: new(strategy.Int(1)), MaxUnavailable: new(strategy.Int(5))}, 1, 0},
		{rolling.Config{Replicas: 0}, 0, 0},
		{rolling.Config{Replicas: 4, MaxSurge: new(strategy.Int(0)), MaxUnavailable: new(strategy.Percent(10))}, 0, 1},
		{rolling.Config{Replicas: 10}, 3, 2},
		{rolling.Config{Replicas: 4, MaxSurge: new(strategy.Percent(100)), MaxUnavailable: new(strategy.Percent(100))}, 4, 4},
	} {
		s, u := tc.cfg.Bounds()
		if s != tc.surge || u != tc.unavailable {
			t.Errorf("Replicas %d: Bounds() = %d, %d; want %d, %d", tc.cfg.Replicas, s, u, tc.surge, tc.unavailable)
		}
	}
}
