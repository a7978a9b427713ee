package httpsplit

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Serve's own HTTP/1.1 server loop.
//
// A Splitter mounted on net/http's server pays, per request, for
// net/http's server (a header map, the background read that notices a
// client going away and the goroutine hand-offs it implies) and then for
// its own forwarding. Serve reads keep-alive HTTP/1.1 GET and HEAD
// requests itself and forwards them over pooled upstream connections,
// copying header lines from buffer to buffer without building a request
// or a header map. On Linux its TCP connections are served by event
// loops (eventloop_linux.go); elsewhere, and for a connection a loop
// hands over with a large or streamed response, by the goroutine loop
// here, one goroutine per connection. Everything else is handed to a
// net/http server (with the Splitter as its Handler) on the same
// connection, unread, for the rest of the connection's life: see
// parse.go for what "everything else" is.

// DefaultIdleTimeout is [Config].IdleTimeout's default.
const DefaultIdleTimeout = 2 * time.Minute

// Buffer sizes: a request head must fit in the client reader (a larger
// one goes to net/http, which allows up to 1 MB); an upstream response
// head must fit in the upstream reader (a larger one is a 502, as in
// nginx, whose default limit is 4 or 8 KB).
const (
	clientReadBuffer   = 8 << 10
	clientWriteBuffer  = 8 << 10
	upstreamReadBuffer = 16 << 10
)

// ListenAndServe listens on the TCP address addr and calls [Splitter.Serve].
func (s *Splitter) ListenAndServe(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(ln)
}

// Serve accepts HTTP connections on ln and proxies their requests, as
// mounting the Splitter on an [http.Server] would, at a lower cost per
// request. Keep-alive HTTP/1.1 GET and HEAD requests without a body are
// read and forwarded by the splitter's own server loop; a connection that
// sends anything else (a body, an Upgrade or WebSocket handshake, Expect:
// 100-continue, HTTP/1.0, HTTP/2, TLS, a malformed or unusual request) is
// handed over, from that request on, to a net/http server whose Handler
// is the Splitter, so those keep net/http's behaviour, including its 400
// for a malformed request. Requests to an upstream without the fast path
// (https, a base path, a [Config].Transport) are handed over the same way.
//
// Both paths forward alike (see Forwarding in the package docs). A
// client that goes away before the upstream's answer has begun aborts
// the upstream exchange (recorded as 499): on Linux as soon as the
// socket reports it, elsewhere once the upstream has taken 20ms; one
// that goes away while a response is being streamed to it is noticed
// when the response is written (as nginx by default). Idle
// connections, and connections slower than [Config].IdleTimeout to send
// a request head, are closed.
//
// On Linux, Serve's TCP connections are served by event loops, one per
// P (GOMAXPROCS), each an epoll instance as an nginx worker is, so a request costs no goroutine park and wake-up. A
// loop sends a response of known length that fits its 16 KB buffer
// once it holds all of it (as nginx's proxy buffering does); a larger
// one, or one of unknown length still arriving (a stream), is relayed
// by a goroutine as it arrives, which then gives the connection back to
// the loop. Other systems, and listeners of connections other than
// *net.TCPConn (TLS included), get one goroutine per connection.
//
// Serve returns when ln fails or the Splitter is closed. [Splitter.Close]
// closes ln and the idle connections; requests in flight finish (their
// responses close the connection) and Serve returns
// [http.ErrServerClosed] once the connections it served have ended
// (a connection upgraded to another protocol, such as a WebSocket, is
// left to run until either side closes it).
func (s *Splitter) Serve(ln net.Listener) error {
	sv := &server{s: s, ln: ln, conns: map[*serverConn]struct{}{}, handoff: newHandoffListener(ln.Addr())}
	sv.fallback = &http.Server{Handler: s, ReadHeaderTimeout: s.cfg.IdleTimeout, IdleTimeout: s.cfg.IdleTimeout}
	s.srvMu.Lock()
	if s.closed.Load() {
		s.srvMu.Unlock()
		_ = ln.Close()
		return http.ErrServerClosed
	}
	s.servers[sv] = struct{}{}
	s.srvMu.Unlock()
	defer func() {
		s.srvMu.Lock()
		delete(s.servers, sv)
		s.srvMu.Unlock()
	}()

	fallbackDone := make(chan struct{})
	go func() {
		defer close(fallbackDone)
		_ = sv.fallback.Serve(sv.handoff)
	}()
	var err error
	var delay time.Duration
	for {
		nc, aerr := ln.Accept()
		if aerr != nil {
			if sv.closing.Load() {
				break
			}
			var ne net.Error
			if errors.As(aerr, &ne) && ne.Timeout() {
				// Out of file descriptors and the like: back off as
				// net/http does.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			err = aerr
			break
		}
		delay = 0
		if sv.toLoop(nc) {
			continue
		}
		c := &serverConn{sv: sv, nc: nc}
		if !sv.track(c, true) {
			_ = nc.Close()
			break
		}
		go c.serve()
	}
	sv.shutdown()
	sv.acceptDone.Store(true)
	sv.wakeLoops()
	sv.wg.Wait()
	_ = sv.fallback.Shutdown(context.Background())
	<-fallbackDone
	if err == nil {
		err = http.ErrServerClosed
	}
	return err
}

// server is one call of Serve.
type server struct {
	s        *Splitter
	ln       net.Listener
	handoff  *handoffListener
	fallback *http.Server
	closing  atomic.Bool
	wg       sync.WaitGroup
	// The event loops that serve TCP connections (Linux), and whether
	// Serve has stopped handing them connections.
	loops      []*evLoop                 // written by Serve's goroutine only
	loopsSeen  atomic.Pointer[[]*evLoop] // loops, for other goroutines
	loopsTried bool
	next       int
	acceptDone atomic.Bool

	mu    sync.Mutex
	conns map[*serverConn]struct{}
}

// track adds c (or removes it); it refuses to add one once closing.
func (sv *server) track(c *serverConn, add bool) bool {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	if !add {
		delete(sv.conns, c)
		sv.wg.Done()
		return true
	}
	if sv.closing.Load() {
		return false
	}
	sv.conns[c] = struct{}{}
	sv.wg.Add(1)
	return true
}

// shutdown stops accepting and closes the idle connections; a busy one
// closes after its response.
func (sv *server) shutdown() {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	if sv.closing.Swap(true) {
		return
	}
	_ = sv.ln.Close()
	sv.wakeLoops()
	// The connections handed to net/http: the idle ones are closed now,
	// the busy ones after their response (Shutdown, once Serve's own
	// connections have ended, waits for them).
	sv.fallback.SetKeepAlivesEnabled(false)
	for c := range sv.conns {
		if c.state.CompareAndSwap(connIdle, connClosed) {
			// Unblocks its read of the next request.
			_ = c.nc.SetReadDeadline(aLongTimeAgo)
		}
	}
}

// Connection states, for shutdown.
const (
	connIdle   = iota // waiting for a request
	connActive        // serving one
	connClosed        // shutdown claimed it while idle
)

// serverConn is one client connection on Serve's loop.
type serverConn struct {
	sv    *server
	nc    net.Conn
	wc    *waitConn // nc, under br and bw
	br    *bufio.Reader
	bw    *bufio.Writer
	state atomic.Int32
	ip    string        // the client's address, for X-Forwarded-For
	pre   *prefixReader // under br when the event loop read ahead
	req   reqHead
	resp  respHead
	num   [20]byte // scratch for numbers written without allocating

	// A request whose upstream takes longer than watchAfter to answer
	// gets a watcher: a read of the client connection that notices the
	// client going away and aborts the upstream exchange.
	watchDone     chan struct{}
	watchTimer    *time.Timer // runs watch; one per connection
	watched       *upConn     // the exchange watch aborts
	gone          atomic.Bool
	resetDeadline bool // the watcher was stopped by a deadline in the past
}

// watchAfter is how long an upstream may take to answer before Serve's
// loop watches the client connection for the client going away. A fast
// answer pays for no watcher (net/http's server starts one for every
// request).
const watchAfter = 20 * time.Millisecond

func (c *serverConn) serve() { c.run(nil, nil) }

// run serves c. pre holds bytes of the connection already read (by the
// event loop) and not consumed, and first, when not nil, finishes a
// request the event loop began, before the loop reads the next one.
func (c *serverConn) run(pre []byte, first func() bool) {
	handedOff := false
	defer func() {
		if !handedOff {
			if c.wc != nil && len(c.wc.pending) > 0 {
				_, _ = c.wc.sendPending()
			}
			_ = c.nc.Close()
		}
		c.sv.track(c, false)
	}()
	if _, ok := c.nc.(*tls.Conn); ok {
		handedOff = c.sv.handoff.give(c.nc)
		return
	}
	if host, _, err := net.SplitHostPort(c.nc.RemoteAddr().String()); err == nil {
		c.ip = host
	}
	c.watchDone = make(chan struct{}, 1)
	c.wc = newWaitConn(c.nc)
	if len(pre) > 0 {
		c.pre = &prefixReader{pre: pre, r: c.wc}
		c.br = bufio.NewReaderSize(c.pre, clientReadBuffer)
	} else {
		c.br = bufio.NewReaderSize(c.wc, clientReadBuffer)
	}
	c.bw = bufio.NewWriterSize(c.wc, clientWriteBuffer)
	idle := c.sv.s.cfg.IdleTimeout
	var deadline time.Time
	c.watchTimer = time.AfterFunc(time.Hour, c.watch)
	c.watchTimer.Stop()
	defer c.watchTimer.Stop()
	if first != nil && !first() {
		return
	}
	for {
		if !c.state.CompareAndSwap(connActive, connIdle) && c.state.Load() != connIdle {
			return
		}
		if c.sv.closing.Load() {
			return
		}
		// The deadline is moved only when a quarter of it has passed:
		// an idle connection is closed after 3/4 to 4/4 of IdleTimeout,
		// and most requests touch no timer.
		if now := time.Now(); c.resetDeadline || deadline.Sub(now) < idle*3/4 {
			c.resetDeadline = false
			deadline = now.Add(idle)
			_ = c.nc.SetReadDeadline(deadline)
		}
		head, ok, err := c.readHead()
		if err != nil {
			return
		}
		if !c.state.CompareAndSwap(connIdle, connActive) {
			return // shutdown closed it
		}
		if !ok {
			_ = c.nc.SetReadDeadline(time.Time{})
			handedOff = c.handOff()
			return
		}
		keep, handoff := c.serveRequest(head)
		if handoff {
			_ = c.nc.SetReadDeadline(time.Time{})
			handedOff = c.handOff()
			return
		}
		if !keep {
			return
		}
	}
}

// handOff gives the connection, with what has been read of it and not
// consumed, to the net/http server.
func (c *serverConn) handOff() bool {
	if c.bw.Buffered() > 0 {
		if c.bw.Flush() != nil {
			return false
		}
	}
	return c.sv.handoff.give(&replayConn{Conn: c.nc, br: c.br})
}

// readHead reads until the buffer holds a whole request head and returns
// it, unconsumed. ok is false when the request is one for net/http: the
// head does not fit in the buffer, holds a bare LF, or is outside what
// parseRequestHead accepts.
func (c *serverConn) readHead() (head []byte, ok bool, err error) {
	n := 1
	for {
		b, err := c.br.Peek(n)
		if err != nil {
			if len(b) > 0 && errors.Is(err, bufio.ErrBufferFull) {
				return nil, false, nil
			}
			if len(b) > 0 && c.br.Buffered() > 0 && !isTimeout(err) {
				// A partial head, then EOF: net/http answers it.
				return nil, false, nil
			}
			return nil, false, err
		}
		b, _ = c.br.Peek(c.br.Buffered())
		if end := bytes.Index(b, []byte("\r\n\r\n")); end >= 0 {
			head = b[:end+4]
			// parseRequestHead refuses a bare LF or CR anywhere.
			if !parseRequestHead(head, &c.req) {
				return nil, false, nil
			}
			return head, true, nil
		}
		if bytes.Contains(b, []byte("\n\n")) || len(b) >= clientReadBuffer {
			return nil, false, nil // a bare-LF head, or a large one
		}
		n = len(b) + 1
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// serveRequest proxies the parsed request c.req. keep says whether the
// connection can read another request; handoff that the request must be
// served by net/http instead (it has not been consumed).
func (c *serverConn) serveRequest(head []byte) (keep, handoff bool) {
	s := c.sv.s
	start := time.Now()
	r := &c.req
	up, extra := s.route(r)
	if up.pool == nil {
		return false, true
	}
	_, _ = c.br.Discard(len(head))
	closing := r.close || c.sv.closing.Load()
	if s.closed.Load() {
		c.writeEmpty("503 Service Unavailable")
		return false, false
	}
	status, keep := c.forward(up, extra, closing)
	return c.finish(up, start, status, keep, closing), false
}

// finish records a request forwarded on Serve's loop and sends its
// response; it reports whether the connection can read another request.
func (c *serverConn) finish(up *upstream, start time.Time, status int, keep, closing bool) bool {
	// Recorded before the last of the response is sent, as on the
	// Handler path: a client that has its answer finds it counted.
	up.m.observe(status, time.Since(start))
	keep = keep && !closing && !c.sv.closing.Load()
	// The response is not held back for the next read (waitConn): a
	// client may send its next request before it has this answer
	// (pipelining), and that request's readiness would be lost.
	if c.bw.Flush() != nil {
		keep = false
	}
	return keep
}

// route picks the upstream of the parsed request r, as the Handler does
// (header route, sticky key, weight), and the response headers the
// splitter adds (a new sticky cookie, the revision header).
func (s *Splitter) route(r *reqHead) (*upstream, extraHeaders) {
	t := s.table.Load()
	key, cookie := "", ""
	if h := s.cfg.Sticky.Header; h != "" {
		key = r.get(h)
	}
	if key == "" && s.cfg.Sticky.Cookie != "" {
		key = r.cookie(s.cfg.Sticky.Cookie)
		if key == "" && t.canary != nil && t.stable != nil {
			key = strconv.FormatUint(rand.Uint64(), 36)
			cookie = (&http.Cookie{Name: s.cfg.Sticky.Cookie, Value: key, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode}).String()
		}
	}
	up := t.pick(t.route != nil && r.match(t.route), key)
	extra := extraHeaders{cookie: cookie}
	if s.cfg.RevisionHeader != "" {
		extra.revName, extra.revValue = s.cfg.RevisionHeader, string(up.rev)
	}
	return up, extra
}

// headWriter is what request and response heads are written to: a
// bufio.Writer on the goroutine loop, an outBuf on the event loop.
type headWriter interface {
	Write(p []byte) (int, error)
	WriteString(s string) (int, error)
	WriteByte(b byte) error
}

// outBuf is a growing byte slice with bufio.Writer's write methods.
type outBuf struct{ b []byte }

func (o *outBuf) Write(p []byte) (int, error) {
	o.b = append(o.b, p...)
	return len(p), nil
}

func (o *outBuf) WriteString(s string) (int, error) {
	o.b = append(o.b, s...)
	return len(s), nil
}

func (o *outBuf) WriteByte(b byte) error {
	o.b = append(o.b, b)
	return nil
}

// extraHeaders are the response headers the splitter adds.
type extraHeaders struct {
	cookie            string
	revName, revValue string
}

func (e *extraHeaders) write(bw headWriter) {
	if e.revName != "" {
		bw.WriteString(e.revName)
		bw.WriteString(": ")
		bw.WriteString(e.revValue)
		bw.WriteString("\r\n")
	}
	if e.cookie != "" {
		bw.WriteString("Set-Cookie: ")
		bw.WriteString(e.cookie)
		bw.WriteString("\r\n")
	}
}

// writeEmpty answers with statusLine and no body, and closes.
func (c *serverConn) writeEmpty(statusLine string) {
	c.bw.WriteString("HTTP/1.1 ")
	c.bw.WriteString(statusLine)
	c.bw.WriteString("\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
	_ = c.bw.Flush()
}

// forward sends c.req to up and streams the answer to the client. It
// returns the status to record and whether the client connection can be
// kept.
func (c *serverConn) forward(up *upstream, extra extraHeaders, closing bool) (status int, keep bool) {
	s := c.sv.s
	head := c.req.method[0] == 'H'
	for attempt := 0; ; attempt++ {
		var uc *upConn
		var reused bool
		var err error
		if attempt == 0 {
			uc, reused, err = up.pool.get(context.Background())
		} else {
			uc, err = up.pool.dial(context.Background())
		}
		if err == nil {
			var got bool
			got, err = c.roundTrip(uc, up, head)
			if err != nil {
				_ = uc.Close()
				if reused && !got && attempt == 0 && !c.gone.Load() {
					continue // an idle connection the upstream had closed
				}
			}
		}
		if err != nil && c.gone.Load() {
			return StatusClientClosedRequest, false
		}
		if err != nil {
			if s.cfg.Logger != nil {
				s.cfg.Logger.LogAttrs(context.Background(), slog.LevelWarn, "httpsplit: upstream failed",
					slog.String("revision", string(up.rev)), slog.String("error", err.Error()))
			}
			c.writeBadGateway(extra, closing)
			return http.StatusBadGateway, true
		}
		return c.relay(uc, up, head, extra, closing)
	}
}

func (c *serverConn) writeBadGateway(extra extraHeaders, closing bool) {
	c.bw.WriteString("HTTP/1.1 502 Bad Gateway\r\n")
	extra.write(c.bw)
	c.bw.WriteString("Content-Length: 0\r\n")
	if closing {
		c.bw.WriteString("Connection: close\r\n")
	}
	c.bw.WriteString("\r\n")
}

// roundTrip writes the request to uc and reads the response head (skipping
// 1xx answers) into c.resp. got is true once any byte of a response was
// read: the request cannot be sent again.
func (c *serverConn) roundTrip(uc *upConn, up *upstream, head bool) (got bool, err error) {
	c.writeRequest(uc.bw, up)
	uc.holdWrite()
	if err := uc.bw.Flush(); err != nil {
		return false, err
	}
	c.gone.Store(false)
	watching := false
	if c.br.Buffered() == 0 && uc.br.Buffered() == 0 {
		// From here on nothing reads the request head's bytes, which the
		// watcher's read may overwrite.
		c.watched = uc
		c.watchTimer.Reset(watchAfter)
		watching = true
	}
	defer func() {
		if watching && !c.watchTimer.Stop() {
			_ = c.nc.SetReadDeadline(aLongTimeAgo)
			<-c.watchDone
			c.resetDeadline = true
		}
		if err == nil && c.gone.Load() {
			err = errClientGone
		}
	}()
	for {
		b, err := readResponseHead(uc.br)
		if err != nil {
			return got || uc.br.Buffered() > 0, err
		}
		got = true
		if err := parseResponseHead(b, head, &c.resp); err != nil {
			return true, err
		}
		if c.resp.status == http.StatusSwitchingProtocols {
			return true, errors.New("upstream switched protocols for a request that asked for no upgrade")
		}
		_, _ = uc.br.Discard(c.resp.headLen)
		if c.resp.status >= 200 {
			return true, nil
		}
		// 1xx (103 Early Hints, a stray 100): not forwarded.
	}
}

// errClientGone ends an exchange whose client went away.
var errClientGone = errors.New("httpsplit: the client went away")

// watch waits for the client to send something or go away; gone, it
// aborts the upstream exchange.
func (c *serverConn) watch() {
	uc := c.watched
	defer func() { c.watchDone <- struct{}{} }()
	if _, err := c.br.Peek(1); err != nil && !isTimeout(err) {
		c.gone.Store(true)
		uc.abort()
	}
}

// readResponseHead waits until br holds a whole response head and returns
// it, unconsumed.
func readResponseHead(br *bufio.Reader) ([]byte, error) {
	n := 1
	for {
		if _, err := br.Peek(n); err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				return nil, errors.New("httpsplit: upstream response head too large")
			}
			return nil, err
		}
		b, _ := br.Peek(br.Buffered())
		if end := bytes.Index(b, []byte("\r\n\r\n")); end >= 0 {
			return b[:end+4], nil
		}
		n = len(b) + 1
	}
}

// writeRequest writes the request head for up: the client's fields but
// hop-by-hop and forwarding ones, and the splitter's forwarding headers.
func (c *serverConn) writeRequest(bw *bufio.Writer, up *upstream) {
	writeRequestHead(bw, &c.req, c.sv.s, c.ip, up)
}

// writeRequestHead writes the head of request r, from a client at ip, for
// up.
func writeRequestHead(bw headWriter, r *reqHead, s *Splitter, ip string, up *upstream) {
	bw.Write(r.method)
	bw.WriteByte(' ')
	bw.Write(r.target)
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	if s.cfg.PreserveHost {
		bw.Write(r.host)
	} else {
		bw.WriteString(up.url.Host)
	}
	bw.WriteString("\r\n")
	te := false
	for _, f := range r.fields {
		if isHopByHop(f.name) || isForwarding(f.name) {
			if equalFold(f.name, "Te") {
				for t := range tokens(f.value) {
					te = te || equalFold(t, "trailers")
				}
			}
			continue
		}
		bw.Write(f.name)
		bw.WriteString(": ")
		bw.Write(f.value)
		bw.WriteString("\r\n")
	}
	if te {
		bw.WriteString("Te: trailers\r\n")
	}
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
	bw.Write(r.host)
	bw.WriteString("\r\nX-Forwarded-Proto: http\r\n\r\n")
}

// isHopByHop reports whether name is one of hopHeaders, ignoring case.
func isHopByHop(name []byte) bool {
	switch len(name) {
	case 2:
		return equalFold(name, "Te")
	case 7:
		return equalFold(name, "Upgrade") || equalFold(name, "Trailer")
	case 10:
		return equalFold(name, "Connection") || equalFold(name, "Keep-Alive")
	case 16:
		return equalFold(name, "Proxy-Connection")
	case 17:
		return equalFold(name, "Transfer-Encoding")
	case 18:
		return equalFold(name, "Proxy-Authenticate")
	case 19:
		return equalFold(name, "Proxy-Authorization")
	}
	return false
}

// isForwarding reports whether name is one of forwardingHeaders.
func isForwarding(name []byte) bool {
	switch len(name) {
	case 9:
		return equalFold(name, "Forwarded") || equalFold(name, "X-Real-Ip")
	case 15:
		return equalFold(name, "X-Forwarded-For")
	case 16:
		return equalFold(name, "X-Forwarded-Host")
	case 17:
		return equalFold(name, "X-Forwarded-Proto")
	}
	return false
}

// relay writes the response head c.resp and then its body from uc to the
// client. A body the upstream cuts short aborts the client's connection.
func (c *serverConn) relay(uc *upConn, up *upstream, head bool, extra extraHeaders, closing bool) (status int, keep bool) {
	h := &c.resp
	writeResponseHead(c.bw, h, head, &extra, closing, &c.num)
	var ok bool
	switch h.framing {
	case bodyNone:
		ok = true
	case bodyLength:
		ok = c.copyN(uc.br, h.length)
	case bodyChunked:
		ok = c.copyChunked(uc.br)
	case bodyClose:
		ok = c.copyToEOF(uc.br)
	}
	if !ok || !h.keepAlive || uc.br.Buffered() > 0 {
		_ = uc.Close()
	} else {
		up.pool.put(uc)
	}
	return h.status, ok
}

// writeResponseHead writes the client's response head for the upstream's
// head h, to a request that was a HEAD or not.
func writeResponseHead(bw headWriter, h *respHead, head bool, extra *extraHeaders, closing bool, num *[20]byte) {
	bw.WriteString("HTTP/1.1 ")
	bw.Write(h.statusLine)
	bw.WriteString("\r\n")
	for _, f := range h.fields {
		if equalFold(f.name, "Content-Length") {
			// Written once below (a response may repeat it), and
			// dropped when chunked wins.
			continue
		}
		if isHopByHop(f.name) && !(equalFold(f.name, "Trailer") && h.framing == bodyChunked) {
			continue
		}
		if len(h.connTokens) > 0 && namedIn(f.name, h.connTokens) {
			continue
		}
		bw.Write(f.name)
		bw.WriteString(": ")
		bw.Write(f.value)
		bw.WriteString("\r\n")
	}
	extra.write(bw)
	if h.length >= 0 && (h.framing == bodyLength || h.framing == bodyNone) {
		bw.WriteString("Content-Length: ")
		bw.Write(strconv.AppendInt(num[:0], h.length, 10))
		bw.WriteString("\r\n")
	}
	switch h.framing {
	case bodyChunked, bodyClose:
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	case bodyNone:
		if head && h.length < 0 {
			// A HEAD answer keeps what the upstream said of the body.
			for _, f := range h.fields {
				if equalFold(f.name, "Transfer-Encoding") {
					bw.WriteString("Transfer-Encoding: chunked\r\n")
				}
			}
		}
	}
	if closing {
		bw.WriteString("Connection: close\r\n")
	}
	bw.WriteString("\r\n")
}

func namedIn(name []byte, tokens [][]byte) bool {
	for _, t := range tokens {
		if bytes.EqualFold(name, t) {
			return true
		}
	}
	return false
}

// fill makes br hold at least one byte, flushing what the client has been
// sent so far before it blocks on the upstream (so that a stream reaches
// the client as it arrives).
func (c *serverConn) fill(br *bufio.Reader) error {
	if br.Buffered() > 0 {
		return nil
	}
	return c.more(br)
}

// copyN copies n bytes of body from br to the client.
func (c *serverConn) copyN(br *bufio.Reader, n int64) bool {
	for n > 0 {
		if err := c.fill(br); err != nil {
			return false
		}
		b, _ := br.Peek(int(min(int64(br.Buffered()), n)))
		if _, err := c.bw.Write(b); err != nil {
			return false
		}
		_, _ = br.Discard(len(b))
		n -= int64(len(b))
	}
	return true
}

// copyChunked copies a chunked body, re-framed (chunk extensions are
// dropped), and its trailer section to the client.
func (c *serverConn) copyChunked(br *bufio.Reader) bool {
	for {
		line, ok := c.readLine(br)
		if !ok {
			return false
		}
		n, ok := parseChunkSize(line)
		if !ok {
			return false
		}
		if n == 0 {
			break
		}
		c.bw.Write(strconv.AppendInt(c.num[:0], n, 16))
		c.bw.WriteString("\r\n")
		if !c.copyN(br, n) {
			return false
		}
		if line, ok := c.readLine(br); !ok || len(line) != 0 {
			return false
		}
		c.bw.WriteString("\r\n")
	}
	c.bw.WriteString("0\r\n")
	for {
		line, ok := c.readLine(br)
		if !ok {
			return false
		}
		if len(line) == 0 {
			break
		}
		name, value, ok := splitField(line)
		if !ok {
			return false
		}
		if isHopByHop(name) || equalFold(name, "Content-Length") {
			continue
		}
		c.bw.Write(name)
		c.bw.WriteString(": ")
		c.bw.Write(value)
		c.bw.WriteString("\r\n")
	}
	c.bw.WriteString("\r\n")
	return true
}

// readLine reads one CRLF-terminated line that fits in br's buffer and
// returns it without the CRLF (valid until the next read of br).
func (c *serverConn) readLine(br *bufio.Reader) ([]byte, bool) {
	for {
		b, _ := br.Peek(br.Buffered())
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, _, ok := cutLine(b[:i+1])
			_, _ = br.Discard(i + 1)
			return line, ok
		}
		if len(b) >= br.Size() || c.more(br) != nil {
			return nil, false
		}
	}
}

// more reads at least one more byte into br, flushing what the client
// has been sent so far before it blocks on the upstream.
func (c *serverConn) more(br *bufio.Reader) error {
	if c.bw.Buffered() > 0 {
		if err := c.bw.Flush(); err != nil {
			return err
		}
	}
	_, err := br.Peek(br.Buffered() + 1)
	return err
}

// copyToEOF copies a body delimited by the upstream closing the
// connection, as chunks.
func (c *serverConn) copyToEOF(br *bufio.Reader) bool {
	for {
		if err := c.fill(br); err != nil {
			if err == io.EOF {
				c.bw.WriteString("0\r\n\r\n")
				return true
			}
			return false
		}
		b, _ := br.Peek(br.Buffered())
		c.bw.Write(strconv.AppendInt(c.num[:0], int64(len(b)), 16))
		c.bw.WriteString("\r\n")
		c.bw.Write(b)
		c.bw.WriteString("\r\n")
		_, _ = br.Discard(len(b))
	}
}

// get returns the first value of header name, or "".
func (r *reqHead) get(name string) string {
	for _, f := range r.fields {
		if equalFoldString(f.name, name) {
			return string(f.value)
		}
	}
	return ""
}

// cookie finds cookie name in the request's Cookie headers.
func (r *reqHead) cookie(name string) string {
	for _, f := range r.fields {
		if equalFold(f.name, "Cookie") {
			if v := cookieValue(http.Header{"Cookie": {string(f.value)}}, name); v != "" {
				return v
			}
		}
	}
	return ""
}

// match reports whether any value of the route's header matches.
func (r *reqHead) match(m *matcher) bool {
	for _, f := range r.fields {
		if equalFoldString(f.name, m.header) && m.matchValue(string(f.value)) {
			return true
		}
	}
	return false
}

// equalFoldString compares a header name with a string of any case.
func equalFoldString(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		x, y := b[i], s[i]
		if x == y {
			continue
		}
		if x|0x20 != y|0x20 || x|0x20 < 'a' || x|0x20 > 'z' {
			return false
		}
	}
	return true
}

// prefixReader reads pre, then r.
type prefixReader struct {
	pre []byte
	r   io.Reader
}

// prefixDone reports whether c's reader has consumed what the event loop
// read ahead.
func (c *serverConn) prefixDone() bool { return c.pre == nil || len(c.pre.pre) == 0 }

func (p *prefixReader) Read(b []byte) (int, error) {
	if len(p.pre) > 0 {
		n := copy(b, p.pre)
		p.pre = p.pre[n:]
		return n, nil
	}
	return p.r.Read(b)
}

// adopt tracks c, a connection with a request in flight that the event
// loop hands to a goroutine; unlike track it adds c while closing, since
// the request must finish.
func (sv *server) adopt(c *serverConn) {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	c.state.Store(connActive)
	sv.conns[c] = struct{}{}
	sv.wg.Add(1)
}

// replayConn is a connection handed to net/http: reads come first from
// what Serve's loop buffered.
type replayConn struct {
	net.Conn
	br *bufio.Reader
}

func (c *replayConn) Read(p []byte) (int, error) { return c.br.Read(p) }

// handoffListener hands connections to the fallback net/http server.
type handoffListener struct {
	addr   net.Addr
	conns  chan net.Conn
	done   chan struct{}
	closed sync.Once
}

func newHandoffListener(addr net.Addr) *handoffListener {
	return &handoffListener{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

// give hands c over; false when the listener is closed (c is then the
// caller's to close).
func (l *handoffListener) give(c net.Conn) bool {
	select {
	case l.conns <- c:
		return true
	case <-l.done:
		return false
	}
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *handoffListener) Close() error {
	l.closed.Do(func() { close(l.done) })
	return nil
}

func (l *handoffListener) Addr() net.Addr { return l.addr }
