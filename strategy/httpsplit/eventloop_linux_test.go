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
	"time"

	"github.com/glidepath/glidepath/strategy"
)

// On Linux, Serve's TCP connections are served by the event loops, not
// one goroutine each: the tests of Serve in this package's external
// tests exercise them.
func TestServeUsesEventLoops(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/big" {
			_, _ = w.Write(make([]byte, 100<<10))
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
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
	br := bufio.NewReader(c)
	// A response larger than a loop's buffer is relayed by a goroutine,
	// and the connection then goes back to the loop.
	for _, path := range []string{"/", "/big", "/"} {
		_, _ = io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: a\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	count := func() (loops, conns int) {
		s.srvMu.Lock()
		defer s.srvMu.Unlock()
		for sv := range s.servers {
			if p := sv.loopsSeen.Load(); p != nil {
				loops += len(*p)
			}
			sv.mu.Lock()
			conns += len(sv.conns)
			sv.mu.Unlock()
		}
		return loops, conns
	}
	// The relaying goroutine ends just after it hands the connection
	// back; wait for that, up to 10s.
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(10 * time.Second)
	loops, conns := count()
	for conns != 0 && time.Now().Before(deadline) {
		<-tick.C
		loops, conns = count()
	}
	if loops == 0 || conns != 0 {
		t.Errorf("%d event loops, %d connections on goroutines; want at least one loop and none", loops, conns)
	}
	_ = s.Close()
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve returned %v", err)
	}
}
