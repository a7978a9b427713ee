//go:build linux

package httpsplit

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/glidepath/glidepath/strategy"
)

// On Linux, Serve's TCP connections are served by the event loops, not
// one goroutine each: the tests of Serve in this package's external
// tests exercise them.
func TestServeUsesEventLoops(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") }))
	defer up.Close()
	s, err := New(context.Background(), Config{Upstreams: map[strategy.Revision]string{"v1": up.URL}, Initial: strategy.State{Stable: "v1"}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	s.srvMu.Lock()
	var loops, conns int
	for sv := range s.servers {
		if p := sv.loopsSeen.Load(); p != nil {
			loops += len(*p)
		}
		sv.mu.Lock()
		conns += len(sv.conns)
		sv.mu.Unlock()
	}
	s.srvMu.Unlock()
	if loops == 0 || conns != 0 {
		t.Errorf("%d event loops, %d connections on goroutines; want at least one loop and none", loops, conns)
	}
	_ = s.Close()
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve returned %v", err)
	}
}
