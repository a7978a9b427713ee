package judge

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// Alternative is the alternative hypothesis of a rank-sum test, stated for
// the shift of the first sample (x, the canary) against the second (y, the
// baseline).
type Alternative int

const (
	// TwoSided tests whether x is shifted in either direction.
	TwoSided Alternative = iota
	// Greater tests whether x is shifted to larger values.
	Greater
	// Less tests whether x is shifted to smaller values.
	Less
)

// String returns R's name of the alternative.
func (a Alternative) String() string {
	switch a {
	case TwoSided:
		return "two.sided"
	case Greater:
		return "greater"
	case Less:
		return "less"
	}
	return fmt.Sprintf("Alternative(%d)", int(a))
}

// ErrAllTied is returned by [RankSum] when every observation has the same
// value: the normal approximation then has no variance and the test is
// undefined.
var ErrAllTied = errors.New("judge: all observations are tied")

// exactLimit is the sample size below which (in both samples) a tie-free
// test uses the exact null distribution, as R's wilcox.test does.
const exactLimit = 50

// epsilon is the float64 machine epsilon.
const epsilon = 2.220446049250313e-16

// RankSumResult is the outcome of a two-sample Wilcoxon rank-sum
// (Mann–Whitney U) test with the Hodges–Lehmann estimate of the shift.
type RankSumResult struct {
	// W is the rank-sum statistic of x: the sum of x's ranks in the pooled
	// sample minus nx(nx+1)/2. It equals the Mann–Whitney U of x (pairs
	// with x > y, ties counting one half). R prints it as W.
	W float64
	// PValue is the p-value for the chosen alternative.
	PValue float64
	// Exact is true when the p-value comes from the exact null
	// distribution (both samples smaller than 50, no ties); otherwise the
	// normal approximation with tie and continuity correction is used.
	Exact bool
	// Z is the continuity-corrected normal score (0 when Exact).
	Z float64
	// Estimate is the Hodges–Lehmann estimate of the location shift of x
	// relative to y.
	Estimate float64
	// Lower and Upper bound the confidence interval of the shift at
	// ConfLevel; one-sided alternatives leave one side infinite.
	Lower, Upper float64
	// ConfLevel is the confidence level of [Lower, Upper].
	ConfLevel float64
	// NX and NY are the sample sizes.
	NX, NY int
}

// RankSum runs the two-sample Wilcoxon rank-sum test of x against y with
// the given alternative, and estimates the shift of x relative to y with a
// confidence interval at confLevel (0 < confLevel < 1).
//
// It reproduces R's wilcox.test(x, y, alternative, conf.int = TRUE,
// conf.level) with its defaults (mu = 0, exact = NULL, correct = TRUE):
//
//   - When both samples have fewer than 50 observations and there are no
//     ties, the p-value comes from the exact distribution of W, counted by
//     the standard recursion; the confidence interval is formed from order
//     statistics of the pairwise differences x[i]-y[j] at the exact
//     quantiles, and the estimate is their median.
//   - Otherwise W is compared with its normal approximation, with the
//     variance corrected for ties and a continuity correction of one half
//     towards the mean; the estimate and the interval bounds are the
//     shifts d at which the corrected normal score of x-d against y
//     crosses 0 and the normal quantiles, found with Brent's root finder
//     at R's tolerance of 1e-4, as R's uniroot does.
//
// NaN values are not allowed (handle them first, see [NaNStrategy]).
// RankSum returns an error when a sample is empty, when a value is NaN, or
// ([ErrAllTied]) when every observation is equal.
func RankSum(x, y []float64, alt Alternative, confLevel float64) (RankSumResult, error) {
	nx, ny := len(x), len(y)
	if nx == 0 || ny == 0 {
		return RankSumResult{}, fmt.Errorf("judge: rank-sum test needs observations in both samples (have %d and %d)", nx, ny)
	}
	if !(confLevel > 0 && confLevel < 1) {
		return RankSumResult{}, fmt.Errorf("judge: confidence level %v is outside (0, 1)", confLevel)
	}
	if alt < TwoSided || alt > Less {
		return RankSumResult{}, fmt.Errorf("judge: unknown alternative %v", alt)
	}
	xs := slices.Clone(x)
	ys := slices.Clone(y)
	for _, v := range xs {
		if math.IsNaN(v) {
			return RankSumResult{}, errors.New("judge: rank-sum test given NaN")
		}
	}
	for _, v := range ys {
		if math.IsNaN(v) {
			return RankSumResult{}, errors.New("judge: rank-sum test given NaN")
		}
	}
	slices.Sort(xs)
	slices.Sort(ys)
	s := shiftStat{x: xs, y: ys}
	w, ties := s.at(0)
	res := RankSumResult{W: w, ConfLevel: confLevel, NX: nx, NY: ny}
	if nx < exactLimit && ny < exactLimit && ties == 0 {
		res.Exact = true
		d := newWilcoxDist(nx, ny)
		res.PValue = d.pValue(w, alt)
		res.Lower, res.Upper, res.Estimate = exactInterval(xs, ys, d, alt, confLevel)
		return res, nil
	}
	if s.sigma(ties) == 0 {
		return RankSumResult{}, ErrAllTied
	}
	res.Z = s.z(0, alt, true)
	switch alt {
	case Less:
		res.PValue = pnorm(res.Z)
	case Greater:
		res.PValue = pnormUpper(res.Z)
	default:
		res.PValue = 2 * math.Min(pnorm(res.Z), pnormUpper(res.Z))
	}
	res.PValue = math.Min(res.PValue, 1)
	alpha := 1 - confLevel
	switch alt {
	case TwoSided:
		res.Lower = s.root(alt, qnorm(1-alpha/2))
		res.Upper = s.root(alt, qnorm(alpha/2))
	case Greater:
		res.Lower = s.root(alt, qnorm(1-alpha))
		res.Upper = math.Inf(1)
	case Less:
		res.Lower = math.Inf(-1)
		res.Upper = s.root(alt, qnorm(alpha))
	}
	res.Estimate = s.estimate()
	return res, nil
}

// shiftStat evaluates the rank-sum statistic of x-d against y for any
// shift d; x and y are sorted.
type shiftStat struct {
	x, y []float64
}

// at returns W for x-d against y (pairs with x-d > y, ties one half) and
// the tie term sum(t^3 - t) over the tie groups of the pooled sample.
// It merges the two sorted samples in linear time.
func (s shiftStat) at(d float64) (w, ties float64) {
	x, y := s.x, s.y
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		// The next value in pooled order and how many of each sample hold it.
		var v float64
		switch {
		case i == len(x):
			v = y[j]
		case j == len(y):
			v = x[i] - d
		default:
			v = math.Min(x[i]-d, y[j])
		}
		cx, cy := 0, 0
		for i < len(x) && x[i]-d == v {
			cx++
			i++
		}
		for j < len(y) && y[j] == v {
			cy++
			j++
		}
		// Each x in the group beats the j-cy ys below it and ties cy.
		w += float64(cx) * (float64(j-cy) + 0.5*float64(cy))
		if t := float64(cx + cy); t > 1 {
			ties += t*t*t - t
		}
	}
	return w, ties
}

func (s shiftStat) sigma(ties float64) float64 {
	nx, ny := float64(len(s.x)), float64(len(s.y))
	n := nx + ny
	v := nx * ny / 12 * ((n + 1) - ties/(n*(n-1)))
	if v <= 0 {
		return 0
	}
	return math.Sqrt(v)
}

// z is R's normal score of W(d), continuity-corrected when correct.
func (s shiftStat) z(d float64, alt Alternative, correct bool) float64 {
	w, ties := s.at(d)
	dz := w - float64(len(s.x))*float64(len(s.y))/2
	var corr float64
	switch {
	case !correct:
	case alt == TwoSided:
		switch {
		case dz > 0:
			corr = 0.5
		case dz < 0:
			corr = -0.5
		}
	case alt == Greater:
		corr = 0.5
	case alt == Less:
		corr = -0.5
	}
	sig := s.sigma(ties)
	if sig == 0 {
		return math.NaN()
	}
	return (dz - corr) / sig
}

// rootTol is the absolute tolerance R's wilcox.test passes to uniroot.
const rootTol = 1e-4

// root finds the shift d in [min(x)-max(y), max(x)-min(y)] where the score
// z(d) - zq changes sign, returning an end of the range when it does not
// change sign there (R's root() inside wilcox.test).
func (s shiftStat) root(alt Alternative, zq float64) float64 {
	lo := s.x[0] - s.y[len(s.y)-1]
	hi := s.x[len(s.x)-1] - s.y[0]
	f := func(d float64) float64 { return s.z(d, alt, true) - zq }
	flo, fhi := f(lo), f(hi)
	if !(flo > 0) {
		return lo
	}
	if !(fhi < 0) {
		return hi
	}
	return zeroin(f, lo, hi, flo, fhi, rootTol)
}

// estimate is the shift at which the uncorrected score crosses zero,
// searched like R's uniroot over the same range (R drops the continuity
// correction for the estimate, so it does not depend on the alternative).
func (s shiftStat) estimate() float64 {
	lo := s.x[0] - s.y[len(s.y)-1]
	hi := s.x[len(s.x)-1] - s.y[0]
	f := func(d float64) float64 { return s.z(d, TwoSided, false) }
	flo, fhi := f(lo), f(hi)
	if flo*fhi > 0 {
		// No sign change (R stops with an error here); the nearer end
		// is the best estimate.
		if math.Abs(flo) < math.Abs(fhi) {
			return lo
		}
		return hi
	}
	return zeroin(f, lo, hi, flo, fhi, rootTol)
}

// zeroin is Brent's (1973) root finder as used by R's uniroot: it keeps a
// bracket [b, c] around the sign change, tries inverse quadratic or linear
// interpolation and falls back to bisection, and stops when the bracket is
// within tol. On the step functions of the rank-sum test the point it
// lands on depends on its path, so following the same algorithm gives the
// same answers as R.
func zeroin(f func(float64) float64, a, b, fa, fb, tol float64) float64 {
	if fa == 0 {
		return a
	}
	if fb == 0 {
		return b
	}
	c, fc := a, fa
	for range 1001 {
		prev := b - a
		if math.Abs(fc) < math.Abs(fb) {
			a, b, c = b, c, b
			fa, fb, fc = fb, fc, fb
		}
		tolAct := 2*epsilon*math.Abs(b) + tol/2
		step := (c - b) / 2
		if math.Abs(step) <= tolAct || fb == 0 {
			return b
		}
		if math.Abs(prev) >= tolAct && math.Abs(fa) > math.Abs(fb) {
			var p, q float64
			cb := c - b
			if a == c { // linear interpolation
				t1 := fb / fa
				p = cb * t1
				q = 1 - t1
			} else { // inverse quadratic interpolation
				q = fa / fc
				t1 := fb / fc
				t2 := fb / fa
				p = t2 * (cb*q*(q-t1) - (b-a)*(t1-1))
				q = (q - 1) * (t1 - 1) * (t2 - 1)
			}
			if p > 0 {
				q = -q
			} else {
				p = -p
			}
			if p < 0.75*cb*q-math.Abs(tolAct*q)/2 && p < math.Abs(prev*q/2) {
				step = p / q
			}
		}
		if math.Abs(step) < tolAct {
			if step > 0 {
				step = tolAct
			} else {
				step = -tolAct
			}
		}
		a, fa = b, fb
		b += step
		fb = f(b)
		if (fb > 0 && fc > 0) || (fb < 0 && fc < 0) {
			c, fc = a, fa
		}
	}
	return b
}

// wilcoxDist is the exact null distribution of W for sample sizes m and n:
// count[k] is the number of the C(m+n, m) equally likely arrangements in
// which W = k.
type wilcoxDist struct {
	m, n  int
	count []float64
	total float64
}

// newWilcoxDist counts arrangements with the recursion
// c(k; i, j) = c(k-j; i-1, j) + c(k; i, j-1): the largest of the i+j
// observations is either an x, which exceeds all j ys, or a y.
func newWilcoxDist(m, n int) wilcoxDist {
	// prev[j] and cur[j] hold c(.; i-1, j) and c(.; i, j) in rows of a
	// flat buffer; row j uses its first i*j+1 entries.
	width := m*n + 1
	prev := make([]float64, (n+1)*width)
	cur := make([]float64, (n+1)*width)
	for j := 0; j <= n; j++ {
		prev[j*width] = 1 // no xs: W = 0 in one way
	}
	for i := 1; i <= m; i++ {
		cur[0] = 1 // no ys: W = 0 in one way
		for j := 1; j <= n; j++ {
			row := cur[j*width : j*width+i*j+1]
			left := cur[(j-1)*width : (j-1)*width+i*(j-1)+1] // c(.; i, j-1)
			down := prev[j*width : j*width+(i-1)*j+1]        // c(.; i-1, j)
			for k := range row {
				var c float64
				if k-j >= 0 && k-j < len(down) {
					c = down[k-j]
				}
				if k < len(left) {
					c += left[k]
				}
				row[k] = c
			}
		}
		prev, cur = cur, prev
	}
	d := wilcoxDist{m: m, n: n, count: prev[n*width : n*width+m*n+1]}
	for _, c := range d.count {
		d.total += c
	}
	return d
}

// cdf is P(W <= q) (R's pwilcox).
func (d wilcoxDist) cdf(q float64) float64 {
	k := int(math.Floor(q + 1e-7))
	if k < 0 {
		return 0
	}
	if k >= len(d.count)-1 {
		return 1
	}
	var s float64
	if k < len(d.count)/2 {
		for _, c := range d.count[:k+1] {
			s += c
		}
		return s / d.total
	}
	for _, c := range d.count[k+1:] {
		s += c
	}
	return 1 - s/d.total
}

// upper is P(W > q) (R's pwilcox(q, lower.tail = FALSE)).
func (d wilcoxDist) upper(q float64) float64 {
	k := int(math.Floor(q + 1e-7))
	if k < 0 {
		return 1
	}
	var s float64
	for i := k + 1; i < len(d.count); i++ {
		s += d.count[i]
	}
	return s / d.total
}

// quantile is the smallest q with P(W <= q) >= p (R's qwilcox, which
// allows the same rounding slack of ten machine epsilons).
func (d wilcoxDist) quantile(p float64) int {
	var s float64
	for k, c := range d.count {
		s += c
		if s/d.total >= p-10*epsilon {
			return k
		}
	}
	return len(d.count) - 1
}

func (d wilcoxDist) pValue(w float64, alt Alternative) float64 {
	switch alt {
	case Greater:
		return d.upper(w - 1)
	case Less:
		return d.cdf(w)
	}
	var p float64
	if w > float64(d.m*d.n)/2 {
		p = d.upper(w - 1)
	} else {
		p = d.cdf(w)
	}
	return math.Min(2*p, 1)
}

// exactInterval returns R's exact confidence interval and estimate: order
// statistics of the sorted pairwise differences at exact quantiles of W,
// and their median.
func exactInterval(x, y []float64, d wilcoxDist, alt Alternative, confLevel float64) (lo, hi, est float64) {
	diffs := make([]float64, 0, len(x)*len(y))
	for _, a := range x {
		for _, b := range y {
			diffs = append(diffs, a-b)
		}
	}
	slices.Sort(diffs)
	n := len(diffs)
	if n%2 == 1 {
		est = diffs[n/2]
	} else {
		est = (diffs[n/2-1] + diffs[n/2]) / 2
	}
	alpha := 1 - confLevel
	// R indexes diffs from 1: diffs[qu] is diffs[qu-1] here.
	switch alt {
	case TwoSided:
		qu := max(d.quantile(alpha/2), 1)
		ql := n - qu
		return diffs[qu-1], diffs[ql], est
	case Greater:
		qu := max(d.quantile(alpha), 1)
		return diffs[qu-1], math.Inf(1), est
	default:
		qu := max(d.quantile(alpha), 1)
		ql := n - qu
		return math.Inf(-1), diffs[ql], est
	}
}

func pnorm(z float64) float64      { return 0.5 * math.Erfc(-z/math.Sqrt2) }
func pnormUpper(z float64) float64 { return 0.5 * math.Erfc(z/math.Sqrt2) }

// qnorm is the standard normal quantile.
func qnorm(p float64) float64 { return -math.Sqrt2 * math.Erfcinv(2*p) }
