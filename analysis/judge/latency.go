package judge

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/glidepath/glidepath/internal/vclock"
	"github.com/glidepath/glidepath/strategy"
)

// SequentialLatency is an always-valid sequential test of a canary's
// latency against its baseline's, read from latency histograms every
// Interval. It fails the canary as soon as its latency is shown to exceed
// (1+Tolerance) times the baseline's at the baseline's median, passes it
// once a slowdown by a factor of Regression or more has been ruled out,
// and otherwise keeps going until MaxDuration, then returns Inconclusive.
// Looking after every interval does not inflate its error rates: the
// chance that it ever fails a canary that is no slower than the baseline
// (within Tolerance) is at most Alpha, however long it runs and however
// often it looks. The package documentation derives the test.
//
// The test compares the bulk of the distribution (the median). For a tail
// latency objective (the p99 under 300 ms), count the requests slower than
// the objective as failures and use [Sequential]: such requests are rare
// events, which is that judge's model.
//
// The zero value of every field but Source is a documented default.
// SequentialLatency is a [strategy.Analyzer] and behaves as [Sequential]
// does in background analysis: it never passes early, and when the release
// ends with every step done (its context cancelled with
// [strategy.ErrPlanComplete]) it has a last word: Pass only when the
// evidence meets the bar of an inline Pass at that moment, otherwise
// Inconclusive with the evidence both ways in the reason (LenientLastWord
// restores Argo Rollouts' behaviour). Histograms are read as Prometheus
// reads counters: a drop of the count or of any bucket is a reset, after
// which the reading is the increase since it. Latency need not be
// independent from request to request: the judge learns from the data how
// much more the revisions' difference varies between intervals than
// independent latencies would let it (slow minutes, pauses, a noisy
// neighbour of one revision) and weighs its evidence down accordingly.
type SequentialLatency struct {
	// Label names the analyzer in verdicts; empty means "sequential latency".
	Label string
	// Source supplies cumulative latency histograms of both revisions.
	Source LatencySource
	// Alpha bounds the probability of ever failing a canary whose latency
	// is at most (1+Tolerance) times the baseline's. Zero means 0.01.
	Alpha float64
	// Beta bounds the probability of ever passing a canary whose latency
	// is Regression times the baseline's or more. Zero means 0.05.
	Beta float64
	// Tolerance is the relative slowdown that is not a regression: the
	// canary fails once its latency is shown to exceed (1+Tolerance) times
	// the baseline's. Zero fails on any slowdown that the data establish.
	Tolerance float64
	// Regression is the latency ratio (canary / baseline) that must be
	// ruled out before the canary passes, and that the test is tuned to
	// detect. It must exceed 1+Tolerance. Zero means 1.2 (20% slower).
	Regression float64
	// MinSamples is the number of canary requests needed before a Pass.
	// Zero means none beyond what the evidence itself needs.
	MinSamples float64
	// Interval is how often the histograms are read. Zero means a minute.
	Interval time.Duration
	// MaxDuration ends inline analysis with Inconclusive when neither
	// Pass nor Fail was reached. Zero means 30 minutes.
	MaxDuration time.Duration
	// ErrorLimit is how many consecutive errors from the source, or
	// readings with impossible data, are tolerated before the analysis
	// returns an error. Zero means 4.
	ErrorLimit int
	// LenientLastWord, in background analysis, passes a release that ends
	// with the canary having served requests and no Fail reached, as Argo
	// Rollouts does, even when the evidence does not rule a regression
	// out. Off by default: such a release is Inconclusive.
	LenientLastWord bool
	// History is how many intervals of the baseline's histograms before
	// the analysis starts are read, when Source can read the past (it
	// implements [LatencyHistory], as the Prometheus source does), to learn
	// how much its latency varies from interval to interval before the
	// canary has served a request. Zero means 20; negative reads none.
	// A history the source cannot read in full (retention, a gap) is used
	// back to its first gap when that leaves at least 20 intervals (or
	// History, if fewer); a shorter one is not used.
	History int
}

// LatencyHistory is a [LatencySource] that can also read the cumulative
// histograms as they were at an earlier time.
type LatencyHistory interface {
	LatencySource
	LatenciesAt(ctx context.Context, in strategy.Input, at time.Time) (baseline, canary Histogram, err error)
}

const defaultLatencyRegression = 1.2

// Name returns Label, or "sequential latency".
func (s *SequentialLatency) Name() string {
	if s.Label == "" {
		return "sequential latency"
	}
	return s.Label
}

// Validate reports every problem with the configuration at once, as an
// error matching [strategy.ErrInvalidConfig].
func (s *SequentialLatency) Validate() error {
	var p []string
	if s.Source == nil {
		p = append(p, "no latency source")
	}
	p = append(p, s.testProblems()...)
	p = append(p, pollProblems(s.Interval, s.MaxDuration, s.ErrorLimit)...)
	p = append(p, sourceProblems(s.Source)...)
	return strategy.Invalid("sequential latency judge "+s.Name(), p...)
}

func (s *SequentialLatency) testProblems() []string {
	p := errorBoundProblems(s.Alpha, s.Beta, s.Tolerance, s.Regression, defaultLatencyRegression)
	if !(s.MinSamples >= 0) || math.IsInf(s.MinSamples, 0) {
		p = append(p, fmt.Sprintf("minimum samples %v is not a finite non-negative number", s.MinSamples))
	}
	return p
}

// NewTest returns the sequential test configured by s's Alpha, Beta,
// Tolerance, Regression and MinSamples, for callers that feed histograms
// themselves.
func (s *SequentialLatency) NewTest() (*LatencyTest, error) {
	if p := s.testProblems(); len(p) > 0 {
		return nil, strategy.Invalid("sequential latency test", p...)
	}
	return &LatencyTest{
		failAt:     math.Log(1 / orDefault(s.Alpha, defaultAlpha)),
		passAt:     math.Log(1 / orDefault(s.Beta, defaultBeta)),
		minSamples: s.MinSamples,
		tol:        1 + s.Tolerance,
		reg:        orDefault(s.Regression, defaultLatencyRegression),
		threshold:  math.NaN(),
		fixed:      -1,
	}, nil
}

// Mixture grid of the latency test: bets lambda log-spaced over
// [lambdaMin, lambdaMax] (on the scale of a difference of two
// probabilities), weighted by a normal prior on log lambda centred on the
// difference that the regression being looked for would make; the centre
// is clamped to [shiftMin, shiftMax].
const (
	lambdaPoints = 40
	lambdaMin    = 0.005
	lambdaMax    = 1.0
	shiftMin     = 0.02
	shiftMax     = 0.5
)

// hoeffding is a mixture over bets lambda of the e-processes
// prod exp(4m(lambda*d - lambda^2/2)), one factor per interval, where d is
// the interval's difference of exceedance shares and 1/(4m) bounds its
// variance (Hoeffding).
type hoeffding struct {
	lambda, logWeight, logE []float64
}

func newHoeffding(centre float64) hoeffding {
	centre = math.Log(math.Min(math.Max(centre, shiftMin), shiftMax))
	h := hoeffding{lambda: make([]float64, lambdaPoints), logWeight: make([]float64, lambdaPoints), logE: make([]float64, lambdaPoints)}
	var total float64
	for k := range lambdaPoints {
		u := math.Log(lambdaMin) + (math.Log(lambdaMax)-math.Log(lambdaMin))*float64(k)/float64(lambdaPoints-1)
		h.lambda[k] = math.Exp(u)
		z := (u - centre) / priorSD
		h.logWeight[k] = -z * z / 2
		total += math.Exp(h.logWeight[k])
	}
	for k := range h.logWeight {
		h.logWeight[k] -= math.Log(total)
	}
	return h
}

func (h *hoeffding) update(m, d float64) {
	for k, l := range h.lambda {
		h.logE[k] += 4 * m * (l*d - l*l/2)
	}
}

// log of the mixture (the e-value) with the variance bound of every
// interval inflated by phi ≥ 1; 0 before any update.
func (h *hoeffding) log(phi float64) float64 {
	if h.lambda == nil {
		return 0
	}
	return logMix(h.logE, h.logWeight, 1/phi)
}

// LatencyTest is the sequential test of [SequentialLatency] as a plain
// state machine: feed it the latency histogram of each interval with
// Observe. It is not safe for concurrent use.
type LatencyTest struct {
	failAt, passAt float64 // log thresholds
	minSamples     float64
	tol, reg       float64   // 1+Tolerance, Regression
	ref, window    Histogram // the baseline's recent observations (see reference)
	started        bool      // the priors are set
	fail, pass     hoeffding
	threshold      float64
	nB, nC         float64    // observations weighed
	aboveB, aboveC float64    // of which above the thresholds of the fail test
	lastDiff       [2]float64 // the latest interval's m and difference of shares (fail test)
	lastM          float64    // the latest interval's m
	pairX2, pairDF float64    // consecutive pairs' squared differences over their bound, for the dispersion
	histTau2       float64    // the baseline's variance of the share beyond chance, per interval
	histDF         float64    // degrees of freedom behind histTau2
	// Without a history: every weighed interval of the release, from which
	// the long-run variance of the evidence is learned (see coldExtra).
	release        []latencyInterval
	fixed          int // index of the bound the baseline's own shares are taken at (the first threshold); -1 before
	failed, passed bool
}

// latencyInterval is one weighed interval of a LatencyTest: the
// baseline's observations, and those above the release's first
// threshold.
type latencyInterval struct {
	nB, aFixed float64
}

// LatencyDecision is the state of a [LatencyTest] after an observation.
type LatencyDecision struct {
	// Outcome is Fail or Pass once decided, and empty before.
	Outcome strategy.Outcome
	// FailEvidence is the e-value against "the canary's latency is at
	// most (1+Tolerance) times the baseline's"; the test fails at 1/Alpha.
	FailEvidence float64
	// PassEvidence is the e-value against "the canary's latency is
	// Regression times the baseline's or more"; the test passes at 1/Beta
	// (after MinSamples).
	PassEvidence float64
	// Threshold is the bucket bound nearest the median of the baseline's
	// observations before the last interval (NaN before there were any).
	Threshold float64
	// BaselineAbove is the share of the baseline's weighed observations
	// that exceeded the threshold of their interval, and CanaryAbove the
	// share of the canary's that exceeded (1+Tolerance) times it (rounded
	// up to a bucket bound). NaN without observations.
	BaselineAbove, CanaryAbove float64
	// Baseline and Canary count the observations weighed: those of every
	// interval after the first in which both revisions served requests.
	Baseline, Canary float64
	// Dispersion is how many times more the difference of the shares
	// varies from interval to interval than independent latencies would
	// let it, as learned from the data (at least 1); the evidence is
	// tempered by it.
	Dispersion float64
}

// Decided reports whether the test has reached Pass or Fail.
func (d LatencyDecision) Decided() bool { return d.Outcome != "" }

// String summarises the decision.
func (d LatencyDecision) String() string {
	s := fmt.Sprintf("above the threshold %.4g: canary %.3g of %g, baseline %.3g of %g; dispersion %.3g, evidence of regression %.3g, of no regression %.3g",
		d.Threshold, d.CanaryAbove, d.Canary, d.BaselineAbove, d.Baseline, d.Dispersion, d.FailEvidence, d.PassEvidence)
	if d.Outcome != "" {
		s = string(d.Outcome) + ": " + s
	}
	return s
}

// Observe adds the latency histograms of both revisions for one interval
// (the observations since the last call, not cumulative ones) and returns
// the decision. Both must have the same bucket bounds, with at least one
// finite bound. The first interval with baseline observations only sets
// the test's threshold (the baseline's median), later ones are weighed; if
// the bounds change, the threshold is set afresh from the next interval.
// A Fail is final. After a Pass the test keeps weighing the evidence of a
// regression, so a canary that degrades later still fails; callers that
// act on the first Pass simply stop calling.
func (t *LatencyTest) Observe(baseline, canary Histogram) (LatencyDecision, error) {
	for _, h := range []Histogram{baseline, canary} {
		if err := h.check(); err != nil {
			return t.decision(), fmt.Errorf("judge: invalid histogram: %w", err)
		}
	}
	if !sameBounds(baseline.Bounds, canary.Bounds) {
		return t.decision(), errors.New("judge: the baseline's and the canary's histograms have different bounds")
	}
	if finiteBounds(baseline.Bounds) == 0 {
		return t.decision(), errors.New("judge: a latency histogram needs a finite bucket bound")
	}
	if !sameBounds(t.window.Bounds, baseline.Bounds) {
		t.ref, t.window = Histogram{}, NewHistogram(baseline.Bounds...)
		t.release, t.fixed = nil, -1
	}
	if ref := t.reference(); ref.Count > 0 && !t.failed {
		t.weigh(ref, baseline, canary)
	}
	t.window.Count += baseline.Count
	for i := range t.window.Counts {
		t.window.Counts[i] += baseline.Counts[i]
	}
	if t.window.Count >= refObservations {
		t.ref, t.window = t.window, NewHistogram(baseline.Bounds...)
	}
	return t.decision(), nil
}

// refObservations is how many of the baseline's recent observations the
// threshold is taken from, at least.
const refObservations = 100

// reference returns the baseline's most recent observations: the last
// window of intervals that holds refObservations, or the observations so
// far when there are fewer.
func (t *LatencyTest) reference() *Histogram {
	if t.ref.Count > 0 {
		return &t.ref
	}
	return &t.window
}

// weigh adds the evidence of one interval, with thresholds chosen from
// the baseline's earlier observations p.
func (t *LatencyTest) weigh(p *Histogram, baseline, canary Histogram) {
	i := p.median()
	b := p.Bounds[i]
	t.threshold = b
	iF := boundAtLeast(canary.Bounds, t.tol*b) // -1: no bound is that high
	iP := boundAtMost(canary.Bounds, t.reg*b)  // at least i
	if !t.started {
		// The bets are centred on the difference of shares that a canary
		// slowed by Regression would make, estimated from the same earlier
		// observations, so they are fixed before any evidence is weighed.
		shift := 1.0
		if iF >= 0 {
			shift = p.cdfAtMost(canary.Bounds[iF] / t.reg)
		}
		t.fail = newHoeffding(p.cdf(i) - shift)
		t.pass = newHoeffding(p.cdf(iP) - p.cdf(i))
		t.started = true
	}
	nB, nC := baseline.Count, canary.Count
	if nB == 0 || nC == 0 {
		return // nothing to compare
	}
	aB := baseline.Above(i)
	aF, aP := 0.0, canary.Above(iP)
	if iF >= 0 {
		aF = canary.Above(iF)
	}
	m := nB * nC / (nB + nC)
	t.fail.update(m, aF/nC-aB/nB)
	t.pass.update(m, aB/nB-aP/nC)
	if m > 0 && !math.IsInf(m, 0) {
		cur := [2]float64{m, aF/nC - aB/nB}
		if t.lastM > 0 {
			a, b := t.lastDiff, cur
			t.pairX2 += 4 * a[0] * b[0] / (a[0] + b[0]) * (a[1] - b[1]) * (a[1] - b[1])
			t.pairDF++
		}
		t.lastDiff, t.lastM = cur, m
		if t.fixed < 0 {
			t.fixed = i
		}
		t.release = append(t.release, latencyInterval{nB: nB, aFixed: baseline.Above(t.fixed)})
	}
	t.nB += nB
	t.nC += nC
	t.aboveB += aB
	t.aboveC += aF
	if t.fail.log(t.dispersion()) >= t.failAt {
		t.failed = true
	} else if t.passesNow() {
		t.passed = true
	}
}

// passesNow reports whether the evidence of no regression meets the bar
// of a Pass now.
func (t *LatencyTest) passesNow() bool {
	return t.pass.log(t.dispersion()) >= t.passAt && t.nC >= t.minSamples
}

// dispersion estimates how many times the variance of the evidence
// exceeds Hoeffding's bound 1/(4m) per interval, the larger of two
// estimates, never below 1:
//
//   - from the release: the mean over consecutive pairs of intervals of
//     their squared difference of d over the bound on its variance (one
//     degree of freedom each, unaffected by a slow trend or a single step
//     such as a canary that degrades), shrunk towards the default prior;
//   - from the baseline's history before the release (see SetHistory): the
//     long-run variance of its share of slow requests beyond chance, τ²,
//     which the canary is assumed to share, so Var(d) = 1/(4m) + 2τ² and
//     the dispersion is 1 + 8mτ² (scaled up for the history's length).
//     Slow minutes that last several minutes, which consecutive pairs
//     cannot see, show up here.
//
// Without a history the second estimate is the release's own (see
// coldExtra): the long-run variance of the revisions' difference and of
// the baseline's level beyond chance, from a conservative start, so that
// slowness that lasts several minutes is weighed before a history could
// have shown it.
func (t *LatencyTest) dispersion() float64 {
	phi := priorDispersion{}.shrink(t.pairX2, t.pairDF)
	switch {
	case t.lastM <= 0:
	case t.histDF > 0:
		phi = math.Max(phi, 1+8*t.lastM*t.histTau2*(1+latencyDispersionMargin/math.Sqrt(t.histDF)))
	default:
		phi = math.Max(phi, 1+4*t.lastM*t.coldExtra())
	}
	return phi
}

// Without a history, the extra long-run variance of the difference of
// shares per interval (beyond chance, in squared shares) is taken to be
// coldLatencyExtra, with the weight of coldLatencyWeight intervals, until
// the release's intervals say otherwise: slow minutes that move a tenth
// of the requests across the median, lasting a few minutes. The learned
// value's excess is scaled up by 1 + coldLatencyMargin/√df.
const (
	coldLatencyExtra  = 0.01
	coldLatencyWeight = 1.0
	coldLatencyMargin = 5.0
)

// coldExtra estimates, from the release's intervals alone, the variance
// per interval that the difference of the shares of slow requests has
// beyond chance, counting its correlation in time: twice the long-run
// variance (Newey–West with Bartlett weights up to lag longRunLags) of the
// baseline's share of requests above the release's first threshold,
// about its mean over the release, less what chance alone gives it. The
// canary is assumed to vary as much as the baseline, as with a history.
// The baseline's share does not depend on the canary, so a canary that
// degrades during the release is not mistaken for time correlation (the
// difference of the revisions would be: its change would hide it).
//
// The estimate is pooled with the conservative start coldLatencyExtra,
// weighed as coldLatencyWeight intervals, and scaled up by
// 1 + coldLatencyMargin/√df: the long-run variance of a short,
// autocorrelated series is underestimated more often than not.
func (t *LatencyTest) coldExtra() float64 {
	k := len(t.release)
	v := 0.0
	if k >= 2 {
		var nB, aX float64
		for _, iv := range t.release {
			nB += iv.nB
			aX += iv.aFixed
		}
		p := aX / nB
		r := make([]float64, k)
		var chance float64
		for j, iv := range t.release {
			r[j] = iv.aFixed/iv.nB - p
			chance += p * (1 - p) / iv.nB
		}
		v = math.Max(2*(longRun(r, coldLongRunLags)*float64(k)/float64(k-1)-chance/float64(k)), 0)
	}
	df := math.Max(float64(k-1), 0)
	w := coldLatencyWeight + df
	return (coldLatencyWeight*coldLatencyExtra + df*v) / w * (1 + coldLatencyMargin/math.Sqrt(w))
}

// longRun is the long-run variance (per term) of the series r: the mean
// of its squares plus twice its autocovariances at lags 1 to longRunLags
// with Bartlett weights (Newey and West, 1987); never below half the plain
// variance (negative autocovariances do not make evidence stronger than
// independence would).
func longRun(r []float64, lags int) float64 {
	n := float64(len(r))
	var s, g0 float64
	for lag := 0; lag <= lags; lag++ {
		var g float64
		for i := lag; i < len(r); i++ {
			g += r[i] * r[i-lag]
		}
		g /= n
		if lag == 0 {
			g0 = g
			s += g
			continue
		}
		s += 2 * (1 - float64(lag)/float64(lags+1)) * g
	}
	return math.Max(s, g0/2)
}

// longRunLags is the bandwidth of the long-run variance: slow minutes that
// last about this long count in full.
const longRunLags = 2

// coldLongRunLags is the bandwidth of the long-run variance learned from
// the release alone: wider than the history's, because a short series
// loses more of its correlation to the lags left out, and nothing else
// makes up for it.
const coldLongRunLags = 2

// latencyDispersionMargin scales up the excess dispersion learned from
// the baseline's history by 1 + c/√df: the long-run variance of a short,
// autocorrelated series is underestimated more often than not.
const latencyDispersionMargin = 6.0

// SetHistory gives the test the baseline's latency histograms of
// consecutive intervals before the release (each interval's own, not
// cumulative), from which it learns how much the baseline's share of slow
// requests varies from interval to interval beyond chance before the
// canary has served a request: the prior of the dispersion. Call it before
// the first Observe.
func (t *LatencyTest) SetHistory(baseline []Histogram) error {
	var all Histogram
	for i, h := range baseline {
		if err := h.check(); err != nil {
			return fmt.Errorf("judge: invalid history: %w", err)
		}
		if i == 0 {
			all = NewHistogram(h.Bounds...)
		}
		if !sameBounds(all.Bounds, h.Bounds) {
			return errors.New("judge: the history's histograms have different bounds")
		}
		all.Count += h.Count
		for j := range all.Counts {
			all.Counts[j] += h.Counts[j]
		}
	}
	if len(baseline) < 3 || all.Count == 0 || finiteBounds(all.Bounds) == 0 {
		return nil
	}
	i := all.median()
	share := 1 - all.cdf(i)
	var r []float64
	var n float64
	for _, h := range baseline {
		if h.Count == 0 {
			continue
		}
		sd := math.Sqrt(math.Max(share*(1-share), 1e-3) / h.Count)
		r = append(r, (h.Above(i)/h.Count-share)/sd)
		n += h.Count
	}
	if len(r) < 3 {
		return nil
	}
	n /= float64(len(r))
	phiB := longRun(r, longRunLags) * float64(len(r)) / float64(len(r)-1)
	t.histTau2 = math.Max(phiB-1, 0) * math.Max(share*(1-share), 1e-3) / n
	t.histDF = float64(len(r) - 1)
	return nil
}

func (t *LatencyTest) decision() LatencyDecision {
	phi := t.dispersion()
	d := LatencyDecision{
		Dispersion:    phi,
		FailEvidence:  math.Exp(t.fail.log(phi)),
		PassEvidence:  math.Exp(t.pass.log(phi)),
		Threshold:     t.threshold,
		BaselineAbove: t.aboveB / t.nB,
		CanaryAbove:   t.aboveC / t.nC,
		Baseline:      t.nB,
		Canary:        t.nC,
	}
	switch {
	case t.failed:
		d.Outcome = strategy.Fail
	case t.passed:
		d.Outcome = strategy.Pass
	}
	return d
}

func sameBounds(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func finiteBounds(b []float64) int {
	if n := len(b); n > 0 && math.IsInf(b[n-1], 1) {
		return n - 1
	}
	return len(b)
}

// median returns the index of the finite bound at which the share of
// observations at most it is nearest one half.
func (h *Histogram) median() int {
	best, gap := 0, math.Inf(1)
	for i := range finiteBounds(h.Bounds) {
		if g := math.Abs(h.cdf(i) - 0.5); g < gap {
			best, gap = i, g
		}
	}
	return best
}

// cdf is the share of observations at most Bounds[i].
func (h *Histogram) cdf(i int) float64 { return h.Counts[i] / h.Count }

// cdfAtMost is the share of observations at most the largest bound not
// above x: a lower estimate of the share at most x.
func (h *Histogram) cdfAtMost(x float64) float64 {
	if i := boundAtMost(h.Bounds, x); i >= 0 {
		return h.cdf(i)
	}
	return 0
}

// boundSlack is the relative rounding error forgiven when a scaled
// threshold is matched to a bucket bound, so that a bound written as
// 1.1 times another matches a Tolerance of 0.1.
const boundSlack = 1e-9

// boundAtLeast is the index of the smallest finite bound at least x, or -1.
func boundAtLeast(bounds []float64, x float64) int {
	x *= 1 - boundSlack
	for i := range finiteBounds(bounds) {
		if bounds[i] >= x {
			return i
		}
	}
	return -1
}

// boundAtMost is the index of the largest finite bound at most x, or -1.
func boundAtMost(bounds []float64, x float64) int {
	x *= 1 + boundSlack
	for i := finiteBounds(bounds) - 1; i >= 0; i-- {
		if bounds[i] <= x {
			return i
		}
	}
	return -1
}

// Analyze polls the source every Interval and returns as soon as the test
// decides; inline analysis returns Inconclusive after MaxDuration. When ctx
// ends first it returns an Inconclusive verdict and the context's cause,
// except for the last word of background analysis (see
// [SequentialLatency]). It implements [strategy.Analyzer].
func (s *SequentialLatency) Analyze(ctx context.Context, in strategy.Input) (strategy.Verdict, error) {
	if err := s.Validate(); err != nil {
		return strategy.Verdict{}, err
	}
	test, err := s.NewTest()
	if err != nil {
		return strategy.Verdict{}, err
	}
	l := &latencyLoop{s: s, test: test, d: test.decision()}
	return poll(ctx, in, pollSettings{
		what:            "latencies",
		interval:        orDefault(s.Interval, defaultInterval),
		maxDuration:     orDefault(s.MaxDuration, defaultMaxDuration),
		errorLimit:      orDefault(s.ErrorLimit, defaultErrorLimit),
		lenientLastWord: s.LenientLastWord,
	}, l)
}

// latencyLoop is a SequentialLatency's side of the polling loop.
type latencyLoop struct {
	s            *SequentialLatency
	test         *LatencyTest
	d            LatencyDecision
	prevB, prevC Histogram
	havePrev     bool
	notes        dataNotes
	canaryRev    strategy.Revision
	stableRev    strategy.Revision
	history      int // intervals of the baseline's history read
}

func (l *latencyLoop) step(ctx context.Context, in strategy.Input) error {
	l.canaryRev, l.stableRev = in.Canary, in.Stable
	b, c, err := l.s.Source.Latencies(ctx, in)
	if err != nil {
		return err
	}
	for _, x := range []struct {
		role string
		h    Histogram
	}{{"baseline", b}, {"canary", c}} {
		if err := x.h.check(); err != nil {
			return l.notes.bad(fmt.Sprintf("%s histogram: %v", x.role, err))
		}
	}
	if !l.havePrev {
		l.readHistory(ctx, in, b)
		// The baseline's history up to the first reading sets the first
		// threshold; the canary's is not compared.
		d, err := l.test.Observe(b, NewHistogram(c.Bounds...))
		if err != nil {
			return l.notes.bad(err.Error())
		}
		l.d = d
		l.prevB, l.prevC, l.havePrev = b, c, true
		return nil
	}
	db, okB, resetB := b.increase(l.prevB)
	dc, okC, resetC := c.increase(l.prevC)
	l.prevB, l.prevC = b, c
	if resetB {
		l.notes.reset("baseline")
	}
	if resetC {
		l.notes.reset("canary")
	}
	if !okB || !okC {
		// The buckets changed: start afresh from the new reading.
		return nil
	}
	d, err := l.test.Observe(db, dc)
	if err != nil {
		return l.notes.bad(err.Error())
	}
	l.d = d
	return nil
}

// readHistory reads the baseline's histograms in the intervals before
// now, when the source can, and gives them to the test: up to History
// intervals, back to the first one the source cannot read. A history
// shorter than minHistory intervals (or History, if less) leaves the test
// without one.
func (l *latencyLoop) readHistory(ctx context.Context, in strategy.Input, now Histogram) {
	h, ok := l.s.Source.(LatencyHistory)
	n := orDefault(l.s.History, defaultHistory)
	if !ok || n < 0 {
		return
	}
	interval := orDefault(l.s.Interval, defaultInterval)
	t := vclock.Now(ctx)
	// Newest first; a reading the source does not have (older than its
	// retention, a gap) ends the history there.
	readings := []Histogram{now}
	for k := 1; k <= n; k++ {
		b, _, err := h.LatenciesAt(ctx, in, t.Add(-time.Duration(k)*interval))
		if err != nil || b.check() != nil {
			break
		}
		readings = append(readings, b)
	}
	if len(readings)-1 < min(minHistory, n) {
		return // too short to trust: the test starts as without one
	}
	var hist []Histogram
	for i := len(readings) - 1; i > 0; i-- {
		d, ok, _ := readings[i-1].increase(readings[i])
		if !ok {
			return
		}
		hist = append(hist, d)
	}
	if l.test.SetHistory(hist) == nil {
		l.history = len(hist)
	}
}

func (l *latencyLoop) outcome() strategy.Outcome { return l.d.Outcome }
func (l *latencyLoop) passesNow() bool           { return l.test.passesNow() }
func (l *latencyLoop) served() bool              { return l.d.Canary > 0 }
func (l *latencyLoop) summary() string           { return l.d.String() + l.notes.String() }

func (l *latencyLoop) reason(o strategy.Outcome) string {
	if o == strategy.Fail {
		return fmt.Sprintf("latency above %.3gx the baseline's: %s", l.test.tol, l.summary())
	}
	return fmt.Sprintf("a latency %.3gx the baseline's or worse is ruled out: %s", l.test.reg, l.summary())
}

func (l *latencyLoop) verdict(now time.Time, o strategy.Outcome, reason string) strategy.Verdict {
	s, d := l.s, l.d
	alpha, beta := orDefault(s.Alpha, defaultAlpha), orDefault(s.Beta, defaultBeta)
	ev := evidence(now, d.FailEvidence, d.PassEvidence, alpha, beta, d.Outcome)
	ev[0].Values = map[string]float64{"e_fail": d.FailEvidence, "dispersion": d.Dispersion, "history_intervals": float64(l.history)}
	ev[1].Values = map[string]float64{"e_pass": d.PassEvidence}
	return strategy.Verdict{
		Analyzer: s.Name(), Outcome: o, Reason: reason, At: now,
		Measurements: append([]strategy.Measurement{
			{Name: "threshold", At: now, Value: fmt.Sprintf("%.4g", d.Threshold), Values: map[string]float64{"threshold": d.Threshold}},
			{Name: "canary above", At: now, Value: fmt.Sprintf("%.4g of %g", d.CanaryAbove, d.Canary), Revision: l.canaryRev,
				Values: map[string]float64{"share_above": d.CanaryAbove, "requests": d.Canary}},
			{Name: "baseline above", At: now, Value: fmt.Sprintf("%.4g of %g", d.BaselineAbove, d.Baseline), Revision: l.stableRev,
				Values: map[string]float64{"share_above": d.BaselineAbove, "requests": d.Baseline}},
		}, ev...),
	}
}
