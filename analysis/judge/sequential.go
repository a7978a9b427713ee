package judge

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/glidepath/glidepath/strategy"
)

// Sequential is an always-valid sequential test of a canary's failure rate
// against its baseline's (errors over requests), read from cumulative
// counters every Interval. It fails the canary as soon as its failure rate
// is shown to exceed the baseline's by more than Tolerance, passes it once
// a regression of Regression times the baseline's rate or worse has been
// ruled out, and otherwise keeps going until MaxDuration, then returns
// Inconclusive. Looking after every interval does not inflate its error
// rates: the chance that it ever fails a canary that is no worse than
// the baseline (within Tolerance) is at most Alpha, however long it runs
// and however often it looks. The package documentation derives the
// test.
//
// The zero value of every field but Source is a documented default.
// Sequential is a [strategy.Analyzer]; in background analysis it never
// returns Pass early: it keeps watching until it fails the canary or the
// release ends. When the release ends with every step done (its context
// cancelled with [strategy.ErrPlanComplete]) it has a last word: Pass when
// the canary served requests and no regression was found, Inconclusive
// when it never served a request or the counters could never be read, so
// a release that saw no data is not promoted.
type Sequential struct {
	// Label names the analyzer in verdicts; empty means "sequential".
	Label string
	// Source supplies cumulative trials and failures of both revisions.
	Source CountSource
	// Alpha bounds the probability of ever failing a canary whose failure
	// rate is at most (1+Tolerance) times the baseline's. Zero means 0.01.
	Alpha float64
	// Beta bounds the probability of ever passing a canary whose failure
	// rate is Regression times the baseline's or more. Zero means 0.05.
	Beta float64
	// Tolerance is the relative increase of the failure rate that is not a
	// regression: the canary fails once its rate is shown to exceed
	// (1+Tolerance) times the baseline's. Zero fails on any increase that
	// the data establish.
	Tolerance float64
	// Regression is the ratio of failure rates (canary / baseline) that
	// the test is tuned to detect fastest, and that must be ruled out
	// before the canary passes. It must exceed 1+Tolerance. Zero means 2.
	Regression float64
	// MinTrials is the number of canary trials needed before a Pass.
	// Zero means none beyond what the evidence itself needs.
	MinTrials float64
	// Interval is how often the counters are read. Zero means a minute.
	Interval time.Duration
	// MaxDuration ends inline analysis with Inconclusive when neither
	// Pass nor Fail was reached. Zero means 30 minutes.
	MaxDuration time.Duration
	// ErrorLimit is how many consecutive errors from the source are
	// tolerated before the analysis returns an error (as Argo Rollouts'
	// consecutiveErrorLimit). Zero means 4.
	ErrorLimit int
}

const (
	defaultAlpha       = 0.01
	defaultBeta        = 0.05
	defaultRegression  = 2
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
	return p
}

// NewTest returns the sequential test configured by s's Alpha, Beta,
// Tolerance, Regression and MinTrials, for callers that feed counts
// themselves.
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
	}
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
	return m
}

// update adds one interval: c canary and b baseline failures among nc and
// nb trials. Conditional on the c+b failures, each is the canary's with
// probability theta(rho) = rho*nc / (rho*nc + nb).
func (m *mixture) update(c, b, nc, nb float64) {
	k0 := math.Log(m.rho0*nc + nb)
	lr0 := math.Log(m.rho0)
	for k, lr := range m.logRho {
		m.logLR[k] += c*(lr-lr0) - (c+b)*(math.Log(math.Exp(lr)*nc+nb)-k0)
	}
}

// logE is the log of the mixture likelihood ratio (the e-value).
func (m *mixture) logE() float64 {
	hi := math.Inf(-1)
	for k := range m.logLR {
		hi = math.Max(hi, m.logLR[k]+m.logWeight[k])
	}
	var s float64
	for k := range m.logLR {
		s += math.Exp(m.logLR[k] + m.logWeight[k] - hi)
	}
	return hi + math.Log(s)
}

// RateTest is the sequential test of [Sequential] as a plain state machine:
// feed it the trials and failures of each interval with Observe. It is not
// safe for concurrent use.
type RateTest struct {
	failAt, passAt float64 // log thresholds
	minTrials      float64
	rhoF, rhoP     float64
	fail, pass     mixture
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
	// baseline rate"; the test passes at 1/Beta (after MinTrials).
	PassEvidence float64
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
	s := fmt.Sprintf("canary %g/%g failed, baseline %g/%g, ratio %.3g, evidence of regression %.3g, of no regression %.3g",
		d.Canary.Failures, d.Canary.Trials, d.Baseline.Failures, d.Baseline.Trials, d.Ratio, d.FailEvidence, d.PassEvidence)
	if d.Outcome != "" {
		s = string(d.Outcome) + ": " + s
	}
	return s
}

// Observe adds the trials and failures of both revisions since the last
// call and returns the decision. A Fail is final. After a Pass the test
// keeps weighing the evidence of a regression, so a canary that degrades
// later still fails (the Alpha bound holds throughout); callers that act
// on the first Pass simply stop calling. Counts must be finite, non-negative,
// with no more failures than trials.
func (t *RateTest) Observe(baseline, canary Counts) (Decision, error) {
	for _, c := range []Counts{baseline, canary} {
		if !(c.Trials >= 0 && c.Failures >= 0 && c.Failures <= c.Trials) || math.IsInf(c.Trials, 0) {
			return t.decision(), fmt.Errorf("judge: invalid counts %+v (need 0 <= failures <= trials)", c)
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
	if baseline.Trials > 0 && canary.Trials > 0 && baseline.Failures+canary.Failures > 0 {
		t.fail.update(canary.Failures, baseline.Failures, canary.Trials, baseline.Trials)
		t.pass.update(canary.Failures, baseline.Failures, canary.Trials, baseline.Trials)
	}
	if t.fail.logE() >= t.failAt {
		t.failed = true
	} else if t.pass.logE() >= t.passAt && t.canary.Trials >= t.minTrials {
		t.passed = true
	}
	return t.decision(), nil
}

func (t *RateTest) decision() Decision {
	d := Decision{
		FailEvidence: math.Exp(t.fail.logE()),
		PassEvidence: math.Exp(t.pass.logE()),
		Ratio:        math.NaN(),
		Baseline:     t.base,
		Canary:       t.canary,
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
	interval := orDefault(s.Interval, defaultInterval)
	maxDur := orDefault(s.MaxDuration, defaultMaxDuration)
	limit := orDefault(s.ErrorLimit, defaultErrorLimit)
	start := time.Now()
	var prevB, prevC Counts
	havePrev := false
	errs := 0
	d := test.decision()
	stopped := func() (strategy.Verdict, error) {
		if in.Background && errors.Is(context.Cause(ctx), strategy.ErrPlanComplete) {
			if d.Canary.Trials > 0 {
				return s.verdict(d, strategy.Pass, "the release ended with no regression found: "+d.String()), nil
			}
			return s.verdict(d, strategy.Inconclusive, "the release ended before the canary served a request: "+d.String()), nil
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
		b, c, err := s.Source.Counts(ctx, in)
		if err != nil {
			if ctx.Err() != nil {
				return stopped()
			}
			if err := readFailed(&errs, limit, "counts", err); err != nil {
				return strategy.Verdict{}, err
			}
			continue
		}
		errs = 0
		if !havePrev {
			prevB, prevC, havePrev = b, c, true
			continue
		}
		db := Counts{Trials: b.Trials - prevB.Trials, Failures: b.Failures - prevB.Failures}
		dc := Counts{Trials: c.Trials - prevC.Trials, Failures: c.Failures - prevC.Failures}
		prevB, prevC = b, c
		if db.Trials < 0 || db.Failures < 0 || dc.Trials < 0 || dc.Failures < 0 {
			// A counter went backwards (a restart reset it): start
			// afresh from the new reading; the interval is lost.
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
			return s.verdict(d, strategy.Fail, fmt.Sprintf("%s the baseline's exceeds %.3gx: %s", rateRatio(d.Ratio), test.rhoF, d)), nil
		case in.Background:
			// Background analysis keeps watching: a later regression (as
			// the weight grows) still fails the release.
		case d.Outcome == strategy.Pass:
			return s.verdict(d, strategy.Pass, fmt.Sprintf("a failure rate %.3gx the baseline's or worse is ruled out: %s", test.rhoP, d)), nil
		}
	}
}

func (s *Sequential) verdict(d Decision, o strategy.Outcome, reason string) strategy.Verdict {
	now := time.Now()
	alpha, beta := orDefault(s.Alpha, defaultAlpha), orDefault(s.Beta, defaultBeta)
	return strategy.Verdict{
		Analyzer: s.Name(), Outcome: o, Reason: reason, At: now,
		Measurements: append([]strategy.Measurement{
			{Name: "canary", At: now, Value: fmt.Sprintf("%g/%g failed", d.Canary.Failures, d.Canary.Trials)},
			{Name: "baseline", At: now, Value: fmt.Sprintf("%g/%g failed", d.Baseline.Failures, d.Baseline.Trials)},
			{Name: "rate ratio", At: now, Value: fmt.Sprintf("%.4g", d.Ratio)},
		}, evidence(now, d.FailEvidence, d.PassEvidence, alpha, beta, d.Outcome)...),
	}
}

// rateRatio describes the canary's failure rate relative to the baseline's.
func rateRatio(r float64) string {
	if math.IsNaN(r) || math.IsInf(r, 1) {
		return "failure rate above zero where the baseline has none, so above"
	}
	return fmt.Sprintf("failure rate %.3gx", r)
}
