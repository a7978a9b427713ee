package httpsplit_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"

	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/httpsplit"
)

// TestMain runs every test twice: with the splitter mounted on
// net/http's server (an http.Handler), and behind Splitter.Serve, so that
// each behaviour is checked on both fronts.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		fmt.Println("=== again, every splitter behind Splitter.Serve")
		serveFront = true
		code = m.Run()
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// serveFront makes newSplitter serve through Splitter.Serve instead of
// an httptest server with the Splitter as Handler.
var serveFront bool

// frontend is where a test's clients reach the splitter.
type frontend struct {
	URL    string
	client *http.Client
}

// Client returns a client for the frontend.
func (f *frontend) Client() *http.Client { return f.client }

// startFront serves s, on loopback, as serveFront says.
func startFront(t *testing.T, s *httpsplit.Splitter) *frontend {
	t.Helper()
	if !serveFront {
		srv := httptest.NewServer(s)
		t.Cleanup(srv.Close)
		return &frontend{URL: srv.URL, client: srv.Client()}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	tr := &http.Transport{}
	t.Cleanup(func() {
		_ = s.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
		tr.CloseIdleConnections()
	})
	return &frontend{URL: "http://" + ln.Addr().String(), client: &http.Client{Transport: tr}}
}

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
func newSplitter(t *testing.T, initial strategy.State, cfg httpsplit.Config, backends ...*backend) (*httpsplit.Splitter, *frontend) {
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
	return s, startFront(t, s)
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
