package httpsplit

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"strings"
	"sync/atomic"
	"time"
)

// The forwarding fast path.
//
// httputil.ReverseProxy over http.Transport hands every request between
// goroutines several times: the transport's connection has a write loop
// and a read loop, and the request, its response and the end of the body
// each cross a channel. On a loaded machine each hand-off is a wake-up, and
// together with the reverse proxy's copies of the request and its headers
// they made the proxy cost twice what nginx does per request.
//
// The fast path forwards the requests that make up nearly all traffic, a
// GET or HEAD without a body and without an Upgrade, over a pool of
// HTTP/1.1 connections per upstream, on the handler's own goroutine: it
// writes the request line and headers straight to the connection's
// buffer (no copy of the request or of its header map), reads the
// response with http.ReadResponse, and streams the body back. Everything
// else (request bodies, Upgrade and WebSocket, https upstreams, an
// upstream with a base path or query, a Transport given in Config) takes
// the reverse proxy, so each of those keeps the standard library's
// behaviour.

// maxIdlePerUpstream bounds the idle connections a pool keeps.
const maxIdlePerUpstream = 512

// errPoolClosed is returned by dial after the splitter is closed.
var errPoolClosed = errors.New("httpsplit: splitter closed")

// connPool keeps idle keep-alive connections to one upstream. Taking and
// returning a connection is a non-blocking channel operation.
type connPool struct {
	addr   string // host:port
	dialer *net.Dialer
	idle   chan *upConn
	closed atomic.Bool
	// idleGen counts calls of closeIdle: the event loops close their
	// idle connections put before the last one.
	idleGen atomic.Uint64
}

func newConnPool(addr string, d *net.Dialer) *connPool {
	return &connPool{addr: addr, dialer: d, idle: make(chan *upConn, maxIdlePerUpstream)}
}

// maxIdleTime is how long an idle connection may wait for reuse (as
// http.DefaultTransport's IdleConnTimeout): one idle longer is closed
// rather than reused, since upstreams close theirs after a while.
const maxIdleTime = 90 * time.Second

// upConn is one connection to an upstream, with its buffers.
type upConn struct {
	net.Conn
	wc        *waitConn // under br and bw; nil in tests that build an upConn
	br        *bufio.Reader
	bw        *bufio.Writer
	idleSince time.Time
	abort     func() // unblocks the connection's I/O; made once per connection
}

// holdWrite makes the next flush of c.bw go out with the read of the
// answer (see waitConn).
func (c *upConn) holdWrite() {
	if c.wc != nil {
		c.wc.holdNextWrite()
	}
}

// get returns an idle connection (reused true) or dials a new one.
func (p *connPool) get(ctx context.Context) (c *upConn, reused bool, err error) {
	for {
		select {
		case c := <-p.idle:
			if time.Since(c.idleSince) > maxIdleTime {
				_ = c.Close()
				continue
			}
			return c, true, nil
		default:
		}
		c, err = p.dial(ctx)
		return c, false, err
	}
}

func (p *connPool) dial(ctx context.Context) (*upConn, error) {
	if p.closed.Load() {
		return nil, errPoolClosed
	}
	nc, err := p.dialer.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		return nil, err
	}
	wc := newWaitConn(nc)
	c := &upConn{Conn: nc, wc: wc, br: bufio.NewReaderSize(wc, upstreamReadBuffer), bw: bufio.NewWriterSize(wc, 4<<10)}
	c.abort = func() { _ = nc.SetDeadline(aLongTimeAgo) }
	return c, nil
}

// put returns c for reuse, or closes it when the pool is full or closed.
func (p *connPool) put(c *upConn) {
	if p.closed.Load() {
		_ = c.Close()
		return
	}
	c.idleSince = time.Now()
	select {
	case p.idle <- c:
		// Close may have drained the pool between the check and the send.
		if p.closed.Load() {
			p.closeIdle()
		}
	default:
		_ = c.Close()
	}
}

// closeIdle closes every idle connection.
func (p *connPool) closeIdle() {
	p.idleGen.Add(1)
	for {
		select {
		case c := <-p.idle:
			_ = c.Close()
		default:
			return
		}
	}
}

// close closes the idle connections and makes put close the busy ones as
// they are returned.
func (p *connPool) close() {
	p.closed.Store(true)
	p.closeIdle()
}

// hopHeaders are the hop-by-hop headers of RFC 9110 section 7.6.1 (and
// their legacy forms), which a proxy must not forward. "Te: trailers" is
// forwarded separately, as the reverse proxy does.
var hopHeaders = map[string]bool{
	"Connection":          true,
	"Proxy-Connection":    true,
	"Keep-Alive":          true,
	"Proxy-Authenticate":  true,
	"Proxy-Authorization": true,
	"Te":                  true,
	"Trailer":             true,
	"Transfer-Encoding":   true,
	"Upgrade":             true,
}

// forwardingHeaders are the client's own forwarding headers, which the
// splitter replaces with its own (X-Real-IP by [Config].RealIP).
var forwardingHeaders = map[string]bool{
	"Forwarded":         true,
	"X-Forwarded-For":   true,
	"X-Forwarded-Host":  true,
	"X-Forwarded-Proto": true,
	"X-Real-Ip":         true,
}

// fastPathOK reports whether r can take the fast path to an upstream
// that has one.
func fastPathOK(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	if r.Body != nil && r.Body != http.NoBody || r.ContentLength > 0 || len(r.TransferEncoding) > 0 {
		return false
	}
	if r.URL.Opaque != "" || !strings.HasPrefix(r.URL.Path, "/") || !cleanQuery(r.URL.RawQuery) {
		return false
	}
	h := r.Header
	return len(h["Upgrade"]) == 0 && len(h["Expect"]) == 0 && !hasToken(h["Connection"], "upgrade")
}

// cleanQuery reports whether q has no space or control character: a server
// never hands a handler anything else, but a request built in-process
// might, and on the fast path q is written to the upstream as it is.
func cleanQuery(q string) bool {
	for i := 0; i < len(q); i++ {
		if q[i] <= ' ' || q[i] == 0x7f {
			return false
		}
	}
	return true
}

// hasToken reports whether the comma-separated values hold token (case
// insensitively).
func hasToken(values []string, token string) bool {
	for _, v := range values {
		for v != "" {
			var t string
			t, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(textproto.TrimString(t), token) {
				return true
			}
		}
	}
	return false
}

// forward sends r to up over its pool and writes the response to w. It
// returns an error when no response header was written (the caller answers
// 502 or 499), and aborted true when the upstream failed while the body was
// being streamed: the caller must then abort the client's response
// (panic with http.ErrAbortHandler, as the reverse proxy does) rather than
// end it as if it were whole.
func (s *Splitter) forward(w http.ResponseWriter, r *http.Request, up *upstream) (aborted bool, err error) {
	ctx := r.Context()
	for attempt := 0; ; attempt++ {
		var c *upConn
		var reused bool
		var err error
		if attempt == 0 {
			c, reused, err = up.pool.get(ctx)
		} else {
			// The retry goes on a new connection: the idle ones may be
			// as stale as the one that failed.
			c, err = up.pool.dial(ctx)
		}
		if err != nil {
			return false, err
		}
		// One cancellation hook for the whole exchange: a client that
		// goes away unblocks the upstream read or write at once.
		stop := context.AfterFunc(ctx, c.abort)
		resp, err := s.roundTrip(c, r, up)
		if err != nil {
			stop()
			_ = c.Close()
			// A reused connection may have been closed by the upstream
			// while idle; the request (GET or HEAD) is idempotent, so it
			// is sent again on a new connection, as http.Transport does.
			if !reused || ctx.Err() != nil || attempt > 0 {
				return false, err
			}
			continue
		}
		reusable, failed := writeResponse(w, resp, c)
		if !stop() {
			reusable = false // the deadline was set, or is being set
		}
		if reusable {
			up.pool.put(c)
		} else {
			_ = c.Close()
		}
		return failed && ctx.Err() == nil, nil
	}
}

var aLongTimeAgo = time.Unix(1, 0)

// roundTrip writes r to c and reads the response header, skipping (and
// forwarding nothing of) informational responses other than 101.
func (s *Splitter) roundTrip(c *upConn, r *http.Request, up *upstream) (*http.Response, error) {
	if err := s.writeRequest(c.bw, r, up); err != nil {
		return nil, err
	}
	c.holdWrite()
	if err := c.bw.Flush(); err != nil {
		return nil, err
	}
	for {
		resp, err := http.ReadResponse(c.br, r)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			if resp.StatusCode == http.StatusSwitchingProtocols {
				_ = resp.Body.Close()
				return nil, errors.New("upstream switched protocols for a request that asked for no upgrade")
			}
			return resp, nil
		}
		// 1xx (103 Early Hints, a stray 100): not forwarded.
	}
}

// writeRequest writes r's request line and headers for up, with the
// splitter's forwarding headers, and without hop-by-hop headers or the
// client's own forwarding headers.
func (s *Splitter) writeRequest(bw *bufio.Writer, r *http.Request, up *upstream) error {
	bw.WriteString(r.Method)
	bw.WriteByte(' ')
	bw.WriteString(r.URL.EscapedPath())
	if r.URL.RawQuery != "" || r.URL.ForceQuery {
		bw.WriteByte('?')
		bw.WriteString(r.URL.RawQuery)
	}
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	if s.cfg.PreserveHost {
		writeValue(bw, r.Host)
	} else {
		bw.WriteString(up.url.Host)
	}
	bw.WriteString("\r\n")
	conn := r.Header["Connection"]
	for k, vv := range r.Header {
		if hopHeaders[k] || forwardingHeaders[k] || k == "Host" || len(conn) > 0 && hasToken(conn, k) {
			continue
		}
		for _, v := range vv {
			bw.WriteString(k)
			bw.WriteString(": ")
			writeValue(bw, v)
			bw.WriteString("\r\n")
		}
	}
	if hasToken(r.Header["Te"], "trailers") {
		bw.WriteString("Te: trailers\r\n")
	}
	ip := clientIP(r)
	if ip != "" {
		bw.WriteString("X-Forwarded-For: ")
		bw.WriteString(ip)
		bw.WriteString("\r\n")
		if s.cfg.RealIP == RealIPSet {
			bw.WriteString("X-Real-Ip: ")
			bw.WriteString(ip)
			bw.WriteString("\r\n")
		}
	}
	bw.WriteString("X-Forwarded-Host: ")
	writeValue(bw, r.Host)
	if r.TLS != nil {
		bw.WriteString("\r\nX-Forwarded-Proto: https\r\n\r\n")
	} else {
		bw.WriteString("\r\nX-Forwarded-Proto: http\r\n\r\n")
	}
	return nil
}

// writeValue writes a header value, turning any CR or LF (which the
// server in front never lets through) into a space so that no value can
// start a header of its own.
func writeValue(bw *bufio.Writer, v string) {
	if strings.ContainsAny(v, "\r\n") {
		v = strings.NewReplacer("\r", " ", "\n", " ").Replace(v)
	}
	bw.WriteString(v)
}

// clientIP is the address of r's client, or "" when RemoteAddr is not
// host:port.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return ""
	}
	return host
}

// writeResponse copies resp's header, body and trailers to w. It reports
// whether c can carry another request (the body was read to its end, the
// upstream did not ask to close, and nothing follows the response), and
// whether reading the body from the upstream failed.
func writeResponse(w http.ResponseWriter, resp *http.Response, c *upConn) (reusable, failed bool) {
	h := w.Header()
	conn := resp.Header["Connection"]
	for k, vv := range resp.Header {
		if hopHeaders[k] || len(conn) > 0 && hasToken(conn, k) {
			continue
		}
		if old, ok := h[k]; ok {
			h[k] = append(old, vv...)
		} else {
			h[k] = vv
		}
	}
	if len(resp.Trailer) > 0 {
		keys := make([]string, 0, len(resp.Trailer))
		for k := range resp.Trailer {
			keys = append(keys, k)
		}
		h["Trailer"] = []string{strings.Join(keys, ", ")}
	}
	w.WriteHeader(resp.StatusCode)
	// A response of unknown length (a stream) is flushed as it arrives,
	// as the reverse proxy does.
	stream := resp.ContentLength < 0
	buf := bufs.Get()
	defer bufs.Put(buf)
	complete := false
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				break // the client went away
			}
			if stream {
				_ = http.NewResponseController(w).Flush()
			}
		}
		if err == io.EOF {
			complete = true
			break
		}
		if err != nil {
			failed = true
			break
		}
	}
	_ = resp.Body.Close()
	if !complete {
		return false, failed
	}
	for k, vv := range resp.Trailer {
		h[http.TrailerPrefix+k] = vv
	}
	chunked := len(resp.TransferEncoding) > 0 && resp.TransferEncoding[0] == "chunked"
	return !resp.Close && (resp.ContentLength >= 0 || chunked) && c.br.Buffered() == 0, false
}

// bufs lends the fast path and the reverse proxies their copy buffers.
var bufs = &bufferPool{}
