package judge

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

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
// [strategy.ErrPlanComplete]) it has a last word, Pass when the canary
// served requests and no regression was found, Inconclusive when it never
// served a request or the histograms could never be read.
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
	// ErrorLimit is how many consecutive errors from the source are
	// tolerated before the analysis returns an error. Zero means 4.
	ErrorLimit int
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

// log of the mixture (the e-value); 0 before any update.
func (h *hoeffding) log() float64 {
	if h.lambda == nil {
		return 0
	}
	hi := math.Inf(-1)
	for k := range h.logE {
		hi = math.Max(hi, h.logE[k]+h.logWeight[k])
	}
	var s float64
	for k := range h.logE {
		s += math.Exp(h.logE[k] + h.logWeight[k] - hi)
	}
	return hi + math.Log(s)
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
	nB, nC         float64 // observations weighed
	aboveB, aboveC float64 // of which above the thresholds of the fail test
	failed, passed bool
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
}

// Decided reports whether the test has reached Pass or Fail.
func (d LatencyDecision) Decided() bool { return d.Outcome != "" }

// String summarises the decision.
func (d LatencyDecision) String() string {
	s := fmt.Sprintf("above the threshold %.4g: canary %.3g of %g, baseline %.3g of %g; evidence of regression %.3g, of no regression %.3g",
		d.Threshold, d.CanaryAbove, d.Canary, d.BaselineAbove, d.Baseline, d.FailEvidence, d.PassEvidence)
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
	t.nB += nB
	t.nC += nC
	t.aboveB += aB
	t.aboveC += aF
	if t.fail.log() >= t.failAt {
		t.failed = true
	} else if t.pass.log() >= t.passAt && t.nC >= t.minSamples {
		t.passed = true
	}
}

func (t *LatencyTest) decision() LatencyDecision {
	d := LatencyDecision{
		FailEvidence:  math.Exp(t.fail.log()),
		PassEvidence:  math.Exp(t.pass.log()),
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
	interval := orDefault(s.Interval, defaultInterval)
	maxDur := orDefault(s.MaxDuration, defaultMaxDuration)
	limit := orDefault(s.ErrorLimit, defaultErrorLimit)
	start := time.Now()
	var prevB, prevC Histogram
	havePrev := false
	errs := 0
	d := test.decision()
	stopped := func() (strategy.Verdict, error) {
		if in.Background && errors.Is(context.Cause(ctx), strategy.ErrPlanComplete) {
			if d.Canary > 0 {
				return s.verdict(d, strategy.Pass, "the release ended with no regression found: "+d.String()), nil
			}
			return s.verdict(d, strategy.Inconclusive, "the release ended before the canary's latency could be compared: "+d.String()), nil
		}
		return s.verdict(d, strategy.Inconclusive, "stopped before a decision: "+d.String()), context.Cause(ctx)
	}
	for {
		if havePrev || errs > 0 {
			if !in.Background && time.Since(start) >= maxDur {
				return s.verdict(d, strategy.Inconclusive, fmt.Sprintf("no decision after %v: %s", maxDur, d)), nil
			}
			if !waitInterval(ctx, interval) {
				return stopped()
			}
		}
		b, c, err := s.Source.Latencies(ctx, in)
		if err == nil {
			err = b.check()
		}
		if err == nil {
			err = c.check()
		}
		if err != nil {
			if ctx.Err() != nil {
				return stopped()
			}
			if err := readFailed(&errs, limit, "latencies", err); err != nil {
				return strategy.Verdict{}, err
			}
			continue
		}
		if !havePrev {
			// The baseline's history up to the first reading sets the
			// first threshold; the canary's is not compared.
			if d, err = test.Observe(b, NewHistogram(c.Bounds...)); err != nil {
				errs++
				if errs > limit {
					return strategy.Verdict{}, err
				}
				continue
			}
			errs = 0
			prevB, prevC, havePrev = b, c, true
			continue
		}
		errs = 0
		db, okB := b.sub(prevB)
		dc, okC := c.sub(prevC)
		prevB, prevC = b, c
		if !okB || !okC {
			// A counter went backwards (a restart reset it) or the
			// buckets changed: start afresh from the new reading.
			continue
		}
		d, err = test.Observe(db, dc)
		if err != nil {
			errs++
			if errs > limit {
				return strategy.Verdict{}, err
			}
			continue
		}
		switch {
		case d.Outcome == strategy.Fail:
			return s.verdict(d, strategy.Fail, fmt.Sprintf("latency above %.3gx the baseline's: %s", test.tol, d)), nil
		case in.Background:
			// Background analysis keeps watching: a later regression (as
			// the weight grows) still fails the release.
		case d.Outcome == strategy.Pass:
			return s.verdict(d, strategy.Pass, fmt.Sprintf("a latency %.3gx the baseline's or worse is ruled out: %s", test.reg, d)), nil
		}
	}
}

func (s *SequentialLatency) verdict(d LatencyDecision, o strategy.Outcome, reason string) strategy.Verdict {
	now := time.Now()
	alpha, beta := orDefault(s.Alpha, defaultAlpha), orDefault(s.Beta, defaultBeta)
	return strategy.Verdict{
		Analyzer: s.Name(), Outcome: o, Reason: reason, At: now,
		Measurements: append([]strategy.Measurement{
			{Name: "threshold", At: now, Value: fmt.Sprintf("%.4g", d.Threshold)},
			{Name: "canary above", At: now, Value: fmt.Sprintf("%.4g of %g", d.CanaryAbove, d.Canary)},
			{Name: "baseline above", At: now, Value: fmt.Sprintf("%.4g of %g", d.BaselineAbove, d.Baseline)},
		}, evidence(now, d.FailEvidence, d.PassEvidence, alpha, beta, d.Outcome)...),
	}
}
