package rolling_test

import (
	"math"
	"testing"

	"github.com/glidepath/glidepath/rolling"
	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/strategytest"
)

func bound(percent bool, v int) strategy.IntOrPercent {
	if percent {
		return strategy.Percent(v)
	}
	return strategy.Int(v)
}

// Whatever the numbers, Validate and Plan never panic, agree with each
// other, and an accepted plan is one the executor accepts and ends with
// every instance on the new revision.
func FuzzPlan(f *testing.F) {
	f.Add(4, false, 0, false, 0, 0)
	f.Add(3, true, 25, true, 25, 0)
	f.Add(1, false, 0, false, 1, 0)
	f.Add(0, true, 0, true, 0, 0)
	f.Add(-1, false, -1, false, -1, -1)
	f.Add(10, true, 150, true, 101, 5)
	f.Add(rolling.MaxReplicas, false, 1, false, 0, 0)
	f.Add(rolling.MaxReplicas+1, true, 100, true, 100, 0)
	f.Add(1000, false, math.MaxInt, false, math.MaxInt, 999)
	f.Add(math.MaxInt, false, math.MaxInt, true, 100, math.MaxInt)
	f.Add(math.MinInt, true, math.MinInt, false, math.MinInt, math.MinInt)
	f.Fuzz(func(t *testing.T, n int, sp bool, s int, up bool, u int, partition int) {
		cfg := rolling.Config{Replicas: n, MaxSurge: new(bound(sp, s)), MaxUnavailable: new(bound(up, u)), Partition: partition}
		p, accepted, err := strategytest.CheckStrategy(cfg, "v1", "v2")
		if err != nil {
			t.Fatal(err)
		}
		if !accepted {
			return
		}
		if last := p.Steps[len(p.Steps)-1]; last.State != p.Final || p.Final != (strategy.State{Stable: "v2", Replicas: strategy.Replicas{Stable: n}}) {
			t.Fatalf("plan ends on %s, final %s", last.State, p.Final)
		}
		if path := p.Rollback(p.Final); len(path) == 0 || path[len(path)-1] != p.Stable {
			t.Fatalf("rollback from the final State ends on %v", path)
		}
	})
}
