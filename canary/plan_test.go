package canary_test

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/glidepath/glidepath/canary"
	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/strategytest"
)

func planLines(t *testing.T, cfg canary.Config) []string {
	t.Helper()
	p, err := cfg.Plan(v1, v2)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range p.Steps {
		out = append(out, s.String())
	}
	return out
}

func TestPlans(t *testing.T) {
	a := strategytest.Script("a")
	route := strategy.HeaderRoute{Header: "X-Beta", Exact: "1"}
	tests := []struct {
		name string
		cfg  canary.Config
		want []string
	}{{
		name: "weights only, explicit steps",
		cfg:  canary.Config{Steps: []canary.Step{canary.SetWeight(10), canary.Pause(time.Minute), canary.SetWeight(50), canary.Analysis(a).Named("check")}},
		want: []string{
			"deploy canary: apply stable=v1 canary=v2 weight=0%",
			"deploy canary: wait until ready",
			"setWeight 10: apply stable=v1 canary=v2 weight=10%",
			"pause 1m0s",
			"setWeight 50: apply stable=v1 canary=v2 weight=50%",
			"check: analyze [a]",
			"promote: apply stable=v1 canary=v2 weight=100%",
			"promote: apply stable=v2",
		},
	}, {
		name: "header route, then weights",
		cfg:  canary.Config{Steps: []canary.Step{canary.SetHeaderRoute(route), canary.PauseUntilPromoted(), canary.SetWeight(30), canary.SetHeaderRoute(strategy.HeaderRoute{})}},
		want: []string{
			"deploy canary: apply stable=v1 canary=v2 weight=0%",
			"deploy canary: wait until ready",
			`setHeaderRoute X-Beta="1": apply stable=v1 canary=v2 weight=0% route=X-Beta`,
			"pause until promoted",
			"setWeight 30: apply stable=v1 canary=v2 weight=30% route=X-Beta",
			"setHeaderRoute off: apply stable=v1 canary=v2 weight=30%",
			"promote: apply stable=v1 canary=v2 weight=100%",
			"promote: apply stable=v2",
		},
	}, {
		name: "basic canary of 4, surge 1, unavailable 0",
		cfg: canary.Config{Replicas: 4, MaxSurge: new(strategy.Int(1)), MaxUnavailable: new(strategy.Int(0)),
			Steps: []canary.Step{canary.SetWeight(50), canary.Pause(time.Minute)}},
		want: []string{
			"deploy canary: apply stable=v1 canary=v2 weight=0% replicas=4/0",
			"deploy canary: wait until ready",
			"setWeight 50: apply stable=v1 canary=v2 weight=20% replicas=4/1",
			"setWeight 50: wait until ready",
			"setWeight 50: apply stable=v1 canary=v2 weight=25% replicas=3/1",
			"setWeight 50: wait until ready",
			"setWeight 50: apply stable=v1 canary=v2 weight=40% replicas=3/2",
			"setWeight 50: wait until ready",
			"setWeight 50: apply stable=v1 canary=v2 weight=50% replicas=2/2",
			"setWeight 50: wait until ready",
			"pause 1m0s",
			"promote: apply stable=v1 canary=v2 weight=60% replicas=2/3",
			"promote: wait until ready",
			"promote: apply stable=v1 canary=v2 weight=75% replicas=1/3",
			"promote: wait until ready",
			"promote: apply stable=v1 canary=v2 weight=80% replicas=1/4",
			"promote: wait until ready",
			"promote: apply stable=v1 canary=v2 weight=100% replicas=0/4",
			"promote: wait until ready",
			"promote: apply stable=v2 replicas=4/0",
		},
	}, {
		name: "routed: canary scaled from the weight, stable kept full",
		cfg:  canary.Config{Replicas: 10, TrafficRouting: true, Steps: []canary.Step{canary.SetWeight(25), canary.Pause(0)}},
		want: []string{
			"deploy canary: apply stable=v1 canary=v2 weight=0% replicas=10/0",
			"deploy canary: wait until ready",
			"setWeight 25: apply stable=v1 canary=v2 weight=0% replicas=10/3",
			"setWeight 25: wait until ready",
			"setWeight 25: apply stable=v1 canary=v2 weight=25% replicas=10/3",
			"pause until promoted",
			"promote: apply stable=v1 canary=v2 weight=25% replicas=10/10",
			"promote: wait until ready",
			"promote: apply stable=v1 canary=v2 weight=100% replicas=10/10",
			"promote: apply stable=v2 replicas=10/0",
		},
	}, {
		name: "routed with dynamic stable scale: canary up, traffic shifted, stable down",
		cfg:  canary.Config{Replicas: 10, TrafficRouting: true, DynamicStableScale: true, Steps: []canary.Step{canary.SetWeight(40), canary.SetWeight(20)}},
		want: []string{
			"deploy canary: apply stable=v1 canary=v2 weight=0% replicas=10/0",
			"deploy canary: wait until ready",
			"setWeight 40: apply stable=v1 canary=v2 weight=0% replicas=10/4",
			"setWeight 40: wait until ready",
			"setWeight 40: apply stable=v1 canary=v2 weight=40% replicas=10/4",
			"setWeight 40: apply stable=v1 canary=v2 weight=40% replicas=6/4",
			// Falling weight: stable up first, canary down last.
			"setWeight 20: apply stable=v1 canary=v2 weight=40% replicas=8/4",
			"setWeight 20: wait until ready",
			"setWeight 20: apply stable=v1 canary=v2 weight=20% replicas=8/4",
			"setWeight 20: apply stable=v1 canary=v2 weight=20% replicas=8/2",
			"promote: apply stable=v1 canary=v2 weight=20% replicas=8/10",
			"promote: wait until ready",
			"promote: apply stable=v1 canary=v2 weight=100% replicas=8/10",
			"promote: apply stable=v1 canary=v2 weight=100% replicas=0/10",
			"promote: apply stable=v2 replicas=10/0",
		},
	}, {
		name: "routed: setCanaryScale replicas, percentage, then match the weight",
		cfg: canary.Config{Replicas: 4, TrafficRouting: true, Steps: []canary.Step{
			canary.SetCanaryScale(canary.Replicas(1)), canary.SetWeight(10), canary.SetCanaryScale(canary.PercentOfReplicas(200)),
			canary.SetCanaryScale(canary.MatchTrafficWeight()),
		}},
		want: []string{
			"deploy canary: apply stable=v1 canary=v2 weight=0% replicas=4/0",
			"deploy canary: wait until ready",
			"setCanaryScale replicas=1: apply stable=v1 canary=v2 weight=0% replicas=4/1",
			"setCanaryScale replicas=1: wait until ready",
			"setWeight 10: apply stable=v1 canary=v2 weight=10% replicas=4/1",
			"setCanaryScale percent=200: apply stable=v1 canary=v2 weight=10% replicas=4/8",
			"setCanaryScale percent=200: wait until ready",
			"setCanaryScale matchTrafficWeight: apply stable=v1 canary=v2 weight=10% replicas=4/1",
			"promote: apply stable=v1 canary=v2 weight=10% replicas=4/4",
			"promote: wait until ready",
			"promote: apply stable=v1 canary=v2 weight=100% replicas=4/4",
			"promote: apply stable=v2 replicas=4/0",
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := planLines(t, tc.cfg)
			if !slices.Equal(got, tc.want) {
				t.Errorf("plan:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			p, _ := tc.cfg.Plan(v1, v2)
			wantStable := strategy.State{Stable: v1, Replicas: strategy.Replicas{Stable: tc.cfg.Replicas}}
			wantFinal := strategy.State{Stable: v2, Replicas: strategy.Replicas{Stable: tc.cfg.Replicas}}
			if p.Strategy != "canary" || p.Stable != wantStable || p.Final != wantFinal {
				t.Errorf("plan %q stable %s final %s", p.Strategy, p.Stable, p.Final)
			}
			if err := p.Validate(nil); err != nil {
				t.Errorf("the executor would reject the plan: %v", err)
			}
		})
	}
}

// Flagger's documented weight sequences for the shorthand.
func TestShorthandWeights(t *testing.T) {
	tests := []struct {
		cfg  canary.Config
		want []int
	}{
		{canary.Config{StepWeight: 10, MaxWeight: 50}, []int{10, 20, 30, 40, 50}},
		{canary.Config{StepWeight: 20, MaxWeight: 50}, []int{20, 40, 60}},
		{canary.Config{StepWeight: 30}, []int{30, 60, 90, 100}},
		{canary.Config{StepWeight: 100}, []int{100}},
		{canary.Config{StepWeight: 5, MaxWeight: 5}, []int{5}},
		{canary.Config{StepWeights: []int{1, 2, 10, 80}}, []int{1, 2, 10, 80}},
		{canary.Config{Steps: []canary.Step{canary.SetWeight(5)}}, nil},
	}
	for _, tc := range tests {
		if got := tc.cfg.Weights(); !slices.Equal(got, tc.want) {
			t.Errorf("%+v: weights %v, want %v", tc.cfg, got, tc.want)
		}
	}
}

// The shorthand expands to a weight, a pause of Interval and the
// analyzers, for each weight, then the promotion.
func TestShorthandPlan(t *testing.T) {
	a := strategytest.Script("success-rate")
	cfg := canary.Config{StepWeight: 20, MaxWeight: 40, Interval: 2 * time.Minute, Analyzers: []strategy.Analyzer{a},
		Background: canary.Background{Analyzers: []strategy.Analyzer{strategytest.Script("bg")}, From: 1}}
	want := []string{
		"deploy canary: apply stable=v1 canary=v2 weight=0%",
		"deploy canary: wait until ready",
		"setWeight 20: apply stable=v1 canary=v2 weight=20%",
		"interval at 20%: pause 2m0s",
		"analyze [success-rate]",
		"setWeight 40: apply stable=v1 canary=v2 weight=40%",
		"interval at 40%: pause 2m0s",
		"analyze [success-rate]",
		"promote: apply stable=v1 canary=v2 weight=100%",
		"promote: apply stable=v2",
	}
	if got := planLines(t, cfg); !slices.Equal(got, want) {
		t.Errorf("plan:\n%s", strings.Join(got, "\n"))
	}
	p, _ := cfg.Plan(v1, v2)
	if len(p.Background) != 1 || p.Background[0].From != 5 {
		t.Errorf("background %+v; want it from step 5 (the second weight)", p.Background)
	}
}

func TestBackgroundFrom(t *testing.T) {
	bg := canary.Background{Analyzers: []strategy.Analyzer{strategytest.Script("bg")}}
	steps := []canary.Step{canary.SetWeight(10), canary.Pause(time.Minute), canary.SetWeight(30), canary.Analysis(strategytest.Script("a"))}
	for start, want := range []int{2, 3, 4, 5} {
		bg.From = start
		p, err := canary.Config{Steps: steps, Background: bg}.Plan(v1, v2)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Background) != 1 || p.Background[0].From != want {
			t.Errorf("From %d: background %+v, want from plan step %d", start, p.Background, want)
		}
	}
}

func TestValidate(t *testing.T) {
	a := strategytest.Script("a")
	tests := []struct {
		name string
		cfg  canary.Config
		want []string // substrings, one per expected problem
	}{
		{"zero value", canary.Config{}, []string{"no steps"}},
		{"bad weights, durations, analysis", canary.Config{Steps: []canary.Step{
			canary.SetWeight(101), canary.SetWeight(-1), canary.Pause(-time.Second), canary.Analysis(), canary.Analysis(nil), {Kind: "jump"},
		}}, []string{"weight 101 is outside 0..100", "weight -1 is outside 0..100", "negative duration", "Steps[3] (analysis): no analyzers",
			"analyzer 0 is nil", `unknown step kind "jump"`, "no step sends traffic"}},
		{"instances", canary.Config{Replicas: -1, ProgressDeadline: -1, MaxSurge: new(strategy.Int(0)), MaxUnavailable: new(strategy.Percent(0)),
			DynamicStableScale: true, Steps: []canary.Step{canary.SetWeight(10)}},
			[]string{"Replicas is negative", "ProgressDeadline is negative", "both zero", "DynamicStableScale needs TrafficRouting"}},
		{"dynamic stable scale without instances", canary.Config{TrafficRouting: true, DynamicStableScale: true, Steps: []canary.Step{canary.SetWeight(10)}},
			[]string{"DynamicStableScale needs Replicas"}},
		{"malformed surge", canary.Config{Replicas: 3, MaxSurge: &strategy.IntOrPercent{Str: "7"}, MaxUnavailable: new(strategy.Int(-2)),
			Steps: []canary.Step{canary.SetWeight(10)}}, []string{"MaxSurge:", "MaxUnavailable:"}},
		{"shorthand and steps", canary.Config{StepWeight: 10, Interval: time.Minute, Steps: []canary.Step{canary.SetWeight(10)}},
			[]string{"both Steps and the shorthand"}},
		{"shorthand fields", canary.Config{StepWeight: -5, MaxWeight: 120, StepWeights: []int{10, 5, 0}, Analyzers: []strategy.Analyzer{nil}},
			[]string{"both StepWeight and StepWeights", "StepWeight -5", "MaxWeight 120", "MaxWeight is set with StepWeights",
				"StepWeights[1] = 5 does not increase", "StepWeights[2] = 0 is outside", "Interval must be positive", "Analyzers: analyzer 0 is nil"}},
		{"max weight alone", canary.Config{MaxWeight: 50, Interval: time.Minute}, []string{"needs StepWeight or StepWeights", "MaxWeight is set without StepWeight"}},
		{"scale and route without a router", canary.Config{Replicas: 4, Steps: []canary.Step{
			canary.SetCanaryScale(canary.Replicas(-1)), canary.SetHeaderRoute(strategy.HeaderRoute{Header: "x", Exact: "1", Regex: "("}),
			canary.SetCanaryScale(canary.Scale{Mode: "half"}), canary.SetCanaryScale(canary.Scale{Value: 3}),
		}}, []string{"negative replicas -1", "Steps[0] (setCanaryScale): setCanaryScale needs TrafficRouting", "exactly one of Exact, Prefix and Regex",
			"missing closing )", "setHeaderRoute needs TrafficRouting", `unknown scale mode "half"`, "Steps[2] (setCanaryScale): setCanaryScale needs TrafficRouting",
			"matchTrafficWeight takes no value", "Steps[3] (setCanaryScale): setCanaryScale needs TrafficRouting"}},
		{"scale without instances", canary.Config{Steps: []canary.Step{canary.SetCanaryScale(canary.Replicas(1)), canary.SetWeight(5),
			canary.SetHeaderRoute(strategy.HeaderRoute{Prefix: "a"})}},
			[]string{"setCanaryScale needs Replicas", "no header name"}},
		{"background", canary.Config{Steps: []canary.Step{canary.SetWeight(10)},
			Background: canary.Background{From: 3, Analyzers: []strategy.Analyzer{nil}}},
			[]string{"Background: analyzer 0 is nil", "From 3 is outside Steps"}},
		{"background without analyzers", canary.Config{Steps: []canary.Step{canary.SetWeight(10), canary.Pause(0)},
			Background: canary.Background{From: 1}}, []string{"Background has no analyzers"}},
		{"traffic onto a canary scaled to nothing", canary.Config{Replicas: 4, TrafficRouting: true, Steps: []canary.Step{
			canary.SetCanaryScale(canary.Replicas(0)), canary.SetWeight(10),
		}}, []string{"Steps[1] (setWeight): sends traffic to the canary while its scale (replicas=0) gives it no instance"}},
		{"too many instances", canary.Config{Replicas: canary.MaxReplicas + 1, Steps: []canary.Step{canary.SetWeight(10)}},
			[]string{"Replicas (16777217) is more than 16777216"}},
		{"canary scales too large", canary.Config{Replicas: 4, TrafficRouting: true, Steps: []canary.Step{
			canary.SetCanaryScale(canary.Replicas(canary.MaxReplicas + 1)), canary.SetCanaryScale(canary.PercentOfReplicas(math.MaxInt)),
			canary.SetWeight(10),
		}}, []string{"Steps[0] (setCanaryScale): replicas=16777217 gives the canary more than 16777216 instances",
			"Steps[1] (setCanaryScale): percent="}},
		{"plan too large", canary.Config{Replicas: 2_000_000, MaxSurge: new(strategy.Int(1)), MaxUnavailable: new(strategy.Int(0)),
			Steps: []canary.Step{canary.SetWeight(50)}},
			[]string{"the plan would take more than 500000 steps (2000000 instances, at most 1 moving at a time): raise MaxSurge or MaxUnavailable"}},
		{"header route onto a canary with no instance", canary.Config{Replicas: 4, TrafficRouting: true, Steps: []canary.Step{
			canary.SetHeaderRoute(strategy.HeaderRoute{Header: "x", Exact: "1"}), canary.Analysis(a),
		}}, []string{"Steps[0] (setHeaderRoute): sends traffic to the canary"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if !errors.Is(err, strategy.ErrInvalidConfig) {
				t.Fatalf("Validate() = %v; want an invalid configuration", err)
			}
			for _, w := range tc.want {
				if !strategytest.HasProblem(err, w) {
					t.Errorf("error does not name %q:\n%v", w, err)
				}
			}
			if n := len(strategytest.Problems(err)); n != len(tc.want) {
				t.Errorf("error names %d problems, want %d:\n%v", n, len(tc.want), err)
			}
			if _, perr := tc.cfg.Plan(v1, v2); !errors.Is(perr, strategy.ErrInvalidConfig) {
				t.Errorf("Plan accepted an invalid config: %v", perr)
			}
		})
	}
}

func TestValidConfigs(t *testing.T) {
	for name, cfg := range configs(func(n string) strategy.Analyzer { return strategytest.Script(n) }) {
		if err := cfg.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
