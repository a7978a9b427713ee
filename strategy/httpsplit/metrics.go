package httpsplit

import (
	"maps"
	"math"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/glidepath/glidepath/strategy"
)

// Metric names exported by a [Splitter] with the default
// [Config].Namespace and [Config].Subsystem. They follow Prometheus'
// naming conventions: base units (seconds), _total for counters, and a
// 0–1 _ratio for the weight. MetricUp, a 0/1 gauge without a unit, is
// named like Prometheus' own up.
const (
	MetricRequests = "glidepath_httpsplit_requests_total"
	MetricErrors   = "glidepath_httpsplit_errors_total"
	MetricLatency  = "glidepath_httpsplit_request_duration_seconds"
	MetricWeight   = "glidepath_httpsplit_canary_weight_ratio"
	MetricUp       = "glidepath_httpsplit_upstream_up"
)

// metricName is namespace_subsystem_name, with "" meaning the default and
// "-" no part.
func metricName(namespace, subsystem, name string) string {
	if namespace == "" {
		namespace = DefaultNamespace
	}
	if subsystem == "" {
		subsystem = DefaultSubsystem
	}
	if namespace == "-" {
		namespace = ""
	}
	if subsystem == "-" {
		subsystem = ""
	}
	return prometheus.BuildFQName(namespace, subsystem, name)
}

type metrics struct {
	requests *prometheus.CounterVec
	errors   *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	weight   prometheus.Gauge
	up       *prometheus.GaugeVec
}

func newMetrics(namespace, subsystem string, buckets []float64, labels prometheus.Labels) *metrics {
	name := func(n string) string { return metricName(namespace, subsystem, n) }
	return &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: name("requests_total"), ConstLabels: labels,
			Help: "Requests proxied, by the revision that served them.",
		}, []string{"revision"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: name("errors_total"), ConstLabels: labels,
			Help: "Requests answered with a 5xx status, including upstream failures, by revision.",
		}, []string{"revision"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: name("request_duration_seconds"), ConstLabels: labels, Buckets: buckets,
			Help: "Time from receiving a request to the end of its response, by revision.",
		}, []string{"revision"}),
		weight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: name("canary_weight_ratio"), ConstLabels: labels,
			Help: "Share of ordinary traffic sent to the canary revision, 0 to 1.",
		}),
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: name("upstream_up"), ConstLabels: labels,
			Help: "1 when the revision's upstream answered its last health check with 2xx, else 0.",
		}, []string{"revision"}),
	}
}

// revMetrics are one revision's metric children, looked up once so the
// request path only increments them.
type revMetrics struct {
	requests prometheus.Counter
	errors   prometheus.Counter
	latency  prometheus.Histogram
	up       prometheus.Gauge
}

func (m *metrics) forRevision(rev strategy.Revision) *revMetrics {
	l := string(rev)
	return &revMetrics{
		requests: m.requests.WithLabelValues(l),
		errors:   m.errors.WithLabelValues(l),
		latency:  m.latency.WithLabelValues(l).(prometheus.Histogram),
		up:       m.up.WithLabelValues(l),
	}
}

func (m *revMetrics) observe(status int, d time.Duration) {
	m.requests.Inc()
	if status >= 500 && status <= 599 {
		m.errors.Inc()
	}
	m.latency.Observe(d.Seconds())
}

// Describe implements prometheus.Collector.
func (s *Splitter) Describe(ch chan<- *prometheus.Desc) {
	s.m.requests.Describe(ch)
	s.m.errors.Describe(ch)
	s.m.latency.Describe(ch)
	s.m.weight.Describe(ch)
	s.m.up.Describe(ch)
}

// Collect implements prometheus.Collector.
func (s *Splitter) Collect(ch chan<- prometheus.Metric) {
	s.m.requests.Collect(ch)
	s.m.errors.Collect(ch)
	s.m.latency.Collect(ch)
	s.m.weight.Collect(ch)
	s.m.up.Collect(ch)
}

// Stats are cumulative per-revision numbers, as returned by
// [Splitter.Stats]. A revision that never served a request has zero
// counts.
type Stats map[strategy.Revision]RevisionStats

// Sub returns the per-revision difference s - earlier: the traffic between
// two snapshots.
func (s Stats) Sub(earlier Stats) Stats {
	out := make(Stats, len(s))
	for rev, st := range s {
		out[rev] = st.Sub(earlier[rev])
	}
	return out
}

// RevisionStats are one revision's request and error counts and its
// latency histogram.
type RevisionStats struct {
	// Requests is how many requests the revision served (or failed).
	Requests uint64
	// Errors is how many of them were answered with a 5xx status.
	Errors uint64
	// Latency is the distribution of their durations.
	Latency Histogram
}

// ErrorRate is Errors/Requests, or 0 when there were no requests.
func (r RevisionStats) ErrorRate() float64 {
	if r.Requests == 0 {
		return 0
	}
	return float64(r.Errors) / float64(r.Requests)
}

// Sub returns r - earlier, for counts taken from the same splitter.
func (r RevisionStats) Sub(earlier RevisionStats) RevisionStats {
	return RevisionStats{
		Requests: sat(r.Requests, earlier.Requests),
		Errors:   sat(r.Errors, earlier.Errors),
		Latency:  r.Latency.Sub(earlier.Latency),
	}
}

// Histogram is a snapshot of a latency histogram, in seconds.
type Histogram struct {
	// Count is the number of observations; Sum their total in seconds.
	Count uint64
	Sum   float64
	// Buckets are cumulative counts by upper bound, in increasing order,
	// without the implicit +Inf bucket (whose count is Count).
	Buckets []HistogramBucket
}

// HistogramBucket is one cumulative histogram bucket.
type HistogramBucket struct {
	UpperBound float64 // seconds
	Count      uint64  // observations <= UpperBound
}

// Mean is Sum/Count in seconds, or NaN without observations.
func (h Histogram) Mean() float64 {
	if h.Count == 0 {
		return math.NaN()
	}
	return h.Sum / float64(h.Count)
}

// Quantile estimates the q-quantile (0 <= q <= 1) in seconds the way
// Prometheus's histogram_quantile does: it finds the bucket holding the
// rank q*Count and interpolates linearly inside it (from 0 for the first
// bucket). A rank beyond the last finite bucket returns that bucket's upper
// bound. It returns NaN without observations or for q outside 0..1.
func (h Histogram) Quantile(q float64) float64 {
	if h.Count == 0 || q < 0 || q > 1 || math.IsNaN(q) {
		return math.NaN()
	}
	rank := q * float64(h.Count)
	lower, below := 0.0, uint64(0)
	for _, b := range h.Buckets {
		if float64(b.Count) >= rank {
			in := b.Count - below
			if in == 0 {
				return b.UpperBound
			}
			return lower + (b.UpperBound-lower)*(rank-float64(below))/float64(in)
		}
		lower, below = b.UpperBound, b.Count
	}
	if len(h.Buckets) == 0 {
		return math.NaN()
	}
	return h.Buckets[len(h.Buckets)-1].UpperBound
}

// Sub returns h - earlier, for snapshots of the same histogram. Buckets
// that earlier lacks count as zero.
func (h Histogram) Sub(earlier Histogram) Histogram {
	out := Histogram{Count: sat(h.Count, earlier.Count), Sum: h.Sum - earlier.Sum, Buckets: slices.Clone(h.Buckets)}
	if out.Count == 0 {
		out.Sum = 0
	}
	for i := range out.Buckets {
		if i < len(earlier.Buckets) && earlier.Buckets[i].UpperBound == out.Buckets[i].UpperBound {
			out.Buckets[i].Count = sat(out.Buckets[i].Count, earlier.Buckets[i].Count)
		}
	}
	return out
}

func sat(a, b uint64) uint64 {
	if b > a {
		return 0
	}
	return a - b
}

// Stats returns a snapshot of every revision that a State served by the
// splitter has named: the same numbers it exports to Prometheus.
func (s *Splitter) Stats() Stats {
	s.mu.Lock()
	revs := maps.Clone(s.revs)
	s.mu.Unlock()
	out := make(Stats, len(revs))
	var m dto.Metric
	for rev, rm := range revs {
		var st RevisionStats
		m.Reset()
		if rm.requests.Write(&m) == nil {
			st.Requests = uint64(m.GetCounter().GetValue())
		}
		m.Reset()
		if rm.errors.Write(&m) == nil {
			st.Errors = uint64(m.GetCounter().GetValue())
		}
		m.Reset()
		if rm.latency.Write(&m) == nil {
			h := m.GetHistogram()
			st.Latency.Count = h.GetSampleCount()
			st.Latency.Sum = h.GetSampleSum()
			for _, b := range h.GetBucket() {
				if math.IsInf(b.GetUpperBound(), +1) {
					continue
				}
				st.Latency.Buckets = append(st.Latency.Buckets, HistogramBucket{UpperBound: b.GetUpperBound(), Count: b.GetCumulativeCount()})
			}
		}
		out[rev] = st
	}
	return out
}
