package analysis_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/glidepath/glidepath/analysis"
	"github.com/glidepath/glidepath/analysis/analysistest"
	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/strategytest"
)

// A condition must evaluate to a bool for the result shapes sources give.
func TestConditionMustBeBoolean(t *testing.T) {
	src := &analysistest.Source{}
	for cond, ok := range map[string]bool{
		"result + 1":                       false,
		"result":                           false,
		"default(result, 0)":               false,
		"result[0] >= 0.99":                true,
		"isNaN(result)":                    true,
		"default(result, 0) >= 1":          true,
		"all(result, {# < 0.5})":           true,
		"len(result) > 0 && result[0] < 2": true,
	} {
		err := (&analysis.Check{Label: "c", Source: src, SuccessCondition: cond}).Validate()
		if ok && err != nil {
			t.Errorf("%q rejected: %v", cond, err)
		}
		if !ok && (!errors.Is(err, strategy.ErrInvalidConfig) || !strings.Contains(err.Error(), "not bool")) {
			t.Errorf("%q accepted or badly reported: %v", cond, err)
		}
	}
}

// A check that measures until its context ends cannot run inline without a
// bound: the release is rejected before anything is applied.
func TestEndlessCheckRejectedInline(t *testing.T) {
	endless := &analysis.Check{Label: "rate", Source: &analysistest.Source{}, Interval: time.Minute, SuccessCondition: "result >= 0.99"}
	if err := endless.ValidateInline(); err == nil {
		t.Fatal("ValidateInline accepted a check without a Count")
	}
	counted := &analysis.Check{Label: "rate", Source: &analysistest.Source{}, Interval: time.Minute, Count: 3, SuccessCondition: "result >= 0.99"}
	if err := counted.ValidateInline(); err != nil {
		t.Fatalf("a counted check was rejected: %v", err)
	}
	tgt := strategytest.NewTarget(strategy.State{Stable: "v1"})
	plan := func(steps ...strategy.Step) strategy.Strategy {
		return strategy.StrategyFunc(func(stable, canary strategy.Revision) (strategy.Plan, error) {
			return strategy.Plan{Steps: append([]strategy.Step{strategy.Apply(strategy.State{Stable: stable, Canary: canary, Weight: 10})}, steps...)}, nil
		})
	}
	rel := strategy.Release{Target: tgt, Stable: "v1", Canary: "v2", Strategy: plan(strategy.Analyze(&analysis.Group{Label: "g", Analyzers: []strategy.Analyzer{endless}}))}
	if _, err := strategy.Validate(rel); !errors.Is(err, strategy.ErrInvalidConfig) || !strings.Contains(err.Error(), "would never finish") {
		t.Fatalf("an endless inline check in a group was accepted: %v", err)
	}
	rel.Strategy = plan(strategy.Analyze(endless).WithTimeout(10 * time.Minute))
	if _, err := strategy.Validate(rel); err != nil {
		t.Fatalf("a bounded step was rejected: %v", err)
	}
	rel.Strategy = plan()
	rel.Background = []strategy.Background{{From: 0, Analyzers: []strategy.Analyzer{endless}}}
	if _, err := strategy.Validate(rel); err != nil {
		t.Fatalf("background use was rejected: %v", err)
	}
}

// An HTTP source with a Path that cannot select anything is refused when
// the check is validated.
func TestCheckValidatesHTTPSource(t *testing.T) {
	c := &analysis.Check{Label: "h", Source: &analysis.HTTP{Path: "$.a..b"}, Query: "http://127.0.0.1:1/x"}
	err := c.Validate()
	if !errors.Is(err, strategy.ErrInvalidConfig) {
		t.Fatalf("err = %v, want an error matching %v", err, strategy.ErrInvalidConfig)
	}
	if got := err.Error(); !strings.Contains(got, "Source: Path:") {
		t.Errorf("err.Error() = %q, want it to contain %q", got, "Source: Path:")
	}
}
