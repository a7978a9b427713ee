package strategytest

import (
	"context"
	"sync"
	"time"

	"github.com/glidepath/glidepath/strategy"
)

// Answer is one scripted reply of an [Analyzer].
type Answer struct {
	// Outcome is the verdict's outcome (ignored when Err is set).
	Outcome strategy.Outcome
	// Reason is the verdict's reason.
	Reason string
	// Err, when set, is returned instead of a verdict.
	Err error
	// After delays the answer (in the caller's clock); a cancelled
	// context cuts the delay short and returns the context's error.
	After time.Duration
	// Block waits until the context is done and then returns Pass: the
	// shape of background analysis that never finds a problem.
	Block bool
}

// Analyzer is a scripted [strategy.Analyzer]: each call returns the next
// Answer; the last one repeats. It is safe for concurrent use.
type Analyzer struct {
	// ID is the analyzer's name, which Name returns.
	ID string
	// Answers is the script.
	Answers []Answer

	mu     sync.Mutex
	calls  int
	inputs []strategy.Input
}

// Script returns an Analyzer named name that answers outcomes in order,
// repeating the last.
func Script(name string, outcomes ...strategy.Outcome) *Analyzer {
	a := &Analyzer{ID: name}
	for _, o := range outcomes {
		a.Answers = append(a.Answers, Answer{Outcome: o})
	}
	return a
}

// Name returns ID.
func (a *Analyzer) Name() string { return a.ID }

// Calls returns how many times Analyze was called.
func (a *Analyzer) Calls() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.calls
}

// Inputs returns the inputs of every call so far.
func (a *Analyzer) Inputs() []strategy.Input {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]strategy.Input(nil), a.inputs...)
}

// Analyze returns the next scripted answer.
func (a *Analyzer) Analyze(ctx context.Context, in strategy.Input) (strategy.Verdict, error) {
	a.mu.Lock()
	ans := Answer{Outcome: strategy.Pass}
	if len(a.Answers) > 0 {
		ans = a.Answers[min(a.calls, len(a.Answers)-1)]
	}
	a.calls++
	a.inputs = append(a.inputs, in)
	a.mu.Unlock()
	if ans.Block {
		<-ctx.Done()
		return strategy.Verdict{Analyzer: a.ID, Outcome: strategy.Pass, Reason: "stopped"}, nil
	}
	if ans.After > 0 {
		t := time.NewTimer(ans.After)
		select {
		case <-ctx.Done():
			t.Stop()
			return strategy.Verdict{}, ctx.Err()
		case <-t.C:
		}
	}
	if ans.Err != nil {
		return strategy.Verdict{}, ans.Err
	}
	reason := ans.Reason
	if reason == "" {
		reason = "scripted " + string(ans.Outcome)
	}
	return strategy.Verdict{Analyzer: a.ID, Outcome: ans.Outcome, Reason: reason,
		Measurements: []strategy.Measurement{{Name: a.ID, At: time.Now(), Value: string(ans.Outcome), Outcome: ans.Outcome}}}, nil
}
