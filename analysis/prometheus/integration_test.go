package prometheus_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	promclient "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/glidepath/glidepath/analysis"
	"github.com/glidepath/glidepath/analysis/prometheus"
	"github.com/glidepath/glidepath/strategy"
)

// prometheusBinary finds the server, or skips the test (fails it in CI).
func prometheusBinary(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/prometheus"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("prometheus"); err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("the prometheus binary is required in CI (Debian package prometheus)")
	}
	t.Skip("prometheus binary not installed")
	return ""
}

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

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// TestRealPrometheus runs a real Prometheus server that scrapes an exporter
// every second, and checks that the healthy revision passes and the erroring
// one fails.
func TestRealPrometheus(t *testing.T) {
	bin := prometheusBinary(t)
	exp := exporter(t)
	dir := t.TempDir()
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: demo
    static_configs:
      - targets: [%q]
`, exp.Listener.Addr().String())
	require.NoError(t, os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o600))
	addr := freePort(t)
	var logs bytes.Buffer
	cmd := exec.Command(bin,
		"--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--log.level=warn")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus output:\n%s", logs.String())
		}
	})

	src := &prometheus.Source{Address: "http://" + addr, Timeout: 5 * time.Second}
	defer src.Close()
	// Wait, boundedly, until two scrapes make a rate.
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		v, err := src.Measure(ctx, analysis.Query{Text: `sum(rate(demo_requests_total[10s]))`})
		if vec, ok := v.([]float64); err == nil && ok && len(vec) == 1 && vec[0] > 0 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no samples from prometheus in time (last error %v)", err)
		case <-tick.C:
		}
	}

	errorRate := &analysis.Check{
		Label:  "error-rate",
		Source: src,
		Query: `(sum(rate(demo_requests_total{revision="{{release.canary}}",code=~"5.."}[10s])) or vector(0))
		  / sum(rate(demo_requests_total{revision="{{release.canary}}"}[10s]))`,
		SuccessCondition: "result[0] < 0.05",
		FailureCondition: "result[0] >= 0.05",
		MinSamples:       1,
	}
	require.NoError(t, errorRate.Validate())
	for _, tc := range []struct {
		rev  strategy.Revision
		want strategy.Outcome
	}{{"healthy", strategy.Pass}, {"erroring", strategy.Fail}} {
		in := strategy.Input{Release: "demo", Stable: "v1", Canary: tc.rev, State: strategy.State{Stable: "v1", Canary: tc.rev, Weight: 10}}
		v, err := errorRate.Analyze(ctx, in)
		require.NoError(t, err)
		assert.Equal(t, tc.want, v.Outcome, "%s: %s", tc.rev, v.Reason)
		t.Logf("%s: %s %v", tc.rev, v.Outcome, v.Measurements)
	}

	// A query the server cannot parse is a permanent error.
	bad := &analysis.Check{Label: "bad", Source: src, Query: `sum(rate(demo_requests_total[10s]`}
	_, err := bad.Analyze(ctx, strategy.Input{})
	require.Error(t, err)
	assert.True(t, strategy.IsPermanent(err), "%v", err)
}
