package httpsplit_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/httpsplit"
)

// echoUpstream answers every request with what it received: method,
// target, body and the headers a test asks about; it records each request
// line.
type echoUpstream struct {
	*httptest.Server
	mu    sync.Mutex
	lines []string
}

func newEchoUpstream(t *testing.T) *echoUpstream {
	e := &echoUpstream{}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		e.mu.Lock()
		e.lines = append(e.lines, r.Method+" "+r.RequestURI)
		e.mu.Unlock()
		fmt.Fprintf(w, "%s %s body=%q", r.Method, r.RequestURI, body)
	}))
	t.Cleanup(e.Close)
	return e
}

func (e *echoUpstream) seen() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.lines...)
}

// bothFronts starts one splitter over up behind net/http's server (the
// reference) and one behind Splitter.Serve.
func bothFronts(t *testing.T, up string) (handler, serve string) {
	t.Helper()
	mk := func() *httpsplit.Splitter {
		s, err := httpsplit.New(t.Context(), httpsplit.Config{
			Upstreams: map[strategy.Revision]string{"v1": up},
			Initial:   strategy.State{Stable: "v1"},
		})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	h := mk()
	hs := httptest.NewServer(h)
	t.Cleanup(func() { hs.Close(); h.Close() })
	s := mk()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return strings.TrimPrefix(hs.URL, "http://"), ln.Addr().String()
}

// exchange sends raw on a new connection and returns the status and body
// of every response read before the connection ends. A raw that ends in
// a whole request is followed by a GET /end with Connection: close, so
// that the server ends the connection (a client that half-closes is one
// net/http takes for gone); any other is followed by a half-close.
func exchange(t *testing.T, addr, raw string) []string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second)) // a bound, not an assertion
	whole := strings.HasSuffix(raw, "\n\n") || strings.HasSuffix(raw, "\r\n\r\n") || strings.HasSuffix(raw, "ok") || strings.HasSuffix(raw, "hello")
	if whole {
		raw += "GET /end HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
	}
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	if !whole {
		_ = c.(*net.TCPConn).CloseWrite()
	}
	br := bufio.NewReader(c)
	var out []string
	for {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return out
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		r := fmt.Sprintf("%d %q", resp.StatusCode, body)
		if err != nil {
			r += " (cut: " + err.Error() + ")"
		}
		out = append(out, r)
	}
}

// oneContinue folds a run of interim 100 (Continue) answers into one. A
// client reads any number of them (RFC 9110, section 15.2), and how many
// net/http sends for an Expect: 100-continue request depends on timing: its
// own, when the handler starts reading the body, and the upstream's, relayed
// by the proxy when it arrives in time.
func oneContinue(answers []string) []string {
	var out []string
	for _, a := range answers {
		if strings.HasPrefix(a, "100 ") && len(out) > 0 && out[len(out)-1] == a {
			continue
		}
		out = append(out, a)
	}
	return out
}

// Requests that could be read two ways, or that net/http refuses, get
// from Serve exactly what they get from net/http's server, and reach the
// upstream (or not) the same way: no smuggled request gets through.
func TestServeRefusesWhatNetHTTPRefuses(t *testing.T) {
	cases := map[string]string{
		"CL and TE":             "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n",
		"two lengths":           "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: 30\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n",
		"TE not chunked":        "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n",
		"obs-fold":              "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n Transfer-Encoding: chunked\r\n\r\n",
		"bare LF":               "GET / HTTP/1.1\nHost: a\nX-A: 1\n\n",
		"bare LF in a field":    "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\nX-B: 2\r\n\r\n",
		"bare CR":               "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\rX-B: 2\r\n\r\n",
		"no Host":               "GET / HTTP/1.1\r\n\r\n",
		"two Hosts":             "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
		"bad field name":        "GET / HTTP/1.1\r\nHost: a\r\nX A: 1\r\n\r\n",
		"space before colon":    "GET / HTTP/1.1\r\nHost: a\r\nContent-Length : 5\r\n\r\nhello",
		"NUL in a value":        "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\x002\r\n\r\n",
		"bad escape":            "GET /%zz HTTP/1.1\r\nHost: a\r\n\r\n",
		"HTTP/1.0":              "GET /old HTTP/1.0\r\nHost: a\r\n\r\n",
		"pipelined":             "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\nGET /3 HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST then GET":         "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET /after HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET then chunked POST": "GET /first HTTP/1.1\r\nHost: a\r\n\r\nPOST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"Expect":                "POST /e HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\nok",
		"Connection: close":     "GET /c HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET /never HTTP/1.1\r\nHost: a\r\n\r\n",
		"cut head":              "GET / HTTP/1.1\r\nHost: a\r\nX-A:",
		"huge head":             "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + strings.Repeat("b", 20000) + "\r\n\r\n",
		"absolute form":         "GET http://a/abs HTTP/1.1\r\nHost: a\r\n\r\n",
		"h2 preface":            "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
	}
	for name, raw := range cases {
		t.Run(name, func(t *testing.T) {
			ref, fast := newEchoUpstream(t), newEchoUpstream(t)
			h, _ := bothFronts(t, ref.URL)
			_, s := bothFronts(t, fast.URL)
			want := oneContinue(exchange(t, h, raw))
			got := oneContinue(exchange(t, s, raw))
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("Serve answered\n  %q\nnet/http answered\n  %q", got, want)
			}
			if g, w := fast.seen(), ref.seen(); strings.Join(g, "\n") != strings.Join(w, "\n") {
				t.Errorf("through Serve the upstream saw %q, through net/http %q", g, w)
			}
		})
	}
}

// Upstream answers of every framing reach the client whole through
// Serve's loop: a length, chunks with extensions and trailers, a body
// that ends when the upstream closes (sent on as chunks), HEAD, 204 and
// 304; and headers the upstream's Connection names are removed.
func TestServeRelaysEveryFraming(t *testing.T) {
	answers := map[string]string{
		"/length":  "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Up: 1\r\n\r\nhello",
		"/chunked": "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Sum: 5\r\n\r\n",
		"/close":   "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end",
		"/head":    "HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n",
		"/204":     "HTTP/1.1 204 No Content\r\n\r\n",
		"/304":     "HTTP/1.1 304 Not Modified\r\nEtag: \"x\"\r\n\r\n",
		"/named":   "HTTP/1.1 200 OK\r\nConnection: X-Secret\r\nX-Secret: 1\r\nKeep-Alive: timeout=5\r\nContent-Length: 2\r\n\r\nok",
		"/early":   "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
	}
	url := rawUpstream(t, func(c net.Conn) {
		go answerEach(c, func(path string) (string, bool) { return answers[path], path == "/close" })
	})
	s, err := httpsplit.New(t.Context(), httpsplit.Config{Upstreams: map[strategy.Revision]string{"v1": url}, Initial: strategy.State{Stable: "v1"}})
	if err != nil {
		t.Fatal(err)
	}
	front := startServe(t, s)
	c := front.Client()
	for _, tc := range []struct {
		method, path, body string
		code               int
		check              func(resp *http.Response) string
	}{
		{"GET", "/length", "hello", 200, func(r *http.Response) string {
			if r.ContentLength != 5 || r.Header.Get("X-Up") != "1" {
				return fmt.Sprintf("length %d, X-Up %q", r.ContentLength, r.Header.Get("X-Up"))
			}
			return ""
		}},
		{"GET", "/chunked", "abcde", 200, func(r *http.Response) string {
			if r.Trailer.Get("X-Sum") != "5" {
				return fmt.Sprintf("trailer %q", r.Trailer)
			}
			return ""
		}},
		{"GET", "/close", "until the end", 200, nil},
		{"HEAD", "/head", "", 200, func(r *http.Response) string {
			if r.ContentLength != 42 {
				return fmt.Sprintf("HEAD length %d, want the upstream's 42", r.ContentLength)
			}
			return ""
		}},
		{"GET", "/204", "", 204, nil},
		{"GET", "/304", "", 304, func(r *http.Response) string {
			if r.Header.Get("Etag") != `"x"` {
				return "no Etag"
			}
			return ""
		}},
		{"GET", "/named", "ok", 200, func(r *http.Response) string {
			if r.Header.Get("X-Secret") != "" || r.Header.Get("Keep-Alive") != "" {
				return fmt.Sprintf("hop-by-hop headers passed: %q", r.Header)
			}
			return ""
		}},
		{"GET", "/early", "ok", 200, nil},
	} {
		req, _ := http.NewRequestWithContext(t.Context(), tc.method, front.URL+tc.path, nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", tc.method, tc.path, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != tc.code || string(body) != tc.body {
			t.Errorf("%s %s: %d %q %v, want %d %q", tc.method, tc.path, resp.StatusCode, body, err, tc.code, tc.body)
			continue
		}
		if tc.check != nil {
			if msg := tc.check(resp); msg != "" {
				t.Errorf("%s %s: %s", tc.method, tc.path, msg)
			}
		}
	}
}

// startServe serves s with Serve on loopback until the test ends.
func startServe(t *testing.T, s *httpsplit.Splitter) *frontend {
	t.Helper()
	saved := serveFront
	serveFront = true
	defer func() { serveFront = saved }()
	return startFront(t, s)
}

// A client that goes away while the upstream has not answered is noticed
// through Serve too: the upstream exchange is aborted and counted as 499,
// not as an error of the revision.
func TestServeNoticesAClientGoingAway(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	entered := make(chan struct{}, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer up.Close()
	s, err := httpsplit.New(t.Context(), httpsplit.Config{Upstreams: map[strategy.Revision]string{"v1": up.URL}, Initial: strategy.State{Stable: "v1"}})
	if err != nil {
		t.Fatal(err)
	}
	front := startServe(t, s)
	c, err := net.Dial("tcp", strings.TrimPrefix(front.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.WriteString(c, "GET /hang HTTP/1.1\r\nHost: a\r\n\r\n")
	<-entered
	c.Close()
	waitFor(t, func() bool { return s.Stats()["v1"].Requests == 1 })
	if st := s.Stats()["v1"]; st.Errors != 0 {
		t.Errorf("a request the client abandoned counted as an error: %+v", st)
	}
}

// Bodies larger than every buffer stream through Serve's loop intact.
func TestServeLargeBodies(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/chunked" {
			w.(http.Flusher).Flush() // no length: chunked
		}
		_, _ = w.Write(big)
	}))
	defer up.Close()
	s, err := httpsplit.New(t.Context(), httpsplit.Config{Upstreams: map[strategy.Revision]string{"v1": up.URL}, Initial: strategy.State{Stable: "v1"}})
	if err != nil {
		t.Fatal(err)
	}
	front := startServe(t, s)
	for _, p := range []string{"/length", "/chunked", "/length"} {
		code, body, _ := get(t.Context(), t, front.Client(), front.URL+p)
		if code != 200 || body != string(big) {
			t.Errorf("%s: %d, %d bytes, want %d", p, code, len(body), len(big))
		}
	}
}

// ListenAndServe reports a bad address, and Serve on a closed splitter
// returns at once, closing the listener.
func TestServeAfterCloseAndBadAddress(t *testing.T) {
	s, err := httpsplit.New(t.Context(), httpsplit.Config{Upstreams: map[strategy.Revision]string{"v1": "http://127.0.0.1:1"}, Initial: strategy.State{Stable: "v1"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ListenAndServe("127.0.0.1:bad"); err == nil {
		t.Error("ListenAndServe accepted a bad address")
	}
	_ = s.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve after Close: %v", err)
	}
	if _, err := ln.Accept(); err == nil {
		t.Error("the listener is still open")
	}
}

// On Serve's own loop (a plain GET, no Connection tokens to hand it to
// net/http), hop-by-hop request headers are removed, Te: trailers is
// kept, and the client's forwarding headers are replaced by the
// splitter's; the revision header is added to the response.
func TestServeLoopRequestHeaders(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b strings.Builder
		for _, k := range []string{"Keep-Alive", "Proxy-Authorization", "Proxy-Connection", "Te", "Trailer", "Forwarded", "X-Real-Ip", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-End"} {
			fmt.Fprintf(&b, "%s=%q ", k, r.Header[k])
		}
		fmt.Fprintf(&b, "host=%s", r.Host)
		_, _ = io.WriteString(w, b.String())
	}))
	defer up.Close()
	for _, realIP := range []httpsplit.RealIP{httpsplit.RealIPDrop, httpsplit.RealIPSet} {
		s, err := httpsplit.New(t.Context(), httpsplit.Config{Upstreams: map[strategy.Revision]string{"v1": up.URL}, Initial: strategy.State{Stable: "v1"},
			RealIP: realIP, RevisionHeader: "X-Revision"})
		if err != nil {
			t.Fatal(err)
		}
		front := startServe(t, s)
		code, body, h := get(t.Context(), t, front.Client(), front.URL+"/x",
			"Keep-Alive", "timeout=9", "Proxy-Authorization", "Basic eDp5", "Proxy-Connection", "keep-alive",
			"Te", "trailers", "Trailer", "X-A", "Forwarded", "for=6.6.6.6", "X-Real-Ip", "6.6.6.6",
			"X-Forwarded-For", "6.6.6.6", "X-Forwarded-Host", "evil", "X-Forwarded-Proto", "https", "X-End", "kept")
		real := `[]`
		if realIP == httpsplit.RealIPSet {
			real = `["127.0.0.1"]`
		}
		upHost := strings.TrimPrefix(up.URL, "http://")
		front.Client().CloseIdleConnections()
		want := `Keep-Alive=[] Proxy-Authorization=[] Proxy-Connection=[] Te=["trailers"] Trailer=[] Forwarded=[] X-Real-Ip=` + real +
			` X-Forwarded-For=["127.0.0.1"] X-Forwarded-Host=["` + strings.TrimPrefix(front.URL, "http://") + `"] X-Forwarded-Proto=["http"] X-End=["kept"] host=` + upHost
		if code != 200 || body != want {
			t.Errorf("RealIP %d: %d\n got %s\nwant %s", realIP, code, body, want)
		}
		if h.Get("X-Revision") != "v1" {
			t.Errorf("revision header %q", h.Get("X-Revision"))
		}
	}
}
