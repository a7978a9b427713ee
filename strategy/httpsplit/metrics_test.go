package httpsplit_test

import (
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/httpsplit"
)

func TestMetricsExported(t *testing.T) {
	v1 := newBackend(t, "v1")
	var n int
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == httpsplit.DefaultHealthPath {
			return
		}
		n++
		if n%4 == 0 {
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, "v2")
	}))
	defer flaky.Close()
	reg := prometheus.NewRegistry()
	s, front := newSplitter(t, strategy.State{Stable: "v1"}, httpsplit.Config{
		Upstreams:   map[strategy.Revision]string{"v2": flaky.URL},
		Registerer:  reg,
		ConstLabels: prometheus.Labels{"service": "shop"},
	}, v1)
	for range 3 {
		get(t.Context(), t, front.Client(), front.URL)
	}
	if err := s.Apply(t.Context(), strategy.State{Stable: "v1", Canary: "v2", Weight: 100}); err != nil {
		t.Fatal(err)
	}
	for range 8 {
		get(t.Context(), t, front.Client(), front.URL)
	}
	if _, err := s.Observe(t.Context()); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP glidepath_httpsplit_canary_weight_ratio Share of ordinary traffic sent to the canary revision, 0 to 1.
# TYPE glidepath_httpsplit_canary_weight_ratio gauge
glidepath_httpsplit_canary_weight_ratio{service="shop"} 1
# HELP glidepath_httpsplit_errors_total Requests answered with a 5xx status, including upstream failures, by revision.
# TYPE glidepath_httpsplit_errors_total counter
glidepath_httpsplit_errors_total{revision="v1",service="shop"} 0
glidepath_httpsplit_errors_total{revision="v2",service="shop"} 2
# HELP glidepath_httpsplit_requests_total Requests proxied, by the revision that served them.
# TYPE glidepath_httpsplit_requests_total counter
glidepath_httpsplit_requests_total{revision="v1",service="shop"} 3
glidepath_httpsplit_requests_total{revision="v2",service="shop"} 8
# HELP glidepath_httpsplit_upstream_up 1 when the revision's upstream answered its last health check with 2xx, else 0.
# TYPE glidepath_httpsplit_upstream_up gauge
glidepath_httpsplit_upstream_up{revision="v1",service="shop"} 1
glidepath_httpsplit_upstream_up{revision="v2",service="shop"} 1
`
	names := []string{httpsplit.MetricWeight, httpsplit.MetricErrors, httpsplit.MetricRequests, httpsplit.MetricUp}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
	if err := testutil.CollectAndCompare(s, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
	// One histogram series per revision.
	if got := testutil.CollectAndCount(s, httpsplit.MetricLatency); got != 2 {
		t.Errorf("%d latency series, want 2", got)
	}
	st := s.Stats()
	if st["v1"].Requests != 3 || st["v1"].Errors != 0 || st["v2"].Requests != 8 || st["v2"].Errors != 2 {
		t.Errorf("Stats = %+v", st)
	}
	if st["v2"].ErrorRate() != 0.25 || st["v2"].Latency.Count != 8 || len(st["v2"].Latency.Buckets) != len(httpsplit.DefaultBuckets) {
		t.Errorf("v2: error rate %v, %d latency observations in %d buckets", st["v2"].ErrorRate(), st["v2"].Latency.Count, len(st["v2"].Latency.Buckets))
	}
	if q := st["v2"].Latency.Quantile(0.5); !(q > 0 && q < 10) {
		t.Errorf("median latency %v", q)
	}
	// A second splitter with the same labels cannot register.
	_, err := httpsplit.New(t.Context(), httpsplit.Config{
		Upstreams: map[strategy.Revision]string{"v1": v1.URL}, Initial: strategy.State{Stable: "v1"},
		Registerer: reg, ConstLabels: prometheus.Labels{"service": "shop"},
	})
	var already prometheus.AlreadyRegisteredError
	if !errors.As(err, &already) {
		t.Errorf("second registration: %v, want AlreadyRegisteredError", err)
	}
	// Closing the first unregisters its metrics: the second can register.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got, err := testutil.GatherAndCount(reg); err != nil || got != 0 {
		t.Errorf("after Close the registry holds %d series (%v), want none", got, err)
	}
	s2, err := httpsplit.New(t.Context(), httpsplit.Config{
		Upstreams: map[strategy.Revision]string{"v1": v1.URL}, Initial: strategy.State{Stable: "v1"},
		Registerer: reg, ConstLabels: prometheus.Labels{"service": "shop"},
	})
	if err != nil {
		t.Fatalf("registering after Close: %v", err)
	}
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
}

// Namespace and Subsystem rename every metric; "-" leaves a part out.
func TestMetricNamespace(t *testing.T) {
	v1 := newBackend(t, "v1")
	for _, c := range []struct{ ns, sub, prefix string }{
		{"", "", "glidepath_httpsplit_"},
		{"shop", "", "shop_httpsplit_"},
		{"shop", "edge", "shop_edge_"},
		{"-", "edge", "edge_"},
		{"acme", "-", "acme_"},
	} {
		reg := prometheus.NewRegistry()
		s, err := httpsplit.New(t.Context(), httpsplit.Config{
			Upstreams: map[strategy.Revision]string{"v1": v1.URL}, Initial: strategy.State{Stable: "v1"},
			Registerer: reg, Namespace: c.ns, Subsystem: c.sub,
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Observe(t.Context()); err != nil {
			t.Fatal(err)
		}
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, mf := range mfs {
			names = append(names, mf.GetName())
		}
		var want []string
		for _, n := range []string{"canary_weight_ratio", "errors_total", "request_duration_seconds", "requests_total", "upstream_up"} {
			want = append(want, c.prefix+n)
		}
		if strings.Join(names, " ") != strings.Join(want, " ") {
			t.Errorf("namespace %q subsystem %q: metrics %q, want %q", c.ns, c.sub, names, want)
		}
		_ = s.Close()
	}
	_, err := httpsplit.New(t.Context(), httpsplit.Config{
		Upstreams: map[strategy.Revision]string{"v1": v1.URL}, Initial: strategy.State{Stable: "v1"},
		Namespace: "my-shop", Subsystem: "9edge",
	})
	if err == nil || !strings.Contains(err.Error(), `namespace "my-shop"`) || !strings.Contains(err.Error(), `subsystem "9edge"`) {
		t.Errorf("bad namespace and subsystem: %v", err)
	}
}

func TestStatsSub(t *testing.T) {
	v1 := newBackend(t, "v1")
	s, front := newSplitter(t, strategy.State{Stable: "v1"}, httpsplit.Config{}, v1)
	get(t.Context(), t, front.Client(), front.URL)
	before := s.Stats()
	for range 4 {
		get(t.Context(), t, front.Client(), front.URL)
	}
	d := s.Stats().Sub(before)
	if d["v1"].Requests != 4 || d["v1"].Latency.Count != 4 || d["v1"].Latency.Buckets[len(d["v1"].Latency.Buckets)-1].Count != 4 {
		t.Errorf("difference %+v, want 4 requests", d["v1"])
	}
}

func TestHistogramQuantile(t *testing.T) {
	h := httpsplit.Histogram{Count: 100, Sum: 5, Buckets: []httpsplit.HistogramBucket{
		{UpperBound: 0.01, Count: 50}, {UpperBound: 0.1, Count: 90}, {UpperBound: 1, Count: 95},
	}}
	for _, c := range []struct{ q, want float64 }{
		{0, 0},
		{0.25, 0.005},     // halfway through the first bucket, from 0
		{0.5, 0.01},       // its upper bound
		{0.7, 0.055},      // halfway through (0.01, 0.1]
		{0.93, 0.1 + .54}, // 3/5 through (0.1, 1]
		{0.99, 1},         // in +Inf: the last finite bound
	} {
		if got := h.Quantile(c.q); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("Quantile(%v) = %v, want %v", c.q, got, c.want)
		}
	}
	if got := h.Mean(); got != 0.05 {
		t.Errorf("Mean = %v", got)
	}
	for _, q := range []float64{-0.1, 1.1, math.NaN()} {
		if !math.IsNaN(h.Quantile(q)) {
			t.Errorf("Quantile(%v) is not NaN", q)
		}
	}
	if !math.IsNaN((httpsplit.Histogram{}).Quantile(0.5)) || !math.IsNaN((httpsplit.Histogram{}).Mean()) {
		t.Error("an empty histogram has a quantile or a mean")
	}
	var r httpsplit.RevisionStats
	if r.ErrorRate() != 0 {
		t.Error("no requests, nonzero error rate")
	}
}
