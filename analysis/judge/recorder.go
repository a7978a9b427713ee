package judge

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/glidepath/glidepath/internal/vclock"
	"github.com/glidepath/glidepath/strategy"
)

// Recorder gives a source that cannot read the past (an in-process
// counter, a flag evaluation tracker) a memory of it, so that the
// sequential judges learn how bursty the baseline's failures and how
// variable its latency are before a release starts, as they do from
// Prometheus, instead of starting from a conservative guess that makes
// them fail a bad canary minutes later.
//
// Run it for the life of the process (or at least History intervals
// before a release), with Every equal to the judges' Interval, and give
// the Recorder to the judge as its Source: it reads through to the
// wrapped source, and answers [CountHistory] and [LatencyHistory] from
// its readings. It records the revisions of Input (the baseline is
// Input.Stable); asked about the past of another stable revision it
// reports an error, and the judge proceeds without a history.
//
// A Recorder is safe for concurrent use once Run has started.
type Recorder struct {
	// CountSource, if set, is read every Every and answers Counts and
	// CountsAt.
	CountSource CountSource
	// LatencySource, if set, is read every Every and answers Latencies
	// and LatenciesAt.
	LatencySource LatencySource
	// Input names the revisions recorded; Stable is the baseline.
	Input strategy.Input
	// Every is the time between readings; zero means a minute (the
	// judges' default Interval).
	Every time.Duration
	// Keep is how many readings are kept; zero means enough for the last
	// 30 minutes (32 at one a minute; the judges read 20 intervals of
	// history by default).
	Keep int

	mu       sync.Mutex
	readings []reading // oldest first, at most Keep
}

// reading is what the sources returned at one time.
type reading struct {
	at            time.Time
	counts        [2]Counts // baseline, canary
	haveCounts    bool
	latencies     [2]Histogram
	haveLatencies bool
}

// keepFor is how far back a Recorder keeps readings by default.
const keepFor = 30 * time.Minute

// ErrNotRecorded is returned (wrapped) by a [Recorder] asked about a time
// or a revision it has no reading of.
var ErrNotRecorded = errors.New("judge: not recorded")

// Validate reports what is wrong with r's settings, every problem at once.
func (r *Recorder) Validate() error {
	var p []string
	if r.CountSource == nil && r.LatencySource == nil {
		p = append(p, "neither CountSource nor LatencySource is set")
	}
	if r.Input.Stable == "" {
		p = append(p, "Input.Stable (the baseline recorded) is empty")
	}
	if r.Every < 0 {
		p = append(p, fmt.Sprintf("Every %v is negative", r.Every))
	}
	if r.Keep < 0 {
		p = append(p, fmt.Sprintf("Keep %d is negative", r.Keep))
	}
	if len(p) > 0 {
		return strategy.Invalid("recorder", p...)
	}
	return nil
}

// Run takes a reading at once and then every Every until ctx ends, and
// returns ctx's cause. A reading the source fails to take is left out
// (the judge then finds a gap and learns nothing from that stretch).
func (r *Recorder) Run(ctx context.Context) error {
	if err := r.Validate(); err != nil {
		return err
	}
	every := orDefault(r.Every, time.Minute)
	for {
		r.Record(ctx)
		if !vclock.Wait(ctx, every) {
			return context.Cause(ctx)
		}
	}
}

// Record takes one reading now. Run calls it every Every; call it
// yourself to drive a Recorder from your own loop.
func (r *Recorder) Record(ctx context.Context) {
	rd := reading{at: vclock.Now(ctx)}
	if r.CountSource != nil {
		b, c, err := r.CountSource.Counts(ctx, r.Input)
		if err == nil && b.problem() == "" {
			rd.counts, rd.haveCounts = [2]Counts{b, c}, true
		}
	}
	if r.LatencySource != nil {
		b, c, err := r.LatencySource.Latencies(ctx, r.Input)
		if err == nil && b.check() == nil {
			rd.latencies, rd.haveLatencies = [2]Histogram{cloneHistogram(b), cloneHistogram(c)}, true
		}
	}
	if !rd.haveCounts && !rd.haveLatencies {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	keep := r.Keep
	if keep == 0 {
		keep = int(keepFor/orDefault(r.Every, time.Minute)) + 2
	}
	if len(r.readings) >= keep {
		r.readings = append(r.readings[:0], r.readings[len(r.readings)-keep+1:]...)
	}
	r.readings = append(r.readings, rd)
}

func cloneHistogram(h Histogram) Histogram {
	return Histogram{Bounds: append([]float64(nil), h.Bounds...), Counts: append([]float64(nil), h.Counts...), Count: h.Count}
}

// find returns the latest reading at or before at, no older than one
// Every before it, that has what want asks for.
func (r *Recorder) find(in strategy.Input, at time.Time, want func(reading) bool) (reading, error) {
	if in.Stable != r.Input.Stable {
		return reading{}, fmt.Errorf("%w: the recorder records baseline %q, not %q", ErrNotRecorded, r.Input.Stable, in.Stable)
	}
	every := orDefault(r.Every, time.Minute)
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.readings) - 1; i >= 0; i-- {
		rd := r.readings[i]
		if rd.at.After(at) || !want(rd) {
			continue
		}
		if at.Sub(rd.at) >= every {
			break
		}
		return rd, nil
	}
	return reading{}, fmt.Errorf("%w: no reading within %v before %v", ErrNotRecorded, every, at.Format(time.RFC3339))
}

// Counts reads CountSource now.
func (r *Recorder) Counts(ctx context.Context, in strategy.Input) (baseline, canary Counts, err error) {
	if r.CountSource == nil {
		return Counts{}, Counts{}, errors.New("judge: recorder has no CountSource")
	}
	return r.CountSource.Counts(ctx, in)
}

// CountsAt returns the counts recorded at the latest reading at or before
// at (within one Every of it). It implements [CountHistory].
func (r *Recorder) CountsAt(_ context.Context, in strategy.Input, at time.Time) (baseline, canary Counts, err error) {
	rd, err := r.find(in, at, func(rd reading) bool { return rd.haveCounts })
	return rd.counts[0], rd.counts[1], err
}

// Latencies reads LatencySource now.
func (r *Recorder) Latencies(ctx context.Context, in strategy.Input) (baseline, canary Histogram, err error) {
	if r.LatencySource == nil {
		return Histogram{}, Histogram{}, errors.New("judge: recorder has no LatencySource")
	}
	return r.LatencySource.Latencies(ctx, in)
}

// LatenciesAt returns the histograms recorded at the latest reading at or
// before at (within one Every of it). It implements [LatencyHistory].
func (r *Recorder) LatenciesAt(_ context.Context, in strategy.Input, at time.Time) (baseline, canary Histogram, err error) {
	rd, err := r.find(in, at, func(rd reading) bool { return rd.haveLatencies })
	return cloneHistogram(rd.latencies[0]), cloneHistogram(rd.latencies[1]), err
}
