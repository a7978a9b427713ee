package httpsplit_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"

	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/httpsplit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// backend is an upstream for tests: it answers every request with its name
// and counts the requests it served (health checks apart).
type backend struct {
	*httptest.Server
	name    string
	served  atomic.Int64
	healthy atomic.Bool
}

func newBackend(t *testing.T, name string) *backend {
	t.Helper()
	b := &backend{name: name}
	b.healthy.Store(true)
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == httpsplit.DefaultHealthPath {
			if !b.healthy.Load() {
				http.Error(w, "down", http.StatusServiceUnavailable)
				return
			}
			_, _ = io.WriteString(w, "ok")
			return
		}
		b.served.Add(1)
		_, _ = io.WriteString(w, name)
	}))
	t.Cleanup(b.Close)
	return b
}

// newSplitter returns a splitter over the backends serving initial, and a
// test server in front of it.
func newSplitter(t *testing.T, initial strategy.State, cfg httpsplit.Config, backends ...*backend) (*httpsplit.Splitter, *httptest.Server) {
	t.Helper()
	if cfg.Upstreams == nil {
		cfg.Upstreams = map[strategy.Revision]string{}
	}
	for _, b := range backends {
		cfg.Upstreams[strategy.Revision(b.name)] = b.URL
	}
	cfg.Initial = initial
	s, err := httpsplit.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.CloseIdleConnections)
	front := httptest.NewServer(s)
	t.Cleanup(front.Close)
	return s, front
}

// get sends a GET with optional headers and returns the status and body.
func get(ctx context.Context, t testing.TB, c *http.Client, url string, header ...string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body), resp.Header
}
