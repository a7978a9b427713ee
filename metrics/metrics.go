package metrics

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/glidepath/glidepath/strategy"
)

// DefaultDurationBuckets are the upper bounds, in seconds, of
// glidepath_release_duration_seconds when Options.DurationBuckets is nil:
// 10 seconds to a day, for releases that run from a quick switch to a
// day-long canary.
var DefaultDurationBuckets = []float64{10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800, 86400}

// DefaultRestoreBuckets are the upper bounds, in seconds, of
// glidepath_time_to_restore_seconds when Options.RestoreBuckets is nil:
// half a second to an hour.
var DefaultRestoreBuckets = []float64{0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600}

// DefaultMaxLabelValues is the default of Options.MaxLabelValues.
const DefaultMaxLabelValues = 64

// Other is the label value that stands for every strategy or analyzer name
// beyond Options.MaxLabelValues.
const Other = "other"

// Causes of a rollback, the values of the cause label.
const (
	CauseAnalysisFailed = "analysis_failed"
	CauseAborted        = "aborted"
	CauseDeadline       = "deadline"
	CauseCancelled      = "cancelled"
	CauseTargetError    = "target_error"
	CauseOther          = "other"
)

// Cause maps the error that ended a release (a RollbackStarted cause, a
// ReleaseFinished error) to the cause label: the sentinel it matches, in
// the order listed in the package documentation, or [CauseOther].
func Cause(err error) string {
	switch {
	case errors.Is(err, strategy.ErrAnalysisFailed):
		return CauseAnalysisFailed
	case errors.Is(err, strategy.ErrAborted):
		return CauseAborted
	case errors.Is(err, strategy.ErrDeadlineExceeded):
		return CauseDeadline
	case errors.Is(err, strategy.ErrCancelled):
		return CauseCancelled
	case errors.Is(err, strategy.ErrTarget):
		return CauseTargetError
	}
	return CauseOther
}

// Options configure a [Collector]. The zero value is usable: default
// buckets, 64 values per capped label, no constant labels.
type Options struct {
	// DurationBuckets are the upper bounds, in seconds, of
	// glidepath_release_duration_seconds; strictly increasing, positive
	// and finite. Nil uses [DefaultDurationBuckets].
	DurationBuckets []float64
	// RestoreBuckets are the upper bounds, in seconds, of
	// glidepath_time_to_restore_seconds; nil uses [DefaultRestoreBuckets].
	RestoreBuckets []float64
	// MaxLabelValues caps the distinct values of the strategy and
	// analyzer labels, each on its own; new values past the cap are
	// reported as [Other]. 0 uses [DefaultMaxLabelValues].
	MaxLabelValues int
	// ConstLabels are added to every metric, for example the service or
	// environment the releasing program runs in. Their names must be
	// valid Prometheus label names and must not be one of the variable
	// labels (target, strategy, resumed, outcome, release, analyzer,
	// cause, measurement, revision, statistic).
	ConstLabels prometheus.Labels
	// Namespace and Subsystem are the first parts of every metric's name
	// (namespace_subsystem_name, Prometheus' convention). Namespace ""
	// is [DefaultNamespace]; "-" leaves it out. Subsystem "" leaves it out.
	Namespace, Subsystem string
}

// DefaultNamespace is the namespace of every metric when
// Options.Namespace is "".
const DefaultNamespace = "glidepath"

var labelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

var variableLabels = map[string]bool{
	"target": true, "strategy": true, "resumed": true, "outcome": true,
	"release": true, "analyzer": true, "cause": true,
	"measurement": true, "revision": true, "statistic": true,
}

var namePart = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)

// Validate reports every problem with o at once, in an error matching
// [strategy.ErrInvalidConfig], or returns nil.
func (o Options) Validate() error {
	var p []string
	p = append(p, bucketProblems("DurationBuckets", o.DurationBuckets)...)
	p = append(p, bucketProblems("RestoreBuckets", o.RestoreBuckets)...)
	if o.MaxLabelValues < 0 {
		p = append(p, fmt.Sprintf("MaxLabelValues is negative (%d)", o.MaxLabelValues))
	}
	for _, name := range slices.Sorted(maps.Keys(o.ConstLabels)) {
		switch {
		case !labelName.MatchString(name) || len(name) >= 2 && name[:2] == "__":
			p = append(p, fmt.Sprintf("ConstLabels: %q is not a valid label name", name))
		case variableLabels[name]:
			p = append(p, fmt.Sprintf("ConstLabels: %q is already a label of glidepath's metrics", name))
		}
	}
	for _, part := range []struct{ field, v string }{{"Namespace", o.Namespace}, {"Subsystem", o.Subsystem}} {
		if part.v != "" && !(part.field == "Namespace" && part.v == "-") && !namePart.MatchString(part.v) {
			p = append(p, fmt.Sprintf("%s %q is not a valid part of a Prometheus metric name", part.field, part.v))
		}
	}
	return strategy.Invalid("metrics options", p...)
}

func bucketProblems(field string, b []float64) []string {
	if b == nil {
		return nil
	}
	var p []string
	if len(b) == 0 {
		p = append(p, field+" is empty (leave it nil for the defaults)")
	}
	for i, v := range b {
		switch {
		case math.IsNaN(v) || math.IsInf(v, 0) || v <= 0:
			p = append(p, fmt.Sprintf("%s[%d] is %v: bounds must be positive and finite", field, i, v))
		case i > 0 && v <= b[i-1]:
			p = append(p, fmt.Sprintf("%s[%d] (%v) is not above %s[%d] (%v)", field, i, v, field, i-1, b[i-1]))
		}
	}
	return p
}

// Collector turns release events into Prometheus metrics. It implements
// [prometheus.Collector] (register it on your registry) and
// [strategy.Observer] (give it, or [Collector.ForTarget], to
// Release.Observer). It is safe for concurrent use, and one Collector can
// observe any number of releases, of any number of targets, at once.
type Collector struct {
	started    *prometheus.CounterVec
	finished   *prometheus.CounterVec
	inProgress *prometheus.GaugeVec
	duration   *prometheus.HistogramVec
	weight     *prometheus.GaugeVec
	verdicts   *prometheus.CounterVec
	rollbacks  *prometheus.CounterVec
	restore    *prometheus.HistogramVec
	value      *prometheus.GaugeVec
	evidence   *prometheus.GaugeVec

	maxValues int

	mu           sync.Mutex
	strategies   map[string]bool
	analyzers    map[string]bool
	measurements map[string]bool
	statistics   map[string]bool
	running      map[releaseKey]bool
}

type releaseKey struct{ target, release string }

var (
	_ prometheus.Collector = (*Collector)(nil)
	_ strategy.Observer    = (*Collector)(nil)
)

// New returns a Collector configured by opts, or the error of
// opts.Validate.
func New(opts Options) (*Collector, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	durations, restores := opts.DurationBuckets, opts.RestoreBuckets
	if durations == nil {
		durations = DefaultDurationBuckets
	}
	if restores == nil {
		restores = DefaultRestoreBuckets
	}
	maxValues := opts.MaxLabelValues
	if maxValues == 0 {
		maxValues = DefaultMaxLabelValues
	}
	cl := opts.ConstLabels
	ns := opts.Namespace
	switch ns {
	case "":
		ns = DefaultNamespace
	case "-":
		ns = ""
	}
	name := func(n string) string { return prometheus.BuildFQName(ns, opts.Subsystem, n) }
	c := &Collector{
		started: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: name("releases_started_total"), ConstLabels: cl,
			Help: "Releases started, by target, strategy and whether they were resumed from a journal.",
		}, []string{"target", "strategy", "resumed"}),
		finished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: name("releases_finished_total"), ConstLabels: cl,
			Help: "Releases finished, by target, strategy and final phase (Promoted, RolledBack, Degraded, Stopped).",
		}, []string{"target", "strategy", "outcome"}),
		inProgress: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: name("releases_in_progress"), ConstLabels: cl,
			Help: "Releases started and not yet finished, by target.",
		}, []string{"target"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: name("release_duration_seconds"), ConstLabels: cl, Buckets: durations,
			Help: "Time from the start of a release to its end, pauses included, by target, strategy and final phase.",
		}, []string{"target", "strategy", "outcome"}),
		weight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: name("canary_weight_percent"), ConstLabels: cl,
			Help: "Percentage of traffic on the canary in the last State applied, per running release.",
		}, []string{"target", "release"}),
		verdicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: name("analysis_verdicts_total"), ConstLabels: cl,
			Help: "Analysis verdicts, by target, analyzer and outcome (Pass, Fail, Inconclusive).",
		}, []string{"target", "analyzer", "outcome"}),
		rollbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: name("rollbacks_total"), ConstLabels: cl,
			Help: "Rollbacks started, by target and cause (analysis_failed, aborted, deadline, cancelled, target_error, other).",
		}, []string{"target", "cause"}),
		restore: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: name("time_to_restore_seconds"), ConstLabels: cl, Buckets: restores,
			Help: "Time from the failure that ended a release to the stable State restored, by target and cause.",
		}, []string{"target", "cause"}),
		value: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: name("analysis_value"), ConstLabels: cl,
			Help: "Last value an analyzer measured, per running release, analyzer, measurement and revision (\"\" when it is about none); in the unit of its query.",
		}, []string{"target", "release", "analyzer", "measurement", "revision"}),
		evidence: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: name("analysis_evidence"), ConstLabels: cl,
			Help: "Last evidence a judge reported (statistic: e_fail, e_pass, llr, rate, trials, failures, ...), per running release, analyzer, measurement and revision.",
		}, []string{"target", "release", "analyzer", "measurement", "revision", "statistic"}),
		maxValues:    maxValues,
		strategies:   map[string]bool{},
		analyzers:    map[string]bool{},
		measurements: map[string]bool{},
		statistics:   map[string]bool{},
		running:      map[releaseKey]bool{},
	}
	return c, nil
}

func (c *Collector) collectors() []prometheus.Collector {
	return []prometheus.Collector{c.started, c.finished, c.inProgress, c.duration, c.weight, c.verdicts, c.rollbacks, c.restore, c.value, c.evidence}
}

// Describe sends the descriptors of every metric (prometheus.Collector).
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range c.collectors() {
		m.Describe(ch)
	}
}

// Collect sends the current value of every series (prometheus.Collector).
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	for _, m := range c.collectors() {
		m.Collect(ch)
	}
}

// OnEvent records e with the target label "" (strategy.Observer).
func (c *Collector) OnEvent(e strategy.Event) { c.record("", e) }

// ForTarget returns an Observer that records events with the target label
// set to target. Use one name per thing you release to (a service, a
// fleet, a flag), never a revision: see Cardinality in the package docs.
func (c *Collector) ForTarget(target string) strategy.Observer {
	return strategy.ObserverFunc(func(e strategy.Event) { c.record(target, e) })
}

// capped returns v, or Other once seen holds max values and v is not one.
func (c *Collector) capped(seen map[string]bool, v string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if seen[v] {
		return v
	}
	if len(seen) >= c.maxValues {
		return Other
	}
	seen[v] = true
	return v
}

func (c *Collector) record(target string, e strategy.Event) {
	switch ev := e.(type) {
	case strategy.ReleaseStarted:
		c.started.WithLabelValues(target, c.capped(c.strategies, ev.Strategy), strconv.FormatBool(ev.Resumed)).Inc()
		key := releaseKey{target, ev.Release}
		c.mu.Lock()
		fresh := !c.running[key]
		c.running[key] = true
		c.mu.Unlock()
		if fresh {
			c.inProgress.WithLabelValues(target).Inc()
		}
	case strategy.StateApplied:
		w := 0
		if ev.State.Canary != "" {
			w = ev.State.Weight
		}
		c.weight.WithLabelValues(target, ev.Release).Set(float64(w))
	case strategy.VerdictReached:
		outcome := ev.Verdict.Outcome
		if outcome != strategy.Pass && outcome != strategy.Fail {
			outcome = strategy.Inconclusive
		}
		analyzer := c.capped(c.analyzers, ev.Verdict.Analyzer)
		c.verdicts.WithLabelValues(target, analyzer, string(outcome)).Inc()
		c.values(target, ev.Release, analyzer, ev.Verdict.Measurements)
	case strategy.RollbackStarted:
		c.rollbacks.WithLabelValues(target, Cause(ev.Cause)).Inc()
	case strategy.ReleaseFinished:
		c.finish(target, ev)
	}
}

func (c *Collector) finish(target string, ev strategy.ReleaseFinished) {
	res := ev.Result
	strat := c.capped(c.strategies, res.Strategy)
	outcome := string(res.Phase)
	c.finished.WithLabelValues(target, strat, outcome).Inc()
	if !res.Started.IsZero() && !res.Finished.Before(res.Started) {
		c.duration.WithLabelValues(target, strat, outcome).Observe(res.Finished.Sub(res.Started).Seconds())
	}
	if res.Phase == strategy.PhaseRolledBack && !res.FailedAt.IsZero() && !res.RollbackFinished.IsZero() &&
		!res.RollbackFinished.Before(res.FailedAt) {
		c.restore.WithLabelValues(target, Cause(ev.Err)).Observe(res.RollbackFinished.Sub(res.FailedAt).Seconds())
	}
	name := ev.Release
	if name == "" {
		name = res.Release
	}
	c.weight.DeleteLabelValues(target, name)
	c.value.DeletePartialMatch(prometheus.Labels{"target": target, "release": name})
	c.evidence.DeletePartialMatch(prometheus.Labels{"target": target, "release": name})
	key := releaseKey{target, name}
	c.mu.Lock()
	was := c.running[key]
	delete(c.running, key)
	c.mu.Unlock()
	if was {
		c.inProgress.WithLabelValues(target).Dec()
	}
}

// values sets the analysis gauges from a verdict's measurements: "value"
// to glidepath_analysis_value, every other number to
// glidepath_analysis_evidence. A measurement without numbers (an error,
// a gate) leaves the last ones in place.
func (c *Collector) values(target, release, analyzer string, ms []strategy.Measurement) {
	for _, m := range ms {
		if len(m.Values) == 0 {
			continue
		}
		name := c.capped(c.measurements, m.Name)
		rev := string(m.Revision)
		for k, v := range m.Values {
			if k == "value" {
				c.value.WithLabelValues(target, release, analyzer, name, rev).Set(v)
				continue
			}
			c.evidence.WithLabelValues(target, release, analyzer, name, rev, c.capped(c.statistics, k)).Set(v)
		}
	}
}
