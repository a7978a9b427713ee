package judge

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/glidepath/glidepath/strategy"
)

// Direction says which change of a metric counts against the canary.
type Direction int

const (
	// Either fails the metric when the canary is significantly higher or
	// lower than the baseline (Kayenta's default, "either").
	Either Direction = iota
	// Increase fails the metric only when the canary is higher (errors,
	// latency, memory).
	Increase
	// Decrease fails the metric only when the canary is lower (successes,
	// throughput).
	Decrease
)

// String returns Kayenta's name of the direction.
func (d Direction) String() string {
	switch d {
	case Either:
		return "either"
	case Increase:
		return "increase"
	case Decrease:
		return "decrease"
	}
	return fmt.Sprintf("Direction(%d)", int(d))
}

// NaNStrategy says what to do with NaN observations (intervals in which
// the metric had no value), as Kayenta's nanStrategy.
type NaNStrategy int

const (
	// RemoveNaN drops NaN observations: for metrics that should always
	// have data (usage, latency).
	RemoveNaN NaNStrategy = iota
	// ReplaceNaN replaces NaN observations with zero: for counts that
	// report nothing when nothing happened (errors).
	ReplaceNaN
)

// Classification is how one metric was judged, with Kayenta's labels.
type Classification string

// The classifications of a metric.
const (
	// MetricPass: the canary is not significantly worse than the baseline.
	MetricPass Classification = "Pass"
	// MetricHigh: the canary is significantly higher than the baseline.
	MetricHigh Classification = "High"
	// MetricLow: the canary is significantly lower than the baseline.
	MetricLow Classification = "Low"
	// MetricNoData: a revision had no observations. The metric does not
	// count towards its group's score, but NoData on half or more of the
	// metrics, or on a critical metric, fails the judgement.
	MetricNoData Classification = "NoData"
	// MetricNoDataFail: a revision had no observations and the metric
	// must have data; it counts as a failure.
	MetricNoDataFail Classification = "NoDataFail"
	// MetricError: the observations could not be read or tested; the
	// metric does not count towards the score, and the judgement cannot
	// pass.
	MetricError Classification = "Error"
)

// Metric configures how one metric is compared. The zero value (apart
// from Name) is Kayenta's default: direction either, NaNs removed, no
// effect-size allowance, not critical, data not required.
type Metric struct {
	// Name identifies the metric; it is passed to the SampleSource.
	Name string
	// Groups lists the groups the metric belongs to; the score is the
	// weighted mean of the group scores. Empty puts the metric in a
	// group of its own, named after it.
	Groups []string
	// Direction is the change that fails the metric.
	Direction Direction
	// NaN is how NaN observations are handled.
	NaN NaNStrategy
	// AllowedIncrease is the ratio of means (canary / baseline) the canary
	// must reach, besides a significant shift, to be classified High;
	// 1.1 tolerates a 10% increase. Zero means 1.
	AllowedIncrease float64
	// AllowedDecrease is the ratio of means the canary must fall to, besides
	// a significant shift, to be classified Low; 0.9 tolerates a 10%
	// decrease. Zero means 1.
	AllowedDecrease float64
	// Critical fails the whole judgement (score 0) when this metric is
	// High beyond CriticalIncrease, Low beyond CriticalDecrease, or has no
	// data.
	Critical bool
	// CriticalIncrease and CriticalDecrease are the ratios of means at
	// which a High or Low critical metric fails the judgement. Zero
	// means 1: any failure of a critical metric is critical.
	CriticalIncrease, CriticalDecrease float64
	// MustHaveData classifies a metric without observations as
	// NoDataFail rather than NoData: it counts as a failure in its group's
	// score. (A Critical metric without data fails the judgement anyway.)
	MustHaveData bool
}

func (m Metric) groups() []string {
	if len(m.Groups) == 0 {
		return []string{m.Name}
	}
	return m.Groups
}

func orOne(v float64) float64 {
	if v == 0 {
		return 1
	}
	return v
}

// Comparison is Kayenta-style automated canary analysis: each metric's
// canary observations are compared with the baseline's by a Mann–Whitney
// test, classified Pass, High, Low, NoData or Error, and the
// classifications are combined into a group-weighted score from 0 to 100
// that maps to Pass, Inconclusive (marginal) or Fail.
//
// The zero value of every field but Source and Metrics is a documented
// default. Comparison is an [strategy.Analyzer]; it is safe for concurrent
// use once configured.
type Comparison struct {
	// Label names the analyzer in verdicts; empty means "comparison".
	Label string
	// Source supplies the observations of each metric.
	Source SampleSource
	// Metrics are the metrics to compare; at least one.
	Metrics []Metric
	// GroupWeights weights the groups' scores (percentages). Groups left
	// out share what remains of 100 equally; with no weights every group
	// weighs the same. Weights must not exceed 100 in total.
	GroupWeights map[string]float64
	// PassScore is the lowest score that passes; zero means 95.
	PassScore float64
	// MarginalScore is the lowest score that does not fail; a score in
	// [MarginalScore, PassScore) is Inconclusive. Zero means 75.
	MarginalScore float64
	// ConfidenceLevel of the shift's confidence interval; zero means 0.98
	// (the level of Kayenta's NetflixACAJudge).
	ConfidenceLevel float64
	// Tolerance is the fraction of the estimated shift that the
	// confidence interval must clear to classify a metric High or Low;
	// zero means 0.25 (Kayenta's). Tiny positive values test significance
	// alone.
	Tolerance float64
	// OutlierFactor, when positive, drops observations more than
	// OutlierFactor interquartile ranges outside the quartiles before
	// testing (Kayenta uses 3). Zero keeps every observation.
	OutlierFactor float64
	// Interval and Count repeat the judgement: Count judgements, one
	// every Interval, the first after one Interval. A judgement that fails
	// ends the analysis at once; otherwise the last one decides. Zero
	// Count means 1; zero Interval judges at once (Count must then be 1).
	Interval time.Duration
	Count    int
}

const (
	defaultPassScore     = 95
	defaultMarginalScore = 75
	defaultConfLevel     = 0.98
	defaultTolerance     = 0.25
)

// Name returns Label, or "comparison".
func (c *Comparison) Name() string {
	if c.Label == "" {
		return "comparison"
	}
	return c.Label
}

func (c *Comparison) passScore() float64 {
	if c.PassScore == 0 {
		return defaultPassScore
	}
	return c.PassScore
}

func (c *Comparison) marginalScore() float64 {
	if c.MarginalScore == 0 {
		return defaultMarginalScore
	}
	return c.MarginalScore
}

func (c *Comparison) confLevel() float64 {
	if c.ConfidenceLevel == 0 {
		return defaultConfLevel
	}
	return c.ConfidenceLevel
}

func (c *Comparison) tolerance() float64 {
	if c.Tolerance == 0 {
		return defaultTolerance
	}
	return c.Tolerance
}

// Validate reports every problem with the configuration at once, as an
// error matching [strategy.ErrInvalidConfig].
func (c *Comparison) Validate() error {
	var p []string
	if c.Source == nil {
		p = append(p, "no sample source")
	}
	p = append(p, sourceProblems(c.Source)...)
	if len(c.Metrics) == 0 {
		p = append(p, "no metrics")
	}
	seen := map[string]bool{}
	groups := map[string]bool{}
	for i, m := range c.Metrics {
		where := fmt.Sprintf("metric %d (%s)", i, m.Name)
		if m.Name == "" {
			p = append(p, fmt.Sprintf("metric %d has no name", i))
		} else if seen[m.Name] {
			p = append(p, where+": duplicate name")
		}
		seen[m.Name] = true
		if m.Direction < Either || m.Direction > Decrease {
			p = append(p, fmt.Sprintf("%s: unknown direction %d", where, m.Direction))
		}
		if m.NaN < RemoveNaN || m.NaN > ReplaceNaN {
			p = append(p, fmt.Sprintf("%s: unknown NaN strategy %d", where, m.NaN))
		}
		if m.AllowedIncrease != 0 && !(m.AllowedIncrease >= 1) {
			p = append(p, fmt.Sprintf("%s: allowed increase %v is below 1", where, m.AllowedIncrease))
		}
		if m.AllowedDecrease != 0 && !(m.AllowedDecrease > 0 && m.AllowedDecrease <= 1) {
			p = append(p, fmt.Sprintf("%s: allowed decrease %v is outside (0, 1]", where, m.AllowedDecrease))
		}
		if m.CriticalIncrease != 0 && !(m.CriticalIncrease >= 1) {
			p = append(p, fmt.Sprintf("%s: critical increase %v is below 1", where, m.CriticalIncrease))
		}
		if m.CriticalDecrease != 0 && !(m.CriticalDecrease > 0 && m.CriticalDecrease <= 1) {
			p = append(p, fmt.Sprintf("%s: critical decrease %v is outside (0, 1]", where, m.CriticalDecrease))
		}
		for _, g := range m.groups() {
			if g == "" {
				p = append(p, where+": empty group name")
			}
			groups[g] = true
		}
	}
	var total float64
	names := make([]string, 0, len(c.GroupWeights))
	for g := range c.GroupWeights {
		names = append(names, g)
	}
	sort.Strings(names)
	for _, g := range names {
		w := c.GroupWeights[g]
		if !(w >= 0 && w <= 100) {
			p = append(p, fmt.Sprintf("group %q: weight %v is outside 0..100", g, w))
		}
		if !groups[g] {
			p = append(p, fmt.Sprintf("group %q has a weight but no metric", g))
		}
		total += w
	}
	if total > 100+1e-9 {
		p = append(p, fmt.Sprintf("group weights add up to %v, more than 100", total))
	}
	if len(c.GroupWeights) > 0 && len(c.GroupWeights) == len(groups) && math.Abs(total-100) > 1e-9 && total <= 100 {
		p = append(p, fmt.Sprintf("every group has a weight but they add up to %v, not 100", total))
	}
	pass, marg := c.passScore(), c.marginalScore()
	if !(pass >= 0 && pass <= 100) {
		p = append(p, fmt.Sprintf("pass score %v is outside 0..100", c.PassScore))
	}
	if !(marg >= 0 && marg <= 100) {
		p = append(p, fmt.Sprintf("marginal score %v is outside 0..100", c.MarginalScore))
	}
	if marg > pass {
		p = append(p, fmt.Sprintf("marginal score %v is above pass score %v", marg, pass))
	}
	if cl := c.confLevel(); !(cl > 0 && cl < 1) {
		p = append(p, fmt.Sprintf("confidence level %v is outside (0, 1)", c.ConfidenceLevel))
	}
	if !(c.Tolerance >= 0) {
		p = append(p, fmt.Sprintf("tolerance %v is negative", c.Tolerance))
	}
	if !(c.OutlierFactor >= 0) {
		p = append(p, fmt.Sprintf("outlier factor %v is negative", c.OutlierFactor))
	}
	if c.Interval < 0 {
		p = append(p, fmt.Sprintf("negative interval %v", c.Interval))
	}
	if c.Count < 0 {
		p = append(p, fmt.Sprintf("negative count %d", c.Count))
	}
	if c.Count > 1 && c.Interval == 0 {
		p = append(p, fmt.Sprintf("count %d needs an interval", c.Count))
	}
	return strategy.Invalid("comparison judge "+c.Name(), p...)
}

// MetricResult is the judgement of one metric.
type MetricResult struct {
	// Name and Groups are the metric's.
	Name   string
	Groups []string
	// Class is the classification.
	Class Classification
	// CriticalFailure is true when this metric fails the whole judgement.
	CriticalFailure bool
	// Reason explains the classification.
	Reason string
	// Test is the rank-sum test of canary against baseline (zero when no
	// test was run).
	Test RankSumResult
	// Ratio is mean(canary) / mean(baseline), Kayenta's effect size (1
	// when both means are zero, ±Inf when only the baseline's is; NaN
	// without data).
	Ratio float64
	// NBaseline and NCanary count the observations tested, after NaN and
	// outlier handling.
	NBaseline, NCanary int
	// Err is the error behind an Error classification.
	Err error
}

// Classify judges one metric from its observations with c's settings.
// It never fails: problems are reported as MetricError.
func (c *Comparison) Classify(m Metric, baseline, canary []float64) MetricResult {
	r := MetricResult{Name: m.Name, Groups: m.groups(), Ratio: math.NaN()}
	base := c.prepare(baseline, m.NaN)
	can := c.prepare(canary, m.NaN)
	r.NBaseline, r.NCanary = len(base), len(can)
	if len(base) == 0 || len(can) == 0 {
		which := "canary"
		if len(base) == 0 {
			which = "baseline"
		}
		r.Class, r.Reason = MetricNoData, "no "+which+" data"
		switch {
		case m.Critical:
			// As in Kayenta, a critical metric without data fails the
			// judgement, whether or not it must have data.
			r.CriticalFailure = true
			r.Reason += " for a critical metric"
		case m.MustHaveData:
			r.Class = MetricNoDataFail
		}
		return r
	}
	for _, v := range slices.Concat(base, can) {
		if math.IsInf(v, 0) {
			r.Class, r.Err = MetricError, errors.New("infinite observation")
			r.Reason = r.Err.Error()
			return r
		}
	}
	r.Ratio = meanRatio(base, can)
	sb, sc := slices.Sorted(slices.Values(base)), slices.Sorted(slices.Values(can))
	if slices.Equal(sb, sc) {
		r.Class, r.Reason = MetricPass, "canary and baseline observations are identical"
		return r
	}
	if sb[0] == sb[len(sb)-1] && sc[0] == sc[len(sc)-1] && sb[0] == sc[0] {
		r.Class, r.Reason = MetricPass, "every observation has the same value"
		return r
	}
	test, err := RankSum(can, base, TwoSided, c.confLevel())
	if err != nil {
		r.Class, r.Err, r.Reason = MetricError, err, err.Error()
		return r
	}
	r.Test = test
	crit := c.tolerance() * math.Abs(test.Estimate)
	switch {
	case m.Direction != Decrease && test.Lower > crit && r.Ratio >= orOne(m.AllowedIncrease):
		r.Class = MetricHigh
		r.CriticalFailure = m.Critical && r.Ratio >= orOne(m.CriticalIncrease)
	case m.Direction != Increase && test.Upper < -crit && r.Ratio <= orOne(m.AllowedDecrease):
		r.Class = MetricLow
		r.CriticalFailure = m.Critical && r.Ratio <= orOne(m.CriticalDecrease)
	default:
		r.Class = MetricPass
	}
	r.Reason = fmt.Sprintf("%s: shift %.4g in [%.4g, %.4g] (%g%% CI), mean ratio %.3g, W=%g p=%.4g", r.Class,
		test.Estimate, test.Lower, test.Upper, 100*test.ConfLevel, r.Ratio, test.W, test.PValue)
	return r
}

// prepare applies the NaN strategy and the outlier filter.
func (c *Comparison) prepare(v []float64, nan NaNStrategy) []float64 {
	out := make([]float64, 0, len(v))
	for _, x := range v {
		if math.IsNaN(x) {
			if nan == ReplaceNaN {
				out = append(out, 0)
			}
			continue
		}
		out = append(out, x)
	}
	if c.OutlierFactor > 0 && len(out) >= 4 {
		out = removeOutliers(out, c.OutlierFactor)
	}
	return out
}

// meanRatio is Kayenta's effect size, mean(canary) / mean(baseline). When
// the baseline's mean is zero Kayenta reports 1, which would let an
// allowance such as AllowedIncrease 1.2 pass a canary that fails where the
// baseline never did; here the ratio is then +Inf (or -Inf) unless the
// canary's mean is zero too.
func meanRatio(base, can []float64) float64 {
	mb, mc := mean(base), mean(can)
	switch {
	case mb != 0:
		return mc / mb
	case mc == 0:
		return 1
	}
	return math.Inf(int(math.Copysign(1, mc)))
}

// removeOutliers drops values outside Kayenta's reduced-sensitivity fences:
// below min(P1, Q1 - factor·IQR) or above max(P99, Q3 + factor·IQR), with
// percentiles by linear interpolation (R's default, type 7). With a zero
// IQR nothing is dropped, so a series that is mostly one value keeps its
// rare departures (a count of errors that is usually zero keeps its
// errors).
func removeOutliers(v []float64, factor float64) []float64 {
	s := slices.Sorted(slices.Values(v))
	q1, q3 := quantile(s, 0.25), quantile(s, 0.75)
	iqr := q3 - q1
	if iqr == 0 {
		return v
	}
	lo := math.Min(quantile(s, 0.01), q1-factor*iqr)
	hi := math.Max(quantile(s, 0.99), q3+factor*iqr)
	out := v[:0:0]
	for _, x := range v {
		if x >= lo && x <= hi {
			out = append(out, x)
		}
	}
	return out
}

// quantile of sorted s with linear interpolation (R's type 7).
func quantile(s []float64, p float64) float64 {
	h := float64(len(s)-1) * p
	i := int(math.Floor(h))
	if i+1 >= len(s) {
		return s[len(s)-1]
	}
	return s[i] + (h-float64(i))*(s[i+1]-s[i])
}

func mean(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// Report is the result of one judgement.
type Report struct {
	// Outcome is Pass, Inconclusive (marginal) or Fail.
	Outcome strategy.Outcome
	// Score is the group-weighted score, 0..100.
	Score float64
	// Reason explains the outcome.
	Reason string
	// GroupScores are the scores of the groups that had data.
	GroupScores map[string]float64
	// Metrics are the metric judgements in configuration order.
	Metrics []MetricResult
}

// Score combines metric results into Kayenta's group-weighted score. A
// group's score is the percentage of its metrics classified Pass among
// those classified Pass, High, Low or NoDataFail; a group without such
// metrics (only NoData or Error) has no score of its own and counts as
// 100, as in Kayenta, so missing data neither helps nor hurts the others.
// The summary is the sum of group scores times their weights over 100,
// rounded to two decimals; groups without a weight share what remains of
// 100 equally. The returned map holds the scores of the groups that had
// one.
//
// Score does not apply the rules that override the summary (critical
// failures, too many metrics without data); [Comparison.Judge] does.
func Score(results []MetricResult, weights map[string]float64) (score float64, groups map[string]float64) {
	type tally struct{ pass, total int }
	t := map[string]*tally{}
	var order []string
	for _, r := range results {
		for _, g := range r.Groups {
			if t[g] == nil {
				t[g] = &tally{}
				order = append(order, g)
			}
			switch r.Class {
			case MetricPass:
				t[g].pass++
				t[g].total++
			case MetricHigh, MetricLow, MetricNoDataFail:
				t[g].total++
			}
		}
	}
	var weighted float64
	unweighted := 0
	for _, w := range weights {
		weighted += w
	}
	for _, g := range order {
		if _, ok := weights[g]; !ok {
			unweighted++
		}
	}
	share := 0.0
	if unweighted > 0 {
		share = (100 - weighted) / float64(unweighted)
	}
	groups = map[string]float64{}
	for _, g := range order {
		gs := 100.0
		if t[g].total > 0 {
			gs = 100 * float64(t[g].pass) / float64(t[g].total)
			groups[g] = gs
		}
		w, ok := weights[g]
		if !ok {
			w = share
		}
		score += gs * w / 100
	}
	return math.Round(score*100) / 100, groups
}

// noDataShare is Kayenta's limit on metrics without data: when at least
// half of the metrics are NoData the judgement fails with score 0.
const noDataShare = 0.5

// Judge runs one judgement: it reads every metric from the source,
// classifies it and scores the canary. It returns an error only when the
// configuration is invalid, ctx is done, or no metric could be read.
func (c *Comparison) Judge(ctx context.Context, in strategy.Input) (Report, error) {
	if err := c.Validate(); err != nil {
		return Report{}, err
	}
	return c.judge(ctx, in)
}

func (c *Comparison) judge(ctx context.Context, in strategy.Input) (Report, error) {
	rep := Report{Metrics: make([]MetricResult, 0, len(c.Metrics))}
	errs := 0
	var firstErr error
	for _, m := range c.Metrics {
		if err := ctx.Err(); err != nil {
			return Report{}, context.Cause(ctx)
		}
		base, can, err := c.Source.Samples(ctx, in, m.Name)
		var r MetricResult
		if err != nil {
			r = MetricResult{Name: m.Name, Groups: m.groups(), Class: MetricError, Err: err, Reason: "source: " + err.Error(), Ratio: math.NaN()}
		} else {
			r = c.Classify(m, base, can)
		}
		if r.Class == MetricError {
			errs++
			if firstErr == nil {
				firstErr = fmt.Errorf("metric %s: %w", m.Name, r.Err)
			}
		}
		rep.Metrics = append(rep.Metrics, r)
	}
	if errs == len(c.Metrics) {
		return rep, fmt.Errorf("judge: no metric could be judged: %w", firstErr)
	}
	rep.Score, rep.GroupScores = Score(rep.Metrics, c.GroupWeights)
	var failed, critical, noData []string
	scored := false
	for _, r := range rep.Metrics {
		switch r.Class {
		case MetricHigh, MetricLow, MetricNoDataFail:
			failed = append(failed, r.Name+" "+string(r.Class))
			scored = true
		case MetricPass:
			scored = true
		case MetricNoData:
			noData = append(noData, r.Name)
		}
		if r.CriticalFailure {
			critical = append(critical, r.Name+" "+string(r.Class))
		}
	}
	pass, marg := c.passScore(), c.marginalScore()
	switch {
	case len(critical) > 0:
		rep.Score = 0
		rep.Outcome = strategy.Fail
		rep.Reason = "critical metric failed: " + strings.Join(critical, ", ")
	case float64(len(noData)) >= noDataShare*float64(len(rep.Metrics)):
		rep.Score = 0
		rep.Outcome = strategy.Fail
		rep.Reason = fmt.Sprintf("%d of %d metrics had no data (50%% or more): %s", len(noData), len(rep.Metrics), strings.Join(noData, ", "))
	case !scored:
		rep.Outcome = strategy.Inconclusive
		rep.Reason = "no metric had data to compare"
	case rep.Score < marg:
		rep.Outcome = strategy.Fail
		rep.Reason = fmt.Sprintf("score %.1f below marginal %g", rep.Score, marg)
	case rep.Score < pass:
		rep.Outcome = strategy.Inconclusive
		rep.Reason = fmt.Sprintf("marginal score %.1f (pass %g)", rep.Score, pass)
	default:
		rep.Outcome = strategy.Pass
		rep.Reason = fmt.Sprintf("score %.1f", rep.Score)
	}
	if len(failed) > 0 && len(critical) == 0 {
		rep.Reason += ": " + strings.Join(failed, ", ")
	}
	if errs > 0 && rep.Outcome == strategy.Pass {
		rep.Outcome = strategy.Inconclusive
		rep.Reason += fmt.Sprintf("; but %d metric(s) could not be judged: %v", errs, firstErr)
	}
	return rep, nil
}

// Verdict turns a report into a verdict whose measurements carry each
// metric's classification, test statistic, p-value and effect.
func (rep Report) Verdict(analyzer string, at time.Time) strategy.Verdict {
	v := strategy.Verdict{Analyzer: analyzer, Outcome: rep.Outcome, Reason: rep.Reason, At: at}
	v.Measurements = append(v.Measurements, strategy.Measurement{
		Name: "score", At: at, Value: fmt.Sprintf("%.1f", rep.Score), Outcome: rep.Outcome,
	})
	for _, r := range rep.Metrics {
		m := strategy.Measurement{Name: r.Name, At: at, Value: r.Reason, Condition: "class=" + string(r.Class)}
		switch {
		case r.CriticalFailure:
			m.Outcome = strategy.Fail
			m.Condition += " (critical)"
		case r.Class == MetricPass, r.Class == MetricNoData:
			m.Outcome = strategy.Pass
		case r.Class == MetricError:
			m.Outcome = strategy.Inconclusive
			if r.Err != nil {
				m.Error = r.Err.Error()
			}
		default:
			m.Outcome = strategy.Fail
		}
		v.Measurements = append(v.Measurements, m)
	}
	return v
}

// Analyze runs Count judgements, Interval apart, and returns the verdict
// of the first that fails or else of the last. It implements
// [strategy.Analyzer].
//
// When ctx ends first it returns the last verdict and the context's cause,
// except at the end of a release for background analysis (ctx cancelled
// with [strategy.ErrPlanComplete]): then the last judgement is its last
// word, and a release that ended before the first judgement gets an
// Inconclusive verdict, so it is not promoted on no data.
func (c *Comparison) Analyze(ctx context.Context, in strategy.Input) (strategy.Verdict, error) {
	if err := c.Validate(); err != nil {
		return strategy.Verdict{}, err
	}
	n := max(c.Count, 1)
	var last strategy.Verdict
	judged := false
	stopped := func() (strategy.Verdict, error) {
		if in.Background && errors.Is(context.Cause(ctx), strategy.ErrPlanComplete) {
			if judged {
				return last, nil
			}
			return strategy.Verdict{Analyzer: c.Name(), Outcome: strategy.Inconclusive, At: time.Now(),
				Reason: "the release ended before the first judgement"}, nil
		}
		return last, context.Cause(ctx)
	}
	for i := range n {
		if c.Interval > 0 {
			t := time.NewTimer(c.Interval)
			select {
			case <-ctx.Done():
				t.Stop()
				return stopped()
			case <-t.C:
			}
		}
		rep, err := c.judge(ctx, in)
		if err != nil {
			if ctx.Err() != nil {
				return stopped()
			}
			return strategy.Verdict{}, err
		}
		judged = true
		last = rep.Verdict(c.Name(), time.Now())
		if n > 1 {
			last.Reason = fmt.Sprintf("judgement %d of %d: %s", i+1, n, last.Reason)
		}
		if rep.Outcome == strategy.Fail {
			break
		}
	}
	return last, nil
}
