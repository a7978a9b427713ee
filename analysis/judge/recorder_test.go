package judge

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/strategytest"
)

func TestRecorderValidate(t *testing.T) {
	err := (&Recorder{Every: -time.Second, Keep: -1}).Validate()
	if !errors.Is(err, strategy.ErrInvalidConfig) {
		t.Fatalf("Validate: %v, want ErrInvalidConfig", err)
	}
	for _, want := range []string{"neither CountSource nor LatencySource", "Input.Stable", "Every", "Keep"} {
		if !strategytest.HasProblem(err, want) {
			t.Errorf("problems %q do not name %q", strategytest.Problems(err), want)
		}
	}
	r := &Recorder{CountSource: CountFunc(func(context.Context, strategy.Input) (Counts, Counts, error) { return Counts{}, Counts{}, nil })}
	if err := r.Run(t.Context()); !strategytest.HasProblem(err, "Input.Stable") {
		t.Errorf("Run without Input.Stable: %v", err)
	}
}

// TestRecorderReadings checks which reading answers which time: the
// latest at or before it, no older than Every; another baseline, a gap or
// a failed reading is ErrNotRecorded; at most Keep readings are kept.
func TestRecorderReadings(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		var n float64
		failAt := map[float64]bool{4: true}
		r := &Recorder{
			CountSource: CountFunc(func(context.Context, strategy.Input) (Counts, Counts, error) {
				n++
				if failAt[n] {
					return Counts{}, Counts{}, errors.New("source down")
				}
				return Counts{Trials: 100 * n, Failures: n}, Counts{Trials: n}, nil
			}),
			Input: strategy.Input{Stable: "v1", Canary: "v2"},
			Every: time.Minute,
			Keep:  5,
		}
		start := time.Now()
		done := make(chan error)
		go func() { done <- r.Run(ctx) }()
		time.Sleep(6*time.Minute + time.Second) // readings at 0..6 minutes; the one at 3 minutes failed
		in := strategy.Input{Stable: "v1", Canary: "v2"}
		at := func(d time.Duration) (float64, error) {
			b, _, err := r.CountsAt(ctx, in, start.Add(d))
			return b.Failures, err
		}
		for _, tc := range []struct {
			at   time.Duration
			want float64 // failures of the reading; 0: ErrNotRecorded
		}{
			{6 * time.Minute, 7},
			{5*time.Minute + 59*time.Second, 6},
			{5 * time.Minute, 6},
			{4*time.Minute + 30*time.Second, 5},
			{3*time.Minute + 30*time.Second, 0}, // the failed reading: a gap
			{2 * time.Minute, 3},
			{1 * time.Minute, 2},
			{59 * time.Second, 0}, // older than the five kept
			{-time.Second, 0},
		} {
			got, err := at(tc.at)
			switch {
			case tc.want == 0 && !errors.Is(err, ErrNotRecorded):
				t.Errorf("at %v: %v failures, error %v; want ErrNotRecorded", tc.at, got, err)
			case tc.want != 0 && (err != nil || got != tc.want):
				t.Errorf("at %v: %v failures, error %v; want %v", tc.at, got, err, tc.want)
			}
		}
		if _, _, err := r.CountsAt(ctx, strategy.Input{Stable: "v0"}, start.Add(5*time.Minute)); !errors.Is(err, ErrNotRecorded) {
			t.Errorf("another baseline: %v, want ErrNotRecorded", err)
		}
		if _, _, err := r.LatenciesAt(ctx, in, start.Add(5*time.Minute)); !errors.Is(err, ErrNotRecorded) {
			t.Errorf("latencies of a count recorder: %v, want ErrNotRecorded", err)
		}
		if _, _, err := r.Latencies(ctx, in); err == nil {
			t.Error("Latencies of a count recorder: no error")
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run returned %v, want context.Canceled", err)
		}
	})
}

// minuteCounts is a count source of a release that starts after
// preMinutes of the baseline serving alone: independent failures at 0.5%
// for the baseline and ratio times that for the canary (10% of the
// traffic, rps requests a second), drawn minute by minute as time passes
// (whoever reads first draws them, so the data do not depend on who
// reads). It cannot read the past.
type minuteCounts struct {
	mu         sync.Mutex
	rng        *rand.Rand
	start      time.Time
	preMinutes int
	rps, ratio float64
	b, c       []Counts // cumulative after each minute
}

func (m *minuteCounts) Counts(context.Context, strategy.Input) (Counts, Counts, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := int(time.Since(m.start) / time.Minute)
	for len(m.b) <= k {
		i := len(m.b)
		var b, c Counts
		if i > 0 {
			b, c = m.b[i-1], m.c[i-1]
			nc := 60 * m.rps
			nb := 9 * nc
			b.Trials += nb
			b.Failures += clumpedFailures(m.rng, nb, 0.005, 1)
			if i > m.preMinutes {
				c.Trials += nc
				c.Failures += clumpedFailures(m.rng, nc, 0.005*m.ratio, 1)
			}
		}
		m.b, m.c = append(m.b, b), append(m.c, c)
	}
	return m.b[k], m.c[k], nil
}

// A source that cannot read the past leaves the judge without a history,
// and a judge that must be safe on clumped failures then waits for the
// release to show that failures are independent: at 100 canary requests
// a second it fails a canary with twice the baseline's failure rate after
// 2 minutes (median). The same source behind a Recorder that ran for 20
// minutes before the release gives the judge its history, and it fails the
// canary at the first reading, as with Prometheus.
func TestRecorderGivesTheJudgeAHistory(t *testing.T) {
	const runs = 25
	minutes := func(recorded bool) (median float64) {
		var got []float64
		for r := range runs {
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				in := strategy.Input{Stable: "v1", Canary: "v2"}
				src := &minuteCounts{rng: rand.New(rand.NewPCG(18, uint64(r))), start: time.Now(), preMinutes: 20, rps: 100, ratio: 2}
				s := &Sequential{Source: src}
				if recorded {
					rec := &Recorder{CountSource: src, Input: in}
					go func() { _ = rec.Run(ctx) }()
					s.Source = rec
				}
				time.Sleep(20 * time.Minute)
				synctest.Wait()
				begin := time.Now()
				v, err := s.Analyze(ctx, in)
				if err != nil {
					t.Fatal(err)
				}
				if v.Outcome != strategy.Fail {
					t.Fatalf("a canary failing twice as often: %s (%s)", v.Outcome, v.Reason)
				}
				wantHistory := 0.0
				if recorded {
					wantHistory = 20
				}
				if h := historyOf(v); h != wantHistory {
					t.Errorf("verdict reports %v intervals of history, want %v", h, wantHistory)
				}
				got = append(got, time.Since(begin).Minutes())
			})
		}
		slices.Sort(got)
		return got[len(got)/2]
	}
	without, with := minutes(false), minutes(true)
	t.Logf("median minutes to fail a 2x canary at 100 rps: %v without a history, %v behind a Recorder", without, with)
	if with > 1 {
		t.Errorf("behind a Recorder the judge failed the canary after %v minutes (median), want 1", with)
	}
	if with >= without {
		t.Errorf("the Recorder's history did not speed the judge up: %v minutes with it, %v without", with, without)
	}
}

// historyOf returns the history_intervals value of a verdict's evidence.
func historyOf(v strategy.Verdict) float64 {
	for _, m := range v.Measurements {
		if h, ok := m.Values["history_intervals"]; ok {
			return h
		}
	}
	return -1
}

// The latency judge reads a Recorder's histograms as its history too.
func TestRecorderLatencies(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		rng := rand.New(rand.NewPCG(18, 1))
		bounds := fineBounds()
		b, c := NewHistogram(bounds...), NewHistogram(bounds...)
		var mu sync.Mutex
		start := time.Now()
		drawn := 0
		src := LatencyFunc(func(context.Context, strategy.Input) (Histogram, Histogram, error) {
			mu.Lock()
			defer mu.Unlock()
			for k := int(time.Since(start) / time.Minute); drawn < k; drawn++ {
				for range 5400 {
					b.Observe(0.1 * (1 + 0.5*rng.ExpFloat64()))
				}
				if drawn >= 20 {
					for range 600 {
						c.Observe(0.1 * 1.5 * (1 + 0.5*rng.ExpFloat64()))
					}
				}
			}
			return cloneHistogram(b), cloneHistogram(c), nil
		})
		in := strategy.Input{Stable: "v1", Canary: "v2"}
		rec := &Recorder{LatencySource: src, Input: in}
		go func() { _ = rec.Run(ctx) }()
		time.Sleep(20 * time.Minute)
		synctest.Wait()
		v, err := (&SequentialLatency{Source: rec}).Analyze(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if v.Outcome != strategy.Fail || historyOf(v) != 20 {
			t.Fatalf("a canary 50%% slower behind a Recorder: %s with %v intervals of history (%s)", v.Outcome, historyOf(v), v.Reason)
		}
		if _, _, err := rec.Counts(ctx, in); err == nil {
			t.Error("Counts of a latency recorder: no error")
		}
	})
}

// A history cut short by the source's retention is used back to its first
// gap, when it is long enough to trust (20 intervals, or History if
// fewer); a shorter one is not used at all, and the judge starts as
// without a history.
func TestHistoryCutShort(t *testing.T) {
	for _, tc := range []struct {
		keep, history int
		want          float64
	}{{23, 30, 22}, {21, 30, 20}, {20, 30, 0}, {13, 0, 0}, {0, 0, 20}, {8, 5, 5}, {6, 5, 5}, {5, 5, 0}} {
		synctest.Test(t, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			in := strategy.Input{Stable: "v1", Canary: "v2"}
			src := &minuteCounts{rng: rand.New(rand.NewPCG(18, 7)), start: time.Now(), preMinutes: 30, rps: 10, ratio: 1}
			rec := &Recorder{CountSource: src, Input: in, Keep: tc.keep}
			go func() { _ = rec.Run(ctx) }()
			time.Sleep(30 * time.Minute)
			synctest.Wait()
			v, err := (&Sequential{Source: rec, History: tc.history, MaxDuration: 2 * time.Minute}).Analyze(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			if h := historyOf(v); h != tc.want {
				t.Errorf("Keep %d, History %d: the judge read %v intervals of history, want %v", tc.keep, tc.history, h, tc.want)
			}
		})
	}
}
