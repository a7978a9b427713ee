package analysis_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
			require.NoError(t, c.Validate())
			v, _, err := analyze(t, c, input())
			require.NoError(t, err)
			assert.Equal(t, tt.want, v.Outcome, v.Reason)
			assert.Equal(t, tt.seen, outcomes(v.Measurements), v.Reason)
			assert.Contains(t, v.Reason, tt.reason)
			assert.Equal(t, "success-rate", v.Analyzer)
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
			require.NoError(t, err)
			require.Len(t, v.Measurements, 1)
			m := v.Measurements[0]
			assert.Equal(t, tt.want, m.Outcome)
			assert.Equal(t, tt.cond, m.Condition)
			assert.Equal(t, tt.want, v.Outcome)
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
			require.NoError(t, err)
			require.NotEmpty(t, v.Measurements)
			assert.Equal(t, tt.want, v.Measurements[0].Outcome, v.Measurements[0].Error)
		})
	}
}

// An expression that cannot be evaluated on a value (result[0] of an empty
// vector) is a measurement error, as in Argo Rollouts.
func TestConditionErrorIsMeasurementError(t *testing.T) {
	c := &analysis.Check{Label: "m", Source: analysistest.Values([]float64{}), SuccessCondition: "result[0] > 1", ConsecutiveErrorLimit: new(1)}
	v, took, err := analyze(t, c, input())
	require.NoError(t, err)
	assert.Equal(t, strategy.Fail, v.Outcome)
	assert.Equal(t, "EE", outcomes(v.Measurements))
	assert.Contains(t, v.Measurements[0].Error, "evaluating result[0] > 1")
	assert.Equal(t, analysis.DefaultErrorRetryInterval, took, "a check without Interval retries after ErrorRetryInterval")
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
	require.ErrorIs(t, err, strategy.ErrInvalidConfig)
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
		assert.Contains(t, msg, want)
	}

	named := &analysis.Check{Label: "latency", Source: analysistest.Values(1.0), Count: 2, Interval: time.Second, FailureLimit: 3, ConsecutiveSuccessLimit: 3}
	err = named.Validate()
	require.ErrorIs(t, err, strategy.ErrInvalidConfig)
	assert.Contains(t, err.Error(), `check "latency"`)
	assert.Contains(t, err.Error(), "Count 2 is smaller than FailureLimit + ConsecutiveSuccessLimit (3 + 3)")
	assert.Contains(t, err.Error(), "the check could never pass")

	// An invalid check never measures, and says why.
	src := analysistest.Values(1.0)
	bad := &analysis.Check{Label: "x", Source: src, SuccessCondition: "result >"}
	v, err := bad.Analyze(context.Background(), input())
	require.ErrorIs(t, err, strategy.ErrInvalidConfig)
	assert.True(t, strategy.IsPermanent(err))
	assert.Equal(t, strategy.Inconclusive, v.Outcome)
	assert.Zero(t, src.Calls())
}

// Measurements happen after InitialDelay, then Interval after the end of
// each one; errors without an Interval are retried after ErrorRetryInterval.
func TestTiming(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &analysistest.Source{Replies: []analysistest.Reply{{Value: good, After: 5 * time.Second}}}
		c := &analysis.Check{Label: "m", Source: src, InitialDelay: 30 * time.Second, Interval: time.Minute, Count: 3, SuccessCondition: "result >= 0.9"}
		start := time.Now()
		v, err := c.Analyze(t.Context(), input())
		require.NoError(t, err)
		assert.Equal(t, strategy.Pass, v.Outcome)
		var offsets []time.Duration
		for _, at := range src.Times() {
			offsets = append(offsets, at.Sub(start))
		}
		assert.Equal(t, []time.Duration{30 * time.Second, 95 * time.Second, 160 * time.Second}, offsets)
		assert.Equal(t, 165*time.Second, time.Since(start))
	})
	synctest.Test(t, func(t *testing.T) {
		src := replies(errDown, errDown, good)
		c := &analysis.Check{Label: "m", Source: src, ErrorRetryInterval: 3 * time.Second, SuccessCondition: "result >= 0.9"}
		start := time.Now()
		v, err := c.Analyze(t.Context(), input())
		require.NoError(t, err)
		assert.Equal(t, strategy.Pass, v.Outcome)
		assert.Equal(t, "EES", outcomes(v.Measurements))
		assert.Equal(t, 6*time.Second, time.Since(start))
	})
}

// A slow source is cut off by Timeout and the timeout is a measurement
// error, retried at the next interval.
func TestTimeout(t *testing.T) {
	src := analysistest.Script(analysistest.Reply{Block: true}, analysistest.Value(good))
	c := &analysis.Check{Label: "m", Source: src, Timeout: 2 * time.Second, Interval: time.Minute, Count: 1, SuccessCondition: "result >= 0.9"}
	v, took, err := analyze(t, c, input())
	require.NoError(t, err)
	assert.Equal(t, strategy.Pass, v.Outcome)
	assert.Equal(t, "ES", outcomes(v.Measurements))
	assert.Contains(t, v.Measurements[0].Error, "timed out after 2s")
	assert.Equal(t, 62*time.Second, took)
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
		require.NoError(t, err)
		assert.Equal(t, strategy.Pass, v.Outcome, v.Reason)
		assert.Contains(t, v.Reason, "stopped with the release")
		var texts []string
		for _, q := range src.Queries() {
			texts = append(texts, q.Text)
		}
		assert.Equal(t, []string{"w10", "w10", "w50", "w50", "w50"}, texts)
	})
	synctest.Test(t, func(t *testing.T) {
		in := input()
		in.Background = true
		src := analysistest.Values(good, good, bad)
		c := &analysis.Check{Label: "bg", Source: src, Interval: time.Minute, SuccessCondition: "result >= 0.9"}
		start := time.Now()
		v, err := c.Analyze(t.Context(), in)
		require.NoError(t, err)
		assert.Equal(t, strategy.Fail, v.Outcome)
		assert.Equal(t, 2*time.Minute, time.Since(start))
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
			require.NoError(t, err)
			assert.Equal(t, strategy.Inconclusive, v.Outcome)
			assert.Contains(t, v.Reason, "all 11 measurements errored")
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
			require.NoError(t, err)
			assert.Equal(t, strategy.Inconclusive, v.Outcome)
			assert.Contains(t, v.Reason, "no measurement had data")
		})
	})
	t.Run("count reached, no data", func(t *testing.T) {
		c := &analysis.Check{Label: "m", Source: analysistest.Values(nil, math.NaN()), Interval: time.Minute, Count: 2, FailureCondition: "default(result, 0) > 0.05"}
		v, _, err := analyze(t, c, input())
		require.NoError(t, err)
		assert.Equal(t, "SS", outcomes(v.Measurements), "each measurement passes its condition")
		assert.Equal(t, strategy.Inconclusive, v.Outcome)
		assert.Contains(t, v.Reason, "no measurement had data")
	})
	t.Run("success limit, no data", func(t *testing.T) {
		c := &analysis.Check{Label: "m", Source: analysistest.Values(nil), Interval: time.Minute, FailureLimit: -1, ConsecutiveSuccessLimit: 2, SuccessCondition: "default(result, 1) > 0.5"}
		v, _, err := analyze(t, c, input())
		require.NoError(t, err)
		assert.Equal(t, strategy.Inconclusive, v.Outcome)
	})
}

// With MinSamples a check waits for enough data instead of failing, up to
// NoDataLimit, after which it is Inconclusive.
func TestMinSamples(t *testing.T) {
	t.Run("waits, then judges", func(t *testing.T) {
		src := analysistest.Values([]float64{}, []float64{math.NaN()}, []float64{0.995})
		c := &analysis.Check{Label: "m", Source: src, Interval: time.Minute, Count: 1, MinSamples: 1, SuccessCondition: "result[0] >= 0.99"}
		v, took, err := analyze(t, c, input())
		require.NoError(t, err)
		assert.Equal(t, strategy.Pass, v.Outcome, v.Reason)
		assert.Equal(t, "WWS", outcomes(v.Measurements))
		assert.Equal(t, "samples 0 < MinSamples 1", v.Measurements[0].Condition)
		assert.Equal(t, 2*time.Minute, took)
	})
	t.Run("gives up after NoDataLimit", func(t *testing.T) {
		c := &analysis.Check{Label: "m", Source: analysistest.Values([]float64{}), Interval: time.Minute, Count: 3, MinSamples: 1, NoDataLimit: 2, SuccessCondition: "result[0] >= 0.99"}
		v, _, err := analyze(t, c, input())
		require.NoError(t, err)
		assert.Equal(t, strategy.Inconclusive, v.Outcome)
		assert.Equal(t, "WWW", outcomes(v.Measurements))
		assert.Contains(t, v.Reason, "not enough data: 3 measurements")
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
		require.NoError(t, err)
		assert.Equal(t, strategy.Pass, v.Outcome)
		assert.Equal(t, "WWS", outcomes(v.Measurements))
		assert.Equal(t, "samples 80 < MinSamples 100", v.Measurements[1].Condition)
	})
}

// A permanent error (a query the server cannot parse) ends the check at
// once, with the measurement and the error.
func TestPermanentError(t *testing.T) {
	src := replies(strategy.Permanent(errors.New(`bad_data: parse error at char 4`)))
	c := &analysis.Check{Label: "m", Source: src, Interval: time.Minute, Count: 5, SuccessCondition: "result >= 0.9"}
	v, took, err := analyze(t, c, input())
	require.Error(t, err)
	assert.True(t, strategy.IsPermanent(err))
	assert.Equal(t, 1, src.Calls())
	assert.Zero(t, took)
	assert.Equal(t, strategy.Inconclusive, v.Outcome)
	assert.Equal(t, "E", outcomes(v.Measurements))
	assert.Contains(t, v.Reason, "bad_data")
}

func TestDryRun(t *testing.T) {
	c := &analysis.Check{Label: "m", Source: analysistest.Values(bad), DryRun: true, SuccessCondition: "result >= 0.9"}
	v, _, err := analyze(t, c, input())
	require.NoError(t, err)
	assert.Equal(t, strategy.Pass, v.Outcome)
	assert.Contains(t, v.Reason, "dry run, would be Fail: failed (1) > failureLimit (0)")
	assert.Equal(t, "F", outcomes(v.Measurements), "measurements keep their own outcome")

	c = &analysis.Check{Label: "m", Source: replies(strategy.Permanent(errDown)), DryRun: true}
	v, _, err = analyze(t, c, input())
	require.NoError(t, err, "a dry run never decides, not even by failing to run")
	assert.Equal(t, strategy.Pass, v.Outcome)
}

// An inline check whose context ends says so.
func TestInlineCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := &analysis.Check{Label: "m", Source: analysistest.Values(good), Interval: time.Minute, Count: 10, SuccessCondition: "result >= 0.9"}
		ctx, cancel := context.WithTimeout(t.Context(), 150*time.Second)
		defer cancel()
		v, err := c.Analyze(ctx, input())
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, strategy.Inconclusive, v.Outcome)
		assert.Equal(t, "SSS", outcomes(v.Measurements))
	})
}

func TestHistoryIsBounded(t *testing.T) {
	c := &analysis.Check{Label: "m", Source: analysistest.Values(0.1, 0.2, 0.3, 0.4, 0.5), Interval: time.Second, Count: 5, FailureLimit: 4, HistoryLimit: 3, SuccessCondition: "result >= 0.9"}
	v, _, err := analyze(t, c, input())
	require.NoError(t, err)
	h := c.History()
	require.Len(t, h, 3)
	assert.Equal(t, []string{"0.3", "0.4", "0.5"}, []string{h[0].Value, h[1].Value, h[2].Value})
	assert.Equal(t, h, v.Measurements)
	_, _, _ = analyze(t, c, input())
	assert.Len(t, c.History(), 3)
}

// Source panics are measurement errors, not crashes.
func TestSourcePanic(t *testing.T) {
	src := analysistest.Func(func(context.Context, int, analysis.Query) (any, error) { panic("boom") })
	c := &analysis.Check{Label: "m", Source: src, ConsecutiveErrorLimit: new(0)}
	v, _, err := analyze(t, c, input())
	require.NoError(t, err)
	assert.Equal(t, strategy.Fail, v.Outcome)
	assert.Contains(t, v.Measurements[0].Error, "source panicked: boom")
}
