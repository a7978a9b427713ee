package judge

import (
	"context"

	"github.com/glidepath/glidepath/strategy"
)

// SampleSource supplies a metric's observations for the baseline (stable)
// and canary revisions.
type SampleSource interface {
	Samples(ctx context.Context, in strategy.Input, metric string) (baseline, canary []float64, err error)
}

// SampleFunc adapts a function to [SampleSource].
type SampleFunc func(ctx context.Context, in strategy.Input, metric string) (baseline, canary []float64, err error)

// Samples calls f.
func (f SampleFunc) Samples(ctx context.Context, in strategy.Input, metric string) ([]float64, []float64, error) {
	return f(ctx, in, metric)
}

// Counts are the cumulative trials and failures of one revision, for
// example requests served and requests that failed.
type Counts struct {
	// Trials is how many attempts there were (requests served); float64
	// so that counters read from Prometheus need no conversion.
	Trials float64
	// Failures is how many of the trials failed; at most Trials.
	Failures float64
}

// CountSource supplies cumulative counts for the baseline and canary
// revisions.
type CountSource interface {
	Counts(ctx context.Context, in strategy.Input) (baseline, canary Counts, err error)
}

// CountFunc adapts a function to [CountSource].
type CountFunc func(ctx context.Context, in strategy.Input) (baseline, canary Counts, err error)

// Counts calls f.
func (f CountFunc) Counts(ctx context.Context, in strategy.Input) (Counts, Counts, error) {
	return f(ctx, in)
}
