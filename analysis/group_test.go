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
