package judge

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/glidepath/glidepath/internal/vclock"
	"github.com/glidepath/glidepath/strategy"
)

// Sequential is an always-valid sequential test of a canary's failure rate
// against its baseline's (errors over requests), read from cumulative
// counters every Interval. It fails the canary as soon as its failure rate
// is shown to exceed the baseline's by more than Tolerance, passes it once
// a regression of Regression times the baseline's rate or worse (or, with
// Margin, of more than Margin above the baseline's rate) has been ruled
// out, and otherwise keeps going until MaxDuration, then returns
// Inconclusive. Looking after every interval does not inflate its error
// rates: the chance that it ever fails a canary that is no worse than the
// baseline (within Tolerance) is at most Alpha, however long it runs and
// however often it looks. Failures need not be independent: the judge
// learns from the counts how much more they vary than independent
// failures would (clumps, retry storms, one bad pod) and weighs its
// evidence down accordingly. METHODS.md in this package derives the test.
//
// Counters are read as Prometheus reads them: a drop in either counter of
// a revision is a restart, after which the counters' values are the
// increase since it. Readings that cannot be right (NaN, ±Inf, negative,
// more failures than requests) count toward ErrorLimit and are named in
// the verdict.
//
// The zero value of every field but Source is a documented default.
// Sequential is a [strategy.Analyzer]; in background analysis it never
// returns Pass early: it keeps watching until it fails the canary or the
// release ends. When the release ends with every step done (its context
// cancelled with [strategy.ErrPlanComplete]) it has a last word: Pass only
// when the evidence meets the bar of an inline Pass at that moment, and
// otherwise Inconclusive (the release holds for a person) with the counts,
// rates and evidence both ways in the reason; LenientLastWord restores
// Argo Rollouts' behaviour.
type Sequential struct {
	// Label names the analyzer in verdicts; empty means "sequential".
	Label string
	// Source supplies cumulative trials and failures of both revisions.
	Source CountSource
	// Alpha bounds the probability of ever failing a canary whose failure
	// rate is at most (1+Tolerance) times the baseline's. Zero means 0.01.
	Alpha float64
	// Beta bounds the probability of ever passing a canary whose failure
	// rate is both Regression times the baseline's or more and more than
	// Margin above it. Zero means 0.05.
	Beta float64
	// Tolerance is the relative increase of the failure rate that is not a
	// regression: the canary fails once its rate is shown to exceed
	// (1+Tolerance) times the baseline's. Zero fails on any increase that
	// the data establish.
	Tolerance float64
	// Regression is the ratio of failure rates (canary / baseline) that
	// the test is tuned to detect fastest, and that must be ruled out
	// before the canary passes (unless Margin is). It must exceed
	// 1+Tolerance. Zero means 2.
	Regression float64
	// Margin is an absolute excess of the failure rate that is acceptable
	// (a fraction of requests: 0.001 is 0.1 percentage points, an error
	// budget): the canary also passes once its rate is shown to be below
	// the baseline's plus Margin. It lets a healthy service with very few
	// errors pass, where ruling out a relative regression would need
	// errors to happen. It never makes a canary fail. Zero means 0.001; a
	// negative Margin turns the absolute test off.
	Margin float64
	// MinTrials is the number of canary trials needed before a Pass.
	// Zero means none beyond what the evidence itself needs.
	MinTrials float64
	// Interval is how often the counters are read. Zero means a minute.
	Interval time.Duration
	// MaxDuration ends inline analysis with Inconclusive when neither
	// Pass nor Fail was reached. Zero means 30 minutes.
	MaxDuration time.Duration
	// ErrorLimit is how many consecutive errors from the source, or
	// readings with impossible data, are tolerated before the analysis
	// returns an error (as Argo Rollouts' consecutiveErrorLimit). Zero
	// means 4.
	ErrorLimit int
	// LenientLastWord, in background analysis, passes a release that ends
	// with the canary having served requests and no Fail reached, as Argo
	// Rollouts does, even when the evidence does not rule a regression
	// out. Off by default: such a release is Inconclusive.
	LenientLastWord bool
	// History is how many intervals of the baseline's counts before the
	// analysis starts are read, when Source can read the past (it
	// implements [CountHistory], as the Prometheus source does), to learn
	// how bursty failures are before the canary has served a request.
	// Zero means 20; negative reads none. A history the source cannot
	// read in full (retention, a gap) is used back to its first gap when
	// that leaves at least 20 intervals (or History, if fewer); a shorter
	// one is not used.
	History int
}

// CountHistory is a [CountSource] that can also read the cumulative counts
// as they were at an earlier time.
type CountHistory interface {
	CountSource
	CountsAt(ctx context.Context, in strategy.Input, at time.Time) (baseline, canary Counts, err error)
}

const defaultHistory = 20

// minHistory is the fewest intervals of a history cut short (by the
// source's retention, a gap) that the judges use: the default's 20. A few
// calm intervals of bursty failures set the dispersion too low, where the
// conservative start without a history is safe; internal/sim measured
// 1.5% false rollbacks with clumped errors and 10 intervals of history.
const minHistory = 20

const (
	defaultAlpha       = 0.01
	defaultBeta        = 0.05
	defaultRegression  = 2
	defaultMargin      = 0.001
	defaultInterval    = time.Minute
	defaultMaxDuration = 30 * time.Minute
	defaultErrorLimit  = 4
)

// Name returns Label, or "sequential".
func (s *Sequential) Name() string {
	if s.Label == "" {
		return "sequential"
	}
	return s.Label
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Validate reports every problem with the configuration at once, as an
// error matching [strategy.ErrInvalidConfig].
func (s *Sequential) Validate() error {
	var p []string
	if s.Source == nil {
		p = append(p, "no count source")
	}
	p = append(p, s.testProblems()...)
	p = append(p, pollProblems(s.Interval, s.MaxDuration, s.ErrorLimit)...)
	p = append(p, sourceProblems(s.Source)...)
	return strategy.Invalid("sequential judge "+s.Name(), p...)
}

func (s *Sequential) testProblems() []string {
	p := errorBoundProblems(s.Alpha, s.Beta, s.Tolerance, s.Regression, defaultRegression)
	if !(s.MinTrials >= 0) {
		p = append(p, fmt.Sprintf("minimum trials %v is negative", s.MinTrials))
	}
	if math.IsNaN(s.Margin) || math.IsInf(s.Margin, 0) || s.Margin >= 1 {
		p = append(p, fmt.Sprintf("margin %v is not a finite fraction below 1", s.Margin))
	}
	return p
}

// NewTest returns the sequential test configured by s's Alpha, Beta,
// Tolerance, Regression, Margin and MinTrials, for callers that feed
// counts themselves.
func (s *Sequential) NewTest() (*RateTest, error) {
	if p := s.testProblems(); len(p) > 0 {
		return nil, strategy.Invalid("sequential test", p...)
	}
	rhoF := 1 + s.Tolerance
	rhoP := orDefault(s.Regression, defaultRegression)
	t := &RateTest{
		failAt:    math.Log(1 / orDefault(s.Alpha, defaultAlpha)),
		passAt:    math.Log(1 / orDefault(s.Beta, defaultBeta)),
		minTrials: s.MinTrials,
		rhoF:      rhoF,
		rhoP:      rhoP,
		margin:    math.Max(orDefault(s.Margin, defaultMargin), 0),
	}
	t.absolute.margin = t.margin
	// Fail side: alternatives above rhoF, prior centred on the regression
	// the test is tuned for. Pass side: alternatives below rhoP, prior
	// centred on "no regression" (1+Tolerance).
	t.fail = newMixture(rhoF, +1, math.Log(rhoP/rhoF))
	t.pass = newMixture(rhoP, -1, math.Log(rhoP/rhoF))
	return t, nil
}

// Mixture grid: ratios rho0*exp(±u) for u log-spaced from log(1.05) to
// log(20), weighted by a normal prior on u.
const (
	gridPoints = 48
	gridMin    = 0.04879016416943205 // log(1.05)
	gridMax    = 2.995732273553991   // log(20)
	priorSD    = 0.75
)

// mixture is the running log likelihood ratio of each alternative ratio
// against rho0, and the log prior weights.
type mixture struct {
	rho0      float64
	logRho    []float64 // log of each alternative ratio
	rho       []float64 // each alternative ratio
	logWeight []float64
	logLR     []float64
}

func newMixture(rho0, sign, centre float64) mixture {
	m := mixture{rho0: rho0, logRho: make([]float64, gridPoints), logWeight: make([]float64, gridPoints), logLR: make([]float64, gridPoints)}
	var total float64
	w := make([]float64, gridPoints)
	for k := range gridPoints {
		u := gridMin + (gridMax-gridMin)*float64(k)/float64(gridPoints-1)
		m.logRho[k] = math.Log(rho0) + sign*u
		z := (u - centre) / priorSD
		w[k] = math.Exp(-z * z / 2)
		total += w[k]
	}
	for k := range w {
		m.logWeight[k] = math.Log(w[k] / total)
	}
	m.rho = make([]float64, gridPoints)
	for k, lr := range m.logRho {
		m.rho[k] = math.Exp(lr)
	}
	return m
}

// update adds one interval: c canary and b baseline failures among nc and
// nb trials. Conditional on the c+b failures, each is the canary's with
// probability theta(rho) = rho*nc / (rho*nc + nb).
func (m *mixture) update(c, b, nc, nb float64) {
	k0 := math.Log(m.rho0*nc + nb)
	lr0 := math.Log(m.rho0)
	for k, lr := range m.logRho {
		m.logLR[k] += c*(lr-lr0) - (c+b)*(math.Log(m.rho[k]*nc+nb)-k0)
	}
}

// logE is the log of the mixture of the likelihood ratios, each tempered
// (raised to the power 1/phi) by the dispersion phi ≥ 1: the e-value.
func (m *mixture) logE(phi float64) float64 {
	return logMix(m.logLR, m.logWeight, 1/phi)
}

// logMix is log Σ exp(scale·x[k] + w[k]).
func logMix(x, w []float64, scale float64) float64 {
	hi := math.Inf(-1)
	for k := range x {
		hi = math.Max(hi, scale*x[k]+w[k])
	}
	if math.IsInf(hi, -1) {
		return hi
	}
	var s float64
	for k := range x {
		s += math.Exp(scale*x[k] + w[k] - hi)
	}
	return hi + math.Log(s)
}

// interval is one weighed interval of a RateTest.
type interval struct{ c, b, nc, nb float64 }

// RateTest is the sequential test of [Sequential] as a plain state machine:
// feed it the trials and failures of each interval with Observe. It is not
// safe for concurrent use.
type RateTest struct {
	failAt, passAt float64 // log thresholds
	minTrials      float64
	rhoF, rhoP     float64
	margin         float64
	fail, pass     mixture
	absolute       marginTest
	prev           interval // the last interval with failures
	havePrev       bool
	pairX2, pairDF float64 // Pearson statistic of consecutive pairs (weighed by pairWeight), for the dispersion
	prior          priorDispersion
	// Without a history: the Pearson statistic of the baseline's own
	// consecutive intervals (about the pair's rate), for the dispersion.
	ownPrev      Counts
	haveOwn      bool
	ownX2, ownDF float64
	// Without a history: the Pearson statistic of consecutive pairs, each
	// weighed by how many failures it rests on (pairWeight).
	coldX2, coldDF float64
	// The baseline's cumulative counts at the first reading (what it
	// served before the release, when its counters had been running), the
	// long-run rate each of its intervals is compared with when the test
	// has no history.
	before         Counts
	longRunN       int    // intervals compared with it
	base, canary   Counts // totals observed
	failed, passed bool
}

// Decision is the state of a [RateTest] after an observation.
type Decision struct {
	// Outcome is Fail or Pass once decided, and empty before.
	Outcome strategy.Outcome
	// FailEvidence is the e-value against "canary rate ≤ (1+Tolerance) ×
	// baseline rate"; the test fails at 1/Alpha.
	FailEvidence float64
	// PassEvidence is the e-value against "canary rate ≥ Regression ×
	// baseline rate and ≥ baseline rate + Margin": the mean of the
	// relative and the absolute test's; the test passes at 1/Beta (after
	// MinTrials).
	PassEvidence float64
	// RelativeEvidence and MarginEvidence are the pass side's two
	// e-values: against "canary rate ≥ Regression × baseline rate", and
	// against "canary rate ≥ baseline rate + Margin" (0 with no margin).
	RelativeEvidence, MarginEvidence float64
	// Dispersion is how many times more the failures vary than
	// independent failures would, as learned from the data (at least 1);
	// the evidence is tempered by it.
	Dispersion float64
	// Ratio is the observed ratio of failure rates, canary / baseline
	// (NaN until the baseline has failures).
	Ratio float64
	// Baseline and Canary are the totals observed so far.
	Baseline, Canary Counts
}

// Decided reports whether the test has reached Pass or Fail.
func (d Decision) Decided() bool { return d.Outcome != "" }

// String summarises the decision.
func (d Decision) String() string {
	s := fmt.Sprintf("canary %g/%g failed (%s), baseline %g/%g (%s), ratio %.3g, dispersion %.3g, evidence of regression %.3g, of no regression %.3g",
		d.Canary.Failures, d.Canary.Trials, percent(d.Canary), d.Baseline.Failures, d.Baseline.Trials, percent(d.Baseline),
		d.Ratio, d.Dispersion, d.FailEvidence, d.PassEvidence)
	if d.Outcome != "" {
		s = string(d.Outcome) + ": " + s
	}
	return s
}

func percent(c Counts) string {
	if c.Trials == 0 {
		return "no requests"
	}
	return fmt.Sprintf("%.3g%%", 100*c.Failures/c.Trials)
}

// Observe adds the trials and failures of both revisions since the last
// call and returns the decision. A Fail is final. After a Pass the test
// keeps weighing the evidence of a regression, so a canary that degrades
// later still fails (the Alpha bound holds throughout); callers that act
// on the first Pass simply stop calling. Counts must be finite,
// non-negative, with no more failures than trials.
func (t *RateTest) Observe(baseline, canary Counts) (Decision, error) {
	for _, c := range []Counts{baseline, canary} {
		if msg := c.problem(); msg != "" {
			return t.decision(), fmt.Errorf("judge: invalid counts: %s", msg)
		}
	}
	t.base.Trials += baseline.Trials
	t.base.Failures += baseline.Failures
	t.canary.Trials += canary.Trials
	t.canary.Failures += canary.Failures
	if t.failed {
		return t.decision(), nil
	}
	// An interval in which either revision served nothing carries no
	// information about the ratio.
	if baseline.Trials > 0 && canary.Trials > 0 {
		if t.prior.df == 0 {
			t.observeOwn(baseline)
		}
		if t.margin > 0 {
			t.absolute.update(canary.Failures, baseline.Failures, canary.Trials, baseline.Trials)
		}
		if baseline.Failures+canary.Failures > 0 {
			t.fail.update(canary.Failures, baseline.Failures, canary.Trials, baseline.Trials)
			t.pass.update(canary.Failures, baseline.Failures, canary.Trials, baseline.Trials)
			iv := interval{canary.Failures, baseline.Failures, canary.Trials, baseline.Trials}
			if t.havePrev {
				x2 := pairPearson(t.prev, iv)
				w := pairWeight(t.prev.c + t.prev.b + iv.c + iv.b)
				t.pairX2 += w * x2
				t.pairDF += w
				t.coldX2 += w * x2
				t.coldDF += w
			}
			t.prev, t.havePrev = iv, true
		}
	}
	d := t.decision()
	if math.Log(d.FailEvidence) >= t.failAt {
		t.failed = true
		d.Outcome = strategy.Fail
	} else if t.passesNow(d) && !t.passed {
		t.passed = true
		d.Outcome = strategy.Pass
	}
	return d, nil
}

func (t *RateTest) passesNow(d Decision) bool {
	return math.Log(d.PassEvidence) >= t.passAt && t.canary.Trials >= t.minTrials
}

// problem describes what is wrong with counts c, if anything.
func (c Counts) problem() string {
	switch {
	case math.IsNaN(c.Trials) || math.IsNaN(c.Failures):
		return fmt.Sprintf("NaN in %g/%g", c.Failures, c.Trials)
	case math.IsInf(c.Trials, 0) || math.IsInf(c.Failures, 0):
		return fmt.Sprintf("an infinite count in %g/%g", c.Failures, c.Trials)
	case c.Trials < 0 || c.Failures < 0:
		return fmt.Sprintf("a negative count in %g/%g", c.Failures, c.Trials)
	case c.Failures > c.Trials:
		return fmt.Sprintf("more failures than trials (%g/%g)", c.Failures, c.Trials)
	}
	return ""
}

// Dispersion prior: before the data say otherwise, failures are taken to
// vary dispersionPrior times as much as independent ones, with the weight
// of dispersionWeight intervals.
const (
	dispersionPrior  = 1.5
	dispersionWeight = 1.0
	dispersionMargin = 2.0
	// rateMargin is the error-rate test's scale of the excess with a
	// history: 1 + 4/√df. With 2 (the latency test's) clumped errors
	// failed up to 0.93% of healthy canaries in internal/sim, close to
	// Alpha; with 4 at most 0.40%, for a few percent of speed (a 2x
	// regression at 10 canary requests a second detected by minute 7 in
	// 56% of releases instead of 58%).
	rateMargin = 4.0
)

// Without a history (a source that cannot read the past), the dispersion
// starts from a conservative prior, coldPrior with the weight of
// coldWeight intervals: clumps of every size up to 20 are covered before
// any data arrive (a geometric clump size of mean 10 has a variance
// inflation of 19), and only the data of the release lower it. Its excess
// over 1 is scaled up by 1 + coldMargin/√df, so that the bound shrinks
// only as intervals accumulate.
const (
	coldPrior  = 20.0
	coldWeight = 0.05
	coldMargin = 2.0
	// coldPairFailures is how many failures a pair of intervals needs to
	// count as a full degree of freedom against the conservative start.
	coldPairFailures = 20.0
)

// dispersion estimates, from the intervals weighed so far, how many times
// the variance of the canary's share of the failures exceeds the binomial
// variance that independent failures would give: the mean Pearson
// statistic of consecutive pairs of intervals under the conditional
// binomial model with the ratio fitted to the pair (one degree of freedom
// each), so that a ratio that changes slowly (a canary that degrades) is
// not mistaken for dispersion. It is shrunk towards the prior and never
// below 1. Without a history the prior is the conservative coldPrior,
// pooled with the baseline's own consecutive intervals in the release,
// and the excess is inflated by 1 + coldMargin/√df: an upper bound that
// shrinks as intervals accumulate (METHODS.md, "Without a history").
func (t *RateTest) dispersion() float64 {
	if t.prior.df == 0 {
		p := priorDispersion{coldWeight * coldPrior, coldWeight}
		phi := p.shrinkBy(t.coldX2, t.coldDF, coldMargin)
		if t.ownDF >= 1 {
			// The baseline's own estimate counts once it rests on data:
			// a baseline that never fails says nothing about clumps.
			phi = math.Max(phi, p.shrinkBy(t.ownX2, t.ownDF, coldMargin))
		}
		return phi
	}
	return t.prior.shrinkBy(t.pairX2, t.pairDF, rateMargin)
}

// pairWeight is the weight, in degrees of freedom, of a pair of intervals
// whose Pearson statistic rests on k failures, when the test has no
// history: a full degree of freedom from coldPairFailures failures on,
// proportionally less below. A pair with few failures says little about
// clumps (one clump or none decides it), so it lowers the conservative
// start less.
func pairWeight(k float64) float64 { return math.Min(1, k/coldPairFailures) }

// observeOwn adds the Pearson statistic of the baseline's consecutive
// intervals about the pair's rate (as the history's), when the test has no
// history: the baseline, which carries most of the traffic and whose rate
// the canary does not affect, tells how bursty failures are as the release
// goes on. (The canary's own intervals would count a canary that degrades
// as dispersion, and so hide it.)
func (t *RateTest) observeOwn(baseline Counts) {
	if x2, w, ok := t.longRunPearson(baseline); ok {
		t.ownX2 += w * x2
		t.ownDF += w
	}
	if t.haveOwn {
		if x2, ok := ownPearson(t.ownPrev, baseline); ok {
			w := pairWeight(t.ownPrev.Failures + baseline.Failures)
			t.ownX2 += w * x2
			t.ownDF += w
		}
	}
	t.ownPrev, t.haveOwn = baseline, true
}

// longRunPearson is the Pearson statistic of one baseline interval about
// the baseline's rate before the release (the counts at the first
// reading), with its weight, when those rest on at least longRunIntervals
// times the interval's trials and some failures: another degree of
// freedom every interval, from the first one on. The estimate of the
// rate varies too, by the ratio of the trials; the expected value is
// scaled up to match. A rate that changed since (the time of day) raises
// it, which only makes the test more careful.
func (t *RateTest) longRunPearson(baseline Counts) (x2, w float64, ok bool) {
	if t.before.Failures == 0 || t.before.Trials < longRunIntervals*baseline.Trials || baseline.Trials == 0 || t.longRunN >= longRunFirst {
		return 0, 0, false
	}
	t.longRunN++
	e := baseline.Trials * t.before.Failures / t.before.Trials
	r := baseline.Failures - e
	return r * r / (e * (1 + baseline.Trials/t.before.Trials)), pairWeight(2 * e), true
}

// longRunIntervals is how many intervals' worth of trials the baseline's
// counts before the release must hold to serve as its long-run rate.
const longRunIntervals = 5

// longRunFirst is how many of the release's first intervals are compared
// with the baseline's rate before the release: the first minutes, before
// pairs of intervals have accumulated. Later ones are not, so that a
// baseline rate that drifts during the release is not taken for clumps.
const longRunFirst = 5

// ownPearson is the Pearson statistic of one revision's two intervals
// about their pooled rate (one degree of freedom), and false when neither
// has a failure.
func ownPearson(a, b Counts) (float64, bool) {
	if a.Failures+b.Failures == 0 || a.Trials == 0 || b.Trials == 0 {
		return 0, false
	}
	rate := (a.Failures + b.Failures) / (a.Trials + b.Trials)
	ea, eb := rate*a.Trials, rate*b.Trials
	x2 := (a.Failures-ea)*(a.Failures-ea)/ea + (b.Failures-eb)*(b.Failures-eb)/eb
	if math.IsNaN(x2) || math.IsInf(x2, 0) {
		return 0, false // counts too small to weigh
	}
	return x2, true
}

// dispersionPrior is what the dispersion is taken to be before the data of
// the release say otherwise: the prior's Pearson statistic and its degrees
// of freedom, by default dispersionPrior with the weight of
// dispersionWeight intervals, or learned from the baseline's history.
type priorDispersion struct{ x2, df float64 }

// shrink combines the prior with a Pearson statistic x2 on df degrees of
// freedom: never below 1.
func (p priorDispersion) shrink(x2, df float64) float64 {
	return p.shrinkBy(x2, df, dispersionMargin)
}

// shrinkBy is shrink with the excess scaled up by 1 + c/√df when the
// estimate rests on data (the release's or the history's): a small sample
// of heavy-tailed clumps usually underestimates the dispersion (the rare
// large clump dominates it), and the guarantee needs it not to be
// underestimated. The default prior alone is not scaled.
func (p priorDispersion) shrinkBy(x2, df, c float64) float64 {
	learned := p.df > 0
	if !learned {
		p = priorDispersion{dispersionWeight * dispersionPrior, dispersionWeight}
	}
	if df == 0 && !learned {
		return dispersionPrior
	}
	df += p.df
	phi := (p.x2 + x2) / df
	return math.Max(1, 1+(phi-1)*(1+c/math.Sqrt(df)))
}

// countHistoryPrior learns the prior dispersion from one revision's counts
// in consecutive intervals before the release (the baseline's, which has
// been serving all along): the Pearson statistic of consecutive pairs
// about the pair's rate, with the default prior's weight added.
func countHistoryPrior(hist []Counts) priorDispersion {
	p := priorDispersion{dispersionWeight * dispersionPrior, dispersionWeight}
	for i := 1; i < len(hist); i++ {
		if x2, ok := ownPearson(hist[i-1], hist[i]); ok {
			p.x2 += x2
			p.df++
		}
	}
	return p
}

// SetHistory gives the test the baseline's failures and trials in
// consecutive intervals before the release (the intervals' own counts, not
// cumulative ones), from which it learns how bursty failures are before
// the canary has served a request: its prior for the dispersion. Without
// it (or with a history in which no two consecutive intervals saw a
// failure), the test weighs the evidence of a regression with a
// conservative dispersion of 20 that the release's own intervals lower, so
// it fails a canary later in the first minutes. Call it before the first
// Observe.
func (t *RateTest) SetHistory(baseline []Counts) error {
	for _, c := range baseline {
		if msg := c.problem(); msg != "" {
			return fmt.Errorf("judge: invalid history: %s", msg)
		}
	}
	p := countHistoryPrior(baseline)
	if p.df <= dispersionWeight {
		return nil // no pair with failures: nothing learned, the test stays conservative
	}
	t.prior = p
	t.absolute.prior = t.prior
	return nil
}

// pairPearson is the Pearson statistic of two intervals' canary failures
// given their totals, with the ratio of rates fitted to the pair.
func pairPearson(a, b interval) float64 {
	rho := ((a.c + b.c + 0.5) / (a.nc + b.nc)) / ((a.b + b.b + 0.5) / (a.nb + b.nb))
	var x2 float64
	for _, iv := range []interval{a, b} {
		k := iv.c + iv.b
		th := rho * iv.nc / (rho*iv.nc + iv.nb)
		r := iv.c - k*th
		x2 += r * r / (k * th * (1 - th))
	}
	return x2
}

// passDispersion is the dispersion that tempers the pass side's evidence:
// the fail side's, except without a history while neither revision has
// failed, when it is the default prior of 1.5: only failures can lower
// the conservative start, so it would keep a service that never fails
// from ever passing (by the absolute margin).
func (t *RateTest) passDispersion() float64 {
	if t.prior.df == 0 && t.base.Failures+t.canary.Failures > 0 {
		return t.dispersion()
	}
	return t.prior.shrinkBy(t.pairX2, t.pairDF, rateMargin)
}

func (t *RateTest) decision() Decision {
	phi, phiP := t.dispersion(), t.passDispersion()
	rel := math.Exp(t.pass.logE(phiP))
	abs := 0.0
	pass := rel
	if t.margin > 0 {
		abs = math.Exp(t.absolute.logE(math.Max(phiP, t.absolute.dispersion())))
		pass = (rel + abs) / 2
	}
	d := Decision{
		FailEvidence:     math.Exp(t.fail.logE(phi)),
		PassEvidence:     pass,
		RelativeEvidence: rel,
		MarginEvidence:   abs,
		Dispersion:       phi,
		Ratio:            math.NaN(),
		Baseline:         t.base,
		Canary:           t.canary,
	}
	switch {
	case t.failed:
		d.Outcome = strategy.Fail
	case t.passed:
		d.Outcome = strategy.Pass
	}
	if t.base.Failures > 0 && t.canary.Trials > 0 {
		d.Ratio = (t.canary.Failures / t.canary.Trials) / (t.base.Failures / t.base.Trials)
	}
	return d
}

// marginTest is the e-process against "canary rate ≥ baseline rate +
// margin" by universal inference: the likelihood of the intervals under
// the alternative that both revisions fail at one common rate, with a
// gamma prior on it taken from the first interval (a Bayes mixture, so the
// numerator is a product of predictive densities), over the largest
// likelihood of the same intervals under the null (Poisson counts, rates
// constant over the release).
type marginTest struct {
	margin        float64
	a, b          float64    // the gamma prior (shape, rate), from the first interval
	c, bf, nc, nb float64    // totals of the intervals after the first
	prev          [4]float64 // the last of those intervals
	havePrev      bool
	x2, df        float64 // Pearson statistic of consecutive pairs, for the dispersion
	prior         priorDispersion
}

func (m *marginTest) update(c, b, nc, nb float64) {
	if m.b == 0 {
		m.a, m.b = 0.5+c+b, nc+nb
		return
	}
	m.c, m.bf, m.nc, m.nb = m.c+c, m.bf+b, m.nc+nc, m.nb+nb
	cur := [4]float64{c, b, nc, nb}
	if m.havePrev {
		for r := range 2 {
			x, y, nx, ny := m.prev[r], cur[r], m.prev[r+2], cur[r+2]
			if x+y == 0 {
				continue
			}
			rate := (x + y) / (nx + ny)
			m.x2 += (x-rate*nx)*(x-rate*nx)/(rate*nx) + (y-rate*ny)*(y-rate*ny)/(rate*ny)
			m.df++
		}
	}
	m.prev, m.havePrev = cur, true
}

// xlogy is x·log(y), 0 when x is.
func xlogy(x, y float64) float64 {
	if x == 0 {
		return 0
	}
	return x * math.Log(y)
}

// logE is the log e-value, tempered by phi.
func (m *marginTest) logE(phi float64) float64 {
	if m.nc == 0 {
		return 0
	}
	x, n := m.c+m.bf, m.nc+m.nb
	lgA, _ := math.Lgamma(m.a)
	lgAX, _ := math.Lgamma(m.a + x)
	num := m.a*math.Log(m.b) - lgA + lgAX - (m.a+x)*math.Log(m.b+n)
	// The largest likelihood under the null: the unrestricted estimates
	// when they satisfy it, otherwise on its boundary p_C = p_B + margin,
	// where the likelihood is concave in p_B with the root below.
	pc, pb := m.c/m.nc, m.bf/m.nb
	if pc < pb+m.margin {
		q := n*m.margin - x
		pb = (-q + math.Sqrt(q*q+4*n*m.bf*m.margin)) / (2 * n)
		pc = pb + m.margin
	}
	den := xlogy(m.c, pc) - pc*m.nc + xlogy(m.bf, pb) - pb*m.nb
	if e := (num - den) / phi; !math.IsNaN(e) {
		return e
	}
	return 0
}

// dispersion is how many times more each revision's failures vary from
// interval to interval than Poisson counts at a constant rate would: the
// mean Pearson statistic of consecutive pairs of intervals of each
// revision about the pair's rate (one degree of freedom each). It is
// shrunk towards the prior and never below 1. Fast drift of the rates
// counts as dispersion.
func (m *marginTest) dispersion() float64 {
	return m.prior.shrink(m.x2, m.df)
}

// Analyze polls the source every Interval and returns as soon as the test
// decides; inline analysis returns Inconclusive after MaxDuration. When ctx
// ends first it returns an Inconclusive verdict and the context's cause,
// except for the last word of background analysis (see [Sequential]). It
// implements [strategy.Analyzer].
func (s *Sequential) Analyze(ctx context.Context, in strategy.Input) (strategy.Verdict, error) {
	if err := s.Validate(); err != nil {
		return strategy.Verdict{}, err
	}
	test, err := s.NewTest()
	if err != nil {
		return strategy.Verdict{}, err
	}
	l := &rateLoop{s: s, test: test, d: test.decision()}
	return poll(ctx, in, pollSettings{
		what:            "counts",
		interval:        orDefault(s.Interval, defaultInterval),
		maxDuration:     orDefault(s.MaxDuration, defaultMaxDuration),
		errorLimit:      orDefault(s.ErrorLimit, defaultErrorLimit),
		lenientLastWord: s.LenientLastWord,
	}, l)
}

// rateLoop is a Sequential's side of the polling loop.
type rateLoop struct {
	s            *Sequential
	test         *RateTest
	d            Decision
	prevB, prevC Counts
	havePrev     bool
	notes        dataNotes
	canaryRev    strategy.Revision
	stableRev    strategy.Revision
	history      int // intervals of the baseline's history read
}

// increase returns the counts between two cumulative readings of one
// revision, as Prometheus' increase() does: a drop in either counter is a
// restart, after which the reading is the increase since it.
func increase(prev, cur Counts) (Counts, bool) {
	if cur.Trials < prev.Trials || cur.Failures < prev.Failures {
		return cur, true
	}
	return Counts{Trials: cur.Trials - prev.Trials, Failures: cur.Failures - prev.Failures}, false
}

func (l *rateLoop) step(ctx context.Context, in strategy.Input) error {
	l.canaryRev, l.stableRev = in.Canary, in.Stable
	b, c, err := l.s.Source.Counts(ctx, in)
	if err != nil {
		return err
	}
	for _, x := range []struct {
		role string
		c    Counts
	}{{"baseline", b}, {"canary", c}} {
		if msg := x.c.problem(); msg != "" {
			return l.notes.bad(fmt.Sprintf("%s reading: %s", x.role, msg))
		}
	}
	if !l.havePrev {
		l.prevB, l.prevC, l.havePrev = b, c, true
		l.readHistory(ctx, in, b)
		l.test.before = b
		return nil
	}
	db, resetB := increase(l.prevB, b)
	dc, resetC := increase(l.prevC, c)
	l.prevB, l.prevC = b, c
	if resetB {
		l.notes.reset("baseline")
	}
	if resetC {
		l.notes.reset("canary")
	}
	for _, x := range []struct {
		role string
		c    Counts
	}{{"baseline", db}, {"canary", dc}} {
		if msg := x.c.problem(); msg != "" {
			return l.notes.bad(fmt.Sprintf("%s interval: %s", x.role, msg))
		}
	}
	d, err := l.test.Observe(db, dc)
	if err != nil {
		return l.notes.bad(err.Error())
	}
	l.d = d
	return nil
}

// readHistory reads the baseline's counts in the intervals before now,
// when the source can, and gives them to the test: up to History
// intervals, back to the first one the source cannot read. A history
// shorter than minHistory intervals (or History, if less) leaves the test
// without one.
func (l *rateLoop) readHistory(ctx context.Context, in strategy.Input, now Counts) {
	h, ok := l.s.Source.(CountHistory)
	n := orDefault(l.s.History, defaultHistory)
	if !ok || n < 0 {
		return
	}
	interval := orDefault(l.s.Interval, defaultInterval)
	t := vclock.Now(ctx)
	// Newest first; a reading the source does not have (older than its
	// retention, a gap) ends the history there.
	readings := []Counts{now}
	for k := 1; k <= n; k++ {
		b, _, err := h.CountsAt(ctx, in, t.Add(-time.Duration(k)*interval))
		if err != nil || b.problem() != "" {
			break
		}
		readings = append(readings, b)
	}
	if len(readings)-1 < min(minHistory, n) {
		return // too short to trust: the test starts as without one
	}
	var hist []Counts
	for i := len(readings) - 1; i > 0; i-- {
		d, _ := increase(readings[i], readings[i-1])
		hist = append(hist, d)
	}
	if l.test.SetHistory(hist) == nil {
		l.history = len(hist)
	}
}

func (l *rateLoop) outcome() strategy.Outcome { return l.d.Outcome }
func (l *rateLoop) passesNow() bool           { return l.test.passesNow(l.d) }
func (l *rateLoop) served() bool              { return l.d.Canary.Trials > 0 }
func (l *rateLoop) summary() string           { return l.d.String() + l.notes.String() }

func (l *rateLoop) reason(o strategy.Outcome) string {
	if o == strategy.Fail {
		return fmt.Sprintf("%s the baseline's exceeds %.3gx: %s", rateRatio(l.d.Ratio), l.test.rhoF, l.summary())
	}
	ruled := fmt.Sprintf("a failure rate %.3gx the baseline's or worse", l.test.rhoP)
	if l.test.margin > 0 {
		ruled += fmt.Sprintf(", or more than %.3g percentage points above it,", 100*l.test.margin)
	}
	return fmt.Sprintf("%s is ruled out: %s", ruled, l.summary())
}

func (l *rateLoop) verdict(now time.Time, o strategy.Outcome, reason string) strategy.Verdict {
	s, d := l.s, l.d
	alpha, beta := orDefault(s.Alpha, defaultAlpha), orDefault(s.Beta, defaultBeta)
	rate := func(c Counts) float64 {
		if c.Trials == 0 {
			return math.NaN()
		}
		return c.Failures / c.Trials
	}
	ev := evidence(now, d.FailEvidence, d.PassEvidence, alpha, beta, d.Outcome)
	ev[0].Values = map[string]float64{"e_fail": d.FailEvidence, "dispersion": d.Dispersion, "history_intervals": float64(l.history)}
	ev[1].Values = map[string]float64{"e_pass": d.PassEvidence, "e_relative": d.RelativeEvidence, "e_margin": d.MarginEvidence}
	return strategy.Verdict{
		Analyzer: s.Name(), Outcome: o, Reason: reason, At: now,
		Measurements: append([]strategy.Measurement{
			{Name: "canary", At: now, Value: fmt.Sprintf("%g/%g failed", d.Canary.Failures, d.Canary.Trials), Revision: l.canaryRev,
				Values: map[string]float64{"trials": d.Canary.Trials, "failures": d.Canary.Failures, "rate": rate(d.Canary)}},
			{Name: "baseline", At: now, Value: fmt.Sprintf("%g/%g failed", d.Baseline.Failures, d.Baseline.Trials), Revision: l.stableRev,
				Values: map[string]float64{"trials": d.Baseline.Trials, "failures": d.Baseline.Failures, "rate": rate(d.Baseline)}},
			{Name: "rate ratio", At: now, Value: fmt.Sprintf("%.4g", d.Ratio), Values: map[string]float64{"ratio": d.Ratio}},
		}, ev...),
	}
}

// rateRatio describes the canary's failure rate relative to the baseline's.
func rateRatio(r float64) string {
	if math.IsNaN(r) || math.IsInf(r, 1) {
		return "failure rate above zero where the baseline has none, so above"
	}
	return fmt.Sprintf("failure rate %.3gx", r)
}
