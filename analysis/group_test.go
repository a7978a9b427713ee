package analysis_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"testing/synctest"
	"time"

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
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if v.Outcome != tt.want {
					t.Errorf("%s: v.Outcome = %q, want %q", v.Reason, v.Outcome, tt.want)
				}
				if v.Analyzer != "canary-health" {
					t.Errorf("v.Analyzer = %q, want %q", v.Analyzer, "canary-health")
				}
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
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		if v.Outcome != strategy.Fail {
			t.Errorf("v.Outcome = %q, want %q", v.Outcome, strategy.Fail)
		}
		if got := time.Since(start); got != 2*time.Minute {
			t.Errorf("time.Since(start) = %v, want %v", got, 2*time.Minute)
		}
		if !strings.Contains(v.Reason, "errors: Fail (failed (1) > failureLimit (0)") {
			t.Errorf("v.Reason = %q, want it to contain %q", v.Reason, "errors: Fail (failed (1) > failureLimit (0)")
		}
		if !strings.Contains(v.Reason, "latency: stopped") {
			t.Errorf("v.Reason = %q, want it to contain %q", v.Reason, "latency: stopped")
		}
		// Both members' measurements are in the verdict.
		names := map[string]int{}
		for _, m := range v.Measurements {
			names[m.Name]++
		}
		if want := map[string]int{"latency": 3, "errors": 3}; !reflect.DeepEqual(names, want) {
			t.Errorf("names = %+v, want %+v", names, want)
		}
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
		if !errors.Is(err, boom) {
			t.Fatalf("err = %v, want an error matching %v", err, boom)
		}
		if v.Outcome != strategy.Inconclusive {
			t.Errorf("v.Outcome = %q, want %q", v.Outcome, strategy.Inconclusive)
		}
	})
}

func TestGroupValidate(t *testing.T) {
	g := &analysis.Group{Analyzers: []strategy.Analyzer{check("a", 0, 0, good), check("a", 0, 0, good), nil, &analysis.Check{Label: "bad"}}}
	err := g.Validate()
	if !errors.Is(err, strategy.ErrInvalidConfig) {
		t.Fatalf("err = %v, want an error matching %v", err, strategy.ErrInvalidConfig)
	}
	for _, want := range []string{"no Label", `two analyzers are named "a"`, "analyzer 2 is nil", `check "bad"`, "no Source"} {
		if got := err.Error(); !strings.Contains(got, want) {
			t.Errorf("err.Error() = %q, want it to contain %q", got, want)
		}
	}
	_, err = (&analysis.Group{Label: "empty"}).Analyze(context.Background(), input())
	if !errors.Is(err, strategy.ErrInvalidConfig) {
		t.Fatalf("err = %v, want an error matching %v", err, strategy.ErrInvalidConfig)
	}
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
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want an error matching %v", err, context.DeadlineExceeded)
		}
		if v.Outcome != strategy.Pass {
			t.Errorf("%s: v.Outcome = %q, want %q", v.Reason, v.Outcome, strategy.Pass)
		}
		if got := a.Calls(); got != 11 {
			t.Errorf("a.Calls() = %v, want %v", got, 11)
		}
		if got := b.Calls(); got != 6 {
			t.Errorf("b.Calls() = %v, want %v", got, 6)
		}
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
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if v.Outcome != strategy.Inconclusive {
		t.Errorf("%s: v.Outcome = %q, want %q", v.Reason, v.Outcome, strategy.Inconclusive)
	}
	if !strings.Contains(v.Reason, "empty: Inconclusive (stopped: no measurement had data)") {
		t.Errorf("v.Reason = %q, want it to contain %q", v.Reason, "empty: Inconclusive (stopped: no measurement had data)")
	}

	v, err = run(t, strategy.ErrPlanComplete, ok(), waitThenErr)
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if v.Outcome != strategy.Pass {
		t.Errorf("%s: v.Outcome = %q, want %q", v.Reason, v.Outcome, strategy.Pass)
	}

	_, err = run(t, strategy.ErrPlanComplete, waitThenErr)
	if !errors.Is(err, strategy.ErrPlanComplete) {
		t.Fatalf("no member had a last word: err = %v, want an error matching %v", err, strategy.ErrPlanComplete)
	}

	_, err = run(t, errors.New("rolling back"), ok())
	if err == nil {
		t.Fatal("any other cancellation is an error: err = nil, want an error")
	}
}
