package main

import (
	"math"
	"math/rand/v2"
	"slices"

	"github.com/glidepath/glidepath/analysis/judge"
	"github.com/glidepath/glidepath/strategy"
)

// Model constants of the simulation.
const (
	baseErrorRate  = 0.005 // baseline failure probability per request
	baselineFactor = 9     // baseline requests per canary request (10% canary weight)
	latencyMedian  = 100.0 // baseline median latency, ms
	latencySigma   = 0.5   // log-normal shape of latency
	successMin     = 0.99  // threshold judges: success rate >= 99% per minute
	latencyLimitX  = 1.1   // threshold judges: p99 <= 1.1 x the baseline's true p99
	mwWindow       = 10    // fixed-window Mann–Whitney judgement every 10 minutes
)

// scenario is one kind of release.
type scenario struct {
	name    string
	ratio   float64 // canary failure probability / baseline's (error scenarios)
	latency float64 // canary latency multiplier; 0 for error scenarios
}

func (s scenario) isAA() bool {
	return (s.latency == 0 && s.ratio == 1) || s.latency == 1
}

var scenarios = []scenario{
	{name: "errors A/A", ratio: 1},
	{name: "errors 2x", ratio: 2},
	{name: "errors 4x", ratio: 4},
	{name: "latency A/A", latency: 1},
	{name: "latency +20%", latency: 1.2},
}

var traffics = []float64{1, 10, 100} // canary requests per second

// judges compared, in table order.
var judgeNames = []string{"flagger threshold=1", "flagger threshold=5", "argo failureLimit=2", "mann-whitney 10m window", "sequential"}

const (
	jFlagger1 = iota
	jFlagger5
	jArgo
	jMW
	jSeq
)

// minute is what one simulated minute produced.
type minute struct {
	nc, nb         float64 // requests
	fc, fb         float64 // failed requests
	p99c           float64 // canary p99 latency of the minute
	medC, medB     float64 // median latency of the minute
	histC, histB   judge.Histogram
	successRateCan float64
}

// outcome of one judge on one run: the minute it rolled back, or 0, and
// for the sequential judge the minute it passed the release, or 0.
type outcome struct{ rolledBack, passed int }

// simulate draws one release of length minutes and returns every judge's
// outcome on the same traffic.
func simulate(rng *rand.Rand, sc scenario, rps float64, minutes int) [len5]outcome {
	nc := rps * 60
	nb := nc * baselineFactor
	ms := make([]minute, minutes)
	for i := range ms {
		m := minute{nc: nc, nb: nb}
		if sc.latency == 0 {
			m.fc = binomial(rng, int(nc), baseErrorRate*sc.ratio)
			m.fb = binomial(rng, int(nb), baseErrorRate)
		} else {
			// Each minute's latencies as histograms, and the quantiles
			// the other judges read drawn from the same observations.
			lc, lb := newLatencies(rng, int(nc), latencyMedian*sc.latency), newLatencies(rng, int(nb), latencyMedian)
			m.histC, m.histB = lc.hist, lb.hist
			m.p99c = lc.quantile(rng, 0.99)
			m.medC = lc.quantile(rng, 0.5)
			m.medB = lb.quantile(rng, 0.5)
		}
		m.successRateCan = 1 - m.fc/m.nc
		ms[i] = m
	}
	var out [len5]outcome
	limit := latencyLimitX * latencyMedian * math.Exp(latencySigma*2.3263478740408408)
	failedCheck := func(m minute) bool {
		if sc.latency == 0 {
			return m.successRateCan < successMin
		}
		return m.p99c > limit
	}
	// Threshold judges: count failed checks, one per minute.
	for j, allowed := range map[int]int{jFlagger1: 1, jFlagger5: 5, jArgo: 3} {
		failed := 0
		for i, m := range ms {
			if failedCheck(m) {
				failed++
			}
			if failed >= allowed {
				out[j].rolledBack = i + 1
				break
			}
		}
	}
	// Fixed-window Mann–Whitney (Kayenta's classifier) over the per-minute
	// series from the start, judged every mwWindow minutes.
	cmp := judge.Comparison{}
	metric := judge.Metric{Name: "m", Direction: judge.Increase}
	for end := mwWindow; end <= minutes; end += mwWindow {
		base := make([]float64, 0, end)
		can := make([]float64, 0, end)
		for _, m := range ms[:end] {
			if sc.latency == 0 {
				base = append(base, m.fb/m.nb)
				can = append(can, m.fc/m.nc)
			} else {
				base = append(base, m.medB)
				can = append(can, m.medC)
			}
		}
		if r := cmp.Classify(metric, base, can); r.Class == judge.MetricHigh {
			out[jMW].rolledBack = end
			break
		}
	}
	// Sequential judges, evaluated every minute.
	if sc.latency != 0 {
		// The stable revision served traffic before the canary started:
		// as the judge does with its first reading, the test takes its
		// first threshold from a minute of the baseline's history.
		test, err := (&judge.SequentialLatency{}).NewTest()
		if err != nil {
			panic(err)
		}
		history := newLatencies(rng, int(nb), latencyMedian).hist
		if _, err := test.Observe(history, judge.NewHistogram(history.Bounds...)); err != nil {
			panic(err)
		}
		for i, m := range ms {
			d, err := test.Observe(m.histB, m.histC)
			if err != nil {
				panic(err)
			}
			if d.Outcome == strategy.Fail {
				out[jSeq].rolledBack = i + 1
				break
			}
			if d.Outcome == strategy.Pass {
				out[jSeq].passed = i + 1
				break // promoted
			}
		}
	} else {
		seq := judge.Sequential{}
		test, err := seq.NewTest()
		if err != nil {
			panic(err)
		}
		for i, m := range ms {
			d, err := test.Observe(judge.Counts{Trials: m.nb, Failures: m.fb}, judge.Counts{Trials: m.nc, Failures: m.fc})
			if err != nil {
				panic(err)
			}
			if d.Outcome == strategy.Fail {
				out[jSeq].rolledBack = i + 1
				break
			}
			if d.Outcome == strategy.Pass {
				out[jSeq].passed = i + 1
				break // promoted
			}
		}
	}
	return out
}

const len5 = 5

// binomial draws Binomial(n, p) for small p by skipping geometric gaps
// between failures: O(np) work.
func binomial(rng *rand.Rand, n int, p float64) float64 {
	if p <= 0 || n <= 0 {
		return 0
	}
	if p >= 1 {
		return float64(n)
	}
	lq := math.Log1p(-p)
	k, pos := 0, 0
	for {
		u := rng.Float64()
		gap := int(math.Floor(math.Log(1-u)/lq)) + 1
		pos += gap
		if pos > n || gap <= 0 {
			return float64(k)
		}
		k++
	}
}

// latencyBounds are the bucket bounds of the simulated latency histograms,
// in ms: a factor of 2^(1/8) apart (Prometheus native histograms' schema
// 3) from half to twice the baseline's median.
var latencyBounds = func() []float64 {
	var b []float64
	for k := -8; k <= 8; k++ {
		b = append(b, latencyMedian*math.Pow(2, float64(k)/8))
	}
	return b
}()

// latencies are n log-normal latencies (shape latencySigma) of one
// revision in one minute, as a histogram over latencyBounds.
type latencies struct {
	hist judge.Histogram
	mu   float64   // log of the median
	cdf  []float64 // the distribution function at each bound
}

// newLatencies draws the bucket counts of n latencies with the given
// median (a multinomial, as a chain of binomials).
func newLatencies(rng *rand.Rand, n int, median float64) latencies {
	l := latencies{hist: judge.NewHistogram(latencyBounds...), mu: math.Log(median), cdf: make([]float64, len(latencyBounds))}
	l.hist.Count = float64(n)
	left, mass, prev, cum := n, 1.0, 0.0, 0
	for i, b := range latencyBounds {
		l.cdf[i] = 0.5 * math.Erfc(-(math.Log(b)-l.mu)/latencySigma/math.Sqrt2)
		p := l.cdf[i] - prev
		q := 1.0
		if p < mass {
			q = p / mass
		}
		c := binomialFast(rng, left, q)
		left -= c
		mass -= p
		prev = l.cdf[i]
		cum += c
		l.hist.Counts[i] = float64(cum)
	}
	return l
}

// quantile draws the order statistic that estimates the p quantile of the
// latencies, the k-th smallest with k = round((n-1)p)+1, given the bucket
// counts: it lies in the bucket where the cumulative count reaches k, as
// the r-th smallest of that bucket's m observations, which are drawn from
// the distribution restricted to the bucket; on the probability scale of
// the bucket it is a uniform order statistic, Beta(r, m+1-r).
func (l latencies) quantile(rng *rand.Rand, p float64) float64 {
	n := int(l.hist.Count)
	k := int(math.Round(float64(n-1)*p)) + 1
	below, lo, hi := 0, 0.0, 1.0
	count := n
	for i, c := range l.hist.Counts {
		if int(c) >= k {
			hi, count = l.cdf[i], int(c)
			break
		}
		below, lo = int(c), l.cdf[i]
	}
	m, r := count-below, k-below
	a := gamma(rng, float64(r))
	b := gamma(rng, float64(m+1-r))
	u := lo + (hi-lo)*a/(a+b)
	return math.Exp(l.mu + latencySigma*normalQuantile(u))
}

// binomialFast draws Binomial(n, p) exactly in O(log n) steps (Knuth,
// TAOCP vol. 2, 3.4.1): the a-th smallest of n uniforms, a = n/2+1, is
// Beta(a, n+1-a); the uniforms below p are then all of those below it
// plus some of the others, each side again binomial. Once n·p is small the
// rest is drawn by geometric skipping.
func binomialFast(rng *rand.Rand, n int, p float64) int {
	k := 0
	for n > 0 && p > 0 && p < 1 && float64(n)*math.Min(p, 1-p) > 16 {
		a := n/2 + 1
		ga, gb := gamma(rng, float64(a)), gamma(rng, float64(n+1-a))
		x := ga / (ga + gb)
		if x >= p {
			n, p = a-1, p/x
		} else {
			k += a
			n, p = n-a, (p-x)/(1-x)
		}
	}
	if p > 0.5 {
		return k + n - int(binomial(rng, n, 1-p))
	}
	return k + int(binomial(rng, n, p))
}

// gamma draws Gamma(shape, 1) by Marsaglia and Tsang's method.
func gamma(rng *rand.Rand, shape float64) float64 {
	if shape < 1 {
		return gamma(rng, shape+1) * math.Pow(rng.Float64(), 1/shape)
	}
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := rng.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := rng.Float64()
		if math.Log(u) < 0.5*x*x+d-d*v+d*math.Log(v) {
			return d * v
		}
	}
}

func normalQuantile(p float64) float64 { return -math.Sqrt2 * math.Erfcinv(2*p) }

// waldMinutes is the expected length, in minutes, of Wald's SPRT that
// knows the baseline's failure probability p0 and tests it against the
// canary's p1 = ratio*p0 on canary requests alone, with error rates alpha
// and beta: E1[N] = ((1-β)log((1-β)/α) + β log(β/(1-α))) / KL(p1 || p0).
func waldMinutes(ratio, rps, alpha, beta float64) float64 {
	p0 := baseErrorRate
	p1 := ratio * p0
	kl := p1*math.Log(p1/p0) + (1-p1)*math.Log((1-p1)/(1-p0))
	n := ((1-beta)*math.Log((1-beta)/alpha) + beta*math.Log(beta/(1-alpha))) / kl
	return n / (rps * 60)
}

// waldPassMinutes is the expected length, in minutes, of the same SPRT
// (canary failure probability p0 against ratio*p0) when the canary is as
// good as the baseline: the time it needs to accept p0, E0[N] =
// ((1-α)log(β/(1-α)) + α log((1-β)/α)) / -KL(p0 || p1).
func waldPassMinutes(ratio, rps, alpha, beta float64) float64 {
	p0 := baseErrorRate
	p1 := ratio * p0
	drift := p0*math.Log(p1/p0) + (1-p0)*math.Log((1-p1)/(1-p0)) // -KL(p0 || p1)
	n := ((1-alpha)*math.Log(beta/(1-alpha)) + alpha*math.Log((1-beta)/alpha)) / drift
	return n / (rps * 60)
}

// waldLatencyMinutes is the expected length, in minutes, of Wald's SPRT
// that knows the latency distribution (log-normal, shape latencySigma) and
// tests the canary's log latencies for a shift of log(factor): each
// request carries KL = log(factor)^2 / (2 sigma^2) nats (the same both
// ways), so E1[N] and E0[N] are those of waldMinutes and waldPassMinutes
// with this KL. pass selects E0[N], the time to accept a healthy canary.
func waldLatencyMinutes(factor, rps, alpha, beta float64, pass bool) float64 {
	kl := math.Pow(math.Log(factor), 2) / (2 * latencySigma * latencySigma)
	n := ((1-beta)*math.Log((1-beta)/alpha) + beta*math.Log(beta/(1-alpha))) / kl
	if pass {
		n = -((1-alpha)*math.Log(beta/(1-alpha)) + alpha*math.Log((1-beta)/alpha)) / kl
	}
	return n / (rps * 60)
}

// percentile of sorted ints (nearest rank).
func percentile(s []int, p float64) float64 {
	if len(s) == 0 {
		return math.NaN()
	}
	s = slices.Clone(s)
	slices.Sort(s)
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return float64(s[max(i, 0)])
}
