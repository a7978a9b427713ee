package main

import (
	"math"
	"math/rand/v2"

	"github.com/glidepath/glidepath/analysis/judge"
)

// Model constants of the latency simulation.
const (
	latencyMedian = 100.0 // baseline median latency, ms
	latencySigma  = 0.5   // log-normal shape of latency
)

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
