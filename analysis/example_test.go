package analysis_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/glidepath/glidepath/analysis"
	"github.com/glidepath/glidepath/analysis/analysistest"
	"github.com/glidepath/glidepath/strategy"
)

func exampleInput() strategy.Input {
	return strategy.Input{Release: "shop", Stable: "v1", Canary: "v2",
		State: strategy.State{Stable: "v1", Canary: "v2", Weight: 20}}
}

// A check measures three times and tolerates one failure; the second
// failure fails it, and the verdict shows each measurement.
func ExampleCheck() {
	check := &analysis.Check{
		Label:            "success-rate",
		Source:           analysistest.Values([]float64{0.995}, []float64{0.97}, []float64{0.96}),
		Query:            `sum(rate(http_requests_total{rev="{{release.canary}}",code!~"5.."}[1m])) / sum(rate(http_requests_total{rev="{{release.canary}}"}[1m]))`,
		SuccessCondition: "result[0] >= 0.99",
		Interval:         time.Millisecond,
		Count:            3,
		FailureLimit:     1,
	}
	if err := check.Validate(); err != nil {
		fmt.Println(err)
		return
	}
	v, err := check.Analyze(context.Background(), exampleInput())
	fmt.Println(v.Outcome, err)
	fmt.Println(v.Reason)
	for _, m := range v.Measurements {
		fmt.Println(m.Value, m.Outcome, m.Condition)
	}
	// Output:
	// Fail <nil>
	// failed (2) > failureLimit (1); last value [0.96] (!(result[0] >= 0.99))
	// [0.995] Pass result[0] >= 0.99
	// [0.97] Fail !(result[0] >= 0.99)
	// [0.96] Fail !(result[0] >= 0.99)
}

// Validate names every problem of a check at once.
func ExampleCheck_Validate() {
	check := &analysis.Check{
		Label:            "latency",
		Query:            `histogram_quantile(0.99, rate(latency_bucket{rev="{{release.canary}}"}[{{args.window}}]))`,
		SuccessCondition: "result[0] <",
		Count:            5,
	}
	fmt.Println(check.Validate())
	// Output:
	// invalid configuration: check "latency"
	//   - no Source
	//   - query: placeholder {{args.window}} names no argument
	//   - SuccessCondition "result[0] <" does not compile: unexpected token EOF (1:11) | result[0] < | ..........^
	//   - Count 5 needs an Interval between measurements
}

// A dry-run check is measured and reported but always passes.
func ExampleCheck_dryRun() {
	check := &analysis.Check{
		Label:            "new-latency-slo",
		Source:           analysistest.Values(0.42),
		SuccessCondition: "result < 0.25",
		DryRun:           true,
	}
	v, _ := check.Analyze(context.Background(), exampleInput())
	fmt.Println(v.Outcome)
	fmt.Println(v.Reason)
	// Output:
	// Pass
	// dry run, would be Fail: failed (1) > failureLimit (0); last value 0.42 (!(result < 0.25))
}

// A function source measures numbers the program already has.
func ExampleSourceFunc() {
	queueDepth := func(context.Context, analysis.Query) (any, error) { return 12, nil }
	check := &analysis.Check{
		Label:            "queue-depth",
		Source:           analysis.SourceFunc(queueDepth),
		FailureCondition: "result > 100",
	}
	v, _ := check.Analyze(context.Background(), exampleInput())
	fmt.Println(v.Outcome, v.Measurements[0].Condition)
	// Output: Pass !(result > 100)
}

// A group runs its checks together; the worst outcome wins.
func ExampleGroup() {
	group := &analysis.Group{
		Label: "canary-health",
		Analyzers: []strategy.Analyzer{
			&analysis.Check{Label: "errors", Source: analysistest.Values([]float64{0.001}), SuccessCondition: "result[0] < 0.01"},
			&analysis.Check{Label: "latency", Source: analysistest.Values([]float64{0.480}), SuccessCondition: "result[0] < 0.3"},
		},
	}
	v, _ := group.Analyze(context.Background(), exampleInput())
	worst, _, _ := strings.Cut(v.Reason, "; errors")
	fmt.Println(v.Outcome)
	fmt.Println(worst)
	// Output:
	// Fail
	// latency: Fail (failed (1) > failureLimit (0); last value [0.48] (!(result[0] < 0.3)))
}

// An HTTP source reads a number from a JSON endpoint.
func ExampleHTTP() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"service":"`+r.URL.Query().Get("rev")+`","successRate":0.998}`)
	}))
	defer srv.Close()
	check := &analysis.Check{
		Label:            "web",
		Source:           &analysis.HTTP{Path: "$.successRate"},
		Query:            srv.URL + "/stats?rev={{release.canary}}",
		SuccessCondition: "result >= 0.99",
	}
	v, _ := check.Analyze(context.Background(), exampleInput())
	fmt.Println(v.Outcome, v.Measurements[0].Value)
	// Output: Pass 0.998
}

// A webhook gate asks another system; the receiver verifies the signature
// before trusting the request.
func ExampleWebhook() {
	key := []byte("shared-secret")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := analysis.VerifyWebhook(key, r.Header, body, time.Now(), 5*time.Minute); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		http.Error(w, `{"reason":"change freeze"}`, http.StatusConflict)
	}))
	defer srv.Close()
	gate := &analysis.Webhook{Label: "freeze", URL: srv.URL, Secret: key}
	v, err := gate.Analyze(context.Background(), exampleInput())
	fmt.Println(v.Outcome, err)
	fmt.Println(v.Reason)
	// Output:
	// Fail <nil>
	// refused (HTTP 409): change freeze
}

// A receiver checks each request with a ReplayGuard: the signature, the
// timestamp, and that the request's ID has not been accepted before. A
// captured request sent again is refused.
func ExampleReplayGuard() {
	key := []byte("shared-secret")
	guard := &analysis.ReplayGuard{Secret: key, MaxAge: 5 * time.Minute}
	var lastHeader http.Header
	var lastBody []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		lastHeader, lastBody = r.Header.Clone(), body
		req, err := guard.Verify(r.Header, body, time.Now())
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		fmt.Println("approving", req.Gate, "for", req.Canary)
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	gate := &analysis.Webhook{Label: "approval", URL: srv.URL, Secret: key}
	v, _ := gate.Analyze(context.Background(), exampleInput())
	fmt.Println(v.Outcome)

	// Someone who captured the request sends it again.
	replay, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(lastBody))
	replay.Header = lastHeader
	resp, err := http.DefaultClient.Do(replay)
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println("replay:", resp.Status)
	// Output:
	// approving approval for v2
	// Pass
	// replay: 401 Unauthorized
}

// Before a release starts, Preflight takes one measurement of each check
// (without judging it) so that a source that cannot answer is found
// before any traffic moves.
func ExamplePreflight() {
	down := analysis.SourceFunc(func(context.Context, analysis.Query) (any, error) {
		return nil, fmt.Errorf("dial tcp 127.0.0.1:9090: connection refused")
	})
	ok := analysis.SourceFunc(func(context.Context, analysis.Query) (any, error) {
		return []float64{}, nil // no data yet: fine before the first Apply
	})
	checks := []strategy.Analyzer{
		&analysis.Check{Label: "error-rate", Source: ok, Query: "errors", SuccessCondition: "result[0] < 0.01"},
		&analysis.Check{Label: "latency", Source: down, Query: "p99", SuccessCondition: "result[0] < 0.3"},
	}
	err := analysis.Preflight(context.Background(), exampleInput(), checks...)
	fmt.Println(errors.Is(err, analysis.ErrPreflightFailed))
	fmt.Println(err)
	// Output:
	// true
	// analysis preflight failed:
	//   - latency: query: dial tcp 127.0.0.1:9090: connection refused
}
