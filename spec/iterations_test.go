package spec

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/glidepath/glidepath/strategy"
)

// scripted returns the outcomes in order, one a call.
type scripted struct {
	outs  []strategy.Outcome
	calls int
	at    []time.Duration
	start time.Time
}

func (s *scripted) Analyze(ctx context.Context, in strategy.Input) (strategy.Verdict, error) {
	s.at = append(s.at, time.Since(s.start))
	o := s.outs[min(s.calls, len(s.outs)-1)]
	s.calls++
	return strategy.Verdict{Analyzer: "s", Outcome: o}, nil
}

func TestIterationsThreshold(t *testing.T) {
	P, F := strategy.Pass, strategy.Fail
	for _, tc := range []struct {
		name      string
		outs      []strategy.Outcome
		threshold int
		want      strategy.Outcome
		calls     int
	}{
		{"all pass", []strategy.Outcome{P}, 2, P, 5},
		{"a failed check does not count as an iteration", []strategy.Outcome{P, F, P}, 2, P, 6},
		{"second failure reaches threshold 2", []strategy.Outcome{F, P, F}, 2, F, 3},
		{"threshold 1 fails at once", []strategy.Outcome{P, F}, 1, F, 2},
		{"inconclusive counts as a failed check", []strategy.Outcome{strategy.Inconclusive}, 1, F, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := &scripted{outs: tc.outs, start: time.Now()}
				it := &Iterations{Label: "it", Count: 5, Interval: 30 * time.Second, Threshold: tc.threshold, Analyzers: []strategy.Analyzer{s}}
				v, err := it.Analyze(t.Context(), strategy.Input{})
				if err != nil || v.Outcome != tc.want || s.calls != tc.calls {
					t.Fatalf("verdict %v err %v calls %d", v, err, s.calls)
				}
				for i, at := range s.at {
					if at != time.Duration(i+1)*30*time.Second {
						t.Errorf("call %d at %v", i, at)
					}
				}
			})
		})
	}
}

func TestIterationsBeforeGatesTheAnalysis(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gate := &scripted{outs: []strategy.Outcome{strategy.Fail, strategy.Pass}, start: time.Now()}
		s := &scripted{outs: []strategy.Outcome{strategy.Pass}, start: time.Now()}
		it := &Iterations{Label: "it", Count: 3, Interval: time.Minute, Threshold: 2, Before: []strategy.Analyzer{gate}, Analyzers: []strategy.Analyzer{s}}
		v, err := it.Analyze(t.Context(), strategy.Input{})
		// Round 1: the gate fails (a failed check); round 2: the gate
		// passes, then the checks; rounds 3 and 4: the checks.
		if err != nil || v.Outcome != strategy.Pass || gate.calls != 2 || s.calls != 3 {
			t.Fatalf("%v %v gate %d checks %d", v, err, gate.calls, s.calls)
		}
	})
}

func TestIterationsStopsWithContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
		defer cancel()
		s := &scripted{outs: []strategy.Outcome{strategy.Pass}, start: time.Now()}
		it := &Iterations{Count: 10, Interval: time.Minute, Analyzers: []strategy.Analyzer{s}}
		if _, err := it.Analyze(ctx, strategy.Input{}); err == nil || s.calls != 1 {
			t.Fatalf("err %v calls %d", err, s.calls)
		}
	})
}
