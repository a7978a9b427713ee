package prometheus

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"golang.org/x/sync/errgroup"

	"github.com/glidepath/glidepath/analysis/judge"
	"github.com/glidepath/glidepath/strategy"
)

// DefaultRevisionLabel is the label that tells revisions apart when a
// [LatencySource] or [CountSource] leaves RevisionLabel empty.
const DefaultRevisionLabel = "revision"

// Matcher is a label matcher added to the selector of a [LatencySource] or
// [CountSource], for example {Name: "job", Value: "checkout"} or
// {Name: "code", Op: "=~", Value: "5.."}. Value is always written into the
// query as an escaped string literal, so it cannot change the query's
// structure; with =~ and !~ it is a regular expression (RE2, anchored at
// both ends, as Prometheus matches them).
type Matcher struct {
	// Name is the label's name: letters, digits and '_', not starting with
	// a digit.
	Name string
	// Op is "=", "!=", "=~" or "!~"; empty means "=".
	Op string
	// Value is the value or regular expression to match.
	Value string
}

func (m Matcher) op() string {
	if m.Op == "" {
		return "="
	}
	return m.Op
}

// String returns the matcher as PromQL, for example code=~"5..".
func (m Matcher) String() string { return m.Name + m.op() + quote(m.Value) }

// problems reports what is wrong with m, which sits in a selector that
// already matches on the labels in taken.
func (m Matcher) problems(taken ...string) []string {
	var p []string
	switch {
	case !model.LegacyValidation.IsValidLabelName(m.Name):
		p = append(p, fmt.Sprintf("matcher label name %q is not a valid label name (letters, digits and '_', not starting with a digit)", m.Name))
	case slices.Contains(taken, m.Name):
		p = append(p, fmt.Sprintf("matcher on label %q: the source sets that label itself", m.Name))
	}
	switch m.op() {
	case "=", "!=":
	case "=~", "!~":
		if _, err := regexp.Compile("^(?s:" + m.Value + ")$"); err != nil {
			p = append(p, fmt.Sprintf("matcher %s: %v", m.Name, err))
		}
	default:
		p = append(p, fmt.Sprintf("matcher %s: operator %q is not one of =, !=, =~ and !~", m.Name, m.Op))
	}
	if !utf8.ValidString(m.Value) {
		p = append(p, fmt.Sprintf("matcher %s: value is not valid UTF-8", m.Name))
	}
	return p
}

// quote returns v as a double-quoted PromQL string literal. PromQL string
// literals take Go's escape sequences, and Prometheus itself writes label
// matchers with strconv.Quote, so the literal holds exactly v whatever v
// holds: quotes, backslashes, braces and control characters are escaped
// or inert inside it. Callers reject values that are not valid UTF-8.
func quote(v string) string { return strconv.Quote(v) }

// selector is a query's series selector, for example
// http_requests_total{revision="v2",job="api"}.
type selector struct {
	metric string
	label  string // the revision label
	extra  []Matcher
}

func (s selector) text(rev strategy.Revision, more ...Matcher) (string, error) {
	if rev == "" {
		return "", strategy.Permanent(errors.New("prometheus: the release names no revision to select"))
	}
	if !utf8.ValidString(string(rev)) {
		return "", strategy.Permanent(fmt.Errorf("prometheus: revision %q is not valid UTF-8", rev))
	}
	var b strings.Builder
	b.WriteString(s.metric)
	b.WriteByte('{')
	b.WriteString(s.label)
	b.WriteByte('=')
	b.WriteString(quote(string(rev)))
	for _, m := range append(slices.Clip(s.extra), more...) {
		b.WriteByte(',')
		b.WriteString(m.String())
	}
	b.WriteByte('}')
	return b.String(), nil
}

func (s selector) problems(suffixes ...string) []string {
	var p []string
	switch {
	case s.metric == "":
		p = append(p, "no Metric")
	case !model.LegacyValidation.IsValidMetricName(s.metric):
		p = append(p, fmt.Sprintf("Metric %q is not a valid metric name (letters, digits, '_' and ':', not starting with a digit)", s.metric))
	}
	for _, suf := range suffixes {
		if strings.HasSuffix(s.metric, suf) {
			p = append(p, fmt.Sprintf("Metric %q names one of the histogram's series; give the histogram's name, without %s", s.metric, suf))
		}
	}
	switch {
	case !model.LegacyValidation.IsValidLabelName(s.label):
		p = append(p, fmt.Sprintf("RevisionLabel %q is not a valid label name (letters, digits and '_', not starting with a digit)", s.label))
	case s.label == "le" || s.label == model.MetricNameLabel:
		p = append(p, fmt.Sprintf("RevisionLabel %q is reserved", s.label))
	}
	return p
}

func orLabel(l string) string {
	if l == "" {
		return DefaultRevisionLabel
	}
	return l
}

// instantAt runs the queries as instant queries, concurrently, all
// evaluated at the moment at, so that the readings of both revisions are
// of the same instant. Errors are classified as [Source.Measure] classifies them.
func (s *Source) instantAt(ctx context.Context, at time.Time, queries ...string) ([]model.Vector, error) {
	a, err := s.client()
	if err != nil {
		return nil, strategy.Permanent(err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout())
	defer cancel()
	out := make([]model.Vector, len(queries))
	g, gctx := errgroup.WithContext(ctx)
	for i, q := range queries {
		g.Go(func() error {
			v, _, _, err := a.Query(gctx, q, at, v1.WithTimeout(s.timeout()))
			if err != nil {
				return classify(err)
			}
			vec, ok := v.(model.Vector)
			if v == nil {
				return fmt.Errorf("prometheus: query %s returned no result", q)
			}
			if !ok {
				return fmt.Errorf("prometheus: query %s returned a %s, not an instant vector", q, v.Type())
			}
			out[i] = vec
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// LatencySource reads a Prometheus histogram (a classic one, with _bucket
// series and an le label) as the cumulative latency histograms of a
// release's baseline (Input.Stable) and canary (Input.Canary) revisions,
// for [judge.SequentialLatency]. It implements [judge.LatencySource].
//
// Each reading is one instant query per revision, evaluated at the same
// moment, that returns every bucket series of the revision:
//
//	<Metric>_bucket{<RevisionLabel>="<revision>", <Matchers>...}
//
// The result is the counters as they stand: cumulative since each series
// began, not a rate or an increase over a window. Counter resets are
// handled series by series, as Prometheus' increase() handles them: the
// source matches the series with those of its previous reading by their
// labels, takes a drop in any bucket of one target's histogram (its
// labels but le) as a restart of that histogram, from which its value is
// the increase since, counts a series that appears from zero, and keeps a
// series that vanished at its last value (it stops contributing); then it
// sums the series by le. The sum therefore only grows, and a pod of the
// revision that restarts is seen even while the other pods' series grow
// more than it had counted (a sum taken first would hide it). The judge
// takes the difference between consecutive readings itself, which counts
// exactly the requests observed in between, with none of the
// extrapolation of increase(). A series that restarts and grows past its
// old value within one reading interval, in every bucket, is not seen to
// restart (increase() over the scrapes would see it): intervals short
// against the time between restarts make it rare. Readings at an earlier
// time than the latest one (the judges' history) are the plain sums plus
// the corrections made by then, so they join the corrected readings.
//
// Bucket bounds are read from the le label (so "1" and "1.0", as different
// client libraries write it, are one bound). The +Inf bucket gives the
// count of observations; a revision whose series lack it is an error. The
// two histograms are returned on the bounds both revisions have, so a
// canary that adds or drops buckets is still compared where the
// cumulative counts of both are known. A canary that has not served yet
// (no series) reads as an empty histogram; a baseline without series is
// an error, since nothing can be compared with it (and a misspelled
// metric or label shows there first). All series of one revision should
// share one bucket layout: sums over mixed layouts are rejected when they
// are not cumulative, and are wrong at the bounds only some series have
// when they happen to be.
//
// Errors are those of [Source.Measure]: server errors, timeouts and
// unreachable servers are worth retrying; a query the server rejects
// (bad_data), an invalid configuration and a release without a revision
// are marked [strategy.Permanent]. The sequential judges count either kind
// against their ErrorLimit of consecutive errors, reading again at their
// next interval.
//
// A LatencySource keeps the last value of every series it read, for their
// resets: it is safe for concurrent use as long as it is not changed or
// copied, and it is best used by one judge at a time (readings must come
// in time order).
type LatencySource struct {
	// Source is the Prometheus server to query. Required.
	Source *Source
	// Metric is the histogram's name, without the _bucket suffix: for
	// example "http_request_duration_seconds". Required.
	Metric string
	// RevisionLabel is the label whose value is the revision; empty means
	// [DefaultRevisionLabel] ("revision").
	RevisionLabel string
	// Matchers narrow the series further (a job, a service, a route), for
	// example {Name: "job", Value: "checkout"}.
	Matchers []Matcher

	resets resets // the series' last values, for their resets
}

func (l *LatencySource) selector() selector {
	return selector{metric: l.Metric + "_bucket", label: orLabel(l.RevisionLabel), extra: l.Matchers}
}

// Validate reports every problem with the configuration at once, as an
// error matching [strategy.ErrInvalidConfig].
func (l *LatencySource) Validate() error {
	sel := selector{metric: l.Metric, label: orLabel(l.RevisionLabel)}
	p := sel.problems("_bucket", "_count", "_sum")
	for _, m := range l.Matchers {
		p = append(p, m.problems(sel.label, "le", model.MetricNameLabel)...)
	}
	if l.Source == nil {
		p = append(p, "no Source")
	} else {
		p = append(p, sourceProblems(l.Source.Validate())...)
	}
	return strategy.Invalid(fmt.Sprintf("prometheus latency source %q", l.Metric), p...)
}

// Query returns the query that reads the histogram of revision rev.
func (l *LatencySource) Query(rev strategy.Revision) (string, error) {
	if err := l.Validate(); err != nil {
		return "", err
	}
	return l.query(rev)
}

func (l *LatencySource) query(rev strategy.Revision) (string, error) {
	sel, err := l.selector().text(rev)
	if err != nil {
		return "", err
	}
	return sel, nil
}

// Latencies reads the cumulative histograms of in.Stable (baseline) and
// in.Canary (canary), on the bucket bounds both have. It implements
// [judge.LatencySource].
func (l *LatencySource) Latencies(ctx context.Context, in strategy.Input) (baseline, canary judge.Histogram, err error) {
	return l.LatenciesAt(ctx, in, time.Now())
}

// LatenciesAt is Latencies as Prometheus saw them at the time at, so that
// the judge can learn from the baseline's history. It implements
// [judge.LatencyHistory].
func (l *LatencySource) LatenciesAt(ctx context.Context, in strategy.Input, at time.Time) (baseline, canary judge.Histogram, err error) {
	if err := l.Validate(); err != nil {
		return judge.Histogram{}, judge.Histogram{}, strategy.Permanent(err)
	}
	qb, err := l.query(in.Stable)
	if err != nil {
		return judge.Histogram{}, judge.Histogram{}, err
	}
	qc, err := l.query(in.Canary)
	if err != nil {
		return judge.Histogram{}, judge.Histogram{}, err
	}
	vs, err := l.Source.instantAt(ctx, at, qb, qc)
	if err != nil {
		return judge.Histogram{}, judge.Histogram{}, err
	}
	vs[0], vs[1] = l.resets.correct(qb, at, vs[0]), l.resets.correct(qc, at, vs[1])
	if len(vs[0]) == 0 {
		return judge.Histogram{}, judge.Histogram{}, fmt.Errorf("prometheus: no series for the baseline %q: %s", in.Stable, qb)
	}
	baseline, err = histogram(vs[0])
	if err != nil {
		return judge.Histogram{}, judge.Histogram{}, fmt.Errorf("prometheus: baseline %q: %w (query %s)", in.Stable, err, qb)
	}
	if len(vs[1]) == 0 {
		return baseline, judge.NewHistogram(slices.Clone(baseline.Bounds)...), nil
	}
	canary, err = histogram(vs[1])
	if err != nil {
		return judge.Histogram{}, judge.Histogram{}, fmt.Errorf("prometheus: canary %q: %w (query %s)", in.Canary, err, qc)
	}
	if !slices.Equal(baseline.Bounds, canary.Bounds) {
		common := commonBounds(baseline.Bounds, canary.Bounds)
		if len(common) == 0 {
			return judge.Histogram{}, judge.Histogram{}, fmt.Errorf("prometheus: the baseline %q and the canary %q have no finite bucket bound in common (%v and %v)",
				in.Stable, in.Canary, baseline.Bounds, canary.Bounds)
		}
		baseline, canary = restrict(baseline, common), restrict(canary, slices.Clone(common))
	}
	return baseline, canary, nil
}

// histogram sums the bucket series by le into a histogram with finite
// bounds; the +Inf bucket is its Count.
func histogram(vec model.Vector) (judge.Histogram, error) {
	counts := make(map[float64]float64, len(vec))
	for _, s := range vec {
		if s == nil {
			continue
		}
		if s.Histogram != nil {
			return judge.Histogram{}, errors.New("a native histogram sample; query a classic histogram's _bucket series")
		}
		le, ok := s.Metric["le"]
		if !ok {
			return judge.Histogram{}, fmt.Errorf("a series without an le label: %v", s.Metric)
		}
		b, err := strconv.ParseFloat(string(le), 64)
		if err != nil || math.IsNaN(b) || math.IsInf(b, -1) {
			return judge.Histogram{}, fmt.Errorf("bucket bound le=%q is not a number", le)
		}
		v := float64(s.Value)
		if !(v >= 0) || math.IsInf(v, 0) {
			return judge.Histogram{}, fmt.Errorf("bucket le=%q holds %v, not a count", le, v)
		}
		counts[b] += v
	}
	total, ok := counts[math.Inf(1)]
	if !ok {
		return judge.Histogram{}, errors.New(`no le="+Inf" bucket, which holds the count of observations`)
	}
	delete(counts, math.Inf(1))
	if len(counts) == 0 {
		return judge.Histogram{}, errors.New("no finite bucket bound")
	}
	bounds := make([]float64, 0, len(counts))
	for b := range counts {
		bounds = append(bounds, b)
	}
	slices.Sort(bounds)
	h := judge.Histogram{Bounds: bounds, Counts: make([]float64, len(bounds)), Count: total}
	prev := 0.0
	for i, b := range bounds {
		c := counts[b]
		if c < prev || c > total {
			return judge.Histogram{}, fmt.Errorf("bucket counts are not cumulative at le=%v (%v after %v, of %v in all): do all its series share one bucket layout?", b, c, prev, total)
		}
		h.Counts[i], prev = c, c
	}
	return h, nil
}

// commonBounds returns the bounds in both sorted lists.
func commonBounds(a, b []float64) []float64 {
	var out []float64
	for i, j := 0, 0; i < len(a) && j < len(b); {
		switch {
		case a[i] < b[j]:
			i++
		case a[i] > b[j]:
			j++
		default:
			out = append(out, a[i])
			i, j = i+1, j+1
		}
	}
	return out
}

// restrict returns h on a subset of its bounds.
func restrict(h judge.Histogram, bounds []float64) judge.Histogram {
	r := judge.Histogram{Bounds: bounds, Counts: make([]float64, 0, len(bounds)), Count: h.Count}
	i := 0
	for _, b := range bounds {
		for h.Bounds[i] != b {
			i++
		}
		r.Counts = append(r.Counts, h.Counts[i])
	}
	return r
}

// CountSource reads a request counter as the cumulative trials and
// failures of a release's baseline (Input.Stable) and canary
// (Input.Canary) revisions, for [judge.Sequential]. It implements
// [judge.CountSource].
//
// Each reading is four instant queries evaluated at the same moment, two
// per revision, that return every series of the counter:
//
//	<Metric>{<RevisionLabel>="<revision>", <Matchers>...}
//	<Metric>{<RevisionLabel>="<revision>", <Matchers>..., <Failed>...}
//
// As with [LatencySource], these are the counters as they stand, reset
// series by series as Prometheus' increase() resets them (a series whose
// value dropped counts again from zero; one that appears counts from
// zero; one that vanished stops contributing) and then summed, so that
// one pod's restart is seen however the others grow; the judge takes
// differences between readings. No failing series (no request has failed
// yet) reads as no failures, and a canary without series as no trials; a
// baseline without series is an error. Errors are those of
// [Source.Measure]. A CountSource keeps the last value of every series it
// read; it is safe for concurrent use as long as it is not changed or
// copied, and best used by one judge at a time.
type CountSource struct {
	// Source is the Prometheus server to query. Required.
	Source *Source
	// Metric is the counter of requests, for example
	// "http_requests_total". Required.
	Metric string
	// RevisionLabel is the label whose value is the revision; empty means
	// [DefaultRevisionLabel] ("revision").
	RevisionLabel string
	// Matchers select the requests counted as trials (a job, a route).
	Matchers []Matcher
	// Failed select, among those, the requests that failed, for example
	// {Name: "code", Op: "=~", Value: "5.."}. Required.
	Failed []Matcher

	resets resets // the series' last values, for their resets
}

func (c *CountSource) selector() selector {
	return selector{metric: c.Metric, label: orLabel(c.RevisionLabel), extra: c.Matchers}
}

// Validate reports every problem with the configuration at once, as an
// error matching [strategy.ErrInvalidConfig].
func (c *CountSource) Validate() error {
	sel := c.selector()
	p := sel.problems()
	for _, m := range c.Matchers {
		p = append(p, m.problems(sel.label, model.MetricNameLabel)...)
	}
	if len(c.Failed) == 0 {
		p = append(p, "no Failed matchers (which requests failed)")
	}
	for _, m := range c.Failed {
		p = append(p, m.problems(sel.label, model.MetricNameLabel)...)
	}
	if c.Source == nil {
		p = append(p, "no Source")
	} else {
		p = append(p, sourceProblems(c.Source.Validate())...)
	}
	return strategy.Invalid(fmt.Sprintf("prometheus count source %q", c.Metric), p...)
}

// Queries returns the queries that read the trials and the failures of
// revision rev.
func (c *CountSource) Queries(rev strategy.Revision) (trials, failures string, err error) {
	if err := c.Validate(); err != nil {
		return "", "", err
	}
	return c.queries(rev)
}

func (c *CountSource) queries(rev strategy.Revision) (trials, failures string, err error) {
	all, err := c.selector().text(rev)
	if err != nil {
		return "", "", err
	}
	failed, err := c.selector().text(rev, c.Failed...)
	if err != nil {
		return "", "", err
	}
	return all, failed, nil
}

// Counts reads the cumulative trials and failures of in.Stable (baseline)
// and in.Canary (canary). It implements [judge.CountSource].
func (c *CountSource) Counts(ctx context.Context, in strategy.Input) (baseline, canary judge.Counts, err error) {
	return c.CountsAt(ctx, in, time.Now())
}

// CountsAt is Counts as Prometheus saw them at the time at, so that the
// judge can learn from the baseline's history. It implements
// [judge.CountHistory].
func (c *CountSource) CountsAt(ctx context.Context, in strategy.Input, at time.Time) (baseline, canary judge.Counts, err error) {
	if err := c.Validate(); err != nil {
		return judge.Counts{}, judge.Counts{}, strategy.Permanent(err)
	}
	tb, fb, err := c.queries(in.Stable)
	if err != nil {
		return judge.Counts{}, judge.Counts{}, err
	}
	tc, fc, err := c.queries(in.Canary)
	if err != nil {
		return judge.Counts{}, judge.Counts{}, err
	}
	vs, err := c.Source.instantAt(ctx, at, tb, fb, tc, fc)
	if err != nil {
		return judge.Counts{}, judge.Counts{}, err
	}
	for i, q := range []string{tb, fb, tc, fc} {
		vs[i] = c.resets.correct(q, at, vs[i])
	}
	if len(vs[0]) == 0 {
		return judge.Counts{}, judge.Counts{}, fmt.Errorf("prometheus: no series for the baseline %q: %s", in.Stable, tb)
	}
	var n [4]float64
	for i, v := range vs {
		if n[i], err = count(v); err != nil {
			return judge.Counts{}, judge.Counts{}, fmt.Errorf("prometheus: %w (query %s)", err, []string{tb, fb, tc, fc}[i])
		}
	}
	baseline, canary = judge.Counts{Trials: n[0], Failures: n[1]}, judge.Counts{Trials: n[2], Failures: n[3]}
	for _, x := range []struct {
		rev strategy.Revision
		c   judge.Counts
	}{{in.Stable, baseline}, {in.Canary, canary}} {
		if x.c.Failures > x.c.Trials {
			return judge.Counts{}, judge.Counts{}, fmt.Errorf("prometheus: %q has more failures (%v) than trials (%v)", x.rev, x.c.Failures, x.c.Trials)
		}
	}
	return baseline, canary, nil
}

// count is the sum of the series' values; none for no series.
func count(vec model.Vector) (float64, error) {
	var sum float64
	for _, s := range vec {
		if s == nil {
			continue
		}
		if s.Histogram != nil {
			return 0, errors.New("a native histogram sample, not a counter")
		}
		v := float64(s.Value)
		if !(v >= 0) || math.IsInf(v, 0) {
			return 0, fmt.Errorf("%v is not a count", v)
		}
		sum += v
	}
	return sum, nil
}

// Both sources can read the past, for the judges' history.
var (
	_ judge.CountHistory   = (*CountSource)(nil)
	_ judge.LatencyHistory = (*LatencySource)(nil)
)

// sourceProblems lists the problems a source's Validate reports, each
// prefixed "source: ".
func sourceProblems(err error) []string {
	var ce *strategy.ConfigError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ce):
		out := make([]string, len(ce.Problems))
		for i, q := range ce.Problems {
			out[i] = "source: " + q
		}
		return out
	}
	return []string{"source: " + err.Error()}
}
