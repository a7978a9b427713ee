package analysis_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/glidepath/glidepath/analysis"
	"github.com/glidepath/glidepath/analysis/analysistest"
	"github.com/glidepath/glidepath/strategy"
)

// TestArgoValidationRules reproduces Argo Rollouts' metric validation
// (ValidateMetric and its table tests): count must be >= failureLimit and
// >= inconclusiveLimit, count 0 skips those checks, and a count above one
// needs an interval.
func TestArgoValidationRules(t *testing.T) {
	tests := []struct {
		name  string
		check *analysis.Check
		want  string // "" when valid
	}{
		{"count 1 < failureLimit 2 is rejected",
			&analysis.Check{Count: 1, FailureLimit: 2}, "Count 1 is smaller than FailureLimit 2"},
		{"count 0 with failureLimit 2 is accepted",
			&analysis.Check{Count: 0, FailureLimit: 2}, ""},
		{"count 1 < inconclusiveLimit 2 is rejected",
			&analysis.Check{Count: 1, InconclusiveLimit: 2}, "Count 1 is smaller than InconclusiveLimit 2"},
		{"count 0 with inconclusiveLimit 2 is accepted",
			&analysis.Check{Count: 0, InconclusiveLimit: 2}, ""},
		{"count 2, interval 60s, failureLimit 2 is accepted",
			&analysis.Check{Count: 2, Interval: 60 * time.Second, FailureLimit: 2}, ""},
		{"count 2 without an interval is rejected",
			&analysis.Check{Count: 2}, "Count 2 needs an Interval"},
		{"failureLimit below -1 is rejected",
			&analysis.Check{FailureLimit: -2}, "FailureLimit -2 is below -1"},
		{"failureLimit -1 alone is rejected",
			&analysis.Check{FailureLimit: -1}, "FailureLimit and ConsecutiveSuccessLimit are both disabled"},
		{"failureLimit -1 with consecutiveSuccessLimit is accepted",
			&analysis.Check{FailureLimit: -1, ConsecutiveSuccessLimit: 3, Interval: time.Minute}, ""},
		{"negative inconclusiveLimit is rejected",
			&analysis.Check{InconclusiveLimit: -1}, "InconclusiveLimit is negative"},
		{"negative consecutiveErrorLimit is rejected",
			&analysis.Check{ConsecutiveErrorLimit: new(-1)}, "ConsecutiveErrorLimit is negative"},
		{"count smaller than consecutiveSuccessLimit is rejected",
			&analysis.Check{Count: 2, Interval: time.Minute, ConsecutiveSuccessLimit: 3}, "could never pass"},
		// Argo Rollouts' ValidateMetric: count (%d) must be >=
		// failureLimit + consecutiveSuccessLimit if both >= 0.
		{"count 4 < failureLimit 2 + consecutiveSuccessLimit 3 is rejected",
			&analysis.Check{Count: 4, Interval: time.Minute, FailureLimit: 2, ConsecutiveSuccessLimit: 3},
			"Count 4 is smaller than FailureLimit + ConsecutiveSuccessLimit (2 + 3), which Argo Rollouts requires when both apply"},
		{"count 5 = failureLimit 2 + consecutiveSuccessLimit 3 is accepted",
			&analysis.Check{Count: 5, Interval: time.Minute, FailureLimit: 2, ConsecutiveSuccessLimit: 3}, ""},
		{"count 3 with failureLimit -1 and consecutiveSuccessLimit 3 is accepted",
			&analysis.Check{Count: 3, Interval: time.Minute, FailureLimit: -1, ConsecutiveSuccessLimit: 3}, ""},
		{"count 2 with failureLimit -1 and consecutiveSuccessLimit 3 is rejected",
			&analysis.Check{Count: 2, Interval: time.Minute, FailureLimit: -1, ConsecutiveSuccessLimit: 3}, "Count 2 is smaller than ConsecutiveSuccessLimit 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.check
			c.Label, c.Source = "success-rate", analysistest.Values(1.0)
			err := c.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if !errors.Is(err, strategy.ErrInvalidConfig) {
				t.Fatalf("err = %v, want an error matching %v", err, strategy.ErrInvalidConfig)
			}
			if got := err.Error(); !strings.Contains(got, `check "success-rate"`) {
				t.Errorf("err.Error() = %q, want it to contain %q", got, `check "success-rate"`)
			}
			if got := err.Error(); !strings.Contains(got, tt.want) {
				t.Errorf("err.Error() = %q, want it to contain %q", got, tt.want)
			}
		})
	}
}

// TestArgoDocumentedExamples runs the AnalysisTemplate metrics of Argo
// Rollouts' analysis documentation against scripted values.
func TestArgoDocumentedExamples(t *testing.T) {
	t.Run("background success-rate, failureLimit 3, fails on the fourth failure", func(t *testing.T) {
		in := input()
		in.Background = true
		c := &analysis.Check{Label: "success-rate", Interval: 5 * time.Minute, SuccessCondition: "result >= 0.95", FailureLimit: 3,
			Source: analysistest.Values(0.99, 0.90, 0.97, 0.91, 0.92, 0.99, 0.93)}
		v, took, err := analyze(t, c, in)
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		if v.Outcome != strategy.Fail {
			t.Errorf("v.Outcome = %q, want %q", v.Outcome, strategy.Fail)
		}
		if got := outcomes(v.Measurements); got != "SFSFFSF" {
			t.Errorf("outcomes(v.Measurements) = %q, want %q", got, "SFSFFSF")
		}
		if !strings.Contains(v.Reason, "failed (4) > failureLimit (3)") {
			t.Errorf("v.Reason = %q, want it to contain %q", v.Reason, "failed (4) > failureLimit (3)")
		}
		if took != 30*time.Minute {
			t.Errorf("seven measurements, five minutes apart: took = %v, want %v", took, 30*time.Minute)
		}
	})
	t.Run("inline step without interval measures once", func(t *testing.T) {
		src := analysistest.Values(0.96)
		c := &analysis.Check{Label: "success-rate", SuccessCondition: "result >= 0.95", Source: src}
		v, took, err := analyze(t, c, input())
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		if v.Outcome != strategy.Pass {
			t.Errorf("v.Outcome = %q, want %q", v.Outcome, strategy.Pass)
		}
		if got := src.Calls(); got != 1 {
			t.Errorf("src.Calls() = %v, want %v", got, 1)
		}
		if took != 0 {
			t.Errorf("took = %v, want 0", took)
		}
	})
	t.Run("count 5, interval 60s", func(t *testing.T) {
		src := analysistest.Values(0.96)
		c := &analysis.Check{Label: "success-rate", SuccessCondition: "result >= 0.95", Interval: 60 * time.Second, Count: 5, Source: src}
		v, took, err := analyze(t, c, input())
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		if v.Outcome != strategy.Pass {
			t.Errorf("v.Outcome = %q, want %q", v.Outcome, strategy.Pass)
		}
		if got := outcomes(v.Measurements); got != "SSSSS" {
			t.Errorf("outcomes(v.Measurements) = %q, want %q", got, "SSSSS")
		}
		if took != 4*time.Minute {
			t.Errorf("took = %v, want %v", took, 4*time.Minute)
		}
	})
	t.Run("failureCondition total-errors >= 10, failureLimit 3", func(t *testing.T) {
		c := &analysis.Check{Label: "total-errors", Interval: 5 * time.Minute, FailureCondition: "result >= 10", FailureLimit: 3,
			Source: analysistest.Values(2.0, 12.0, 15.0, 3.0, 10.0, 11.0)}
		in := input()
		in.Background = true
		v, _, err := analyze(t, c, in)
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		if v.Outcome != strategy.Fail {
			t.Errorf("v.Outcome = %q, want %q", v.Outcome, strategy.Fail)
		}
		if got := outcomes(v.Measurements); got != "SFFSFF" {
			t.Errorf("outcomes(v.Measurements) = %q, want %q", got, "SFFSFF")
		}
	})
	t.Run("both conditions, value between them is inconclusive", func(t *testing.T) {
		c := &analysis.Check{Label: "success-rate", SuccessCondition: "result >= 0.90", FailureCondition: "result < 0.50",
			Source: analysistest.Values(0.7)}
		v, _, err := analyze(t, c, input())
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		if v.Outcome != strategy.Inconclusive {
			t.Errorf("v.Outcome = %q, want %q", v.Outcome, strategy.Inconclusive)
		}
		if !strings.Contains(v.Reason, "inconclusive (1) > inconclusiveLimit (0)") {
			t.Errorf("v.Reason = %q, want it to contain %q", v.Reason, "inconclusive (1) > inconclusiveLimit (0)")
		}
	})
	t.Run("initialDelay 5m postpones the first measurement", func(t *testing.T) {
		src := analysistest.Values(0.95)
		c := &analysis.Check{Label: "success-rate", InitialDelay: 5 * time.Minute, SuccessCondition: "result >= 0.90", Source: src}
		v, took, err := analyze(t, c, input())
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		if v.Outcome != strategy.Pass {
			t.Errorf("v.Outcome = %q, want %q", v.Outcome, strategy.Pass)
		}
		if took != 5*time.Minute {
			t.Errorf("took = %v, want %v", took, 5*time.Minute)
		}
	})
	t.Run("web metric: result == 'true' and asFloat(result) >= 0.90", func(t *testing.T) {
		for cond, value := range map[string]any{"result == 'true'": "true", "asFloat(result) >= 0.90": "0.95"} {
			c := &analysis.Check{Label: "webmetric", SuccessCondition: cond, Source: analysistest.Values(value)}
			v, _, err := analyze(t, c, input())
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if v.Outcome != strategy.Pass {
				t.Errorf("%s: v.Outcome = %q, want %q", cond, v.Outcome, strategy.Pass)
			}
		}
	})
	t.Run("errors do not count towards count", func(t *testing.T) {
		c := &analysis.Check{Label: "m", SuccessCondition: "result >= 0.9", Interval: time.Minute, Count: 2,
			Source: replies(errDown, good, errDown, good)}
		v, _, err := analyze(t, c, input())
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		if v.Outcome != strategy.Pass {
			t.Errorf("v.Outcome = %q, want %q", v.Outcome, strategy.Pass)
		}
		if got := outcomes(v.Measurements); got != "ESES" {
			t.Errorf("outcomes(v.Measurements) = %q, want %q", got, "ESES")
		}
		if !strings.Contains(v.Reason, "count (2) reached: 2 successful, 0 failed, 0 inconclusive, 2 errors") {
			t.Errorf("v.Reason = %q, want it to contain %q", v.Reason, "count (2) reached: 2 successful, 0 failed, 0 inconclusive, 2 errors")
		}
	})
}

// TestArgoEvaluateCases reproduces the cases of Argo Rollouts' condition
// evaluation tests (utils/evaluate).
func TestArgoEvaluateCases(t *testing.T) {
	tests := []struct {
		name        string
		succ, fail  string
		value       any
		want        strategy.Outcome
		measureFail bool // the measurement errors
	}{
		{"success true, failure false", "true", "false", true, strategy.Pass, false},
		{"both true: failure", "true", "true", true, strategy.Fail, false},
		{"both false: inconclusive", "false", "false", true, strategy.Inconclusive, false},
		{"only failure, false: successful", "", "false", true, strategy.Pass, false},
		{"only success, false: failed", "false", "", true, strategy.Fail, false},
		{"neither: successful", "", "", true, strategy.Pass, false},
		{"result == true", "result == true", "", true, strategy.Pass, false},
		{"result == false", "result == false", "", true, strategy.Fail, false},
		{"2 in result", "2 in result", "", []float64{2, 2}, strategy.Pass, false},
		{"result > 1", "result > 1", "", 5.0, strategy.Pass, false},
		{"asInt of a string", "asInt(result) == 1", "", "1", strategy.Pass, false},
		{"asInt of an int", "asInt(result) == 1", "", 1, strategy.Pass, false},
		{"asInt truncates a float", "asInt(result) == 1", "", 1.123, strategy.Pass, false},
		{"asInt of 1.1 as a string errors", "asInt(result) == 1", "", "1.1", "", true},
		{"asFloat of a string", "asFloat(result) == 1.1", "", "1.1", strategy.Pass, false},
		{"asFloat >=", "asFloat(result) >= 1.1", "", "1.1", strategy.Pass, false},
		{"asFloat of a float", "asFloat(result) == 1.1", "", 1.1, strategy.Pass, false},
		{"asFloat of an int", "asFloat(result) >= 1", "", 1, strategy.Pass, false},
		{"asFloat of a word errors", "asFloat(result) == 1.1", "", "NotANum", "", true},
		{"all over a map", "all(result.service_apdex.values.values, {# > 1})", "",
			map[string]any{"service_apdex": map[string]any{"label": nil, "values": map[string]any{"values": []any{2.0, 2.0}}}}, strategy.Pass, false},
		{"default of nil", "default(result, 0) == 0", "", nil, strategy.Pass, false},
		{"default of a value", "default(result, 0) == 1", "", 1.0, strategy.Pass, false},
		{"isNil of nil", "isNil(result)", "", nil, strategy.Pass, false},
		{"isNil of a value", "isNil(result)", "", 1.0, strategy.Fail, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &analysis.Check{Label: "m", SuccessCondition: tt.succ, FailureCondition: tt.fail,
				Source: analysistest.Values(tt.value), ConsecutiveErrorLimit: new(0)}
			if err := c.Validate(); err != nil {
				t.Fatalf("c.Validate(): unexpected error: %v", err)
			}
			v, _, err := analyze(t, c, input())
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if len(v.Measurements) != 1 {
				t.Fatalf("len(v.Measurements) = %d, want %d: %v", len(v.Measurements), 1, v.Measurements)
			}
			m := v.Measurements[0]
			if tt.measureFail {
				if len(m.Error) == 0 {
					t.Error("m.Error is empty, want non-empty")
				}
				if v.Outcome != strategy.Fail {
					t.Errorf("consecutiveErrorLimit 0 fails on the first error: v.Outcome = %q, want %q", v.Outcome, strategy.Fail)
				}
				return
			}
			if len(m.Error) != 0 {
				t.Errorf("m.Error = %q, want empty", m.Error)
			}
			if m.Outcome != tt.want {
				t.Errorf("m.Outcome = %q, want %q", m.Outcome, tt.want)
			}
		})
	}
}

// Conditions that Argo rejects only when it evaluates them are rejected
// here when the check is validated.
func TestConditionsRejectedAtValidation(t *testing.T) {
	for _, cond := range []string{"1", "invalidVariable", `asFloat(result) == "1.1"`, "result >"} {
		c := &analysis.Check{Label: "m", Source: analysistest.Values(1.0), SuccessCondition: cond}
		err := c.Validate()
		if !errors.Is(err, strategy.ErrInvalidConfig) {
			t.Fatalf("%s: err = %v, want an error matching %v", cond, err, strategy.ErrInvalidConfig)
		}
		if got := err.Error(); !strings.Contains(got, "does not compile") {
			t.Errorf("%s: err.Error() = %q, want it to contain %q", cond, got, "does not compile")
		}
	}
}

// An index into an empty result says how to guard the condition.
func TestEmptyResultErrorHint(t *testing.T) {
	c := &analysis.Check{Label: "m", Source: analysistest.Values([]float64{}), SuccessCondition: "result[0] > 0.9", ConsecutiveErrorLimit: new(0)}
	v, err := c.Analyze(context.Background(), input())
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if v.Outcome != strategy.Fail {
		t.Errorf("v.Outcome = %q, want %q", v.Outcome, strategy.Fail)
	}
	if got := v.Measurements[0].Error; !strings.Contains(got, "guard the condition with len(result) > 0") {
		t.Errorf("v.Measurements[0].Error = %q, want it to contain %q", got, "guard the condition with len(result) > 0")
	}
	if errors.Is(err, strategy.ErrInvalidConfig) {
		t.Error("errors.Is(err, strategy.ErrInvalidConfig) = true, want false")
	}
}
