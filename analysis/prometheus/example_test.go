package prometheus_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/glidepath/glidepath/analysis"
	"github.com/glidepath/glidepath/analysis/judge"
	"github.com/glidepath/glidepath/analysis/prometheus"
	"github.com/glidepath/glidepath/strategy"
)

// A check of the canary's success rate against a Prometheus server (here a
// stand-in that answers every query with one series).
func ExampleSource() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		fmt.Println("query:", r.Form.Get("query"))
		_, _ = io.WriteString(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000,"0.997"]}]}}`)
	}))
	defer srv.Close()
	prom := &prometheus.Source{Address: srv.URL}
	defer prom.Close()

	check := &analysis.Check{
		Label:            "success-rate",
		Source:           prom,
		Query:            `sum(rate(http_requests_total{rev="{{release.canary}}",code!~"5.."}[{{args.window}}])) / sum(rate(http_requests_total{rev="{{release.canary}}"}[{{args.window}}]))`,
		Args:             []analysis.Arg{{Name: "window", Value: "5m"}},
		SuccessCondition: "result[0] >= 0.99",
	}
	v, err := check.Analyze(context.Background(), strategy.Input{Release: "shop", Stable: "v1", Canary: "v2"})
	fmt.Println(v.Outcome, err, v.Measurements[0].Value)
	// Output:
	// query: sum(rate(http_requests_total{rev="v2",code!~"5.."}[5m])) / sum(rate(http_requests_total{rev="v2"}[5m]))
	// Pass <nil> [0.997]
}

// The latency histograms of a release's two revisions, for the sequential
// latency judge (judge.SequentialLatency{Source: latency}), read from a
// Prometheus server (here a stand-in that knows two revisions).
func ExampleLatencySource() {
	var (
		mu      sync.Mutex
		queries []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		q := r.Form.Get("query")
		mu.Lock()
		queries = append(queries, q)
		mu.Unlock()
		// Cumulative bucket counts: v1 has served 1000 requests, v2 100.
		n := 1000.0
		if strings.Contains(q, `revision="v2"`) {
			n = 100
		}
		fmt.Fprintf(w, `{"status":"success","data":{"resultType":"vector","result":[
			{"metric":{"le":"0.1"},"value":[1700000000,"%g"]},
			{"metric":{"le":"0.25"},"value":[1700000000,"%g"]},
			{"metric":{"le":"+Inf"},"value":[1700000000,"%g"]}]}}`, n/4, n*3/4, n)
	}))
	defer srv.Close()
	prom := &prometheus.Source{Address: srv.URL}
	defer prom.Close()

	latency := &prometheus.LatencySource{
		Source:   prom,
		Metric:   "http_request_duration_seconds",
		Matchers: []prometheus.Matcher{{Name: "job", Value: "checkout"}},
	}
	if err := latency.Validate(); err != nil {
		panic(err)
	}
	baseline, canary, err := latency.Latencies(context.Background(), strategy.Input{Release: "checkout", Stable: "v1", Canary: "v2"})
	if err != nil {
		panic(err)
	}
	slices.Sort(queries)
	for _, q := range queries {
		fmt.Println("query:", q)
	}
	fmt.Printf("baseline: bounds %v, counts %v of %v\n", baseline.Bounds, baseline.Counts, baseline.Count)
	fmt.Printf("canary:   bounds %v, counts %v of %v\n", canary.Bounds, canary.Counts, canary.Count)
	// Output:
	// query: http_request_duration_seconds_bucket{revision="v1",job="checkout"}
	// query: http_request_duration_seconds_bucket{revision="v2",job="checkout"}
	// baseline: bounds [0.1 0.25], counts [250 750] of 1000
	// canary:   bounds [0.1 0.25], counts [25 75] of 100
}

// The queries a count source runs for the sequential error-rate judge
// (judge.Sequential{Source: errors}): requests served, and those that
// failed, per revision.
func ExampleCountSource() {
	errors := &prometheus.CountSource{
		Source:   &prometheus.Source{Address: "http://prometheus.monitoring:9090"},
		Metric:   "http_requests_total",
		Matchers: []prometheus.Matcher{{Name: "job", Value: "checkout"}},
		Failed:   []prometheus.Matcher{{Name: "code", Op: "=~", Value: "5.."}},
	}
	trials, failures, err := errors.Queries("v2")
	if err != nil {
		panic(err)
	}
	fmt.Println(trials)
	fmt.Println(failures)
	// Output:
	// http_requests_total{revision="v2",job="checkout"}
	// http_requests_total{revision="v2",job="checkout",code=~"5.."}
}

// The sequential latency judge reading Prometheus: here a stand-in whose
// counters grow by 100 requests of each revision between readings, most of
// the canary's slower than 250 ms.
func ExampleLatencySource_sequentialLatency() {
	var (
		mu    sync.Mutex
		reads = map[bool]float64{}
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		canary := strings.Contains(r.Form.Get("query"), `revision="v2"`)
		mu.Lock()
		reads[canary]++
		n := reads[canary]
		mu.Unlock()
		fast, mid := 50*n, 90*n // at most 100 ms, at most 250 ms, of 100n
		if canary {
			fast, mid = 10*n, 40*n
		}
		fmt.Fprintf(w, `{"status":"success","data":{"resultType":"vector","result":[
			{"metric":{"le":"0.1"},"value":[1700000000,"%g"]},
			{"metric":{"le":"0.25"},"value":[1700000000,"%g"]},
			{"metric":{"le":"+Inf"},"value":[1700000000,"%g"]}]}}`, fast, mid, 100*n)
	}))
	defer srv.Close()
	prom := &prometheus.Source{Address: srv.URL}
	defer prom.Close()

	latency := &judge.SequentialLatency{
		Source:   &prometheus.LatencySource{Source: prom, Metric: "http_request_duration_seconds"},
		Interval: time.Millisecond, // a minute, say, in production
	}
	v, err := latency.Analyze(context.Background(), strategy.Input{Release: "checkout", Stable: "v1", Canary: "v2"})
	fmt.Println(v.Outcome, err)
	// Output:
	// Fail <nil>
}
