package canary

import (
	"fmt"
	"testing"

	"pgregory.net/rapid"

	"github.com/glidepath/glidepath/internal/replicas"
	"github.com/glidepath/glidepath/strategy"
)

// Reference cases of Argo Rollouts' basic canary arithmetic
// (CalculateReplicaCountsForBasicCanary, utils/replicaset/canary.go, and
// its table test), reproduced as plain inputs and expected outputs.
func TestBasicStepArgoReference(t *testing.T) {
	i, pc := strategy.Int, strategy.Percent
	type rs = replicaSet
	tests := []struct {
		name           string
		total, weight  int
		surge, unavail strategy.IntOrPercent
		stable, canary rs
		older          []rs
		wantS, wantC   int
	}{
		{"do not count extra stable instances when spec < available", 10, 100, i(3), i(0), rs{7, 8}, rs{6, 3}, nil, 7, 6},
		{"max surge int scales up the canary", 10, 20, i(2), i(0), rs{10, 10}, rs{0, 0}, nil, 10, 2},
		{"max surge percentage scales up the canary", 10, 20, pc(20), i(0), rs{10, 10}, rs{0, 0}, nil, 10, 2},
		{"scale down extra stable instances", 10, 20, pc(20), i(0), rs{10, 10}, rs{2, 2}, nil, 8, 2},
		{"do not go past max surge", 10, 30, i(2), i(0), rs{10, 10}, rs{0, 0}, nil, 10, 2},
		{"max unavailable int scales the stable down", 10, 20, i(0), i(2), rs{10, 10}, rs{0, 0}, nil, 8, 0},
		{"max unavailable percentage scales the stable down", 10, 20, i(0), pc(20), rs{10, 10}, rs{0, 0}, nil, 8, 0},
		{"do not go past max unavailable", 10, 30, i(0), i(2), rs{10, 10}, rs{0, 0}, nil, 8, 0},
		{"max surge and max unavailable together", 10, 50, i(2), i(1), rs{10, 10}, rs{0, 0}, nil, 9, 2},
		{"canary to zero at weight 0", 10, 0, i(1), i(1), rs{10, 10}, rs{1, 1}, nil, 10, 0},
		{"stable to zero at weight 100", 10, 100, i(1), i(1), rs{1, 1}, rs{10, 10}, nil, 0, 10},
		{"canary not zero at a non-zero weight", 1, 20, i(1), i(0), rs{1, 1}, rs{0, 0}, nil, 1, 1},
		{"canary not zero at a weight below 100", 1, 90, i(1), i(0), rs{1, 1}, rs{0, 0}, nil, 1, 1},
		{"stable scales up before the canary", 10, 30, i(1), i(0), rs{1, 1}, rs{0, 0}, []rs{{3, 3}}, 7, 1},
		{"scale down canary and stable", 10, 30, i(0), i(3), rs{8, 5}, rs{4, 4}, nil, 7, 3},
		{"scale down stable and available canary", 10, 100, i(1), i(0), rs{10, 2}, rs{10, 8}, nil, 2, 9},
		{"older instances go first", 10, 30, i(0), i(1), rs{8, 6}, rs{4, 2}, []rs{{3, 3}}, 8, 4},
		{"uneven weight does not round past max surge", 10, 5, i(0), i(1), rs{10, 10}, rs{0, 0}, nil, 9, 0},
		{"uneven weight does not round past max surge (part 2)", 10, 5, i(0), i(1), rs{9, 9}, rs{0, 0}, nil, 9, 1},
		{"0% and 0% resolve to one unavailable", 10, 10, pc(0), pc(0), rs{10, 10}, rs{0, 0}, nil, 9, 0},
		{"matchTrafficWeight ignored without a router: weight decides", 10, 20, pc(20), i(0), rs{10, 10}, rs{0, 0}, nil, 10, 2},
		{"max surge honoured while the stable is unavailable", 4, 100, i(1), i(0), rs{4, 1}, rs{0, 0}, nil, 4, 1},
		{"scale down to max unavailable within max surge", 3, 99, i(0), i(2), rs{3, 3}, rs{0, 0}, nil, 1, 0},
		{"scale down to max unavailable within max surge (part 2)", 3, 99, i(0), i(2), rs{1, 1}, rs{0, 0}, nil, 1, 2},
		{"max unavailable honoured while the stable is unavailable", 4, 100, i(1), i(0), rs{4, 1}, rs{1, 1}, nil, 3, 1},
		{"abort: surge the stable before the canary goes", 4, 0, i(1), i(0), rs{0, 0}, rs{4, 4}, nil, 1, 4},
		{"abort: keep the canary while the stable is not available", 4, 0, i(1), i(0), rs{1, 0}, rs{4, 4}, nil, 1, 4},
		{"abort: drop one canary once the stable is available", 4, 0, i(1), i(0), rs{1, 1}, rs{4, 4}, nil, 1, 3},
		{"full promotion ignores the step weight", 4, 100, i(4), i(4), rs{4, 4}, rs{0, 0}, nil, 0, 4},
		{"full promotion honours max surge and max unavailable", 4, 100, i(3), i(0), rs{4, 4}, rs{0, 0}, nil, 4, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			surge, unavail := resolveFenceposts(tc.surge, tc.unavail, tc.total)
			c, s := basicStep(basicInput{total: tc.total, weight: tc.weight, surge: surge, unavailable: unavail,
				stable: tc.stable, canary: tc.canary, older: tc.older})
			if c != tc.wantC || s != tc.wantS {
				t.Errorf("got canary %d stable %d, want canary %d stable %d", c, s, tc.wantC, tc.wantS)
			}
		})
	}
}

// Argo Rollouts' reference cases for the weight approximation
// (approximateWeightedCanaryStableReplicaCounts and its table test).
func TestApproximateSplitArgoReference(t *testing.T) {
	tests := []struct{ total, weight, surge, canary, stable int }{
		{0, 0, 0, 0, 0}, {0, 50, 0, 0, 0}, {0, 100, 0, 0, 0},
		{0, 0, 1, 0, 0}, {0, 50, 1, 0, 0}, {0, 100, 1, 0, 0},

		{1, 0, 0, 0, 1}, {1, 1, 0, 0, 1}, {1, 49, 0, 0, 1}, {1, 50, 0, 1, 0}, {1, 99, 0, 1, 0}, {1, 100, 0, 1, 0},
		{1, 0, 1, 0, 1}, {1, 1, 1, 1, 1}, {1, 49, 1, 1, 1}, {1, 50, 1, 1, 1}, {1, 99, 1, 1, 1}, {1, 100, 1, 1, 0},

		{2, 0, 0, 0, 2}, {2, 1, 0, 1, 1}, {2, 50, 0, 1, 1}, {2, 99, 0, 1, 1}, {2, 100, 0, 2, 0},
		{2, 0, 1, 0, 2}, {2, 1, 1, 1, 2}, {2, 50, 1, 1, 1}, {2, 99, 1, 2, 1}, {2, 100, 1, 2, 0},

		{3, 10, 0, 1, 2}, {3, 25, 0, 1, 2}, {3, 33, 0, 1, 2}, {3, 34, 0, 1, 2}, {3, 49, 0, 1, 2}, {3, 50, 0, 2, 1},
		{3, 10, 1, 1, 3}, {3, 25, 1, 1, 3}, {3, 33, 1, 1, 2}, {3, 34, 1, 1, 2}, {3, 49, 1, 2, 2}, {3, 50, 1, 2, 2},

		{10, 0, 1, 0, 10}, {10, 1, 0, 1, 9}, {10, 14, 0, 1, 9}, {10, 15, 0, 2, 8}, {10, 16, 0, 2, 8}, {10, 99, 0, 9, 1}, {10, 100, 1, 10, 0},
		{10, 0, 1, 0, 10}, {10, 1, 1, 1, 10}, {10, 18, 1, 2, 9}, {10, 19, 1, 2, 9}, {10, 20, 1, 2, 8}, {10, 23, 1, 2, 8},
		{10, 24, 1, 3, 8}, {10, 25, 1, 3, 8}, {10, 99, 1, 10, 1}, {10, 100, 1, 10, 0},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("replicas=%d/weight=%d/surge=%d", tc.total, tc.weight, tc.surge), func(t *testing.T) {
			c, s := approximateSplit(tc.total, tc.weight, tc.surge)
			if c != tc.canary || s != tc.stable {
				t.Errorf("got canary %d stable %d, want %d %d", c, s, tc.canary, tc.stable)
			}
		})
	}
}

// The documented examples of Argo's basic canary: a first reconcile from a
// fully stable service. (Its comment also lists weight 5 with surge 1 and
// unavailable 1 giving 1 canary and 9 stable, from before the weight was
// approximated over spec+1 instances; the current rule, and its table
// test, give 1 canary next to all 10 stable, 1 of 11 being closer to 5%
// than 1 of 10.)
func TestBasicStepDocumentedExamples(t *testing.T) {
	tests := []struct{ total, weight, unavail, surge, canary, stable int }{
		{10, 10, 1, 1, 1, 9},
		{10, 30, 0, 3, 3, 10},
		{10, 30, 5, 0, 0, 7},
		{10, 5, 1, 1, 1, 10},
		{1, 5, 0, 1, 1, 1},
		{1, 95, 0, 1, 1, 1},
	}
	for _, tc := range tests {
		surge, unavail := resolveFenceposts(strategy.Int(tc.surge), strategy.Int(tc.unavail), tc.total)
		c, s := basicStep(basicInput{total: tc.total, weight: tc.weight, surge: surge, unavailable: unavail,
			stable: replicaSet{tc.total, tc.total}})
		if c != tc.canary || s != tc.stable {
			t.Errorf("%+v: got canary %d stable %d", tc, c, s)
		}
	}
}

// Every move of a basic canary stays within max surge and max
// unavailable, and each weight ends on the approximated split, across
// small and large services, zero and full weights, and surge and
// unavailable given as integers and percentages.
func TestBasicPlanWithinSurgeAndUnavailable(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 300).Draw(t, "replicas")
		fence := func(label string) strategy.IntOrPercent {
			if rapid.Bool().Draw(t, label+" is percent") {
				return strategy.Percent(rapid.IntRange(0, 100).Draw(t, label+"%"))
			}
			return strategy.Int(rapid.IntRange(0, n+2).Draw(t, label))
		}
		surge, unavail := fence("surge"), fence("unavailable")
		if replicas.IsZero(surge) && replicas.IsZero(unavail) {
			unavail = strategy.Int(1)
		}
		weights := rapid.SliceOfN(rapid.IntRange(0, 100), 1, 5).Draw(t, "weights")
		var steps []Step
		for _, w := range weights {
			steps = append(steps, SetWeight(w))
		}
		steps = append(steps, SetWeight(1)) // something sends traffic
		cfg := Config{Replicas: n, MaxSurge: &surge, MaxUnavailable: &unavail, Steps: steps}
		plan, err := cfg.Plan("a", "b")
		if err != nil {
			t.Fatal(err)
		}
		maxSurge, maxUnavail := resolveFenceposts(surge, unavail, n)
		prev := plan.Stable
		for i, s := range plan.Steps {
			if s.Kind != strategy.StepApply || s.State.Canary == "" {
				continue
			}
			r := s.State.Replicas
			if r.Total() > n+maxSurge {
				t.Fatalf("step %d (%s): %d instances exceed %d + surge %d", i, s.State, r.Total(), n, maxSurge)
			}
			// Right after the apply, only instances kept from before
			// are available.
			avail := min(prev.Replicas.Stable, r.Stable) + min(prev.Replicas.Canary, r.Canary)
			if prev.Canary == "" {
				avail = min(prev.Replicas.Stable, r.Stable)
			}
			if avail < n-maxUnavail {
				t.Fatalf("step %d (%s after %s): %d available, below %d - %d", i, s.State, prev, avail, n, maxUnavail)
			}
			if s.State.Weight != replicas.Share(r.Canary, r.Stable) {
				t.Fatalf("step %d (%s): weight is not the instance share", i, s.State)
			}
			prev = s.State
		}
		// The last State before the final one is the full canary.
		last := plan.Steps[len(plan.Steps)-3].State
		if last.Weight != 100 || last.Replicas != (strategy.Replicas{Canary: n}) {
			t.Fatalf("promotion ends on %s; want all %d instances on the canary", last, n)
		}
	})
}

// Argo Rollouts' traffic-routed arithmetic (trafficWeightToReplicas and
// CalculateReplicaCountsForTrafficRoutedCanary's table): the canary gets
// ceil(weight × spec / 100) instances, or what setCanaryScale says, and
// the stable keeps spec unless dynamic stable scale sizes it from its own
// share.
func TestRoutedArgoReference(t *testing.T) {
	for _, tc := range []struct{ total, weight, want int }{
		{10, 0, 0}, {10, 20, 2}, {10, 25, 3}, {10, 33, 4}, {10, 99, 10}, {10, 100, 10},
		{0, 50, 0}, {1, 1, 1}, {3, 34, 2},
	} {
		if got := weightToReplicas(tc.total, tc.weight); got != tc.want {
			t.Errorf("weightToReplicas(%d, %d) = %d, want %d", tc.total, tc.weight, got, tc.want)
		}
	}
	for _, tc := range []struct {
		name          string
		scale         Scale
		total, weight int
		wantCanary    int
	}{
		{"setCanaryScale.replicas ignores the weight", Replicas(9), 1, 100, 9},
		{"setCanaryScale.weight is a share of spec, above 100% too", PercentOfReplicas(200), 4, 100, 8},
		{"matchTrafficWeight sizes from the weight", MatchTrafficWeight(), 10, 20, 2},
	} {
		if got := tc.scale.count(tc.total, tc.weight); got != tc.wantCanary {
			t.Errorf("%s: canary %d, want %d", tc.name, got, tc.wantCanary)
		}
	}
	// Dynamic stable scale at weight 10 of 10 instances: 1 canary, 9 stable.
	cfg := Config{Replicas: 10, TrafficRouting: true, DynamicStableScale: true, Steps: []Step{SetWeight(10)}}
	p, err := cfg.Plan("a", "b")
	if err != nil {
		t.Fatal(err)
	}
	want := strategy.State{Stable: "a", Canary: "b", Weight: 10, Replicas: strategy.Replicas{Stable: 9, Canary: 1}}
	found := false
	for _, s := range p.Steps {
		found = found || s.Kind == strategy.StepApply && s.State == want
	}
	if !found {
		t.Errorf("no step applies %s", want)
	}
}

// Argo Rollouts' default max surge and max unavailable for a canary are
// both 25%. (Its constants are the strings "25", which its deprecated
// IntOrString parser reads as percentages; its documentation says 25%.)
// Surge rounds up, unavailable down, unavailable never exceeds the
// instance count, and a service of no instances has none unavailable.
func TestDefaultFenceposts(t *testing.T) {
	var c Config
	surge, unavail := c.surgeAndUnavailable()
	if surge != strategy.Percent(25) || unavail != strategy.Percent(25) {
		t.Fatalf("defaults %s / %s, want 25%% / 25%%", surge, unavail)
	}
	for _, tc := range []struct{ total, surge, unavail int }{
		{0, 0, 0}, {1, 1, 0}, {3, 1, 0}, {4, 1, 1}, {10, 3, 2}, {100, 25, 25}, {101, 26, 25},
	} {
		s, u := resolveFenceposts(surge, unavail, tc.total)
		if s != tc.surge || u != tc.unavail {
			t.Errorf("%d instances: surge %d unavailable %d, want %d %d", tc.total, s, u, tc.surge, tc.unavail)
		}
	}
	// An unavailable budget above the instance count is capped at it.
	if _, u := resolveFenceposts(strategy.Int(0), strategy.Int(9), 4); u != 4 {
		t.Errorf("unavailable 9 of 4 resolves to %d, want 4", u)
	}
}
