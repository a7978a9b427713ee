package judge

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/strategytest"
)

// fineBounds are histogram bounds in seconds spaced by a factor of
// 2^(1/8) (Prometheus native histograms' schema 3) from 25 ms to 800 ms.
func fineBounds() []float64 {
	var b []float64
	for k := -16; k <= 24; k++ {
		b = append(b, 0.1*math.Pow(2, float64(k)/8))
	}
	return b
}

// lognormal returns a histogram of n latencies, log-normal with the given
// median (seconds) and shape 0.5.
func lognormal(rng *rand.Rand, bounds []float64, n int, median float64) Histogram {
	h := NewHistogram(bounds...)
	if len(bounds) != len(fine) || bounds[0] != fine[0] {
		for range n {
			h.Observe(median * math.Exp(0.5*rng.NormFloat64()))
		}
		return h
	}
	// Fine bounds: find each observation's bucket by its logarithm.
	h.Count = float64(n)
	for range n {
		k := int(math.Ceil(8*(math.Log2(median/0.1)+0.5*rng.NormFloat64()/math.Ln2) - 1e-9))
		if i := max(k+16, 0); i < len(fine) {
			h.Counts[i]++
		}
	}
	for i := 1; i < len(h.Counts); i++ {
		h.Counts[i] += h.Counts[i-1]
	}
	return h
}

var fine = fineBounds()

// runLatency feeds a LatencyTest minutes of log-normal traffic (nc canary
// requests a minute, 9x that for the baseline, canary median slowed by
// factor) and returns the outcome and the minute it was reached (0 when
// undecided). With untilFail, Pass decisions are ignored.
func runLatency(t *testing.T, s SequentialLatency, rng *rand.Rand, nc int, factor float64, minutes int, untilFail bool) (strategy.Outcome, int) {
	t.Helper()
	test, err := s.NewTest()
	if err != nil {
		t.Fatal(err)
	}
	bounds := fineBounds()
	for m := 1; m <= minutes; m++ {
		d, err := test.Observe(lognormal(rng, bounds, 9*nc, 0.1), lognormal(rng, bounds, nc, 0.1*factor))
		if err != nil {
			t.Fatal(err)
		}
		if d.Outcome == strategy.Fail || (d.Decided() && !untilFail) {
			return d.Outcome, m
		}
	}
	return "", 0
}

// TestLatencyTestFalseAlarms guards the false-alarm guarantee: on A/A
// traffic looked at every minute for an hour, and at the edge of the
// tolerance (a canary slower by exactly the Tolerance, one bucket), the
// test fails at most Alpha of the time. The bound is generous (the benchmark
// in internal/sim measures the rate); a broken test fails far more often.
func TestLatencyTestFalseAlarms(t *testing.T) {
	for _, tc := range []struct {
		name      string
		s         SequentialLatency
		factor    float64
		seed      uint64
		perMinute int
	}{
		{"A/A", SequentialLatency{Alpha: 0.05}, 1, 1, 60},
		{"at the tolerance", SequentialLatency{Alpha: 0.05, Tolerance: math.Pow(2, 1.0/8) - 1, Regression: 1.3}, math.Pow(2, 1.0/8), 2, 60},
		{"A/A, few requests", SequentialLatency{Alpha: 0.05}, 1, 3, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(tc.seed, 17))
			const runs = 300
			fails := 0
			for range runs {
				if o, _ := runLatency(t, tc.s, rng, tc.perMinute, tc.factor, 60, true); o == strategy.Fail {
					fails++
				}
			}
			// Alpha is 5%: about 15 of 300 at most; allow 30.
			if fails > 30 {
				t.Fatalf("%d of %d runs failed, more than twice Alpha", fails, runs)
			}
			t.Logf("false alarms: %d of %d (alpha 0.05)", fails, runs)
		})
	}
}

func TestLatencyTestDecides(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	// +20% at 10 canary requests a second is caught within a few minutes:
	// the first only sets the threshold, and without a history the test
	// starts from a conservative time correlation that the release's
	// intervals lower.
	if o, m := runLatency(t, SequentialLatency{}, rng, 600, 1.2, 30, false); o != strategy.Fail || m < 2 || m > 7 {
		t.Errorf("+20%%, 10 rps: %s at minute %d", o, m)
	}
	// At 1 request a second it takes a few minutes.
	if o, m := runLatency(t, SequentialLatency{}, rng, 60, 1.2, 30, false); o != strategy.Fail || m < 2 || m > 10 {
		t.Errorf("+20%%, 1 rps: %s at minute %d", o, m)
	}
	// A/A passes: a 20% slowdown is ruled out.
	if o, m := runLatency(t, SequentialLatency{}, rng, 600, 1, 30, false); o != strategy.Pass || m > 5 {
		t.Errorf("A/A: %s at minute %d", o, m)
	}
	// A faster canary passes too.
	if o, _ := runLatency(t, SequentialLatency{}, rng, 600, 0.8, 30, false); o != strategy.Pass {
		t.Errorf("faster: %s", o)
	}
	// A tolerance of 20% lets a 10% slower canary through.
	if o, _ := runLatency(t, SequentialLatency{Tolerance: 0.2, Regression: 1.5}, rng, 600, 1.1, 30, false); o != strategy.Pass {
		t.Errorf("+10%% within tolerance: %s", o)
	}
	// MinSamples holds back a Pass.
	if o, m := runLatency(t, SequentialLatency{MinSamples: 6000}, rng, 600, 1, 30, false); o != strategy.Pass || m < 11 {
		t.Errorf("min samples: %s at minute %d", o, m)
	}
}

// With decade-spaced buckets the judge still fails a large regression and
// passes an equal canary, when Regression reaches from one bound to the
// next (from the median's 0.1 to 0.25).
func TestLatencyTestCoarseBuckets(t *testing.T) {
	bounds := []float64{.025, .05, .1, .25, .5, 1, math.Inf(1)}
	for _, tc := range []struct {
		factor float64
		want   strategy.Outcome
	}{{2, strategy.Fail}, {1, strategy.Pass}} {
		rng := rand.New(rand.NewPCG(4, 4))
		test, err := (&SequentialLatency{Regression: 2.5}).NewTest()
		if err != nil {
			t.Fatal(err)
		}
		var d LatencyDecision
		for range 30 {
			if d, err = test.Observe(lognormal(rng, bounds, 5400, 0.1), lognormal(rng, bounds, 600, 0.1*tc.factor)); err != nil {
				t.Fatal(err)
			}
			if d.Decided() {
				break
			}
		}
		if d.Outcome != tc.want || d.Threshold != 0.1 {
			t.Errorf("x%g: %v", tc.factor, d)
		}
	}
}

func TestLatencyTestPassThenFail(t *testing.T) {
	test, err := (&SequentialLatency{}).NewTest()
	if err != nil {
		t.Fatal(err)
	}
	b := []float64{1, 2, 2.4, 4}
	same := Histogram{Bounds: b, Counts: []float64{100, 500, 800, 1000}, Count: 1000}
	// Equal histograms: the first sets the threshold (2, the median), the
	// next ones pass.
	var d LatencyDecision
	for range 3 {
		if d, err = test.Observe(same, same); err != nil {
			t.Fatal(err)
		}
	}
	if d.Outcome != strategy.Pass || d.Threshold != 2 || d.BaselineAbove != 0.5 || d.CanaryAbove != 0.5 || d.Canary != 2000 {
		t.Fatalf("equal histograms: %v", d)
	}
	// The canary slows down: the test keeps weighing and fails. One slow
	// interval alone looks like dispersion (a slow minute); a canary that
	// stays slow fails.
	slow := Histogram{Bounds: b, Counts: []float64{10, 200, 500, 1000}, Count: 1000}
	for range 8 {
		d, _ = test.Observe(same, slow)
	}
	if d.Outcome != strategy.Fail || d.FailEvidence < 100 {
		t.Fatalf("after a regression: %v", d)
	}
	// Fail is final: nothing more is weighed.
	weighed := d.Canary
	d, _ = test.Observe(same, same)
	if d.Outcome != strategy.Fail || d.Canary != weighed {
		t.Fatalf("fail not final: %v", d)
	}
	if !strings.HasPrefix(d.String(), "Fail: above the threshold 2: canary 0.") {
		t.Errorf("String = %q", d.String())
	}
}

func TestLatencyTestInput(t *testing.T) {
	test, err := (&SequentialLatency{}).NewTest()
	if err != nil {
		t.Fatal(err)
	}
	ok := Histogram{Bounds: []float64{1, 2}, Counts: []float64{1, 2}, Count: 3}
	for name, h := range map[string]Histogram{
		"counts missing":   {Bounds: []float64{1, 2}, Counts: []float64{1}, Count: 3},
		"decreasing":       {Bounds: []float64{1, 2}, Counts: []float64{2, 1}, Count: 3},
		"above the count":  {Bounds: []float64{1, 2}, Counts: []float64{1, 4}, Count: 3},
		"bounds unordered": {Bounds: []float64{2, 1}, Counts: []float64{1, 2}, Count: 3},
		"NaN bound":        {Bounds: []float64{math.NaN()}, Counts: []float64{1}, Count: 3},
		"negative count":   {Bounds: []float64{1, 2}, Counts: []float64{0, 0}, Count: -1},
		"infinite count":   {Bounds: []float64{1, 2}, Counts: []float64{1, 2}, Count: math.Inf(1)},
		"other bounds":     {Bounds: []float64{1, 3}, Counts: []float64{1, 2}, Count: 3},
	} {
		if _, err := test.Observe(ok, h); err == nil {
			t.Errorf("%s: %+v accepted", name, h)
		}
	}
	inf := Histogram{Bounds: []float64{math.Inf(1)}, Counts: []float64{3}, Count: 3}
	if _, err := test.Observe(inf, inf); err == nil || !strings.Contains(err.Error(), "finite bucket bound") {
		t.Errorf("only +Inf: %v", err)
	}
	// Intervals in which either revision served nothing carry no evidence.
	empty := NewHistogram(1, 2)
	for _, h := range [][2]Histogram{{ok, empty}, {ok, empty}, {empty, ok}} {
		d, err := test.Observe(h[0], h[1])
		if err != nil || math.Abs(d.FailEvidence-1) > 1e-12 || math.Abs(d.PassEvidence-1) > 1e-12 || d.Canary != 0 || !math.IsNaN(d.CanaryAbove) {
			t.Errorf("no information: %v, %v", d, err)
		}
	}
	if _, err := (&SequentialLatency{Regression: 1.1, Tolerance: 0.2, Beta: 1}).NewTest(); !errors.Is(err, strategy.ErrInvalidConfig) {
		t.Errorf("invalid test config: %v", err)
	}
}

func TestHistogram(t *testing.T) {
	h := NewHistogram(0.1, 0.2, math.Inf(1))
	for _, v := range []float64{0.05, 0.1, 0.15, 0.3, 7} {
		h.Observe(v)
	}
	want := Histogram{Bounds: h.Bounds, Counts: []float64{2, 3, 5}, Count: 5}
	if !sameBounds(h.Counts, want.Counts) || h.Count != 5 || h.Above(0) != 3 || h.Above(1) != 2 || h.check() != nil {
		t.Fatalf("histogram %+v", h)
	}
	prev := h
	prev.Counts = []float64{1, 2, 3}
	prev.Count = 3
	if d, ok, reset := h.increase(prev); !ok || reset || !sameBounds(d.Counts, []float64{1, 1, 2}) || d.Count != 2 {
		t.Errorf("difference %+v, %v, %v", d, ok, reset)
	}
	// A reset (a count went backwards) is the increase since the reset:
	// the later reading itself, as Prometheus' increase() counts it.
	if d, ok, reset := prev.increase(h); !ok || !reset || d.Count != prev.Count || !sameBounds(d.Counts, prev.Counts) {
		t.Errorf("after a reset %+v, %v, %v", d, ok, reset)
	}
	// A bucket that drops while the count grows is a reset too.
	later := Histogram{Bounds: h.Bounds, Counts: []float64{1, 4, 6}, Count: 6}
	if d, _, reset := later.increase(h); !reset || d.Count != 6 {
		t.Errorf("bucket drop: %+v, %v", d, reset)
	}
	// Other bounds are no difference.
	if _, ok, _ := h.increase(NewHistogram(0.1, 0.25, math.Inf(1))); ok {
		t.Error("other bounds accepted")
	}
	// Differences that are no histogram are left for the test to reject.
	if d, ok, _ := h.increase(Histogram{Bounds: h.Bounds, Counts: []float64{1, 3, 3}, Count: 3}); !ok || d.check() == nil {
		t.Errorf("inconsistent difference %+v, %v", d, ok)
	}
}

func TestSequentialLatencyValidate(t *testing.T) {
	s := &SequentialLatency{Alpha: 1, Beta: -0.1, Tolerance: -1, MinSamples: -3, Interval: -1, MaxDuration: -1, ErrorLimit: -2}
	err := s.Validate()
	if !errors.Is(err, strategy.ErrInvalidConfig) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"sequential latency judge sequential latency", "no latency source", "alpha 1", "beta -0.1", "tolerance -1",
		"minimum samples -3", "negative interval", "negative maximum duration", "negative error limit"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if err := (&SequentialLatency{Source: LatencyFunc(nil), Tolerance: 0.25}).Validate(); err == nil ||
		!strings.Contains(err.Error(), "regression ratio 1.2 must be finite and above 1+tolerance (1.25)") {
		t.Errorf("regression below tolerance: %v", err)
	}
	if err := (&SequentialLatency{Source: LatencyFunc(nil), Regression: math.Inf(1), MinSamples: math.NaN()}).Validate(); err == nil ||
		!strings.Contains(err.Error(), "regression ratio +Inf") || !strings.Contains(err.Error(), "minimum samples NaN") {
		t.Errorf("infinite regression, NaN samples: %v", err)
	}
	if err := (&SequentialLatency{Source: LatencyFunc(nil)}).Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
	if _, err := (&SequentialLatency{}).Analyze(t.Context(), strategy.Input{}); !errors.Is(err, strategy.ErrInvalidConfig) {
		t.Errorf("Analyze without a source: %v", err)
	}
}

// fakeLatencies serves cumulative histograms that grow with fake time:
// perMin canary requests a minute, 9x that for the baseline, with the
// expected bucket counts of log-normal latencies (so the test is
// deterministic). The baseline has served history minutes before the
// first reading, and the source can read the past (it is a
// LatencyHistory) when history > 0.
type fakeLatencies struct {
	mu         sync.Mutex
	start      time.Time
	perMin     float64
	history    float64
	medB, medC func(minute float64) float64
	errs       int // fail the next errs calls
	reset      bool
	calls      int
}

func expected(bounds []float64, n, median float64) Histogram {
	h := NewHistogram(bounds...)
	h.Count = n
	for i, b := range bounds {
		h.Counts[i] = math.Round(n * 0.5 * math.Erfc(-math.Log(b/median)/0.5/math.Sqrt2))
	}
	return h
}

func (f *fakeLatencies) Latencies(context.Context, strategy.Input) (Histogram, Histogram, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.errs > 0 {
		f.errs--
		return Histogram{}, Histogram{}, errors.New("metrics down")
	}
	return f.at(time.Since(f.start).Minutes())
}

// fakeLatencyHistory is a fakeLatencies that can read the past.
type fakeLatencyHistory struct{ *fakeLatencies }

func (f fakeLatencyHistory) LatenciesAt(_ context.Context, _ strategy.Input, at time.Time) (Histogram, Histogram, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.at(at.Sub(f.start).Minutes())
}

// source is f as a LatencySource, a LatencyHistory when f has a history.
func (f *fakeLatencies) source() LatencySource {
	if f.history > 0 {
		return fakeLatencyHistory{f}
	}
	return f
}

func (f *fakeLatencies) at(raw float64) (Histogram, Histogram, error) {
	from := -f.history
	if f.reset && raw >= 3 { // a restart at minute 3 zeroes the counters
		from = 3
	}
	bounds := fineBounds()
	b, c := NewHistogram(bounds...), NewHistogram(bounds...)
	for m := from; m < raw; m++ {
		add(&b, expected(bounds, 9*f.perMin, f.medB(max(m, 0))))
		add(&c, expected(bounds, f.perMin, f.medC(max(m, 0))))
	}
	return b, c, nil
}

func add(h *Histogram, d Histogram) {
	h.Count += d.Count
	for i := range h.Counts {
		h.Counts[i] += d.Counts[i]
	}
}

func TestSequentialLatencyAnalyze(t *testing.T) {
	cases := []struct {
		name     string
		src      *fakeLatencies
		s        SequentialLatency
		bg       bool
		want     strategy.Outcome
		wantErr  string
		at       time.Duration
		contains string
	}{
		{name: "regression fails", src: &fakeLatencies{perMin: 600, history: 10, medB: constant(0.1), medC: constant(0.13)},
			want: strategy.Fail, at: time.Minute, contains: "latency above 1x the baseline's"},
		// Without a history the judge starts from a conservative time
		// correlation (slow minutes are assumed until the baseline's
		// intervals show otherwise), so it takes a few minutes more.
		{name: "no history takes longer", src: &fakeLatencies{perMin: 600, medB: constant(0.1), medC: constant(0.13)},
			want: strategy.Fail, at: 5 * time.Minute},
		{name: "healthy passes", src: &fakeLatencies{perMin: 600, history: 10, medB: constant(0.1), medC: constant(0.1)},
			want: strategy.Pass, at: time.Minute, contains: "a latency 1.2x the baseline's or worse is ruled out"},
		{name: "no traffic is inconclusive", src: &fakeLatencies{medB: constant(0.1), medC: constant(0.1)}, s: SequentialLatency{MaxDuration: 10 * time.Minute},
			want: strategy.Inconclusive, at: 10 * time.Minute, contains: "no decision after 10m0s"},
		{name: "errors within limit", src: &fakeLatencies{perMin: 600, history: 10, medB: constant(0.1), medC: constant(0.13), errs: 2},
			want: strategy.Fail, at: 3 * time.Minute},
		{name: "too many errors", src: &fakeLatencies{perMin: 600, medB: constant(0.1), medC: constant(0.13), errs: 5},
			wantErr: "5 consecutive errors reading latencies: metrics down", at: 4 * time.Minute},
		// Readings at minutes 0..3 see 0, 1, 2, 0 minutes of traffic: the
		// drop at minute 3 is a reset, after which the canary is three
		// times slower. The sudden change first looks like dispersion (a
		// slow minute); the canary that stays slow fails three minutes
		// later.
		{name: "counter reset", src: &fakeLatencies{perMin: 60, medB: constant(0.1), medC: func(raw float64) float64 {
			if raw >= 3 {
				return 0.3
			}
			return 0.1
		}, reset: true}, s: SequentialLatency{MinSamples: 1000}, want: strategy.Fail, at: 7 * time.Minute, contains: "reset 1 times"},
		{name: "background keeps watching after a pass", bg: true, src: &fakeLatencies{perMin: 600, history: 10, medB: constant(0.1), medC: func(m float64) float64 {
			if m > 20 {
				return 0.1 * (1 + 3*(m-20)/m) // the canary slows down from minute 21 (+14%, +27%, +39%, ...)
			}
			return 0.1
		}}, want: strategy.Fail, at: 24 * time.Minute},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				src := tc.src
				src.start = time.Now()
				s := tc.s
				s.Source = src.source()
				v, err := s.Analyze(t.Context(), strategy.Input{Background: tc.bg})
				if el := time.Since(src.start); el != tc.at {
					t.Errorf("returned after %v, want %v", el, tc.at)
				}
				if tc.wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
						t.Fatalf("err = %v", err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if v.Outcome != tc.want || !strings.Contains(v.Reason, tc.contains) || v.Analyzer != "sequential latency" {
					t.Errorf("verdict %v", v)
				}
				if len(v.Measurements) != 5 || v.Measurements[3].Name != "evidence of regression" {
					t.Errorf("measurements %+v", v.Measurements)
				}
			})
		})
	}
}

// Histograms whose bounds differ between the revisions cannot be
// compared: every reading is an error, and the analysis ends with one.
func TestSequentialLatencyMismatchedBounds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n float64
		src := LatencyFunc(func(context.Context, strategy.Input) (Histogram, Histogram, error) {
			n++
			return expected([]float64{0.1, 0.2}, 900*n, 0.1), expected([]float64{0.1, 0.3}, 100*n, 0.1), nil
		})
		_, err := (&SequentialLatency{Source: src, ErrorLimit: 2}).Analyze(t.Context(), strategy.Input{})
		if err == nil || !strings.Contains(err.Error(), "different bounds") {
			t.Fatalf("err = %v", err)
		}
		// Unreadable histograms are errors too.
		_, err = (&SequentialLatency{Source: LatencyFunc(func(context.Context, strategy.Input) (Histogram, Histogram, error) {
			return Histogram{Bounds: []float64{1}, Count: 1}, Histogram{}, nil
		}), ErrorLimit: 1}).Analyze(t.Context(), strategy.Input{})
		if err == nil || !strings.Contains(err.Error(), "1 bounds but 0 bucket counts") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestSequentialLatencyBackgroundStopsWithRelease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &fakeLatencies{start: time.Now(), perMin: 600, history: 10, medB: constant(0.1), medC: constant(0.1)}
		ctx, cancel := context.WithTimeout(t.Context(), 90*time.Minute)
		defer cancel()
		v, err := (&SequentialLatency{Source: src.source()}).Analyze(ctx, strategy.Input{Background: true})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v", err)
		}
		// It never returned early, even though a 20% slowdown was ruled out.
		if time.Since(src.start) != 90*time.Minute || v.Outcome != strategy.Inconclusive || v.Measurements[4].Outcome != strategy.Pass {
			t.Errorf("after %v: %+v", time.Since(src.start), v)
		}
	})
}

// TestSequentialLatencyRollsBackRelease runs the judge as background
// analysis of a release: a canary 30% slower is rolled back within
// minutes.
func TestSequentialLatencyRollsBackRelease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &fakeLatencies{start: time.Now(), perMin: 60, history: 10, medB: constant(0.1), medC: constant(0.13)}
		tgt := strategytest.NewTarget(strategy.State{Stable: "v1"})
		plan := strategy.StrategyFunc(func(stable, canary strategy.Revision) (strategy.Plan, error) {
			return strategy.Plan{
				Strategy: "test",
				Steps: []strategy.Step{
					strategy.Apply(strategy.State{Stable: stable, Canary: canary, Weight: 10}),
					strategy.Pause(time.Hour),
					strategy.Apply(strategy.State{Stable: canary}),
				},
				Background: []strategy.Background{{From: 0, Analyzers: []strategy.Analyzer{&SequentialLatency{Source: src.source()}}}},
			}, nil
		})
		_, err := strategy.Run(t.Context(), strategy.Release{Target: tgt, Stable: "v1", Canary: "v2", Strategy: plan})
		if !errors.Is(err, strategy.ErrAnalysisFailed) {
			t.Fatalf("err = %v", err)
		}
		obs, _ := tgt.Observe(t.Context())
		if obs.State.Canary != "" || obs.State.Stable != "v1" {
			t.Errorf("target left on %v", obs.State)
		}
		if el := time.Since(src.start); el > 10*time.Minute {
			t.Errorf("rolled back after %v", el)
		}
	})
}

// At the end of a release (ErrPlanComplete) background analysis has a last
// word: Pass when the canary served requests and no regression was found,
// Inconclusive when it never served any. Any other cancellation is an
// error.
func TestSequentialLatencyLastWord(t *testing.T) {
	cases := []struct {
		name   string
		perMin float64
		cause  error
		want   strategy.Outcome
		err    bool
	}{
		{"healthy canary", 60, strategy.ErrPlanComplete, strategy.Pass, false},
		{"canary without traffic", 0, strategy.ErrPlanComplete, strategy.Inconclusive, false},
		{"rollback", 60, errors.New("rolling back"), strategy.Inconclusive, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				src := &fakeLatencies{start: time.Now(), perMin: tc.perMin, history: 10, medB: constant(0.1), medC: constant(0.1)}
				ctx, cancel := context.WithCancelCause(t.Context())
				time.AfterFunc(5*time.Minute+time.Second, func() { cancel(tc.cause) })
				v, err := (&SequentialLatency{Source: src.source()}).Analyze(ctx, strategy.Input{Background: true})
				if (err != nil) != tc.err {
					t.Fatalf("err = %v", err)
				}
				if v.Outcome != tc.want {
					t.Errorf("verdict %s: %s", v.Outcome, v.Reason)
				}
			})
		})
	}
}

// The last word is acted on by the executor: a release whose canary
// never served a request is not promoted.
func TestSequentialLatencyHoldsReleaseWithoutData(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &fakeLatencies{start: time.Now(), medB: constant(0.1), medC: constant(0.1)}
		tgt := strategytest.NewTarget(strategy.State{Stable: "v1"})
		plan := strategy.StrategyFunc(func(stable, canary strategy.Revision) (strategy.Plan, error) {
			return strategy.Plan{
				Strategy: "test",
				Steps: []strategy.Step{
					strategy.Apply(strategy.State{Stable: stable, Canary: canary, Weight: 10}),
					strategy.Pause(10 * time.Minute),
					strategy.Apply(strategy.State{Stable: canary}),
				},
				Background: []strategy.Background{{From: 0, Analyzers: []strategy.Analyzer{&SequentialLatency{Source: src.source()}}}},
			}, nil
		})
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Hour)
		defer cancel()
		_, err := strategy.Run(ctx, strategy.Release{Target: tgt, Stable: "v1", Canary: "v2", Strategy: plan})
		if err == nil {
			t.Fatal("a release without latency data was promoted")
		}
		obs, _ := tgt.Observe(t.Context())
		if obs.State.Stable != "v1" {
			t.Errorf("target left on %v after %v", obs.State, err)
		}
	})
}

// Histograms that keep resetting (each drop counted from zero) cannot
// keep inline analysis past MaxDuration.
func TestSequentialLatencyMaxDurationWithResets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n float64
		src := LatencyFunc(func(context.Context, strategy.Input) (Histogram, Histogram, error) {
			n++
			return expected(fineBounds(), 1e6/n, 0.1), NewHistogram(fineBounds()...), nil
		})
		start := time.Now()
		v, err := (&SequentialLatency{Source: src, MaxDuration: 10 * time.Minute}).Analyze(t.Context(), strategy.Input{})
		if err != nil {
			t.Fatal(err)
		}
		if v.Outcome != strategy.Inconclusive || time.Since(start) != 10*time.Minute {
			t.Errorf("%s after %v: %s", v.Outcome, time.Since(start), v.Reason)
		}
	})
}

// The false-alarm bound does not depend on how often the test looks: an
// hour of A/A traffic looked at every six seconds (600 looks) fails no
// more often than Alpha allows.
func TestLatencyTestFalseAlarmsManyLooks(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	const runs = 200
	fails := 0
	bounds := fineBounds()
	for range runs {
		test, err := (&SequentialLatency{Alpha: 0.05}).NewTest()
		if err != nil {
			t.Fatal(err)
		}
		for range 600 {
			d, err := test.Observe(lognormal(rng, bounds, 54, 0.1), lognormal(rng, bounds, 6, 0.1))
			if err != nil {
				t.Fatal(err)
			}
			if d.Outcome == strategy.Fail {
				fails++
				break
			}
		}
	}
	// Alpha is 5%: about 10 of 200 at most; allow 20.
	if fails > 20 {
		t.Fatalf("%d of %d A/A runs failed with 600 looks, more than twice Alpha", fails, runs)
	}
	t.Logf("A/A false alarms with 600 looks: %d of %d (alpha 0.05)", fails, runs)
}
