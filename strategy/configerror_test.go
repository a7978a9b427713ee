package strategy_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/strategytest"
)

func TestConfigError(t *testing.T) {
	if err := strategy.Invalid("nothing wrong"); err != nil {
		t.Fatalf("Invalid with no problems = %#v, want a nil error", err)
	}
	err := strategy.Invalid("widget", "a is negative", "b is missing")
	var ce *strategy.ConfigError
	if !errors.As(err, &ce) || ce.What != "widget" || !slices.Equal(ce.Problems, []string{"a is negative", "b is missing"}) {
		t.Fatalf("errors.As(%v) = %+v", err, ce)
	}
	// Wrapped the ways glidepath wraps it, it still answers both questions.
	for _, w := range []error{
		strategy.Permanent(err),
		fmt.Errorf("release: %w", err),
		errors.Join(errors.New("other"), err),
	} {
		if !errors.Is(w, strategy.ErrInvalidConfig) {
			t.Errorf("errors.Is(%v, ErrInvalidConfig) = false", w)
		}
		var got *strategy.ConfigError
		if !errors.As(w, &got) || !slices.Equal(got.Problems, ce.Problems) {
			t.Errorf("errors.As(%v) lost the problems: %+v", w, got)
		}
	}
	if errors.Is(err, strategy.ErrAborted) {
		t.Error("a ConfigError matches ErrAborted")
	}
}

func TestValidateFoldsStrategyProblems(t *testing.T) {
	bad := strategy.StrategyFunc(func(stable, canary strategy.Revision) (strategy.Plan, error) {
		return strategy.Plan{}, strategy.Invalid("my strategy", "weight 0", "no steps")
	})
	_, err := strategy.Validate(strategy.Release{Name: "r", Stable: "v1", Canary: "v2", Strategy: bad})
	var ce *strategy.ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("Validate = %v, want a ConfigError", err)
	}
	for _, want := range []string{"strategy: weight 0", "strategy: no steps"} {
		if !slices.Contains(ce.Problems, want) {
			t.Errorf("problems %q lack %q", ce.Problems, want)
		}
	}
}

func TestStateAndPlanValidate(t *testing.T) {
	if err := (strategy.State{Stable: "v1", Weight: 120}).Validate(); !errors.Is(err, strategy.ErrInvalidConfig) {
		t.Errorf("State.Validate of weight 120 = %v", err)
	}
	if err := (strategy.State{Stable: "v1"}).Validate(); err != nil {
		t.Errorf("State.Validate of a plain stable state = %v", err)
	}
	var ce *strategy.ConfigError
	if err := (strategy.Plan{}).Validate(nil); !errors.As(err, &ce) || !slices.Contains(ce.Problems, "plan has no steps") {
		t.Errorf("Plan{}.Validate = %v", err)
	}
	if err := strategy.Percent(120).Validate(); !errors.As(err, &ce) || len(ce.Problems) != 1 {
		t.Errorf("Percent(120).Validate = %v", err)
	}
}

// A Validate method gathers every problem, including its parts', with
// errors.As, and returns them as one ConfigError.
func ExampleConfigError() {
	part := strategy.Percent(150).Validate()
	problems := []string{"Replicas is negative"}
	var ce *strategy.ConfigError
	if errors.As(part, &ce) {
		for _, p := range ce.Problems {
			problems = append(problems, "MaxSurge: "+p)
		}
	}
	err := strategy.Invalid("my config", problems...)
	fmt.Println(errors.Is(err, strategy.ErrInvalidConfig))
	fmt.Println(err)
	// Output:
	// true
	// invalid configuration: my config
	//   - Replicas is negative
	//   - MaxSurge: "150%" is over 100%
}

// Each trigger takes only the choices that apply to it.
func TestPolicyChoicesApplyToTheirTrigger(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts strategy.Options
		want string // "" for valid
	}{
		{"defaults", strategy.Options{}, ""},
		{"fail: pause after two", strategy.Options{OnFail: strategy.Policy{Pause: true, Allowed: 2}}, ""},
		{"deadline: pause", strategy.Options{OnDeadline: strategy.Policy{Pause: true}}, ""},
		{"cancel: leave", strategy.Options{OnCancel: strategy.Policy{Leave: true}}, ""},
		{"fail: negative", strategy.Options{OnFail: strategy.Policy{Allowed: -1}}, "options: OnFail.Allowed is negative (-1)"},
		{"fail: leave", strategy.Options{OnFail: strategy.Policy{Leave: true}}, "options: OnFail.Leave applies to OnCancel only"},
		{"deadline: allowed", strategy.Options{OnDeadline: strategy.Policy{Allowed: 1}}, "options: OnDeadline.Allowed applies to OnFail only"},
		{"deadline: leave", strategy.Options{OnDeadline: strategy.Policy{Leave: true}}, "options: OnDeadline.Leave applies to OnCancel only"},
		{"cancel: pause", strategy.Options{OnCancel: strategy.Policy{Pause: true}},
			"options: OnCancel.Pause: a cancelled release cannot wait for a person (use Leave to resume it later)"},
		{"cancel: allowed", strategy.Options{OnCancel: strategy.Policy{Allowed: 3}}, "options: OnCancel.Allowed applies to OnFail only"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rel := strategy.Release{Name: "r", Stable: "v1", Canary: "v2", Options: tc.opts,
				Strategy: strategy.StrategyFunc(func(stable, canary strategy.Revision) (strategy.Plan, error) {
					return strategy.Plan{Steps: []strategy.Step{strategy.Apply(strategy.State{Stable: stable, Canary: canary, Weight: 100})}}, nil
				})}
			_, err := strategy.Validate(rel)
			var ce *strategy.ConfigError
			errors.As(err, &ce)
			if tc.want == "" {
				if ce != nil && slices.ContainsFunc(ce.Problems, func(p string) bool { return len(p) > 8 && p[:8] == "options:" }) {
					t.Fatalf("valid options rejected: %v", err)
				}
				return
			}
			if ce == nil || !slices.Contains(ce.Problems, tc.want) {
				t.Fatalf("Validate = %v, want the problem %q", err, tc.want)
			}
		})
	}
}

// Options.OnFail, OnDeadline and OnCancel share one shape, Policy: the
// zero value rolls back, Pause holds for a person, Leave stops for a later
// resume, Allowed tolerates Fail verdicts first. A choice that does not
// apply to its trigger is refused before anything is applied.
func ExamplePolicy() {
	opts := strategy.Options{
		OnFail:     strategy.Policy{Allowed: 2}, // roll back on the third Fail (Flagger's threshold: 3)
		OnDeadline: strategy.Policy{Pause: true},
		OnCancel:   strategy.Policy{Pause: true}, // a cancelled release cannot wait
	}
	_, err := strategy.Validate(strategy.Release{
		Name: "checkout", Target: strategytest.NewTarget(strategy.State{Stable: "v1"}), Stable: "v1", Canary: "v2",
		Strategy: strategy.StrategyFunc(func(stable, canary strategy.Revision) (strategy.Plan, error) {
			return strategy.Plan{Steps: []strategy.Step{strategy.Apply(strategy.State{Stable: stable, Canary: canary, Weight: 100})}}, nil
		}),
		Options: opts,
	})
	fmt.Println(err)
	// Output:
	// invalid configuration: release checkout
	//   - options: OnCancel.Pause: a cancelled release cannot wait for a person (use Leave to resume it later)
}
