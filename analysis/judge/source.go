package judge

import (
	"context"
	"fmt"
	"math"

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

// Histogram is a latency histogram of one revision in the shape Prometheus
// exports (and strategy/httpsplit records): Counts[i] is how many
// observations were at most Bounds[i] (the cumulative le buckets), and
// Count is how many there were in all (the _count series, the +Inf
// bucket). A [LatencySource] returns histograms that are cumulative over
// time as well, like the counters they are read from; the judge takes the
// difference between readings.
//
// The latency judge compares revisions at the bucket bounds, so its
// resolution is that of the buckets near the baseline's median: bounds a
// few percent apart there (Prometheus native histograms, or explicit
// buckets spaced by a factor of 1.05 to 1.1) let it see a regression of
// 10–20%; decade-spaced buckets only let it see larger ones.
type Histogram struct {
	// Bounds are the upper bounds of the buckets, strictly increasing. A
	// last bound of +Inf is allowed and ignored.
	Bounds []float64
	// Counts[i] is the number of observations at most Bounds[i]: never
	// decreasing with i, and at most Count.
	Counts []float64
	// Count is the total number of observations.
	Count float64
}

// NewHistogram returns an empty histogram with the given bucket bounds.
func NewHistogram(bounds ...float64) Histogram {
	return Histogram{Bounds: bounds, Counts: make([]float64, len(bounds))}
}

// Observe records one observation v.
func (h *Histogram) Observe(v float64) {
	h.Count++
	for i := len(h.Bounds) - 1; i >= 0 && v <= h.Bounds[i]; i-- {
		h.Counts[i]++
	}
}

// Above returns how many observations exceeded Bounds[i].
func (h Histogram) Above(i int) float64 { return h.Count - h.Counts[i] }

// check reports what is wrong with h, if anything.
func (h Histogram) check() error {
	if len(h.Counts) != len(h.Bounds) {
		return fmt.Errorf("%d bounds but %d bucket counts", len(h.Bounds), len(h.Counts))
	}
	if !(h.Count >= 0) || math.IsInf(h.Count, 0) {
		return fmt.Errorf("count %v is not a finite non-negative number", h.Count)
	}
	for i, b := range h.Bounds {
		if math.IsNaN(b) || (i > 0 && !(b > h.Bounds[i-1])) {
			return fmt.Errorf("bounds are not strictly increasing at index %d (%v)", i, b)
		}
		c := h.Counts[i]
		if !(c >= 0 && c <= h.Count) || (i > 0 && c < h.Counts[i-1]) {
			return fmt.Errorf("bucket count %v at bound %v is not between the previous bucket's and the total %v", c, b, h.Count)
		}
	}
	return nil
}

// increase returns h − prev, the observations between two readings, as
// Prometheus' increase() reads counters: when the count or any bucket
// dropped, the histogram was reset (a restart) and h itself is the
// increase since; reset reports that. ok is false when the bounds changed.
// Differences that are not a histogram (a bucket grew more than the one
// above it) are returned as they are, for the test to reject.
func (h Histogram) increase(prev Histogram) (d Histogram, ok, reset bool) {
	if !sameBounds(h.Bounds, prev.Bounds) {
		return Histogram{}, false, false
	}
	if h.Count < prev.Count {
		return h, true, true
	}
	d = Histogram{Bounds: h.Bounds, Counts: make([]float64, len(h.Counts)), Count: h.Count - prev.Count}
	for i := range h.Bounds {
		d.Counts[i] = h.Counts[i] - prev.Counts[i]
		if d.Counts[i] < 0 {
			return h, true, true
		}
	}
	return d, true, false
}

// LatencySource supplies latency histograms of the baseline and canary
// revisions, cumulative since some point in the past (as Prometheus
// histogram counters are). Both must use the same bucket bounds.
type LatencySource interface {
	Latencies(ctx context.Context, in strategy.Input) (baseline, canary Histogram, err error)
}

// LatencyFunc adapts a function to [LatencySource].
type LatencyFunc func(ctx context.Context, in strategy.Input) (baseline, canary Histogram, err error)

// Latencies calls f.
func (f LatencyFunc) Latencies(ctx context.Context, in strategy.Input) (Histogram, Histogram, error) {
	return f(ctx, in)
}
