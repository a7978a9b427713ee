package main

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"time"

	"github.com/glidepath/glidepath/analysis/judge"
	"github.com/glidepath/glidepath/internal/vclock"
	"github.com/glidepath/glidepath/strategy"
)

// scenario is one kind of release: one cell of the table, at one traffic
// level.
type scenario struct {
	name    string
	ratio   float64 // canary failure rate / baseline's (error scenarios)
	latency float64 // canary latency multiplier; 0 for error scenarios
	base    float64 // baseline failure rate
	clump   float64 // mean clump size of failures (geometric); 1: independent
	bursts  bool    // a shared outage multiplies both revisions' rates by 5 in 5% of minutes
	drift   bool    // both revisions' rates grow linearly to 3 times over the release
	weight  float64 // canary share of the traffic
	slow    bool    // latency: each revision has slow and fast minutes of its own (AR(1))
	rps     float64 // canary requests per second
}

func (s scenario) isAA() bool { return s.latency == 1 || (s.latency == 0 && s.ratio == 1) }

// Outcomes of one judge on one run.
const (
	undecided = iota // Inconclusive: the release pauses for a person
	rolledBack
	promoted
)

// result is one judge's outcome on one run and the minute it was reached.
type result struct {
	outcome int
	minute  int
}

// judges compared, in table order.
var judgeNames = []string{"sequential inline", "sequential background", "flagger threshold=1", "flagger threshold=5", "argo failureLimit=2"}

const (
	jInline = iota
	jBackground
	jFlagger1
	jFlagger5
	jArgo
	nJudges
)

// minute is what one simulated minute produced.
type minute struct {
	nc, nb       float64 // requests
	fc, fb       float64 // failed requests
	p99c         float64 // canary p99 latency of the minute
	histC, histB judge.Histogram
}

// traffic is one simulated release: every minute's traffic, and the
// cumulative readings a source returns.
type traffic struct {
	sc        scenario
	minutes   []minute
	histHistB []judge.Histogram // the baseline's cumulative histograms before the release
	histB     []judge.Counts    // the baseline's cumulative counts historyMinutes-k minutes before the release
	cumB      []judge.Counts    // cumulative counts after k minutes
	cumC      []judge.Counts
	cumHistB  []judge.Histogram
	cumHistC  []judge.Histogram
}

// draw simulates a release of n minutes.
func draw(rng *rand.Rand, sc scenario, n int) *traffic {
	t := &traffic{sc: sc, minutes: make([]minute, n)}
	nc := sc.rps * 60
	nb := nc * (1 - sc.weight) / sc.weight
	var zc, zb float64 // AR(1) slowness of each revision
	for i := range t.minutes {
		m := minute{nc: nc, nb: nb}
		if sc.latency == 0 {
			p := sc.base
			if sc.drift {
				p *= 1 + 2*float64(i)/float64(n)
			}
			if sc.bursts && rng.Float64() < 0.05 {
				p *= 5
			}
			m.fc = failures(rng, nc, p*sc.ratio, sc.clump)
			m.fb = failures(rng, nb, p, sc.clump)
		} else {
			medC, medB := latencyMedian*sc.latency, latencyMedian
			if sc.slow {
				zc = slowAR*zc + math.Sqrt(1-slowAR*slowAR)*slowSD*rng.NormFloat64()
				zb = slowAR*zb + math.Sqrt(1-slowAR*slowAR)*slowSD*rng.NormFloat64()
				medC *= math.Exp(zc)
				medB *= math.Exp(zb)
			}
			lc, lb := newLatencies(rng, int(nc), medC), newLatencies(rng, int(nb), medB)
			m.histC, m.histB = lc.hist, lb.hist
			m.p99c = lc.quantile(rng, 0.99)
		}
		t.minutes[i] = m
	}
	// The baseline's history: historyMinutes before the release, drawn
	// as the release's minutes are (before any drift).
	t.histB = make([]judge.Counts, historyMinutes+1)
	if sc.latency == 0 {
		for i := range historyMinutes {
			p := sc.base
			if sc.bursts && rng.Float64() < 0.05 {
				p *= 5
			}
			t.histB[i+1] = judge.Counts{Trials: t.histB[i].Trials + nb, Failures: t.histB[i].Failures + failures(rng, nb, p, sc.clump)}
		}
	}
	// Cumulative readings, as the counters would show them.
	t.cumB, t.cumC = make([]judge.Counts, n+1), make([]judge.Counts, n+1)
	t.cumB[0] = t.histB[historyMinutes]
	if sc.latency != 0 {
		// The baseline's history, with its own slow minutes.
		t.histHistB = make([]judge.Histogram, historyMinutes+1)
		t.histHistB[0] = judge.NewHistogram(latencyBounds...)
		var z float64
		for i := range historyMinutes {
			med := latencyMedian
			if sc.slow {
				z = slowAR*z + math.Sqrt(1-slowAR*slowAR)*slowSD*rng.NormFloat64()
				med *= math.Exp(z)
			}
			t.histHistB[i+1] = plus(t.histHistB[i], newLatencies(rng, int(nb), med).hist)
		}
		t.cumHistB, t.cumHistC = make([]judge.Histogram, n+1), make([]judge.Histogram, n+1)
		t.cumHistB[0], t.cumHistC[0] = t.histHistB[historyMinutes], judge.NewHistogram(latencyBounds...)
	}
	for i, m := range t.minutes {
		t.cumB[i+1] = judge.Counts{Trials: t.cumB[i].Trials + m.nb, Failures: t.cumB[i].Failures + m.fb}
		t.cumC[i+1] = judge.Counts{Trials: t.cumC[i].Trials + m.nc, Failures: t.cumC[i].Failures + m.fc}
		if sc.latency != 0 {
			t.cumHistB[i+1] = plus(t.cumHistB[i], m.histB)
			t.cumHistC[i+1] = plus(t.cumHistC[i], m.histC)
		}
	}
	return t
}

// failures draws the failed requests among n: independent failures with
// probability p each, or clumps of geometric size (mean clump) arriving
// as a Poisson process, so that the mean is still n·p.
func failures(rng *rand.Rand, n, p, clump float64) float64 {
	if clump <= 1 {
		return binomial(rng, int(n), p)
	}
	clumps := poisson(rng, n*p/clump)
	lq := math.Log1p(-1 / clump)
	var f float64
	for range clumps {
		f += 1 + math.Floor(math.Log(1-rng.Float64())/lq)
	}
	return math.Min(f, n)
}

// poisson draws Poisson(mean) as a binomial with many trials.
func poisson(rng *rand.Rand, mean float64) int {
	const big = 1 << 40
	return binomialFast(rng, big, mean/big)
}

func clone(h judge.Histogram) judge.Histogram {
	return judge.Histogram{Bounds: h.Bounds, Counts: append([]float64(nil), h.Counts...), Count: h.Count}
}

func plus(a, b judge.Histogram) judge.Histogram {
	h := clone(a)
	h.Count += b.Count
	for i := range h.Counts {
		h.Counts[i] += b.Counts[i]
	}
	return h
}

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// at is the number of whole minutes of the release before the clock's
// time: the readings the source returns then.
func at(ctx context.Context) int { return int(vclock.Now(ctx).Sub(epoch) / time.Minute) }

// analyze runs a sequential judge's production path, Analyze over the
// cumulative counters, on a virtual clock: inline (until MaxDuration) or
// as background analysis that the release ends (strategy.ErrPlanComplete)
// after n minutes.
func (t *traffic) analyze(background bool, n, history int) result {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	clock := &vclock.Manual{T: epoch}
	if background {
		clock.End = epoch.Add(time.Duration(n) * time.Minute)
		clock.Stop = func() { cancel(strategy.ErrPlanComplete) }
	}
	ctx = vclock.With(ctx, clock)
	maxDur := time.Duration(n) * time.Minute
	var a strategy.Analyzer
	switch {
	case t.sc.latency == 0 && history == 0 && useRecorder:
		a = &judge.Sequential{MaxDuration: maxDur, Source: recordedCounts(ctx, counts{t, n, historyMinutes})}
	case history == 0 && useRecorder:
		a = &judge.SequentialLatency{MaxDuration: maxDur, Source: recordedLatencies(ctx, latencySource{t, n, historyMinutes})}
	case t.sc.latency == 0 && history == 0:
		a = &judge.Sequential{MaxDuration: maxDur, Source: countsNow{counts{t, n, 0}}}
	case t.sc.latency == 0:
		a = &judge.Sequential{MaxDuration: maxDur, Source: counts{t, n, history}}
	case history == 0:
		a = &judge.SequentialLatency{MaxDuration: maxDur, Source: latenciesNow{latencySource{t, n, 0}}}
	default:
		a = &judge.SequentialLatency{MaxDuration: maxDur, Source: latencySource{t, n, history}}
	}
	v, err := a.Analyze(ctx, strategy.Input{Stable: "v1", Canary: "v2", Background: background})
	if err != nil && !background {
		panic(err)
	}
	m := int(math.Ceil(clock.T.Sub(epoch).Minutes()))
	switch v.Outcome {
	case strategy.Fail:
		return result{rolledBack, m}
	case strategy.Pass:
		return result{promoted, m}
	}
	return result{undecided, m}
}

// useRecorder gives the judges, with -history 0, sources that cannot
// read the past wrapped in a judge.Recorder that took a reading every
// minute of the historyMinutes before the release (-recorder).
var useRecorder bool

// recordedCounts is a count source that cannot read the past (a
// judge.CountFunc reading the counters at the clock's time) behind a
// judge.Recorder that read it every minute before the release.
func recordedCounts(ctx context.Context, c counts) *judge.Recorder {
	now := judge.CountFunc(func(ctx context.Context, in strategy.Input) (judge.Counts, judge.Counts, error) {
		return c.CountsAt(ctx, in, vclock.Now(ctx))
	})
	rec := &judge.Recorder{CountSource: now, Input: strategy.Input{Stable: "v1", Canary: "v2"}}
	record(ctx, rec)
	return rec
}

// recordedLatencies is recordedCounts for latency.
func recordedLatencies(ctx context.Context, l latencySource) *judge.Recorder {
	now := judge.LatencyFunc(func(ctx context.Context, in strategy.Input) (judge.Histogram, judge.Histogram, error) {
		return l.LatenciesAt(ctx, in, vclock.Now(ctx))
	})
	rec := &judge.Recorder{LatencySource: now, Input: strategy.Input{Stable: "v1", Canary: "v2"}}
	record(ctx, rec)
	return rec
}

// record takes rec's readings of the historyMinutes before the release,
// one a minute, on a clock of its own.
func record(ctx context.Context, rec *judge.Recorder) {
	clock := &vclock.Manual{T: epoch.Add(-historyMinutes * time.Minute)}
	rctx := vclock.With(ctx, clock)
	for range historyMinutes {
		rec.Record(rctx)
		clock.T = clock.T.Add(time.Minute)
	}
}

// historyMinutes of the baseline's traffic before the release can be read
// by the judge.
const historyMinutes = 20

// counts is the count source of one simulated release: the cumulative
// counters at the virtual clock's time, and (as Prometheus can) at earlier
// times.
type counts struct {
	t       *traffic
	n       int
	history int // minutes of the past it can read
}

// countsNow is a count source that cannot read the past, as an in-process
// counter cannot: only [judge.CountSource].
type countsNow struct{ c counts }

func (c countsNow) Counts(ctx context.Context, in strategy.Input) (judge.Counts, judge.Counts, error) {
	return c.c.Counts(ctx, in)
}

// latenciesNow is a latency source that cannot read the past.
type latenciesNow struct{ l latencySource }

func (l latenciesNow) Latencies(ctx context.Context, in strategy.Input) (judge.Histogram, judge.Histogram, error) {
	return l.l.Latencies(ctx, in)
}

func (c counts) Counts(ctx context.Context, _ strategy.Input) (judge.Counts, judge.Counts, error) {
	k := min(at(ctx), c.n)
	return c.t.cumB[k], c.t.cumC[k], nil
}

func (c counts) CountsAt(_ context.Context, _ strategy.Input, when time.Time) (judge.Counts, judge.Counts, error) {
	k := int(when.Sub(epoch) / time.Minute)
	switch {
	case k >= 0:
		k = min(k, c.n)
		return c.t.cumB[k], c.t.cumC[k], nil
	case k >= -c.history:
		return c.t.histB[historyMinutes+k], judge.Counts{}, nil
	}
	return judge.Counts{}, judge.Counts{}, errors.New("no data that old")
}

// slowAR and slowSD shape time-correlated latency: each revision's median
// is multiplied every minute by exp(z), z an AR(1) series with lag-one
// correlation slowAR and standard deviation slowSD (slow minutes that
// last, one revision at a time).
const (
	slowAR = 0.5
	slowSD = 0.05
)

// latencySource is the latency source of one simulated release.
type latencySource struct {
	t       *traffic
	n       int
	history int // minutes of the past it can read
}

func (l latencySource) Latencies(ctx context.Context, _ strategy.Input) (judge.Histogram, judge.Histogram, error) {
	k := min(at(ctx), l.n)
	return l.t.cumHistB[k], l.t.cumHistC[k], nil
}

func (l latencySource) LatenciesAt(_ context.Context, _ strategy.Input, when time.Time) (judge.Histogram, judge.Histogram, error) {
	k := int(when.Sub(epoch) / time.Minute)
	switch {
	case k >= 0:
		k = min(k, l.n)
		return l.t.cumHistB[k], l.t.cumHistC[k], nil
	case k >= -l.history:
		return l.t.histHistB[historyMinutes+k], judge.NewHistogram(latencyBounds...), nil
	}
	return judge.Histogram{}, judge.Histogram{}, errors.New("no data that old")
}

// successMin and latencyLimitX are the threshold judges' checks: success
// rate at least 99% every minute, or p99 latency at most 1.1 times the
// baseline's true p99.
const (
	successMin    = 0.99
	latencyLimitX = 1.1
)

// simulate draws one release of n minutes and returns every judge's
// outcome on the same traffic.
func simulate(rng *rand.Rand, sc scenario, n, history int) [nJudges]result {
	t := draw(rng, sc, n)
	var out [nJudges]result
	out[jInline] = t.analyze(false, n, history)
	out[jBackground] = t.analyze(true, n, history)
	limit := latencyLimitX * latencyMedian * math.Exp(latencySigma*2.3263478740408408)
	failedCheck := func(m minute) bool {
		if sc.latency == 0 {
			return 1-m.fc/m.nc < successMin
		}
		return m.p99c > limit
	}
	// Threshold judges: count failed checks, one per minute; a release
	// they never roll back is promoted at the end.
	for j, allowed := range map[int]int{jFlagger1: 1, jFlagger5: 5, jArgo: 3} {
		out[j] = result{promoted, n}
		failed := 0
		for i, m := range t.minutes {
			if failedCheck(m) {
				failed++
			}
			if failed >= allowed {
				out[j] = result{rolledBack, i + 1}
				break
			}
		}
	}
	return out
}

// waldMinutes is the expected length, in minutes, of Wald's SPRT that
// knows the baseline's failure probability p0 and tests it against the
// canary's p1 = ratio·p0 on canary requests alone, with error rates alpha
// and beta: E1[N] = ((1-β)log((1-β)/α) + β log(β/(1-α))) / KL(p1 || p0).
// It is a floor no judge can beat on average with independent failures.
func waldMinutes(p0, ratio, rps, alpha, beta float64) float64 {
	p1 := ratio * p0
	kl := p1*math.Log(p1/p0) + (1-p1)*math.Log((1-p1)/(1-p0))
	n := ((1-beta)*math.Log((1-beta)/alpha) + beta*math.Log(beta/(1-alpha))) / kl
	return n / (rps * 60)
}

// waldLatencyMinutes is the same for latency: the SPRT that knows the
// log-normal latency distribution and reads every canary request's
// latency, testing for a shift of log(factor): each request carries KL =
// log(factor)²/(2σ²) nats.
func waldLatencyMinutes(factor, rps, alpha, beta float64) float64 {
	kl := math.Pow(math.Log(factor), 2) / (2 * latencySigma * latencySigma)
	n := ((1-beta)*math.Log((1-beta)/alpha) + beta*math.Log(beta/(1-alpha))) / kl
	return n / (rps * 60)
}
