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

// binomial draws Binomial(n, p) for small p by geometric skipping.
func binomial(rng *rand.Rand, n float64, p float64) float64 {
	lq := math.Log1p(-p)
	k, pos := 0.0, 0.0
	for {
		pos += math.Floor(math.Log(1-rng.Float64())/lq) + 1
		if pos > n {
			return k
		}
		k++
	}
}

// runTest feeds a RateTest twenty minutes of the baseline's history and
// then minutes of traffic, and returns the outcome and
// the minute it was reached (0 when undecided).
func runTest(t *testing.T, s Sequential, rng *rand.Rand, nc, p, ratio float64, minutes int) (strategy.Outcome, int) {
	t.Helper()
	test, err := s.NewTest()
	if err != nil {
		t.Fatal(err)
	}
	nb := 9 * nc
	// Twenty minutes of the baseline's history, as the Prometheus source
	// reads them: the test starts knowing failures are independent.
	var hist []Counts
	for range 20 {
		hist = append(hist, Counts{Trials: nb, Failures: binomial(rng, nb, p)})
	}
	if err := test.SetHistory(hist); err != nil {
		t.Fatal(err)
	}
	for m := 1; m <= minutes; m++ {
		d, err := test.Observe(Counts{Trials: nb, Failures: binomial(rng, nb, p)}, Counts{Trials: nc, Failures: binomial(rng, nc, p*ratio)})
		if err != nil {
			t.Fatal(err)
		}
		if d.Decided() {
			return d.Outcome, m
		}
	}
	return "", 0
}

// TestRateTestFalseAlarms guards the false-alarm guarantee: on A/A traffic
// looked at every minute for an hour, the test fails at most Alpha of the
// time. The bound here is generous (the benchmark measures the rate
// precisely); a broken test fails far more often. Pass decisions are
// ignored so that every run keeps looking for the whole hour.
func TestRateTestFalseAlarms(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	const runs = 400
	fails := 0
	for range runs {
		test, err := (&Sequential{Alpha: 0.05}).NewTest()
		if err != nil {
			t.Fatal(err)
		}
		for range 60 {
			d, err := test.Observe(Counts{Trials: 5400, Failures: binomial(rng, 5400, 0.005)}, Counts{Trials: 600, Failures: binomial(rng, 600, 0.005)})
			if err != nil {
				t.Fatal(err)
			}
			if d.Outcome == strategy.Fail {
				fails++
				break
			}
		}
	}
	// Alpha is 5%: 400 runs give about 20 failures at most; allow 40.
	if fails > 40 {
		t.Fatalf("%d of %d A/A runs failed, more than twice Alpha", fails, runs)
	}
	t.Logf("A/A false alarms: %d of %d (alpha 0.05)", fails, runs)
}

func TestRateTestDecides(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	// 4x at 100 requests a second is caught in the first minute.
	if o, m := runTest(t, Sequential{}, rng, 6000, 0.005, 4, 30); o != strategy.Fail || m != 1 {
		t.Errorf("4x: %s at minute %d", o, m)
	}
	// 2x at 10 requests a second takes a few minutes.
	if o, m := runTest(t, Sequential{}, rng, 600, 0.005, 2, 30); o != strategy.Fail || m < 2 || m > 20 {
		t.Errorf("2x: %s at minute %d", o, m)
	}
	// A/A at high traffic passes: a doubling is ruled out.
	if o, m := runTest(t, Sequential{}, rng, 6000, 0.005, 1, 30); o != strategy.Pass || m > 10 {
		t.Errorf("A/A: %s at minute %d", o, m)
	}
	// A tolerance of 50% lets a 1.3x canary through.
	if o, _ := runTest(t, Sequential{Tolerance: 0.5, Regression: 3}, rng, 6000, 0.005, 1.3, 30); o != strategy.Pass {
		t.Errorf("1.3x within tolerance: %s", o)
	}
	// MinTrials holds back a Pass.
	if o, m := runTest(t, Sequential{MinTrials: 60000}, rng, 6000, 0.005, 1, 30); o != strategy.Pass || m < 10 {
		t.Errorf("min trials: %s at minute %d", o, m)
	}
}

func TestRateTestPassThenFail(t *testing.T) {
	test, err := (&Sequential{}).NewTest()
	if err != nil {
		t.Fatal(err)
	}
	steady := make([]Counts, 20)
	for i := range steady {
		steady[i] = Counts{Trials: 900000, Failures: 4500 + float64(60*(i%2))}
	}
	if err := test.SetHistory(steady); err != nil {
		t.Fatal(err)
	}
	// Equal rates: pass.
	d, _ := test.Observe(Counts{Trials: 900000, Failures: 4500}, Counts{Trials: 100000, Failures: 500})
	if d.Outcome != strategy.Pass || d.Ratio != 1 {
		t.Fatalf("equal rates: %v", d)
	}
	// The canary degrades: the test keeps weighing evidence and fails. A
	// jump in one interval alone looks like a clump of failures (it is
	// weighed down as dispersion); the canary that stays bad fails.
	for range 3 {
		d, _ = test.Observe(Counts{Trials: 900000, Failures: 4500}, Counts{Trials: 100000, Failures: 5000})
	}
	if d.Outcome != strategy.Fail || d.FailEvidence < 100 {
		t.Fatalf("after a regression: %v", d)
	}
	// Fail is final.
	d, _ = test.Observe(Counts{Trials: 900000, Failures: 4500}, Counts{Trials: 100000, Failures: 0})
	if d.Outcome != strategy.Fail || d.Canary.Trials != 500000 {
		t.Fatalf("fail not final: %v", d)
	}
	if !strings.HasPrefix(d.String(), "Fail: canary 15500/500000 failed") {
		t.Errorf("String = %q", d.String())
	}
}

func TestRateTestInput(t *testing.T) {
	test, err := (&Sequential{}).NewTest()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []Counts{{Trials: -1}, {Trials: 1, Failures: 2}, {Trials: math.NaN()}, {Trials: math.Inf(1)}} {
		if _, err := test.Observe(Counts{Trials: 10}, c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	// Intervals without traffic or failures carry no evidence.
	d, err := test.Observe(Counts{Trials: 1000}, Counts{})
	if err != nil || math.Abs(d.FailEvidence-1) > 1e-12 || math.Abs(d.PassEvidence-1) > 1e-12 {
		t.Errorf("no information: %v, %v", d, err)
	}
	if _, err := (&Sequential{Regression: 1.1, Tolerance: 0.2, Alpha: 2}).NewTest(); !errors.Is(err, strategy.ErrInvalidConfig) {
		t.Errorf("invalid test config: %v", err)
	}
}

func TestSequentialValidate(t *testing.T) {
	s := &Sequential{Alpha: 1, Beta: -0.1, Tolerance: -1, MinTrials: -3, Interval: -1, MaxDuration: -1, ErrorLimit: -2}
	err := s.Validate()
	if !errors.Is(err, strategy.ErrInvalidConfig) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"no count source", "alpha 1", "beta -0.1", "tolerance -1", "minimum trials -3",
		"negative interval", "negative maximum duration", "negative error limit"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if err := (&Sequential{Source: CountFunc(nil), Tolerance: 0.5, Regression: 1.2}).Validate(); err == nil ||
		!strings.Contains(err.Error(), "regression ratio 1.2 must be finite and above 1+tolerance (1.5)") {
		t.Errorf("regression below tolerance: %v", err)
	}
	if err := (&Sequential{Source: CountFunc(nil)}).Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
}

// fakeCounts serves cumulative counters that grow with fake time: perMin
// canary requests a minute at failure probability pc, 9x that at pb for
// the baseline (expected values, so the test is deterministic).
type fakeCounts struct {
	mu     sync.Mutex
	start  time.Time
	perMin float64
	pb, pc func(minute float64) float64
	errs   int // fail the next errs calls
	reset  bool
	calls  int
}

func (f *fakeCounts) Counts(context.Context, strategy.Input) (Counts, Counts, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.errs > 0 {
		f.errs--
		return Counts{}, Counts{}, errors.New("metrics down")
	}
	raw := time.Since(f.start).Minutes()
	m := raw
	if f.reset && m >= 3 { // a restart at minute 3 zeroes the counters
		m -= 3
	}
	c := Counts{Trials: f.perMin * m, Failures: math.Round(f.perMin * m * f.pc(raw))}
	b := Counts{Trials: 9 * f.perMin * m, Failures: math.Round(9 * f.perMin * m * f.pb(raw))}
	return b, c, nil
}

func constant(p float64) func(float64) float64 { return func(float64) float64 { return p } }

// The fake source cannot read the past, so the judge starts from its
// conservative dispersion and needs a few intervals of the release to
// lower it: a 4x canary fails after the second interval, not the first.
// A healthy canary with failures passes after the fourth.
func TestSequentialAnalyze(t *testing.T) {
	cases := []struct {
		name     string
		src      *fakeCounts
		s        Sequential
		bg       bool
		want     strategy.Outcome
		wantErr  bool
		at       time.Duration
		contains string
	}{
		{name: "regression fails", src: &fakeCounts{perMin: 6000, pb: constant(0.005), pc: constant(0.02)}, want: strategy.Fail, at: 2 * time.Minute,
			contains: "exceeds 1x"},
		{name: "healthy passes", src: &fakeCounts{perMin: 6000, pb: constant(0.005), pc: constant(0.005)}, want: strategy.Pass, at: 2 * time.Minute},
		{name: "no failures is inconclusive", src: &fakeCounts{perMin: 600, pb: constant(0), pc: constant(0)}, s: Sequential{MaxDuration: 10 * time.Minute},
			want: strategy.Inconclusive, at: 10 * time.Minute, contains: "no decision after 10m0s"},
		{name: "errors within limit", src: &fakeCounts{perMin: 6000, pb: constant(0.005), pc: constant(0.02), errs: 2}, want: strategy.Fail, at: 4 * time.Minute},
		{name: "too many errors", src: &fakeCounts{perMin: 6000, pb: constant(0.005), pc: constant(0.02), errs: 5}, wantErr: true, at: 4 * time.Minute},
		// Readings at minutes 0..3 see 0, 1, 2, 0 minutes of traffic: the
		// drop at minute 3 is a reset, so the first interval judged after
		// it is minute 3 to 4; the judge, still unsure how bursty
		// failures are, fails the canary after the next one.
		{name: "counter reset", src: &fakeCounts{perMin: 60, pb: constant(0.005), pc: func(raw float64) float64 {
			if raw >= 3 {
				return 0.5
			}
			return 0.005
		}, reset: true},
			want: strategy.Fail, at: 5 * time.Minute},
		{name: "background keeps watching after a pass", bg: true, src: &fakeCounts{perMin: 6000, pb: constant(0.005), pc: func(m float64) float64 {
			if m > 20 {
				return 0.005 * (1 + 3*(m-20)/m) // the canary degrades from minute 20
			}
			return 0.005
		}}, want: strategy.Fail, at: 22 * time.Minute},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				src := tc.src
				src.start = time.Now()
				s := tc.s
				s.Source = src
				v, err := s.Analyze(t.Context(), strategy.Input{Background: tc.bg})
				if el := time.Since(src.start); el != tc.at {
					t.Errorf("returned after %v, want %v", el, tc.at)
				}
				if tc.wantErr {
					if err == nil || !strings.Contains(err.Error(), "metrics down") {
						t.Fatalf("err = %v", err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if v.Outcome != tc.want || !strings.Contains(v.Reason, tc.contains) {
					t.Errorf("verdict %v", v)
				}
				if len(v.Measurements) != 5 || v.Measurements[3].Name != "evidence of regression" {
					t.Errorf("measurements %+v", v.Measurements)
				}
			})
		})
	}
}

func TestSequentialBackgroundStopsWithRelease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &fakeCounts{start: time.Now(), perMin: 6000, pb: constant(0.005), pc: constant(0.005)}
		ctx, cancel := context.WithTimeout(t.Context(), 90*time.Minute)
		defer cancel()
		v, err := (&Sequential{Source: src}).Analyze(ctx, strategy.Input{Background: true})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v", err)
		}
		// It never returned early, even though a doubling was ruled out.
		if time.Since(src.start) != 90*time.Minute || v.Outcome != strategy.Inconclusive || v.Measurements[4].Outcome != strategy.Pass {
			t.Errorf("after %v: %+v", time.Since(src.start), v)
		}
	})
}

// TestSequentialRollsBackRelease runs the judge as background analysis of
// a release: a regressing canary is rolled back within minutes.
func TestSequentialRollsBackRelease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &fakeCounts{start: time.Now(), perMin: 600, pb: constant(0.005), pc: constant(0.02)}
		tgt := strategytest.NewTarget(strategy.State{Stable: "v1"})
		plan := strategy.StrategyFunc(func(stable, canary strategy.Revision) (strategy.Plan, error) {
			return strategy.Plan{
				Strategy: "test",
				Steps: []strategy.Step{
					strategy.Apply(strategy.State{Stable: stable, Canary: canary, Weight: 10}),
					strategy.Pause(time.Hour),
					strategy.Apply(strategy.State{Stable: canary}),
				},
				Background: []strategy.Background{{From: 0, Analyzers: []strategy.Analyzer{&Sequential{Source: src}}}},
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
// word: Pass when the evidence rules a regression out (as an inline Pass
// needs), Inconclusive when it does not yet or the canary never served a
// request. Any other cancellation is an error.
func TestSequentialLastWord(t *testing.T) {
	cases := []struct {
		name   string
		perMin float64
		cause  error
		want   strategy.Outcome
		err    bool
	}{
		{"healthy canary", 6000, strategy.ErrPlanComplete, strategy.Pass, false},
		{"too little evidence", 600, strategy.ErrPlanComplete, strategy.Inconclusive, false},
		{"canary without traffic", 0, strategy.ErrPlanComplete, strategy.Inconclusive, false},
		{"rollback", 600, errors.New("rolling back"), strategy.Inconclusive, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				src := &fakeCounts{start: time.Now(), perMin: tc.perMin, pb: constant(0.005), pc: constant(0.005)}
				ctx, cancel := context.WithCancelCause(t.Context())
				time.AfterFunc(5*time.Minute+time.Second, func() { cancel(tc.cause) })
				v, err := (&Sequential{Source: src}).Analyze(ctx, strategy.Input{Background: true})
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

// Counters that keep going backwards (each drop a reset) cannot keep
// inline analysis past MaxDuration.
func TestSequentialMaxDurationWithResets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n float64
		src := CountFunc(func(context.Context, strategy.Input) (Counts, Counts, error) {
			n++
			return Counts{Trials: 1e6 / n}, Counts{Trials: 1e5 / n}, nil
		})
		start := time.Now()
		v, err := (&Sequential{Source: src, MaxDuration: 10 * time.Minute, Margin: -1}).Analyze(t.Context(), strategy.Input{})
		if err != nil {
			t.Fatal(err)
		}
		if v.Outcome != strategy.Inconclusive || time.Since(start) != 10*time.Minute {
			t.Errorf("%s after %v: %s", v.Outcome, time.Since(start), v.Reason)
		}
	})
}

// The false-alarm bound does not depend on how often the test looks: the
// same hour of A/A traffic looked at every six seconds (600 looks) fails
// no more often than Alpha allows.
func TestRateTestFalseAlarmsManyLooks(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	const runs = 300
	fails := 0
	for range runs {
		test, err := (&Sequential{Alpha: 0.05}).NewTest()
		if err != nil {
			t.Fatal(err)
		}
		for range 600 {
			d, err := test.Observe(Counts{Trials: 540, Failures: binomial(rng, 540, 0.005)}, Counts{Trials: 60, Failures: binomial(rng, 60, 0.005)})
			if err != nil {
				t.Fatal(err)
			}
			if d.Outcome == strategy.Fail {
				fails++
				break
			}
		}
	}
	// Alpha is 5%: about 15 of 300 at most; allow 30.
	if fails > 30 {
		t.Fatalf("%d of %d A/A runs failed with 600 looks, more than twice Alpha", fails, runs)
	}
	t.Logf("A/A false alarms with 600 looks: %d of %d (alpha 0.05)", fails, runs)
}

// badSource is a count source with a bad configuration whose errors are
// permanent.
type badSource struct {
	invalid bool
	calls   int
}

func (b *badSource) Validate() error {
	if !b.invalid {
		return nil
	}
	return strategy.Invalid("count source", "metric name \"x-y\" is not valid")
}
func (b *badSource) Counts(context.Context, strategy.Input) (Counts, Counts, error) {
	b.calls++
	return Counts{}, Counts{}, strategy.Permanent(errors.New("bad_data: parse error"))
}

func TestSequentialSourceProblems(t *testing.T) {
	s := &Sequential{Source: &badSource{invalid: true}}
	err := s.Validate()
	if !errors.Is(err, strategy.ErrInvalidConfig) || !strings.Contains(err.Error(), `source: metric name "x-y" is not valid`) {
		t.Fatalf("Validate = %v", err)
	}
	src := &badSource{}
	s.Source = src
	synctest.Test(t, func(t *testing.T) {
		_, err := s.Analyze(t.Context(), strategy.Input{Stable: "v1", Canary: "v2"})
		if err == nil || !strategy.IsPermanent(err) || src.calls != 1 {
			t.Fatalf("a permanent source error was retried: %v after %d calls", err, src.calls)
		}
	})
}
