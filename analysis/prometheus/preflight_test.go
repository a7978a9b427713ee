package prometheus_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/glidepath/glidepath/analysis"
	"github.com/glidepath/glidepath/analysis/prometheus"
	"github.com/glidepath/glidepath/strategy"
)

// A preflight probe takes one query before anything is applied: a server
// that is down, or one that rejects the query, is reported with the
// analyzer's name; empty data is fine; nothing is judged or recorded.
func TestPreflight(t *testing.T) {
	f := newFake(t)
	f.body = `{"status":"success","data":{"resultType":"vector","result":[]}}`
	in := strategy.Input{Release: "shop", Stable: "v1", Canary: "v2", State: strategy.State{Stable: "v1", Replicas: strategy.Replicas{Stable: 2}}}
	src := &prometheus.Source{Address: f.srv.URL}
	defer src.Close()
	good := &analysis.Check{Label: "errors", Source: src, Query: `sum(rate(errors_total{rev="{{release.canary}}"}[1m]))`,
		SuccessCondition: "len(result) > 0 && result[0] < 1"}
	if err := analysis.Preflight(context.Background(), in, good, &analysis.Webhook{Label: "not probed"}); err != nil {
		t.Fatalf(`analysis.Preflight(context.Background(), in, good, &analysis.Webhook{Label: "not probed"}): unexpected error: %v`, err)
	}
	if got := good.History(); len(got) != 0 {
		t.Errorf("good.History() = %+v, want empty", got)
	}
	f.mu.Lock()
	if want := []string{`sum(rate(errors_total{rev="v2"}[1m]))`}; !slices.Equal(f.queries, want) {
		t.Errorf("f.queries = %q, want %q", f.queries, want)
	}
	f.mu.Unlock()

	// The server rejects the query.
	f.mu.Lock()
	f.status = http.StatusBadRequest
	f.body = `{"status":"error","errorType":"bad_data","error":"1:5: parse error: unexpected"}`
	f.mu.Unlock()
	err := analysis.Preflight(context.Background(), in, good)
	if !errors.Is(err, analysis.ErrPreflightFailed) {
		t.Fatalf("err = %v, want an error matching %v", err, analysis.ErrPreflightFailed)
	}
	if got := err.Error(); !strings.Contains(got, "errors: query: prometheus rejected the query") {
		t.Errorf("err.Error() = %q, want it to contain %q", got, "errors: query: prometheus rejected the query")
	}

	// Nobody listens, in a group; the token in the URL stays secret.
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	src2 := &prometheus.Source{Address: down.URL}
	defer src2.Close()
	latency := &analysis.Check{Label: "latency", Source: src2, Query: `x{t="{{args.token}}"}`,
		Args: []analysis.Arg{{Name: "token", Value: "s3cr3t", Secret: true}}}
	err = analysis.Preflight(context.Background(), in, &analysis.Group{Label: "g", Analyzers: []strategy.Analyzer{latency}})
	if !errors.Is(err, analysis.ErrPreflightFailed) {
		t.Fatalf("err = %v, want an error matching %v", err, analysis.ErrPreflightFailed)
	}
	if got := err.Error(); !strings.Contains(got, "g: ") {
		t.Errorf("err.Error() = %q, want it to contain %q", got, "g: ")
	}
	if got := err.Error(); !strings.Contains(got, "latency: query: prometheus:") {
		t.Errorf("err.Error() = %q, want it to contain %q", got, "latency: query: prometheus:")
	}
	if got := err.Error(); strings.Contains(got, "s3cr3t") {
		t.Errorf("err.Error() = %q, want it not to contain %q", got, "s3cr3t")
	}

	// An invalid check fails its preflight with its validation error.
	bad := &analysis.Check{Label: "bad", Source: &prometheus.Source{Address: "nowhere"}, Query: "up"}
	err = analysis.Preflight(context.Background(), in, bad)
	if !errors.Is(err, analysis.ErrPreflightFailed) {
		t.Fatalf("err = %v, want an error matching %v", err, analysis.ErrPreflightFailed)
	}
	if got := err.Error(); !strings.Contains(got, `bad: invalid configuration: check "bad"`) {
		t.Errorf("err.Error() = %q, want it to contain %q", got, `bad: invalid configuration: check "bad"`)
	}
}
