package prometheus_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	promclient "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/glidepath/glidepath/analysis"
	"github.com/glidepath/glidepath/analysis/judge"
	"github.com/glidepath/glidepath/analysis/prometheus"
	"github.com/glidepath/glidepath/internal/promserver"
	"github.com/glidepath/glidepath/strategy"
)

// exporter serves request counters for a healthy and an erroring revision;
// every scrape counts another 100 requests of each.
func exporter(t *testing.T) *httptest.Server {
	reg := promclient.NewRegistry()
	reqs := promclient.NewCounterVec(promclient.CounterOpts{Name: "demo_requests_total", Help: "Requests served."}, []string{"revision", "code"})
	reg.MustRegister(reqs)
	metrics := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqs.WithLabelValues("healthy", "200").Add(100)
		reqs.WithLabelValues("erroring", "200").Add(70)
		reqs.WithLabelValues("erroring", "500").Add(30)
		metrics.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// startPrometheus runs a real Prometheus server that scrapes the exporters
// every second, and returns a source for it once every exporter has been
// scraped.
func startPrometheus(t *testing.T, exporters ...*httptest.Server) *prometheus.Source {
	bin := promserver.Require(t)
	targets := make([]string, len(exporters))
	for i, e := range exporters {
		targets[i] = e.Listener.Addr().String()
	}
	srv, err := promserver.Start(t.Context(), bin, targets...)
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("prometheus output:\n%s", srv.Logs())
		}
		_ = srv.Stop()
	})

	src := &prometheus.Source{Address: srv.URL, Timeout: 5 * time.Second}
	t.Cleanup(func() { _ = src.Close() })
	// Wait, boundedly, until two scrapes of every exporter make a rate.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		v, err := src.Measure(ctx, analysis.Query{Text: `count(rate(up[10s]) >= 0)`})
		if vec, ok := v.([]float64); err == nil && ok && len(vec) == 1 && int(vec[0]) == len(exporters) {
			return src
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no samples from prometheus in time (last error %v)", err)
		case <-tick.C:
		}
	}
}

// TestRealPrometheus runs a real Prometheus server that scrapes an exporter
// every second, and checks that the healthy revision passes and the erroring
// one fails.
func TestRealPrometheus(t *testing.T) {
	src := startPrometheus(t, exporter(t))
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()

	errorRate := &analysis.Check{
		Label:  "error-rate",
		Source: src,
		Query: `(sum(rate(demo_requests_total{revision="{{release.canary}}",code=~"5.."}[10s])) or vector(0))
		  / sum(rate(demo_requests_total{revision="{{release.canary}}"}[10s]))`,
		SuccessCondition: "result[0] < 0.05",
		FailureCondition: "result[0] >= 0.05",
		MinSamples:       1,
	}
	if err := errorRate.Validate(); err != nil {
		t.Fatalf("errorRate.Validate(): unexpected error: %v", err)
	}
	for _, tc := range []struct {
		rev  strategy.Revision
		want strategy.Outcome
	}{{"healthy", strategy.Pass}, {"erroring", strategy.Fail}} {
		in := strategy.Input{Release: "demo", Stable: "v1", Canary: tc.rev, State: strategy.State{Stable: "v1", Canary: tc.rev, Weight: 10}}
		v, err := errorRate.Analyze(ctx, in)
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		if v.Outcome != tc.want {
			t.Errorf("%s: %s: v.Outcome = %q, want %q", tc.rev, v.Reason, v.Outcome, tc.want)
		}
		t.Logf("%s: %s %v", tc.rev, v.Outcome, v.Measurements)
	}

	// A query the server cannot parse is a permanent error.
	bad := &analysis.Check{Label: "bad", Source: src, Query: `sum(rate(demo_requests_total[10s]`}
	_, err := bad.Analyze(ctx, strategy.Input{})
	if err == nil {
		t.Fatal("err = nil, want an error")
	}
	if !strategy.IsPermanent(err) {
		t.Errorf("%v: strategy.IsPermanent(err) = false, want true", err)
	}
}

// latencyExporter serves a latency histogram of three revisions: "stable",
// "same" (the same distribution, drawn independently) and "slow" (every
// request 1.5 times slower). Every scrape observes another 300 requests of
// each, log-normal around 200 ms, in buckets 10% apart.
func latencyExporter(t *testing.T) *httptest.Server {
	reg := promclient.NewRegistry()
	lat := promclient.NewHistogramVec(promclient.HistogramOpts{
		Name: "demo_request_duration_seconds", Help: "Request latency.", Buckets: latencyBounds,
	}, []string{"revision"})
	reg.MustRegister(lat)
	metrics := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(7, 7))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		for range 300 {
			for _, r := range []struct {
				rev   string
				scale float64
			}{{"stable", 1}, {"same", 1}, {"slow", 1.5}} {
				lat.WithLabelValues(r.rev).Observe(r.scale * 0.2 * math.Exp(0.3*rng.NormFloat64()))
			}
		}
		mu.Unlock()
		metrics.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestRealPrometheusJudges reads a client_golang histogram and request
// counters through a real Prometheus server with the sequential judges: the
// latency judge fails the slower revision and passes the equal one, the
// error-rate judge fails the erroring revision; and revision names built to
// break out of the query are read as plain values (the server parses every
// query, and finds no such revision).
func TestRealPrometheusJudges(t *testing.T) {
	src := startPrometheus(t, exporter(t), latencyExporter(t))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	lat := &prometheus.LatencySource{Source: src, Metric: "demo_request_duration_seconds",
		Matchers: []prometheus.Matcher{{Name: "job", Value: promserver.Job}}}
	counts := &prometheus.CountSource{Source: src, Metric: "demo_requests_total",
		Failed: []prometheus.Matcher{{Name: "code", Op: "=~", Value: "5.."}}}
	if err := lat.Validate(); err != nil {
		t.Fatalf("lat.Validate(): unexpected error: %v", err)
	}
	if err := counts.Validate(); err != nil {
		t.Fatalf("counts.Validate(): unexpected error: %v", err)
	}

	b, c, err := lat.Latencies(ctx, strategy.Input{Stable: "stable", Canary: "slow"})
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if !reflect.DeepEqual(b.Bounds, latencyBounds) {
		t.Fatalf("b.Bounds = %+v, want %+v", b.Bounds, latencyBounds)
	}
	if !(b.Count > 0) {
		t.Fatalf("b.Count = %v, want > 0", b.Count)
	}
	if !(c.Count > 0) {
		t.Fatalf("c.Count = %v, want > 0", c.Count)
	}

	for _, rev := range injections {
		_, c, err := lat.Latencies(ctx, strategy.Input{Stable: "stable", Canary: strategy.Revision(rev)})
		if err != nil {
			t.Fatalf("%q: unexpected error: %v", rev, err)
		}
		if c.Count != 0 {
			t.Errorf("%q selects no series: c.Count = %v, want 0", rev, c.Count)
		}
		_, _, err = lat.Latencies(ctx, strategy.Input{Stable: strategy.Revision(rev), Canary: "stable"})
		if err == nil || !strings.Contains(err.Error(), "no series for the baseline") {
			t.Fatalf("%q: err = %v, want an error containing %q", rev, err, "no series for the baseline")
		}
		if strategy.IsPermanent(err) {
			t.Errorf("%q: the server parsed the query: strategy.IsPermanent(err) = true, want false", rev)
		}
		_, _, err = counts.Counts(ctx, strategy.Input{Stable: "healthy", Canary: strategy.Revision(rev)})
		if err != nil {
			t.Fatalf("%q: unexpected error: %v", rev, err)
		}
	}

	var wg sync.WaitGroup
	for _, tc := range []struct {
		analyzer strategy.Analyzer
		stable   strategy.Revision
		canary   strategy.Revision
		want     strategy.Outcome
	}{
		{&judge.SequentialLatency{Source: lat, Interval: time.Second, MaxDuration: 15 * time.Second}, "stable", "slow", strategy.Fail},
		{&judge.SequentialLatency{Source: lat, Interval: time.Second, MaxDuration: 15 * time.Second}, "stable", "same", strategy.Pass},
		{&judge.Sequential{Source: counts, Interval: time.Second, MaxDuration: 15 * time.Second}, "healthy", "erroring", strategy.Fail},
	} {
		wg.Go(func() {
			in := strategy.Input{Release: "demo", Stable: tc.stable, Canary: tc.canary,
				State: strategy.State{Stable: tc.stable, Canary: tc.canary, Weight: 10}}
			start := time.Now()
			v, err := tc.analyzer.Analyze(ctx, in)
			if err != nil {
				t.Errorf("unexpected error: %v", err)
			}
			if v.Outcome != tc.want {
				t.Errorf("%s: %s: v.Outcome = %q, want %q", tc.canary, v.Reason, v.Outcome, tc.want)
			}
			t.Logf("%s after %v: %s %s", tc.canary, time.Since(start).Round(time.Millisecond), v.Outcome, v.Reason)
		})
	}
	wg.Wait()
}

// podExporter serves one pod's request counter of the revision "pods" in
// the text exposition format: value(n) at its n-th scrape.
func podExporter(t *testing.T, value func(n int) float64) *httptest.Server {
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		v := value(n)
		mu.Unlock()
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = fmt.Fprintf(w, "# TYPE demo_pod_requests_total counter\ndemo_pod_requests_total{revision=\"pods\",code=\"200\"} %g\n", v)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestRealPrometheusPerSeriesResets reads, through a real Prometheus
// server, a revision served by two pods: one grows slowly, the other
// restarts at every third scrape, dropping by far more than the first
// grows. The plain sum drops at each restart; the count source, which
// applies increase()'s reset rule series by series, reads a sum that
// never drops and that grows by at least what the restarting pod counted
// since its restart.
func TestRealPrometheusPerSeriesResets(t *testing.T) {
	steady := podExporter(t, func(n int) float64 { return 10 * float64(n) })
	restarting := podExporter(t, func(n int) float64 { return 500 * float64((n-1)%3+1) })
	src := startPrometheus(t, steady, restarting)
	counts := &prometheus.CountSource{Source: src, Metric: "demo_pod_requests_total",
		Failed: []prometheus.Matcher{{Name: "code", Op: "=~", Value: "5.."}}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	in := strategy.Input{Stable: "pods", Canary: "none"}
	var last float64
	plainDropped := false
	var prevPlain float64
	// Readings four times a second, against real scrapes once a second.
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for i := range 30 {
		b, _, err := counts.Counts(ctx, in)
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		if !(b.Trials >= last) {
			t.Errorf("reading %d: the corrected sum dropped: b.Trials = %v, want >= %v", i, b.Trials, last)
		}
		last = b.Trials
		v, err := src.Measure(ctx, analysis.Query{Text: `sum(demo_pod_requests_total{revision="pods"})`})
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		if vec, ok := v.([]float64); ok && len(vec) == 1 {
			if vec[0] < prevPlain {
				plainDropped = true
			}
			prevPlain = vec[0]
		}
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-tick.C:
		}
	}
	if !plainDropped {
		t.Error("the plain sum should have dropped at a restart (the test did not see one): plainDropped = false, want true")
	}
	// Over 7.5 s the restarting pod restarted at least twice, each time
	// after counting 1500: the corrected sum holds them.
	if !(last > 3000.0) {
		t.Errorf("last = %v, want > %v", last, 3000.0)
	}
}
