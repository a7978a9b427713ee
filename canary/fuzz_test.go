package canary_test

import (
	"math"
	"testing"
	"time"

	"github.com/glidepath/glidepath/canary"
	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/strategytest"
)

func fence(percent bool, v int) *strategy.IntOrPercent {
	if percent {
		return new(strategy.Percent(v))
	}
	return new(strategy.Int(v))
}

// steps decodes a program of explicit steps, two bytes each: the kind and
// a signed value.
func steps(prog []byte) []canary.Step {
	var out []canary.Step
	for i := 0; i+1 < len(prog) && len(out) < 16; i += 2 {
		v := int(int8(prog[i+1]))
		switch prog[i] % 8 {
		case 0:
			out = append(out, canary.SetWeight(v))
		case 1:
			out = append(out, canary.Pause(time.Duration(v)*time.Second))
		case 2:
			out = append(out, canary.Analysis(strategytest.Script("a")))
		case 3:
			out = append(out, canary.SetCanaryScale(canary.Replicas(v)))
		case 4:
			out = append(out, canary.SetCanaryScale(canary.PercentOfReplicas(v*1000)))
		case 5:
			out = append(out, canary.SetCanaryScale(canary.MatchTrafficWeight()))
		case 6:
			out = append(out, canary.SetHeaderRoute(strategy.HeaderRoute{Header: "X", Exact: string(rune('a' + v&7))}))
		case 7:
			out = append(out, canary.SetHeaderRoute(strategy.HeaderRoute{}))
		}
	}
	return out
}

// Whatever the configuration, Validate and Plan never panic and agree,
// and an accepted plan is one the executor accepts, ending on the canary
// alone at full scale.
func FuzzPlan(f *testing.F) {
	f.Add(10, false, false, true, 25, true, 25, []byte{0, 20, 1, 60, 0, 50})
	f.Add(4, true, true, false, 1, false, 0, []byte{3, 1, 6, 0, 2, 0, 7, 0, 5, 0, 0, 30})
	f.Add(0, false, false, false, 0, false, 0, []byte{6, 1, 0, 100})
	f.Add(1, false, false, false, 0, false, 1, []byte{0, 99})
	f.Add(canary.MaxReplicas, false, false, false, 1, false, 0, []byte{0, 50})
	f.Add(canary.MaxReplicas, true, false, false, math.MaxInt, false, math.MaxInt, []byte{4, 127, 0, 1})
	f.Add(math.MaxInt, true, true, true, math.MinInt, true, 101, []byte{0, 200, 3, 255})
	f.Add(7, false, false, true, 30, true, 10, []byte{0, 10, 2, 0, 0, 50, 1, 120})
	f.Fuzz(func(t *testing.T, replicas int, routed, dynamic, sp bool, s int, up bool, u int, prog []byte) {
		cfg := canary.Config{Replicas: replicas, TrafficRouting: routed, DynamicStableScale: dynamic,
			MaxSurge: fence(sp, s), MaxUnavailable: fence(up, u), Steps: steps(prog)}
		p, accepted, err := strategytest.CheckStrategy(cfg, "v1", "v2")
		if err != nil {
			t.Fatal(err)
		}
		if !accepted {
			return
		}
		want := strategy.State{Stable: "v2", Replicas: strategy.Replicas{Stable: replicas}}
		if last := p.Steps[len(p.Steps)-1]; last.State != want || p.Final != want {
			t.Fatalf("plan ends on %s, final %s; want %s", last.State, p.Final, want)
		}
	})
}
