package analysis_test

import (
	"context"
	"errors"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/glidepath/glidepath/analysis"
	"github.com/glidepath/glidepath/analysis/analysistest"
	"github.com/glidepath/glidepath/strategy"
)

var errDown = errors.New("connection refused")

// good and bad are values for SuccessCondition "result >= 0.9".
const good, bad = 1.0, 0.0

func input() strategy.Input {
	st := strategy.State{Stable: "v1", Canary: "v2", Weight: 20}
	return strategy.Input{Release: "shop", Stable: "v1", Canary: "v2", State: st, Step: 2}
}

// analyze runs c in fake time and returns the verdict, the error and how
// long it took.
func analyze(t *testing.T, c *analysis.Check, in strategy.Input) (v strategy.Verdict, took time.Duration, err error) {
	t.Helper()
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		v, err = c.Analyze(t.Context(), in)
		took = time.Since(start)
	})
	return v, took, err
}

func replies(vs ...any) *analysistest.Source {
	s := &analysistest.Source{}
	for _, v := range vs {
		switch x := v.(type) {
		case error:
			s.Replies = append(s.Replies, analysistest.Err(x))
		case analysistest.Reply:
			s.Replies = append(s.Replies, x)
		default:
			s.Replies = append(s.Replies, analysistest.Value(x))
		}
	}
	return s
}

func outcomes(ms []strategy.Measurement) string {
	var b strings.Builder
	for _, m := range ms {
		switch {
		case m.Error != "":
			b.WriteByte('E')
		case m.Outcome == strategy.Pass:
			b.WriteByte('S')
		case m.Outcome == strategy.Fail:
			b.WriteByte('F')
		case m.Outcome == strategy.Inconclusive:
			b.WriteByte('I')
		default:
			b.WriteByte('W') // waiting for data
		}
	}
	return b.String()
}

// TestLimits reproduces Argo Rollouts' documented semantics for each limit:
// a metric fails when failures exceed failureLimit (default 0), is
// inconclusive when inconclusive measurements exceed inconclusiveLimit
// (default 0), errors when errors in a row exceed consecutiveErrorLimit
// (default 4), succeeds after consecutiveSuccessLimit successes in a row,
// and when count is reached with no limit met is Successful (failure limit
// only), Failed (success limit only) or Inconclusive (both).
func TestLimits(t *testing.T) {
	tests := []struct {
		name   string
		check  *analysis.Check
		script []any
		want   strategy.Outcome
		seen   string // outcomes of the measurements taken
		reason string
	}{
		{name: "single failure with the default limit fails",
			check:  &analysis.Check{Count: 5},
			script: []any{good, bad, good},
			want:   strategy.Fail, seen: "SF", reason: "failed (1) > failureLimit (0)"},
		{name: "failureLimit 2 tolerates 2 failures",
			check:  &analysis.Check{Count: 5, FailureLimit: 2},
			script: []any{bad, good, bad, good, good},
			want:   strategy.Pass, seen: "FSFSS", reason: "count (5) reached"},
		{name: "failureLimit 2 fails on the third failure",
			check:  &analysis.Check{Count: 5, FailureLimit: 2},
			script: []any{bad, good, bad, bad, good},
			want:   strategy.Fail, seen: "FSFF", reason: "failed (3) > failureLimit (2)"},
		{name: "four errors in a row are tolerated by default",
			check:  &analysis.Check{Count: 2},
			script: []any{errDown, errDown, errDown, errDown, good, good},
			want:   strategy.Pass, seen: "EEEESS"},
		{name: "the fifth error in a row fails by default",
			check:  &analysis.Check{Count: 2},
			script: []any{good, errDown},
			want:   strategy.Fail, seen: "SEEEEE", reason: "consecutiveErrors (5) > consecutiveErrorLimit (4)"},
		{name: "a judged measurement resets the error run",
			check:  &analysis.Check{Count: 4, FailureLimit: 3, ConsecutiveErrorLimit: new(1)},
			script: []any{errDown, good, errDown, good, errDown, good, good},
			want:   strategy.Pass, seen: "ESESESS"},
		{name: "consecutiveErrorLimit 0 fails on the first error",
			check:  &analysis.Check{Count: 3, ConsecutiveErrorLimit: new(0)},
			script: []any{good, errDown},
			want:   strategy.Fail, seen: "SE"},
		{name: "consecutiveSuccessLimit passes after N successes in a row",
			check:  &analysis.Check{Count: 10, FailureLimit: -1, ConsecutiveSuccessLimit: 2},
			script: []any{bad, good, bad, good, good, bad},
			want:   strategy.Pass, seen: "FSFSS", reason: "consecutive successes (2)"},
		{name: "count reached with only the success limit fails",
			check:  &analysis.Check{Count: 4, FailureLimit: -1, ConsecutiveSuccessLimit: 2},
			script: []any{good, bad, good, bad},
			want:   strategy.Fail, seen: "SFSF", reason: "consecutiveSuccessLimit (2) was not reached"},
		{name: "count reached with both limits and neither met is inconclusive",
			check:  &analysis.Check{Count: 4, FailureLimit: 1, ConsecutiveSuccessLimit: 3},
			script: []any{good, bad, good, good},
			want:   strategy.Inconclusive, seen: "SFSS", reason: "neither failureLimit (1) nor consecutiveSuccessLimit (3) was met"},
		{name: "with both limits the success limit can decide first",
			check:  &analysis.Check{Count: 6, FailureLimit: 1, ConsecutiveSuccessLimit: 3},
			script: []any{bad, good, good, good, bad},
			want:   strategy.Pass, seen: "FSSS"},
		{name: "with both limits the failure limit can decide first",
			check:  &analysis.Check{Count: 6, FailureLimit: 1, ConsecutiveSuccessLimit: 3},
			script: []any{bad, good, bad, good},
			want:   strategy.Fail, seen: "FSF"},
		{name: "count reached with only the failure limit passes",
			check:  &analysis.Check{Count: 3, FailureLimit: 1},
			script: []any{bad, good, good},
			want:   strategy.Pass, seen: "FSS", reason: "count (3) reached: 2 successful, 1 failed"},
		{name: "an inconclusive measurement is inconclusive by default",
			check:  &analysis.Check{Count: 3, FailureCondition: "result < 0.5"},
			script: []any{good, 0.7},
			want:   strategy.Inconclusive, seen: "SI", reason: "inconclusive (1) > inconclusiveLimit (0)"},
		{name: "inconclusiveLimit 1 tolerates one",
			check:  &analysis.Check{Count: 3, InconclusiveLimit: 1, FailureCondition: "result < 0.5"},
			script: []any{0.7, good, good},
			want:   strategy.Pass, seen: "ISS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.check
			c.Label, c.Source, c.Query = "success-rate", replies(tt.script...), "q"
			c.Interval = time.Minute
			c.SuccessCondition = "result >= 0.9"
			if err := c.Validate(); err != nil {
				t.Fatalf("c.Validate(): unexpected error: %v", err)
			}
			v, _, err := analyze(t, c, input())
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if v.Outcome != tt.want {
				t.Errorf("%s: v.Outcome = %q, want %q", v.Reason, v.Outcome, tt.want)
			}
			if got := outcomes(v.Measurements); got != tt.seen {
				t.Errorf("%s: outcomes(v.Measurements) = %q, want %q", v.Reason, got, tt.seen)
			}
			if !strings.Contains(v.Reason, tt.reason) {
				t.Errorf("v.Reason = %q, want it to contain %q", v.Reason, tt.reason)
			}
			if v.Analyzer != "success-rate" {
				t.Errorf("v.Analyzer = %q, want %q", v.Analyzer, "success-rate")
			}
		})
	}
}

// TestConditions reproduces how Argo Rollouts judges one measurement with
// each combination of conditions.
func TestConditions(t *testing.T) {
	const s, f = "result >= 0.9", "result < 0.5"
	tests := []struct {
		name       string
		succ, fail string
		value      any
		want       strategy.Outcome
		cond       string
	}{
		{"neither condition succeeds", "", "", 0.0, strategy.Pass, "no conditions"},
		{"success only, holds", s, "", 0.95, strategy.Pass, s},
		{"success only, does not hold: failed", s, "", 0.7, strategy.Fail, "!(" + s + ")"},
		{"failure only, holds", "", f, 0.1, strategy.Fail, f},
		{"failure only, does not hold: successful", "", f, 0.7, strategy.Pass, "!(" + f + ")"},
		{"both, success holds", s, f, 0.95, strategy.Pass, s},
		{"both, failure holds", s, f, 0.1, strategy.Fail, f},
		{"both, neither holds: inconclusive", s, f, 0.7, strategy.Inconclusive, "!(" + s + ") && !(" + f + ")"},
		{"both hold: failure wins", "result > 0", "result > 0", 1.0, strategy.Fail, "result > 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &analysis.Check{Label: "m", Source: analysistest.Values(tt.value), SuccessCondition: tt.succ, FailureCondition: tt.fail}
			v, _, err := analyze(t, c, input())
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if len(v.Measurements) != 1 {
				t.Fatalf("len(v.Measurements) = %d, want %d: %v", len(v.Measurements), 1, v.Measurements)
			}
			m := v.Measurements[0]
			if m.Outcome != tt.want {
				t.Errorf("m.Outcome = %q, want %q", m.Outcome, tt.want)
			}
			if m.Condition != tt.cond {
				t.Errorf("m.Condition = %q, want %q", m.Condition, tt.cond)
			}
			if v.Outcome != tt.want {
				t.Errorf("v.Outcome = %q, want %q", v.Outcome, tt.want)
			}
		})
	}
}

// TestConditionFunctions checks the functions Argo Rollouts documents and
// expr's built-ins, on the result shapes sources return.
func TestConditionFunctions(t *testing.T) {
	tests := []struct {
		cond  string
		value any
		want  strategy.Outcome
	}{
		{"result[0] >= 0.99", []float64{0.995}, strategy.Pass},
		{"result[0] >= 0.99", []float64{0.98}, strategy.Fail},
		{"isNaN(result)", math.NaN(), strategy.Pass},
		{"isNaN(result)", 1.0, strategy.Fail},
		{"!isInf(result)", math.Inf(1), strategy.Fail},
		{"default(result, 0) < 0.5", []float64{}, strategy.Pass},
		{"default(result, 1) < 0.5", nil, strategy.Fail},
		{"all(result, {# < 0.5})", []float64{0.1, 0.2}, strategy.Pass},
		{"all(result, {# < 0.5})", []float64{0.1, 0.7}, strategy.Fail},
		{"any(result, # > 0.5)", []int{0, 1}, strategy.Pass},
		{"asFloat(result) >= 0.9", "0.95", strategy.Pass},
		{"asInt(result) == 3", "3", strategy.Pass},
		{"result == 'true'", "true", strategy.Pass},
		{"isNil(result)", nil, strategy.Pass},
		{"len(result) == 2 && result[1][0] > 1", [][]float64{{1}, {2}}, strategy.Pass},
		{"result > 10", int64(11), strategy.Pass},
	}
	for _, tt := range tests {
		t.Run(tt.cond, func(t *testing.T) {
			c := &analysis.Check{Label: "m", Source: analysistest.Values(tt.value), SuccessCondition: tt.cond, NoDataLimit: 1}
			v, _, err := analyze(t, c, input())
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if len(v.Measurements) == 0 {
				t.Fatal("v.Measurements is empty, want non-empty")
			}
			if got := v.Measurements[0].Outcome; got != tt.want {
				t.Errorf("%s: v.Measurements[0].Outcome = %q, want %q", v.Measurements[0].Error, got, tt.want)
			}
		})
	}
}

// An expression that cannot be evaluated on a value (result[0] of an empty
// vector) is a measurement error, as in Argo Rollouts.
func TestConditionErrorIsMeasurementError(t *testing.T) {
	c := &analysis.Check{Label: "m", Source: analysistest.Values([]float64{}), SuccessCondition: "result[0] > 1", ConsecutiveErrorLimit: new(1)}
	v, took, err := analyze(t, c, input())
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if v.Outcome != strategy.Fail {
		t.Errorf("v.Outcome = %q, want %q", v.Outcome, strategy.Fail)
	}
	if got := outcomes(v.Measurements); got != "EE" {
		t.Errorf("outcomes(v.Measurements) = %q, want %q", got, "EE")
	}
	if got := v.Measurements[0].Error; !strings.Contains(got, "evaluating result[0] > 1") {
		t.Errorf("v.Measurements[0].Error = %q, want it to contain %q", got, "evaluating result[0] > 1")
	}
	if took != analysis.DefaultErrorRetryInterval {
		t.Errorf("a check without Interval retries after ErrorRetryInterval: took = %v, want %v", took, analysis.DefaultErrorRetryInterval)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := &analysis.Check{
		Query:             `up{x="{{args.missing}}"} {{release.color}} {{oops}}`,
		SuccessCondition:  "result >=",
		FailureCondition:  "result > {{args.t}}",
		Count:             3,
		FailureLimit:      -1,
		InconclusiveLimit: 4,
		Args:              []analysis.Arg{{Name: "a"}, {Name: "a"}, {Name: "bad name"}},
		MinSamples:        -1,
	}
	err := c.Validate()
	if !errors.Is(err, strategy.ErrInvalidConfig) {
		t.Fatalf("err = %v, want an error matching %v", err, strategy.ErrInvalidConfig)
	}
	msg := err.Error()
	for _, want := range []string{
		`check "(unnamed)"`,
		"no Label",
		"no Source",
		"{{args.missing}} names no argument",
		"unknown placeholder {{release.color}}",
		`malformed placeholder "{{oops}}"`,
		`SuccessCondition "result >=" does not compile`,
		"placeholders are expanded in queries, not in conditions",
		"Count 3 needs an Interval",
		"FailureLimit and ConsecutiveSuccessLimit are both disabled",
		"Count 3 is smaller than InconclusiveLimit 4",
		`argument "a" is given twice`,
		`name "bad name"`,
		"MinSamples is negative",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("msg = %q, want it to contain %q", msg, want)
		}
	}

	named := &analysis.Check{Label: "latency", Source: analysistest.Values(1.0), Count: 2, Interval: time.Second, FailureLimit: 3, ConsecutiveSuccessLimit: 3}
	err = named.Validate()
	if !errors.Is(err, strategy.ErrInvalidConfig) {
		t.Fatalf("err = %v, want an error matching %v", err, strategy.ErrInvalidConfig)
	}
	if got := err.Error(); !strings.Contains(got, `check "latency"`) {
		t.Errorf("err.Error() = %q, want it to contain %q", got, `check "latency"`)
	}
	if got := err.Error(); !strings.Contains(got, "Count 2 is smaller than FailureLimit + ConsecutiveSuccessLimit (3 + 3)") {
		t.Errorf("err.Error() = %q, want it to contain %q", got, "Count 2 is smaller than FailureLimit + ConsecutiveSuccessLimit (3 + 3)")
	}
	if got := err.Error(); !strings.Contains(got, "the check could never pass") {
		t.Errorf("err.Error() = %q, want it to contain %q", got, "the check could never pass")
	}

	// An invalid check never measures, and says why.
	src := analysistest.Values(1.0)
	bad := &analysis.Check{Label: "x", Source: src, SuccessCondition: "result >"}
	v, err := bad.Analyze(context.Background(), input())
	if !errors.Is(err, strategy.ErrInvalidConfig) {
		t.Fatalf("err = %v, want an error matching %v", err, strategy.ErrInvalidConfig)
	}
	if !strategy.IsPermanent(err) {
		t.Error("strategy.IsPermanent(err) = false, want true")
	}
	if v.Outcome != strategy.Inconclusive {
		t.Errorf("v.Outcome = %q, want %q", v.Outcome, strategy.Inconclusive)
	}
	if got := src.Calls(); got != 0 {
		t.Errorf("src.Calls() = %v, want 0", got)
	}
}

// Measurements happen after InitialDelay, then Interval after the end of
// each one; errors without an Interval are retried after ErrorRetryInterval.
func TestTiming(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &analysistest.Source{Replies: []analysistest.Reply{{Value: good, After: 5 * time.Second}}}
		c := &analysis.Check{Label: "m", Source: src, InitialDelay: 30 * time.Second, Interval: time.Minute, Count: 3, SuccessCondition: "result >= 0.9"}
		start := time.Now()
		v, err := c.Analyze(t.Context(), input())
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		if v.Outcome != strategy.Pass {
			t.Errorf("v.Outcome = %q, want %q", v.Outcome, strategy.Pass)
		}
		var offsets []time.Duration
		for _, at := range src.Times() {
			offsets = append(offsets, at.Sub(start))
		}
		if want := []time.Duration{30 * time.Second, 95 * time.Second, 160 * time.Second}; !reflect.DeepEqual(offsets, want) {
			t.Errorf("offsets = %+v, want %+v", offsets, want)
		}
		if got := time.Since(start); got != 165*time.Second {
			t.Errorf("time.Since(start) = %v, want %v", got, 165*time.Second)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		src := replies(errDown, errDown, good)
		c := &analysis.Check{Label: "m", Source: src, ErrorRetryInterval: 3 * time.Second, SuccessCondition: "result >= 0.9"}
		start := time.Now()
		v, err := c.Analyze(t.Context(), input())
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		if v.Outcome != strategy.Pass {
			t.Errorf("v.Outcome = %q, want %q", v.Outcome, strategy.Pass)
		}
		if got := outcomes(v.Measurements); got != "EES" {
			t.Errorf("outcomes(v.Measurements) = %q, want %q", got, "EES")
		}
		if got := time.Since(start); got != 6*time.Second {
			t.Errorf("time.Since(start) = %v, want %v", got, 6*time.Second)
		}
	})
}

// A slow source is cut off by Timeout and the timeout is a measurement
// error, retried at the next interval.
func TestTimeout(t *testing.T) {
	src := analysistest.Script(analysistest.Reply{Block: true}, analysistest.Value(good))
	c := &analysis.Check{Label: "m", Source: src, Timeout: 2 * time.Second, Interval: time.Minute, Count: 1, SuccessCondition: "result >= 0.9"}
	v, took, err := analyze(t, c, input())
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if v.Outcome != strategy.Pass {
		t.Errorf("v.Outcome = %q, want %q", v.Outcome, strategy.Pass)
	}
	if got := outcomes(v.Measurements); got != "ES" {
		t.Errorf("outcomes(v.Measurements) = %q, want %q", got, "ES")
	}
	if got := v.Measurements[0].Error; !strings.Contains(got, "timed out after 2s") {
		t.Errorf("v.Measurements[0].Error = %q, want it to contain %q", got, "timed out after 2s")
	}
	if took != 62*time.Second {
		t.Errorf("took = %v, want %v", took, 62*time.Second)
	}
}

// A background check with no Count measures until its context ends,
// follows the current weight, and returns at once on a Fail.
func TestBackground(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var weight atomic.Int64
		weight.Store(10)
		in := input()
		in.Background = true
		in.Current = func() strategy.State { s := in.State; s.Weight = int(weight.Load()); return s }
		src := analysistest.Values(good)
		c := &analysis.Check{Label: "bg", Source: src, Query: `w{{release.weight}}`, Interval: time.Minute, SuccessCondition: "result >= 0.9"}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		var v strategy.Verdict
		var err error
		go func() { v, err = c.Analyze(ctx, in); close(done) }()
		time.Sleep(90 * time.Second)
		synctest.Wait()
		weight.Store(50)
		time.Sleep(3 * time.Minute)
		cancel()
		<-done
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		if v.Outcome != strategy.Pass {
			t.Errorf("%s: v.Outcome = %q, want %q", v.Reason, v.Outcome, strategy.Pass)
		}
		if !strings.Contains(v.Reason, "stopped with the release") {
			t.Errorf("v.Reason = %q, want it to contain %q", v.Reason, "stopped with the release")
		}
		var texts []string
		for _, q := range src.Queries() {
			texts = append(texts, q.Text)
		}
		if want := []string{"w10", "w10", "w50", "w50", "w50"}; !slices.Equal(texts, want) {
			t.Errorf("texts = %q, want %q", texts, want)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		in := input()
		in.Background = true
		src := analysistest.Values(good, good, bad)
		c := &analysis.Check{Label: "bg", Source: src, Interval: time.Minute, SuccessCondition: "result >= 0.9"}
		start := time.Now()
		v, err := c.Analyze(t.Context(), in)
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		if v.Outcome != strategy.Fail {
			t.Errorf("v.Outcome = %q, want %q", v.Outcome, strategy.Fail)
		}
		if got := time.Since(start); got != 2*time.Minute {
			t.Errorf("time.Since(start) = %v, want %v", got, 2*time.Minute)
		}
	})
}

// A check whose measurements all errored, or that never had data, never
// passes.
func TestNoDataNeverPasses(t *testing.T) {
	t.Run("background, all errors", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			in := input()
			in.Background = true
			c := &analysis.Check{Label: "m", Source: replies(errDown), Interval: time.Minute, ConsecutiveErrorLimit: new(100), SuccessCondition: "result >= 0.9"}
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute+30*time.Second)
			defer cancel()
			v, err := c.Analyze(ctx, in)
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if v.Outcome != strategy.Inconclusive {
				t.Errorf("v.Outcome = %q, want %q", v.Outcome, strategy.Inconclusive)
			}
			if !strings.Contains(v.Reason, "all 11 measurements errored") {
				t.Errorf("v.Reason = %q, want it to contain %q", v.Reason, "all 11 measurements errored")
			}
		})
	})
	t.Run("background, no data", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			in := input()
			in.Background = true
			c := &analysis.Check{Label: "m", Source: analysistest.Values([]float64{}), Interval: time.Minute, FailureCondition: "len(result) > 0 && result[0] > 0.05"}
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
			defer cancel()
			v, err := c.Analyze(ctx, in)
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if v.Outcome != strategy.Inconclusive {
				t.Errorf("v.Outcome = %q, want %q", v.Outcome, strategy.Inconclusive)
			}
			if !strings.Contains(v.Reason, "no measurement had data") {
				t.Errorf("v.Reason = %q, want it to contain %q", v.Reason, "no measurement had data")
			}
		})
	})
	t.Run("count reached, no data", func(t *testing.T) {
		c := &analysis.Check{Label: "m", Source: analysistest.Values(nil, math.NaN()), Interval: time.Minute, Count: 2, FailureCondition: "default(result, 0) > 0.05"}
		v, _, err := analyze(t, c, input())
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		if got := outcomes(v.Measurements); got != "SS" {
			t.Errorf("each measurement passes its condition: outcomes(v.Measurements) = %q, want %q", got, "SS")
		}
		if v.Outcome != strategy.Inconclusive {
			t.Errorf("v.Outcome = %q, want %q", v.Outcome, strategy.Inconclusive)
		}
		if !strings.Contains(v.Reason, "no measurement had data") {
			t.Errorf("v.Reason = %q, want it to contain %q", v.Reason, "no measurement had data")
		}
	})
	t.Run("success limit, no data", func(t *testing.T) {
		c := &analysis.Check{Label: "m", Source: analysistest.Values(nil), Interval: time.Minute, FailureLimit: -1, ConsecutiveSuccessLimit: 2, SuccessCondition: "default(result, 1) > 0.5"}
		v, _, err := analyze(t, c, input())
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		if v.Outcome != strategy.Inconclusive {
			t.Errorf("v.Outcome = %q, want %q", v.Outcome, strategy.Inconclusive)
		}
	})
}

// With MinSamples a check waits for enough data instead of failing, up to
// NoDataLimit, after which it is Inconclusive.
func TestMinSamples(t *testing.T) {
	t.Run("waits, then judges", func(t *testing.T) {
		src := analysistest.Values([]float64{}, []float64{math.NaN()}, []float64{0.995})
		c := &analysis.Check{Label: "m", Source: src, Interval: time.Minute, Count: 1, MinSamples: 1, SuccessCondition: "result[0] >= 0.99"}
		v, took, err := analyze(t, c, input())
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		if v.Outcome != strategy.Pass {
			t.Errorf("%s: v.Outcome = %q, want %q", v.Reason, v.Outcome, strategy.Pass)
		}
		if got := outcomes(v.Measurements); got != "WWS" {
			t.Errorf("outcomes(v.Measurements) = %q, want %q", got, "WWS")
		}
		if got := v.Measurements[0].Condition; got != "samples 0 < MinSamples 1" {
			t.Errorf("v.Measurements[0].Condition = %q, want %q", got, "samples 0 < MinSamples 1")
		}
		if took != 2*time.Minute {
			t.Errorf("took = %v, want %v", took, 2*time.Minute)
		}
	})
	t.Run("gives up after NoDataLimit", func(t *testing.T) {
		c := &analysis.Check{Label: "m", Source: analysistest.Values([]float64{}), Interval: time.Minute, Count: 3, MinSamples: 1, NoDataLimit: 2, SuccessCondition: "result[0] >= 0.99"}
		v, _, err := analyze(t, c, input())
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		if v.Outcome != strategy.Inconclusive {
			t.Errorf("v.Outcome = %q, want %q", v.Outcome, strategy.Inconclusive)
		}
		if got := outcomes(v.Measurements); got != "WWW" {
			t.Errorf("outcomes(v.Measurements) = %q, want %q", got, "WWW")
		}
		if !strings.Contains(v.Reason, "not enough data: 3 measurements") {
			t.Errorf("v.Reason = %q, want it to contain %q", v.Reason, "not enough data: 3 measurements")
		}
	})
	t.Run("samples query", func(t *testing.T) {
		requests := map[string]float64{}
		calls := 0
		src := analysistest.Func(func(_ context.Context, _ int, q analysis.Query) (any, error) {
			if strings.HasPrefix(q.Text, "requests") {
				calls++
				return []float64{float64(calls * 40)}, nil
			}
			requests[q.Text]++
			return []float64{0.999}, nil
		})
		c := &analysis.Check{Label: "m", Source: src, Query: `ok{rev="{{release.canary}}"}`, SamplesQuery: `requests{rev="{{release.canary}}"}`,
			Interval: time.Minute, Count: 1, MinSamples: 100, SuccessCondition: "result[0] >= 0.99"}
		v, _, err := analyze(t, c, input())
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		if v.Outcome != strategy.Pass {
			t.Errorf("v.Outcome = %q, want %q", v.Outcome, strategy.Pass)
		}
		if got := outcomes(v.Measurements); got != "WWS" {
			t.Errorf("outcomes(v.Measurements) = %q, want %q", got, "WWS")
		}
		if got := v.Measurements[1].Condition; got != "samples 80 < MinSamples 100" {
			t.Errorf("v.Measurements[1].Condition = %q, want %q", got, "samples 80 < MinSamples 100")
		}
	})
}

// A permanent error (a query the server cannot parse) ends the check at
// once, with the measurement and the error.
func TestPermanentError(t *testing.T) {
	src := replies(strategy.Permanent(errors.New(`bad_data: parse error at char 4`)))
	c := &analysis.Check{Label: "m", Source: src, Interval: time.Minute, Count: 5, SuccessCondition: "result >= 0.9"}
	v, took, err := analyze(t, c, input())
	if err == nil {
		t.Fatal("err = nil, want an error")
	}
	if !strategy.IsPermanent(err) {
		t.Error("strategy.IsPermanent(err) = false, want true")
	}
	if got := src.Calls(); got != 1 {
		t.Errorf("src.Calls() = %v, want %v", got, 1)
	}
	if took != 0 {
		t.Errorf("took = %v, want 0", took)
	}
	if v.Outcome != strategy.Inconclusive {
		t.Errorf("v.Outcome = %q, want %q", v.Outcome, strategy.Inconclusive)
	}
	if got := outcomes(v.Measurements); got != "E" {
		t.Errorf("outcomes(v.Measurements) = %q, want %q", got, "E")
	}
	if !strings.Contains(v.Reason, "bad_data") {
		t.Errorf("v.Reason = %q, want it to contain %q", v.Reason, "bad_data")
	}
}

func TestDryRun(t *testing.T) {
	c := &analysis.Check{Label: "m", Source: analysistest.Values(bad), DryRun: true, SuccessCondition: "result >= 0.9"}
	v, _, err := analyze(t, c, input())
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if v.Outcome != strategy.Pass {
		t.Errorf("v.Outcome = %q, want %q", v.Outcome, strategy.Pass)
	}
	if !strings.Contains(v.Reason, "dry run, would be Fail: failed (1) > failureLimit (0)") {
		t.Errorf("v.Reason = %q, want it to contain %q", v.Reason, "dry run, would be Fail: failed (1) > failureLimit (0)")
	}
	if got := outcomes(v.Measurements); got != "F" {
		t.Errorf("measurements keep their own outcome: outcomes(v.Measurements) = %q, want %q", got, "F")
	}

	c = &analysis.Check{Label: "m", Source: replies(strategy.Permanent(errDown)), DryRun: true}
	v, _, err = analyze(t, c, input())
	if err != nil {
		t.Fatalf("a dry run never decides, not even by failing to run: unexpected error: %v", err)
	}
	if v.Outcome != strategy.Pass {
		t.Errorf("v.Outcome = %q, want %q", v.Outcome, strategy.Pass)
	}
}

// An inline check whose context ends says so.
func TestInlineCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := &analysis.Check{Label: "m", Source: analysistest.Values(good), Interval: time.Minute, Count: 10, SuccessCondition: "result >= 0.9"}
		ctx, cancel := context.WithTimeout(t.Context(), 150*time.Second)
		defer cancel()
		v, err := c.Analyze(ctx, input())
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want an error matching %v", err, context.DeadlineExceeded)
		}
		if v.Outcome != strategy.Inconclusive {
			t.Errorf("v.Outcome = %q, want %q", v.Outcome, strategy.Inconclusive)
		}
		if got := outcomes(v.Measurements); got != "SSS" {
			t.Errorf("outcomes(v.Measurements) = %q, want %q", got, "SSS")
		}
	})
}

func TestHistoryIsBounded(t *testing.T) {
	c := &analysis.Check{Label: "m", Source: analysistest.Values(0.1, 0.2, 0.3, 0.4, 0.5), Interval: time.Second, Count: 5, FailureLimit: 4, HistoryLimit: 3, SuccessCondition: "result >= 0.9"}
	v, _, err := analyze(t, c, input())
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	h := c.History()
	if len(h) != 3 {
		t.Fatalf("len(h) = %d, want %d: %v", len(h), 3, h)
	}
	if got, want := []string{h[0].Value, h[1].Value, h[2].Value}, []string{"0.3", "0.4", "0.5"}; !slices.Equal(got, want) {
		t.Errorf("values of the history = %q, want %q", got, want)
	}
	if !reflect.DeepEqual(v.Measurements, h) {
		t.Errorf("v.Measurements = %+v, want %+v", v.Measurements, h)
	}
	_, _, _ = analyze(t, c, input())
	if got := c.History(); len(got) != 3 {
		t.Errorf("len(c.History()) = %d, want %d: %v", len(got), 3, got)
	}
}

// Source panics are measurement errors, not crashes.
func TestSourcePanic(t *testing.T) {
	src := analysistest.Func(func(context.Context, int, analysis.Query) (any, error) { panic("boom") })
	c := &analysis.Check{Label: "m", Source: src, ConsecutiveErrorLimit: new(0)}
	v, _, err := analyze(t, c, input())
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if v.Outcome != strategy.Fail {
		t.Errorf("v.Outcome = %q, want %q", v.Outcome, strategy.Fail)
	}
	if got := v.Measurements[0].Error; !strings.Contains(got, "source panicked: boom") {
		t.Errorf("v.Measurements[0].Error = %q, want it to contain %q", got, "source panicked: boom")
	}
}
