package spec

import (
	"context"
	"fmt"
	"github.com/glidepath/glidepath/internal/sleep"
	"strings"
	"time"

	"github.com/glidepath/glidepath/strategy"
)

// Iterations is Flagger's iterations as one analyzer: it waits Interval
// and then runs every analyzer once, again and again. A round in which
// any of them does not pass is a failed check and does not count as an
// iteration (Flagger halts advancement); the Threshold-th failed check
// fails the analysis. It passes after Count rounds that passed.
type Iterations struct {
	// Label names the analyzer in verdicts.
	Label string
	// Count is the number of iterations (Flagger's iterations).
	Count int
	// Interval is the wait before each iteration (Flagger's interval).
	Interval time.Duration
	// Threshold is the number of failed checks that fails the analysis
	// (Flagger's threshold; at least 1).
	Threshold int
	// Before run at the start of each iteration until they have all
	// passed once (Flagger's pre-rollout webhooks); until then the
	// iteration is a failed check and Analyzers do not run.
	Before []strategy.Analyzer
	// Analyzers run in each iteration, one after another.
	Analyzers []strategy.Analyzer
}

// Name returns the Label.
func (it *Iterations) Name() string { return it.Label }

// Analyze runs the iterations.
func (it *Iterations) Analyze(ctx context.Context, in strategy.Input) (strategy.Verdict, error) {
	threshold := max(it.Threshold, 1)
	failed := 0
	before := len(it.Before) == 0
	var last []string
	passed := 0
	for i := 0; passed < it.Count; i++ {
		if !sleep.For(ctx, it.Interval) {
			return strategy.Verdict{}, ctx.Err()
		}
		var why []string
		run := it.Analyzers
		if !before {
			run = it.Before
		}
		for _, a := range run {
			v, err := a.Analyze(ctx, in)
			switch {
			case ctx.Err() != nil:
				return strategy.Verdict{}, ctx.Err()
			case err != nil:
				why = append(why, fmt.Sprintf("%s: %v", strategy.AnalyzerName(a), err))
			case v.Outcome != strategy.Pass:
				why = append(why, v.String())
			}
		}
		if len(why) == 0 && !before {
			before = true
			why = it.runAll(ctx, in)
			if ctx.Err() != nil {
				return strategy.Verdict{}, ctx.Err()
			}
		}
		if len(why) == 0 {
			passed++
		} else {
			failed++
			last = why
			if failed >= threshold {
				return strategy.Verdict{Analyzer: it.Label, Outcome: strategy.Fail,
					Reason: fmt.Sprintf("%d failed checks (threshold %d), the last in round %d: %s", failed, threshold, i+1, strings.Join(why, "; "))}, nil
			}
		}
	}
	reason := fmt.Sprintf("%d iterations passed, %d failed checks (threshold %d)", it.Count, failed, threshold)
	if failed > 0 {
		reason += "; last failure: " + strings.Join(last, "; ")
	}
	return strategy.Verdict{Analyzer: it.Label, Outcome: strategy.Pass, Reason: reason}, nil
}

func (it *Iterations) runAll(ctx context.Context, in strategy.Input) []string {
	var why []string
	for _, a := range it.Analyzers {
		v, err := a.Analyze(ctx, in)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			why = append(why, fmt.Sprintf("%s: %v", strategy.AnalyzerName(a), err))
		case v.Outcome != strategy.Pass:
			why = append(why, v.String())
		}
	}
	return why
}
