package flags_test

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/glidepath/glidepath/canary"
	"github.com/glidepath/glidepath/flags"
	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/strategytest"
)

const checkoutFlagd = `{"flags": {"checkout": {"state": "ENABLED",
  "variants": {"legacy": "legacy", "fast": "fast", "faster": "faster"}, "defaultVariant": "legacy",
  "targeting": {"if": [{"ends_with": [{"var": "email"}, "@example.com"]}, "faster",
                       {"fractional": [["legacy", 100], ["fast", 0], ["faster", 0]]}]}}}}`

// A release moves the weights of the flag's fractional rule step by step,
// and every user is served what flagd's bucketing gives for those weights.
func TestFractionalTargetRelease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := loadFlagd(t, checkoutFlagd)
		target, err := flags.NewFractionalTarget(p, "checkout", flags.Splits{"new": {"fast": 1, "faster": 1}})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		var seen []map[string]int
		obs := strategy.ObserverFunc(func(e strategy.Event) {
			if _, ok := e.(strategy.StateApplied); ok {
				def, _ := p.Definition("checkout")
				w, err := flags.Weights(def)
				if err != nil {
					t.Error(err)
				}
				seen = append(seen, w)
				checkAssignments(t, p, w)
			}
		})
		res, err := strategy.Run(ctx, strategy.Release{
			Target: target, Stable: "legacy", Canary: "new",
			Strategy: canary.Config{StepWeights: []int{10, 50}, Interval: time.Minute},
			Observer: obs,
		})
		if err != nil {
			t.Fatalf("release: %v (%+v)", err, res)
		}
		want := []map[string]int{
			{"legacy": 1000000, "fast": 0, "faster": 0},
			{"legacy": 900000, "fast": 50000, "faster": 50000},
			{"legacy": 500000, "fast": 250000, "faster": 250000},
		}
		for i, w := range want {
			if i >= len(seen) || fmt.Sprint(seen[i]) != fmt.Sprint(w) {
				t.Fatalf("steps %v, want %v first", seen, want)
			}
		}
		def, _ := p.Definition("checkout")
		final, _ := flags.Weights(def)
		if final["legacy"] != 0 || final["fast"] != 500000 || final["faster"] != 500000 {
			t.Errorf("after promotion: %v", final)
		}
		// The rest of the rule is untouched: staff still get "faster".
		got := p.StringEvaluation(ctx, "checkout", "", openfeature.FlattenedContext{openfeature.TargetingKey: "x", "email": "a@example.com"})
		if got.Value != "faster" {
			t.Errorf("staff rule lost: %+v", got)
		}
	})
}

// checkAssignments compares the provider with flagd's bucketing for the
// weights in their rule order.
func checkAssignments(t *testing.T, p *flags.Provider, w map[string]int) {
	t.Helper()
	order := []string{"legacy", "fast", "faster"}
	weights := []int32{int32(w["legacy"]), int32(w["fast"]), int32(w["faster"])}
	for i := range 500 {
		key := fmt.Sprintf("user-%d", i)
		want := order[flags.FlagdBucket("checkout"+key, weights)]
		got := p.StringEvaluation(context.Background(), "checkout", "", openfeature.FlattenedContext{openfeature.TargetingKey: key})
		if got.Value != want {
			t.Fatalf("weights %v: %s served %q, want %q", w, key, got.Value, want)
		}
	}
}

func TestFractionalTargetRejects(t *testing.T) {
	p := loadFlagd(t, checkoutFlagd)
	if _, err := flags.NewFractionalTarget(p, "checkout", flags.Splits{"bad": {"nope": 1, "fast": -1}}); err == nil {
		t.Error("a split with an undefined variant and a negative weight was accepted")
	}
	static := loadFlagd(t, `{"flags": {"s": {"state": "ENABLED", "variants": {"a": 1}, "defaultVariant": "a"}}}`)
	if _, err := flags.NewFractionalTarget(static, "s", nil); err == nil {
		t.Error("a flag without a fractional rule was accepted")
	}
	target, err := flags.NewFractionalTarget(p, "checkout", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := target.Apply(context.Background(), strategy.State{Stable: "legacy", Canary: "nope", Weight: 10}); err == nil {
		t.Error("an unknown canary revision was applied")
	}
}

func TestFractionalTargetConformance(t *testing.T) {
	for _, replicas := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			strategytest.TestTarget(t, strategytest.Conformance{
				New: func() strategy.Target {
					target, err := flags.NewFractionalTarget(loadFlagd(t, checkoutFlagd), "checkout", flags.Splits{"new": {"fast": 1, "faster": 1}})
					if err != nil {
						t.Fatal(err)
					}
					return target
				},
				Initial:  strategy.State{Stable: "legacy"},
				Canary:   "new",
				Replicas: replicas,
			})
		})
	}
}
