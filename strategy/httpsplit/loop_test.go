package httpsplit_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/httpsplit"
)

// Tests of Serve's server loops (on Linux, the event loops) over real
// loopback connections: what a connection does between and around its
// requests.

// pathUpstream answers every request with its path, except /big/N (N
// bytes with a Content-Length), /chunked/N (N bytes, chunked) and /block
// (waits for release, then answers "released").
func pathUpstream(t *testing.T, release <-chan struct{}, entered chan<- string) *httptest.Server {
	t.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/big/"), strings.HasPrefix(r.URL.Path, "/chunked/"):
			n, _ := strconv.Atoi(r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:])
			if strings.HasPrefix(r.URL.Path, "/chunked/") {
				w.(http.Flusher).Flush()
			} else {
				w.Header().Set("Content-Length", strconv.Itoa(n))
			}
			_, _ = w.Write(pattern(n))
		case r.URL.Path == "/block":
			entered <- r.URL.RawQuery
			<-release
			_, _ = io.WriteString(w, "released")
		default:
			_, _ = io.WriteString(w, r.URL.Path)
		}
	}))
	t.Cleanup(up.Close)
	return up
}

// pattern is n bytes that show where a splice or a loss happened.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = "0123456789abcdefghijklmnopqrstuvwxyz"[(i/7)%36]
	}
	return b
}

func serveUp(t *testing.T, cfg httpsplit.Config, up string) (*httpsplit.Splitter, string) {
	t.Helper()
	cfg.Upstreams = map[strategy.Revision]string{"v1": up}
	cfg.Initial = strategy.State{Stable: "v1"}
	s, err := httpsplit.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.CloseIdleConnections)
	front := startServe(t, s)
	return s, strings.TrimPrefix(front.URL, "http://")
}

// rawClient is a keep-alive connection that writes raw requests and reads
// responses.
type rawClient struct {
	net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawClient {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawClient{Conn: c, br: bufio.NewReader(c)}
}

func (c *rawClient) send(t testing.TB, raw string) {
	t.Helper()
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
}

// read reads one response and its body.
func (c *rawClient) read(method string) (int, string, error) {
	resp, err := http.ReadResponse(c.br, &http.Request{Method: method})
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

func (c *rawClient) expect(t testing.TB, wantCode int, wantBody string) {
	t.Helper()
	code, body, err := c.read(http.MethodGet)
	if err != nil {
		t.Fatalf("reading a response: %v", err)
	}
	if code != wantCode || body != wantBody {
		t.Fatalf("got %d %.60q (%d bytes), want %d %.60q (%d bytes)", code, body, len(body), wantCode, wantBody, len(wantBody))
	}
}

func getReq(path string) string { return "GET " + path + " HTTP/1.1\r\nHost: a\r\n\r\n" }

// Many keep-alive clients at once each get their own answers, in order.
func TestServeManyKeepAliveClients(t *testing.T) {
	_, addr := serveUp(t, httpsplit.Config{}, pathUpstream(t, nil, nil).URL)
	const clients, requests = 48, 40
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			br := bufio.NewReader(c)
			for j := range requests {
				path := fmt.Sprintf("/c%d/r%d", i, j)
				if _, err := io.WriteString(c, getReq(path)); err != nil {
					errs <- err
					return
				}
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					errs <- err
					return
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || string(body) != path {
					errs <- fmt.Errorf("client %d request %d: %q, %v", i, j, body, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// Pipelined requests, sent in one write, are answered in order; so are
// requests whose heads arrive in pieces, split anywhere.
func TestServePipelinedAndPiecewise(t *testing.T) {
	_, addr := serveUp(t, httpsplit.Config{}, pathUpstream(t, nil, nil).URL)
	c := dialRaw(t, addr)
	var all strings.Builder
	for i := range 20 {
		all.WriteString(getReq(fmt.Sprintf("/p%d", i)))
	}
	c.send(t, all.String())
	for i := range 20 {
		c.expect(t, http.StatusOK, fmt.Sprintf("/p%d", i))
	}

	head := "GET /pieces HTTP/1.1\r\nHost: a\r\nX-Long-Header: " + strings.Repeat("v", 300) + "\r\n\r\n"
	for _, size := range []int{1, 2, 3, 7, 64} {
		for i := 0; i < len(head); i += size {
			c.send(t, head[i:min(i+size, len(head))])
		}
		c.expect(t, http.StatusOK, "/pieces")
	}
	// The blank line split between its CR and LF, and a head cut right
	// after the request line.
	for _, cut := range []int{len(head) - 1, len(head) - 3, strings.Index(head, "\n") + 1} {
		c.send(t, head[:cut])
		c.send(t, head[cut:])
		c.expect(t, http.StatusOK, "/pieces")
	}
}

// Responses larger than the loop's buffers, and responses of unknown
// length, arrive whole, and the connection goes on serving afterwards,
// requests pipelined behind them included.
func TestServeLargeAndStreamedResponsesKeepTheConnection(t *testing.T) {
	_, addr := serveUp(t, httpsplit.Config{}, pathUpstream(t, nil, nil).URL)
	c := dialRaw(t, addr)
	for _, n := range []int{100, 16 << 10, 20 << 10, 300 << 10} {
		for _, kind := range []string{"big", "chunked"} {
			path := fmt.Sprintf("/%s/%d", kind, n)
			c.send(t, getReq(path)+getReq("/after"))
			c.expect(t, http.StatusOK, string(pattern(n)))
			c.expect(t, http.StatusOK, "/after")
		}
	}
	c.send(t, getReq("/last"))
	c.expect(t, http.StatusOK, "/last")
}

// A client that stops reading holds back only its own connection: while
// its answers pile up unread, other clients are served; when it reads
// again it gets every answer, whole and in order.
func TestServeClientThatStopsReading(t *testing.T) {
	_, addr := serveUp(t, httpsplit.Config{}, pathUpstream(t, nil, nil).URL)
	slow := dialRaw(t, addr)
	// More than the socket buffers hold: large answers and many small
	// pipelined ones.
	const small = 3000
	go func() {
		var b strings.Builder
		for range 4 {
			b.WriteString(getReq("/big/1000000"))
		}
		for i := range small {
			b.WriteString(getReq(fmt.Sprintf("/s%d", i)))
		}
		_, _ = io.WriteString(slow, b.String())
	}()
	other := dialRaw(t, addr)
	for i := range 50 {
		other.send(t, getReq(fmt.Sprintf("/o%d", i)))
		other.expect(t, http.StatusOK, fmt.Sprintf("/o%d", i))
	}
	for range 4 {
		slow.expect(t, http.StatusOK, string(pattern(1000000)))
	}
	for i := range small {
		slow.expect(t, http.StatusOK, fmt.Sprintf("/s%d", i))
	}
}

// An upstream that closes before or during its answer never produces a
// wrong or spliced response: the client gets a 502 or a closed
// connection, and a later request on a new connection is answered whole.
func TestServeUpstreamClosesMidResponse(t *testing.T) {
	cuts := []string{
		"",
		"HTTP/1.1 200 OK\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf",
		"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + strings.Repeat("x", 50000),
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
	}
	for i, cut := range cuts {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			url := rawUpstream(t, func(c net.Conn) {
				answerEach(c, func(path string) (string, bool) {
					if path == "/ok" {
						return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false
					}
					return cut, true
				})
			})
			_, addr := serveUp(t, httpsplit.Config{}, url)
			c := dialRaw(t, addr)
			c.send(t, getReq("/ok"))
			c.expect(t, http.StatusOK, "ok")
			c.send(t, getReq("/cut"))
			code, body, err := c.read(http.MethodGet)
			switch {
			case err != nil:
				// A closed connection (or a body cut short): as good.
			case code == http.StatusBadGateway && body == "":
			default:
				t.Errorf("a cut answer came through as %d %q", code, body)
			}
			c2 := dialRaw(t, addr)
			c2.send(t, getReq("/ok"))
			c2.expect(t, http.StatusOK, "ok")
		})
	}
}

// Close while requests are in flight: each finishes whole, idle
// connections are closed, and Serve returns http.ErrServerClosed once
// the busy ones have ended.
func TestServeCloseWithRequestsInFlight(t *testing.T) {
	release, entered := make(chan struct{}), make(chan string, 8)
	up := pathUpstream(t, release, entered)
	s, err := httpsplit.New(t.Context(), httpsplit.Config{Upstreams: map[strategy.Revision]string{"v1": up.URL}, Initial: strategy.State{Stable: "v1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.CloseIdleConnections()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	addr := ln.Addr().String()

	idle := dialRaw(t, addr)
	idle.send(t, getReq("/warm"))
	idle.expect(t, http.StatusOK, "/warm")
	const busy = 4
	results := make(chan error, busy)
	for i := range busy {
		c := dialRaw(t, addr)
		c.send(t, getReq("/block?"+strconv.Itoa(i)))
		go func() {
			code, body, err := c.read(http.MethodGet)
			if err == nil && (code != http.StatusOK || body != "released") {
				err = fmt.Errorf("got %d %q", code, body)
			}
			results <- err
		}()
	}
	for range busy {
		<-entered
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// The idle connection is closed.
	if _, _, err := idle.read(http.MethodGet); err == nil {
		t.Error("the idle connection answered after Close")
	}
	select {
	case err := <-served:
		t.Fatalf("Serve returned %v with requests in flight", err)
	default:
	}
	close(release)
	for range busy {
		if err := <-results; err != nil {
			t.Errorf("a request in flight during Close: %v", err)
		}
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve returned %v", err)
	}
}

// A connection that sends no request, or only part of one, is closed
// after IdleTimeout; one that keeps sending requests is not.
func TestServeIdleTimeoutOnLoopback(t *testing.T) {
	_, addr := serveUp(t, httpsplit.Config{IdleTimeout: 50 * time.Millisecond}, pathUpstream(t, nil, nil).URL)
	idle, partial := dialRaw(t, addr), dialRaw(t, addr)
	partial.send(t, "GET / HTTP/1.1\r\nHo")
	for _, c := range []*rawClient{idle, partial} {
		// A deadline only so that a failure ends instead of hanging.
		_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
		if n, err := c.br.Read(make([]byte, 1)); n != 0 || !errors.Is(err, io.EOF) {
			t.Errorf("an idle connection read %d bytes, %v; want EOF (closed by the splitter)", n, err)
		}
	}
}

// A connection moves to net/http in the middle of its life (a request
// with a body, pipelined behind plain GETs) and goes on being served
// there; the answers stay in order.
func TestServeHandOffMidConnection(t *testing.T) {
	up := newEchoUpstream(t)
	_, addr := serveUp(t, httpsplit.Config{}, up.URL)
	c := dialRaw(t, addr)
	c.send(t, getReq("/one"))
	code, body, err := c.read(http.MethodGet)
	if err != nil || code != http.StatusOK || !strings.Contains(body, "GET /one") {
		t.Fatalf("first request: %d %q %v", code, body, err)
	}
	c.send(t, getReq("/two")+"POST /three HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nbody"+getReq("/four"))
	for _, want := range []string{`GET /two body=""`, `POST /three body="body"`, `GET /four body=""`} {
		code, body, err := c.read(http.MethodGet)
		if err != nil || code != http.StatusOK || body != want {
			t.Fatalf("got %d %q %v, want %q", code, body, err, want)
		}
	}
	// Still net/http's connection: an HTTP/1.0 request is answered too.
	c.send(t, "GET /five HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\n\r\n")
	if code, body, err := c.read(http.MethodGet); err != nil || code != http.StatusOK || body != `GET /five body=""` {
		t.Fatalf("after the hand-off: %d %q %v", code, body, err)
	}
}

// A chunked answer that arrives whole with its head is answered by the
// loop itself, re-framed (extensions dropped, hop-by-hop trailers
// removed), and the connection goes on; a malformed one never reads as
// a whole response.
func TestServeWholeChunkedAnswers(t *testing.T) {
	answers := map[string]string{
		"/ok":  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-T: v\r\nKeep-Alive: x\r\n\r\n",
		"/bad": "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello!!\r\n0\r\n\r\n",
	}
	url := rawUpstream(t, func(c net.Conn) {
		answerEach(c, func(path string) (string, bool) { return answers[path], false })
	})
	_, addr := serveUp(t, httpsplit.Config{}, url)
	c := dialRaw(t, addr)
	for range 3 {
		c.send(t, getReq("/ok"))
		resp, err := http.ReadResponse(c.br, nil)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || string(body) != "hello world" || resp.Trailer.Get("X-T") != "v" || resp.Trailer.Get("Keep-Alive") != "" {
			t.Fatalf("got %q, trailer %v, %v", body, resp.Trailer, err)
		}
	}
	c.send(t, getReq("/bad"))
	if code, body, err := c.read(http.MethodGet); err == nil {
		t.Errorf("a malformed chunked answer read as a whole response: %d %q", code, body)
	}
}
