package prometheus_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
	require.NoError(t, analysis.Preflight(context.Background(), in, good, &analysis.Webhook{Label: "not probed"}))
	assert.Empty(t, good.History())
	f.mu.Lock()
	assert.Equal(t, []string{`sum(rate(errors_total{rev="v2"}[1m]))`}, f.queries)
	f.mu.Unlock()

	// The server rejects the query.
	f.mu.Lock()
	f.status = http.StatusBadRequest
	f.body = `{"status":"error","errorType":"bad_data","error":"1:5: parse error: unexpected"}`
	f.mu.Unlock()
	err := analysis.Preflight(context.Background(), in, good)
	require.ErrorIs(t, err, analysis.ErrPreflightFailed)
	assert.Contains(t, err.Error(), "errors: query: prometheus rejected the query")

	// Nobody listens, in a group; the token in the URL stays secret.
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	src2 := &prometheus.Source{Address: down.URL}
	defer src2.Close()
	latency := &analysis.Check{Label: "latency", Source: src2, Query: `x{t="{{args.token}}"}`,
		Args: []analysis.Arg{{Name: "token", Value: "s3cr3t", Secret: true}}}
	err = analysis.Preflight(context.Background(), in, &analysis.Group{Label: "g", Analyzers: []strategy.Analyzer{latency}})
	require.ErrorIs(t, err, analysis.ErrPreflightFailed)
	assert.Contains(t, err.Error(), "g: ")
	assert.Contains(t, err.Error(), "latency: query: prometheus:")
	assert.NotContains(t, err.Error(), "s3cr3t")

	// An invalid check fails its preflight with its validation error.
	bad := &analysis.Check{Label: "bad", Source: &prometheus.Source{Address: "nowhere"}, Query: "up"}
	err = analysis.Preflight(context.Background(), in, bad)
	require.ErrorIs(t, err, analysis.ErrPreflightFailed)
	assert.Contains(t, err.Error(), `bad: invalid configuration: check "bad"`)
}
