package strategy

import (
	"context"
	"fmt"
	"time"
)

// Outcome is the decision of a [Verdict].
type Outcome string

// The three outcomes of analysis. The zero Outcome is invalid.
const (
	// Pass lets the release continue.
	Pass Outcome = "Pass"
	// Fail rolls the release back (or pauses it, per Options.OnFail).
	Fail Outcome = "Fail"
	// Inconclusive pauses the release for a person to Promote or Abort.
	Inconclusive Outcome = "Inconclusive"
)

// Worse reports whether o is a worse outcome than other (Fail is worse than
// Inconclusive, which is worse than Pass). An unknown outcome counts as
// Inconclusive.
func (o Outcome) Worse(other Outcome) bool { return o.rank() > other.rank() }

func (o Outcome) rank() int {
	switch o {
	case Pass:
		return 0
	case Fail:
		return 2
	default:
		return 1
	}
}

// Measurement is one observation behind a verdict: a value read from a metric
// source, a statistic, or an error.
type Measurement struct {
	// Name is what was measured: a check or metric name.
	Name string `json:"name"`
	// At is when it was taken.
	At time.Time `json:"at"`
	// Value is the measured value as text ("0.987", "[0.99 0.97]", "NaN").
	Value string `json:"value,omitempty"`
	// Outcome is how this one measurement was judged, if it was.
	Outcome Outcome `json:"outcome,omitempty"`
	// Condition is the condition that judged it, for example "result[0] >= 0.99".
	Condition string `json:"condition,omitempty"`
	// Error is the measurement's error, when it could not be taken.
	Error string `json:"error,omitempty"`
	// Revision is the revision the measurement is about, when it is about
	// one (a judge measures the canary and the baseline separately).
	Revision Revision `json:"revision,omitempty"`
	// Values are the numbers behind the measurement, by name, for metrics
	// and logs: "value" for a check's single measured value, and a judge's
	// evidence ("rate", "trials", "failures", "e_fail", "e_pass", ...).
	// Nil when the measurement has no numeric value.
	Values map[string]float64 `json:"values,omitempty"`
}

// Verdict is the result of analysis: an outcome, a reason a person can read,
// and the measurements behind it.
type Verdict struct {
	// Analyzer names the analyzer that produced the verdict.
	Analyzer string `json:"analyzer"`
	// Outcome is Pass, Fail or Inconclusive.
	Outcome Outcome `json:"outcome"`
	// Reason says why, in a sentence.
	Reason string `json:"reason,omitempty"`
	// Measurements are the observations the verdict rests on.
	Measurements []Measurement `json:"measurements,omitempty"`
	// At is when the verdict was reached (set by the executor when zero).
	At time.Time `json:"at"`
}

// String renders "analyzer: Outcome (reason)".
func (v Verdict) String() string {
	s := fmt.Sprintf("%s: %s", v.Analyzer, v.Outcome)
	if v.Reason != "" {
		s += " (" + v.Reason + ")"
	}
	return s
}

// Input tells an [Analyzer] what it is analysing.
type Input struct {
	// Release identifies the release (Release.Name).
	Release string
	// Stable and Canary are the revisions being compared.
	Stable, Canary Revision
	// State is the State applied when the analysis started.
	State State
	// Step is the index of the analysis step, or the From step of
	// background analysis.
	Step int
	// Background is true for analysis that runs alongside the plan; it runs
	// until its context is cancelled at the end of the release, and should
	// return as soon as it reaches a Fail.
	Background bool
	// Current, when not nil, returns the State applied now; background
	// analyzers use it to follow the weight as it changes. Safe for
	// concurrent use.
	Current func() State
}

// CurrentState is in.Current() when set, otherwise in.State.
func (in Input) CurrentState() State {
	if in.Current != nil {
		return in.Current()
	}
	return in.State
}

// Analyzer judges a release. It returns a [Verdict]; an error means it could
// not judge (a metric source is down), which the executor never treats as a
// Pass. Gates (manual approval, webhooks, flag freezes) are Analyzers too.
type Analyzer interface {
	Analyze(ctx context.Context, in Input) (Verdict, error)
}

// AnalyzerFunc adapts a function to [Analyzer]; its name is "func".
type AnalyzerFunc func(ctx context.Context, in Input) (Verdict, error)

// Analyze calls f.
func (f AnalyzerFunc) Analyze(ctx context.Context, in Input) (Verdict, error) { return f(ctx, in) }

// Namer is implemented by analyzers (and other parts) that have a name.
type Namer interface {
	Name() string
}

// AnalyzerName is a's Name() when it implements [Namer], else its type.
func AnalyzerName(a Analyzer) string {
	if n, ok := a.(Namer); ok {
		return n.Name()
	}
	return fmt.Sprintf("%T", a)
}

// AnalyzerNames maps [AnalyzerName] over as.
func AnalyzerNames(as []Analyzer) []string {
	out := make([]string, len(as))
	for i, a := range as {
		if a == nil {
			out[i] = "<nil>"
			continue
		}
		out[i] = AnalyzerName(a)
	}
	return out
}
