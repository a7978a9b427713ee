package httpsplit_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/httpsplit"
)

// paths runs f over both ways a splitter forwards: its own fast path (the
// default transport) and httputil.ReverseProxy (a Transport given in
// Config), so that each behaviour is checked on both.
func paths(t *testing.T, f func(t *testing.T, cfg httpsplit.Config)) {
	t.Run("fast-path", func(t *testing.T) { f(t, httpsplit.Config{}) })
	t.Run("reverse-proxy", func(t *testing.T) {
		tr := &http.Transport{DisableCompression: true}
		t.Cleanup(tr.CloseIdleConnections)
		f(t, httpsplit.Config{Transport: tr})
	})
}

func with(cfg httpsplit.Config, up string) httpsplit.Config {
	cfg.Upstreams = map[strategy.Revision]string{"v1": up}
	return cfg
}

// The body is streamed: the client reads the first part while the
// upstream is still waiting to send the rest.
func TestStreamingResponse(t *testing.T) {
	paths(t, func(t *testing.T, cfg httpsplit.Config) {
		more := make(chan struct{})
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "first\n")
			w.(http.Flusher).Flush()
			<-more
			_, _ = io.WriteString(w, "second\n")
		}))
		defer up.Close()
		_, front := newSplitter(t, strategy.State{Stable: "v1"}, with(cfg, up.URL))
		resp, err := front.Client().Get(front.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		br := bufio.NewReader(resp.Body)
		line, err := br.ReadString('\n')
		if err != nil || line != "first\n" {
			t.Fatalf("first line %q, %v", line, err)
		}
		close(more)
		rest, err := io.ReadAll(br)
		if err != nil || string(rest) != "second\n" {
			t.Fatalf("rest %q, %v", rest, err)
		}
	})
}

// Trailers the upstream sends reach the client.
func TestTrailers(t *testing.T) {
	paths(t, func(t *testing.T, cfg httpsplit.Config) {
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Trailer", "X-Checksum")
			_, _ = io.WriteString(w, "body")
			w.Header().Set("X-Checksum", "abc123")
		}))
		defer up.Close()
		_, front := newSplitter(t, strategy.State{Stable: "v1"}, with(cfg, up.URL))
		resp, err := front.Client().Get(front.URL)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || string(body) != "body" {
			t.Fatalf("body %q, %v", body, err)
		}
		if got := resp.Trailer.Get("X-Checksum"); got != "abc123" {
			t.Errorf("trailer X-Checksum %q, want abc123 (trailers %v)", got, resp.Trailer)
		}
	})
}

// Hop-by-hop headers, and headers a Connection header names, are not
// forwarded in either direction; end-to-end headers are.
func TestHopByHopHeaders(t *testing.T) {
	paths(t, func(t *testing.T, cfg httpsplit.Config) {
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var saw []string
			for _, k := range []string{"Connection", "X-Hop", "Keep-Alive", "Proxy-Authorization", "Te", "X-End"} {
				saw = append(saw, fmt.Sprintf("%s=%q", k, r.Header.Values(k)))
			}
			w.Header().Set("Connection", "X-Internal")
			w.Header().Set("X-Internal", "secret")
			w.Header().Set("Keep-Alive", "timeout=5")
			w.Header().Set("X-Public", "yes")
			_, _ = io.WriteString(w, strings.Join(saw, " "))
		}))
		defer up.Close()
		_, front := newSplitter(t, strategy.State{Stable: "v1"}, with(cfg, up.URL))
		code, body, h := get(t.Context(), t, front.Client(), front.URL,
			"Connection", "X-Hop", "X-Hop", "1", "Keep-Alive", "timeout=9", "Proxy-Authorization", "Basic eDp5",
			"Te", "trailers", "X-End", "kept")
		want := `Connection=[] X-Hop=[] Keep-Alive=[] Proxy-Authorization=[] Te=["trailers"] X-End=["kept"]`
		if code != http.StatusOK || body != want {
			t.Errorf("upstream saw %s (status %d), want %s", body, code, want)
		}
		if h.Get("X-Internal") != "" || h.Get("Keep-Alive") != "" || h.Get("X-Public") != "yes" {
			t.Errorf("client got X-Internal %q, Keep-Alive %q, X-Public %q", h.Get("X-Internal"), h.Get("Keep-Alive"), h.Get("X-Public"))
		}
	})
}

// A client's X-Real-IP never reaches the upstream: it is dropped, or
// replaced with the client's address, as Config.RealIP says.
func TestRealIP(t *testing.T) {
	paths(t, func(t *testing.T, cfg httpsplit.Config) {
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "%q", r.Header.Values("X-Real-Ip"))
		}))
		defer up.Close()
		for mode, want := range map[httpsplit.RealIP]string{httpsplit.RealIPDrop: `[]`, httpsplit.RealIPSet: `["127.0.0.1"]`} {
			c := with(cfg, up.URL)
			c.RealIP = mode
			_, front := newSplitter(t, strategy.State{Stable: "v1"}, c)
			_, body, _ := get(t.Context(), t, front.Client(), front.URL, "X-Real-IP", "10.6.6.6", "X-Real-IP", "10.7.7.7")
			if body != want {
				t.Errorf("RealIP %d: upstream saw X-Real-IP %s, want %s", mode, body, want)
			}
		}
	})
	_, err := httpsplit.New(t.Context(), httpsplit.Config{
		Upstreams: map[strategy.Revision]string{"v1": "http://127.0.0.1:1"}, Initial: strategy.State{Stable: "v1"}, RealIP: 7,
	})
	if err == nil || !strings.Contains(err.Error(), "real IP mode 7") {
		t.Errorf("RealIP 7: %v", err)
	}
}

// Escaped paths, queries, methods with bodies and HEAD requests arrive
// as the client sent them.
func TestRequestsArriveIntact(t *testing.T) {
	paths(t, func(t *testing.T, cfg httpsplit.Config) {
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			w.Header().Set("X-Length", fmt.Sprint(len(body)))
			fmt.Fprintf(w, "%s %s ? %s body=%q", r.Method, r.URL.EscapedPath(), r.URL.RawQuery, body)
		}))
		defer up.Close()
		_, front := newSplitter(t, strategy.State{Stable: "v1"}, with(cfg, up.URL))
		_, body, _ := get(t.Context(), t, front.Client(), front.URL+"/a%2Fb/c%20d?x=1&y=%20")
		if want := `GET /a%2Fb/c%20d ? x=1&y=%20 body=""`; body != want {
			t.Errorf("GET: upstream saw %s, want %s", body, want)
		}
		resp, err := front.Client().Post(front.URL+"/post", "text/plain", strings.NewReader("payload"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := `POST /post ?  body="payload"`; string(b) != want {
			t.Errorf("POST: upstream saw %s, want %s", b, want)
		}
		resp, err = front.Client().Head(front.URL + "/head")
		if err != nil {
			t.Fatal(err)
		}
		b, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if len(b) != 0 || resp.StatusCode != http.StatusOK || resp.Header.Get("X-Length") != "0" {
			t.Errorf("HEAD: status %d, body %q, X-Length %q", resp.StatusCode, b, resp.Header.Get("X-Length"))
		}
	})
}

// An Upgrade (a WebSocket handshake) is passed through and the
// connection then carries bytes both ways.
func TestUpgradePassthrough(t *testing.T) {
	paths(t, func(t *testing.T, cfg httpsplit.Config) {
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Upgrade") != "websocket" {
				http.Error(w, "no upgrade", http.StatusBadRequest)
				return
			}
			conn, brw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			defer conn.Close()
			_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
			_ = brw.Flush()
			line, _ := brw.ReadString('\n')
			_, _ = brw.WriteString("echo: " + line)
			_ = brw.Flush()
		}))
		defer up.Close()
		_, front := newSplitter(t, strategy.State{Stable: "v1"}, with(cfg, up.URL))
		conn, err := net.Dial("tcp", strings.TrimPrefix(front.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_, _ = io.WriteString(conn, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("handshake: %v %v", resp, err)
		}
		_, _ = io.WriteString(conn, "hello\n")
		line, err := br.ReadString('\n')
		if err != nil || line != "echo: hello\n" {
			t.Errorf("after the upgrade read %q, %v", line, err)
		}
	})
}

// rawUpstream serves each connection with handle, on loopback.
// answerEach reads requests from c and writes answer's reply to each,
// until a read fails or answer says the reply was the last; then it
// closes c.
func answerEach(c net.Conn, answer func(path string) (reply string, last bool)) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		reply, last := answer(req.URL.Path)
		_, _ = io.WriteString(c, reply)
		if last {
			return
		}
	}
}

func rawUpstream(t *testing.T, handle func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			handle(c)
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return "http://" + ln.Addr().String()
}

// An upstream that closes an idle keep-alive connection does not fail the
// next request: a GET that finds its reused connection closed is sent
// again on a new one.
func TestReusedConnectionClosedByUpstream(t *testing.T) {
	var conns atomic.Int64
	url := rawUpstream(t, func(c net.Conn) {
		defer c.Close()
		conns.Add(1)
		if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
			return
		}
		// Keep-alive in the headers, and then the connection closes.
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	})
	s, front := newSplitter(t, strategy.State{Stable: "v1"}, httpsplit.Config{Upstreams: map[strategy.Revision]string{"v1": url}})
	for i := range 3 {
		if code, body, _ := get(t.Context(), t, front.Client(), front.URL); code != http.StatusOK || body != "ok" {
			t.Fatalf("request %d: %d %q", i, code, body)
		}
	}
	if n := conns.Load(); n < 3 {
		t.Errorf("%d upstream connections for 3 requests on a server that closes each", n)
	}
	if st := s.Stats()["v1"]; st.Errors != 0 || st.Requests != 3 {
		t.Errorf("stats %+v", st)
	}
}

// An upstream that dies in the middle of a body makes the client's
// response fail too: the client never takes a cut body for a whole one.
func TestUpstreamFailsMidBody(t *testing.T) {
	paths(t, func(t *testing.T, cfg httpsplit.Config) {
		url := rawUpstream(t, func(c net.Conn) {
			defer c.Close()
			if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
				return
			}
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b")
		})
		_, front := newSplitter(t, strategy.State{Stable: "v1"}, with(cfg, url))
		resp, err := front.Client().Get(front.URL)
		if err != nil {
			return // failed before the body: as good
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil {
			t.Errorf("a cut body (%q) was read without an error", body)
		}
	})
}

// Close is graceful: a request in flight finishes, later ones are refused
// with 503, and the upstream connections are closed.
func TestCloseIsGraceful(t *testing.T) {
	paths(t, func(t *testing.T, cfg httpsplit.Config) {
		entered, release := make(chan struct{}), make(chan struct{})
		var open atomic.Int64
		up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/slow" {
				close(entered)
				<-release
			}
			_, _ = io.WriteString(w, "done")
		}))
		up.Config.ConnState = func(_ net.Conn, st http.ConnState) {
			switch st {
			case http.StateNew:
				open.Add(1)
			case http.StateClosed, http.StateHijacked:
				open.Add(-1)
			}
		}
		up.Start()
		defer up.Close()
		s, front := newSplitter(t, strategy.State{Stable: "v1"}, with(cfg, up.URL))
		get(t.Context(), t, front.Client(), front.URL) // an idle connection
		type result struct {
			code int
			body string
		}
		inflight := make(chan result, 1)
		go func() {
			code, body, _ := get(t.Context(), t, front.Client(), front.URL+"/slow")
			inflight <- result{code, body}
		}()
		<-entered
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		close(release)
		if r := <-inflight; r.code != http.StatusOK || r.body != "done" {
			t.Errorf("request in flight during Close: %d %q", r.code, r.body)
		}
		if serveFront {
			// Serve stops listening: a later request finds no server.
			if resp, err := front.Client().Get(front.URL); err == nil {
				resp.Body.Close()
				t.Errorf("request after Close answered %d, want no connection", resp.StatusCode)
			}
		} else if code, _, _ := get(t.Context(), t, front.Client(), front.URL); code != http.StatusServiceUnavailable {
			t.Errorf("request after Close: %d, want 503", code)
		}
		if cfg.Transport != nil {
			// A Transport given in Config is the caller's to close.
			cfg.Transport.(*http.Transport).CloseIdleConnections()
		}
		waitFor(t, func() bool { return open.Load() == 0 })
		if err := s.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	})
}

// A request built in-process with a line break in its query, a header
// value or its Host cannot add a header to what the upstream receives.
func TestNoHeaderInjectionUpstream(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "evil=%q", r.Header.Values("X-Evil"))
	}))
	defer up.Close()
	s, _ := newSplitter(t, strategy.State{Stable: "v1"}, httpsplit.Config{Upstreams: map[strategy.Revision]string{"v1": up.URL}})
	for _, mk := range []func(r *http.Request){
		func(r *http.Request) { r.URL.RawQuery = "a=1 HTTP/1.1\r\nX-Evil: 1\r\nX-Pad:" },
		func(r *http.Request) { r.Header.Set("X-Note", "a\r\nX-Evil: 1") },
		func(r *http.Request) { r.Host = "shop.example\r\nX-Evil: 1" },
	} {
		req := httptest.NewRequest(http.MethodGet, "/x", nil)
		mk(req)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if body := rec.Body.String(); strings.Contains(body, `"1"`) {
			t.Errorf("the upstream saw an injected header: %s", body)
		}
	}
}
