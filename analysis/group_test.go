package analysis_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/glidepath/glidepath/analysis"
	"github.com/glidepath/glidepath/analysis/analysistest"
	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/strategytest"
)

func check(label string, interval time.Duration, count int, values ...any) *analysis.Check {
	return &analysis.Check{Label: label, Source: replies(values...), Interval: interval, Count: count, SuccessCondition: "result >= 0.9"}
}

func TestGroupWorstWins(t *testing.T) {
	tests := []struct {
		name    string
		members []strategy.Analyzer
		want    strategy.Outcome
	}{
		{"all pass", []strategy.Analyzer{check("a", time.Minute, 2, good), check("b", time.Minute, 3, good)}, strategy.Pass},
		{"one fails", []strategy.Analyzer{check("a", time.Minute, 2, good), check("b", time.Minute, 3, good, bad)}, strategy.Fail},
		{"inconclusive beats pass", []strategy.Analyzer{check("a", 0, 0, good), strategytest.Script("gate", strategy.Inconclusive)}, strategy.Inconclusive},
		{"fail beats inconclusive", []strategy.Analyzer{strategytest.Script("gate", strategy.Inconclusive), strategytest.Script("x", strategy.Fail)}, strategy.Fail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				g := &analysis.Group{Label: "canary-health", Analyzers: tt.members}
				v, err := g.Analyze(t.Context(), input())
				require.NoError(t, err)
				assert.Equal(t, tt.want, v.Outcome, v.Reason)
				assert.Equal(t, "canary-health", v.Analyzer)
			})
		})
	}
}

// As soon as one member fails, the others stop and the group answers, as
// one failing metric terminates an Argo AnalysisRun.
func TestGroupFailStopsOthers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		slow := check("latency", time.Minute, 30, good)
		failing := check("errors", time.Minute, 30, good, good, bad)
		g := &analysis.Group{Label: "g", Analyzers: []strategy.Analyzer{slow, failing}}
		start := time.Now()
		v, err := g.Analyze(t.Context(), input())
		require.NoError(t, err)
		assert.Equal(t, strategy.Fail, v.Outcome)
		assert.Equal(t, 2*time.Minute, time.Since(start))
		assert.Contains(t, v.Reason, "errors: Fail (failed (1) > failureLimit (0)")
		assert.Contains(t, v.Reason, "latency: stopped")
		// Both members' measurements are in the verdict.
		names := map[string]int{}
		for _, m := range v.Measurements {
			names[m.Name]++
		}
		assert.Equal(t, map[string]int{"latency": 3, "errors": 3}, names)
	})
}

// A member's error is never a pass.
func TestGroupMemberError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		boom := errors.New("boom")
		g := &analysis.Group{Label: "g", Analyzers: []strategy.Analyzer{
			check("a", 0, 0, good),
			strategy.AnalyzerFunc(func(context.Context, strategy.Input) (strategy.Verdict, error) { return strategy.Verdict{}, boom }),
		}}
		v, err := g.Analyze(t.Context(), input())
		require.ErrorIs(t, err, boom)
		assert.Equal(t, strategy.Inconclusive, v.Outcome)
	})
}

func TestGroupValidate(t *testing.T) {
	g := &analysis.Group{Analyzers: []strategy.Analyzer{check("a", 0, 0, good), check("a", 0, 0, good), nil, &analysis.Check{Label: "bad"}}}
	err := g.Validate()
	require.ErrorIs(t, err, strategy.ErrInvalidConfig)
	for _, want := range []string{"no Label", `two analyzers are named "a"`, "analyzer 2 is nil", `check "bad"`, "no Source"} {
		assert.Contains(t, err.Error(), want)
	}
	_, err = (&analysis.Group{Label: "empty"}).Analyze(context.Background(), input())
	require.ErrorIs(t, err, strategy.ErrInvalidConfig)
}

// A background group runs its checks until the context ends.
func TestGroupBackground(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		in := input()
		in.Background = true
		a, b := analysistest.Values(good), analysistest.Values(good)
		g := &analysis.Group{Label: "g", Analyzers: []strategy.Analyzer{
			&analysis.Check{Label: "a", Source: a, Interval: time.Minute, SuccessCondition: "result >= 0.9"},
			&analysis.Check{Label: "b", Source: b, Interval: 2 * time.Minute, SuccessCondition: "result >= 0.9"},
		}}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute+time.Second)
		defer cancel()
		v, err := g.Analyze(ctx, in)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, strategy.Pass, v.Outcome, v.Reason)
		assert.Equal(t, 11, a.Calls())
		assert.Equal(t, 6, b.Calls())
	})
}

// At the end of a release the members' last words are the group's: a
// member that never had data holds the release, and a member that answers
// with an error has no say.
func TestGroupLastWord(t *testing.T) {
	waitThenErr := strategy.AnalyzerFunc(func(ctx context.Context, _ strategy.Input) (strategy.Verdict, error) {
		<-ctx.Done()
		return strategy.Verdict{}, context.Cause(ctx)
	})
	run := func(t *testing.T, cause error, members ...strategy.Analyzer) (strategy.Verdict, error) {
		var v strategy.Verdict
		var err error
		synctest.Test(t, func(t *testing.T) {
			in := input()
			in.Background = true
			ctx, cancel := context.WithCancelCause(t.Context())
			time.AfterFunc(5*time.Minute+time.Second, func() { cancel(cause) })
			v, err = (&analysis.Group{Label: "g", Analyzers: members}).Analyze(ctx, in)
		})
		return v, err
	}
	ok := func() strategy.Analyzer {
		return &analysis.Check{Label: "ok", Source: analysistest.Values(good), Interval: time.Minute, SuccessCondition: "result >= 0.9"}
	}
	empty := &analysis.Check{Label: "empty", Source: analysistest.Values([]float64{}), Interval: time.Minute,
		SuccessCondition: "len(result) == 0 || result[0] >= 0.9"}

	v, err := run(t, strategy.ErrPlanComplete, ok(), empty, waitThenErr)
	require.NoError(t, err)
	assert.Equal(t, strategy.Inconclusive, v.Outcome, v.Reason)
	assert.Contains(t, v.Reason, "empty: Inconclusive (stopped: no measurement had data)")

	v, err = run(t, strategy.ErrPlanComplete, ok(), waitThenErr)
	require.NoError(t, err)
	assert.Equal(t, strategy.Pass, v.Outcome, v.Reason)

	_, err = run(t, strategy.ErrPlanComplete, waitThenErr)
	require.ErrorIs(t, err, strategy.ErrPlanComplete, "no member had a last word")

	_, err = run(t, errors.New("rolling back"), ok())
	require.Error(t, err, "any other cancellation is an error")
}
