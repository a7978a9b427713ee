//go:build linux

package httpsplit

import (
	"bufio"
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Serve's event loops (Linux).
//
// A goroutine per connection parks on every read that finds no data and
// is woken by Go's netpoller when the data comes: per request, a client
// read and an upstream read each cost a park, a wake-up and often a
// thread handing work to another (futex), which on a loaded machine cost
// more than the proxying itself. The event loops work as nginx's workers
// do: each owns an epoll instance and the connections given to it (client
// and upstream sockets, non-blocking, edge-triggered), waits in
// epoll_wait, reads a socket only when epoll reported it readable (and
// not again after a read that left data unread: a short read drained the
// socket), and forwards requests with the same parsers and header
// rewriting as the goroutine loop. A loop answers a request itself when
// the whole response fits in its upstream buffer (a bodiless answer,
// one whose Content-Length fits, which it sends once whole, as nginx's
// proxy buffering does, or a chunked one that came whole with its
// head); anything else moves the connection to
// the goroutine loop: a request for net/http (a body, Upgrade, HTTP/1.0,
// a malformed request, an upstream without the fast path) with the bytes
// read so far, a large or streamed response (chunked, read until close,
// over the buffer) to a goroutine that relays it with the goroutine
// loop's code and then gives the connection back to the loop (or, when
// the client has already sent more than the loop had read, goes on
// serving it as the goroutine loop does).
//
// There are GOMAXPROCS loops, one per P, as nginx runs a worker per
// core. A loop waits in epoll_wait as a blocking system call; Go's sysmon
// hands the P of a goroutine blocked in a system call to other work (the
// accept loop, relays, timers) when there is some, so loops on every P do
// not starve the rest of the process. With GOMAXPROCS-1 loops (one on 2
// cores) the ready connections of a busy moment were served in turn:
// proxybench on 2 cores met nginx's throughput with a 1 or 5ms backend in
// one run of four that way, and in every one of four with two loops.

// evLoop is one event loop.
type evLoop struct {
	sv   *server
	epfd int
	efd  int // an eventfd that wakes the loop

	mu     sync.Mutex // guards inbox and exited
	inbox  []func()
	exited bool // the loop has ended: nothing more is posted

	clients []*loopConn // by file descriptor
	ups     []*loopUp   // by file descriptor
	idle    map[*upstream][]*loopUp
	nconns  int // client connections, and dials in flight
	tick    time.Duration
	sweep   time.Time // when idle connections are next checked
	events  []unix.EpollEvent
	work    []func()
	closing bool // the server's closing was seen
	yielded time.Time
	one     [8]byte
}

// Client connection states on a loop.
const (
	lcIdle     = iota // reading a request head
	lcDial            // waiting for a new upstream connection
	lcUpstream        // sending the request, waiting for the answer
	lcWrite           // writing the response
	lcDone            // closed or handed over
)

// loopConn is a client connection on a loop.
type loopConn struct {
	fd         int
	ip         string
	in         []byte
	r, w       int // unconsumed bytes: in[r:w]
	readable   bool
	hup        bool
	state      int
	lastActive time.Time

	// The request being forwarded.
	req     reqHead
	head    bool // a HEAD request
	up      *upstream
	uc      *loopUp
	extra   extraHeaders
	start   time.Time
	closing bool // the response closes the connection
	keep    bool
	reused  bool // uc came from the idle pool
	retried bool
	gotHead bool   // a final response head was read
	reqOut  outBuf // the request head for the upstream
	out     outBuf // the response
	off     int    // of out, written
	resp    respHead
	num     [20]byte
}

// loopUp is an upstream connection on a loop.
type loopUp struct {
	fd        int
	up        *upstream
	c         *loopConn // nil while idle
	in        []byte
	n         int // bytes in in
	off       int // start of the response head being read
	sent      int // bytes of c.reqOut written
	readable  bool
	hup       bool
	idleSince time.Time
	gen       uint64 // the pool's idleGen when it was put
}

// yieldEvery is how often a loop passes through Go's scheduler.
const yieldEvery = time.Millisecond

const loopEvents = unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET

// startLoops starts the event loops, when the first TCP connection
// comes (a listener of other connections, such as a test's in-memory
// one, starts none); on failure the goroutine loop serves every
// connection.
func (sv *server) startLoops() {
	sv.loopsTried = true
	n := max(1, runtime.GOMAXPROCS(0))
	for range n {
		l, err := newEvLoop(sv)
		if err != nil {
			break
		}
		sv.loops = append(sv.loops, l)
		sv.wg.Add(1)
		go l.run()
	}
	loops := sv.loops
	sv.loopsSeen.Store(&loops)
	if sv.closing.Load() {
		// shutdown may have looked for loops to wake before they were
		// published.
		sv.wakeLoops()
	}
}

func newEvLoop(sv *server) (*evLoop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		_ = unix.Close(epfd)
		return nil, err
	}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, efd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(efd)}); err != nil {
		_ = unix.Close(epfd)
		_ = unix.Close(efd)
		return nil, err
	}
	tick := min(max(sv.s.cfg.IdleTimeout/4, time.Millisecond), time.Second)
	l := &evLoop{sv: sv, epfd: epfd, efd: efd, idle: map[*upstream][]*loopUp{}, tick: tick, events: make([]unix.EpollEvent, 128)}
	l.one[0] = 1 // eventfd adds a native-endian uint64; 1 on little-endian, 2^56 on big-endian: either wakes
	return l, nil
}

// toLoop hands a TCP connection to a loop; false leaves nc to the
// goroutine loop.
func (sv *server) toLoop(nc net.Conn) bool {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return false
	}
	if !sv.loopsTried {
		sv.startLoops()
	}
	if len(sv.loops) == 0 {
		return false
	}
	l := sv.loops[sv.next%len(sv.loops)]
	sv.next++
	c := &loopConn{}
	if host, _, err := net.SplitHostPort(tc.RemoteAddr().String()); err == nil {
		c.ip = host
	}
	fd, err := detachFD(tc)
	if err != nil {
		return true
	}
	c.fd = fd
	l.adopt(c)
	return true
}

// adopt has the loop serve c.
func (l *evLoop) adopt(c *loopConn) {
	if !l.post(func() { l.register(c) }) {
		_ = unix.Close(c.fd)
	}
}

func (sv *server) wakeLoops() {
	p := sv.loopsSeen.Load()
	if p == nil {
		return
	}
	for _, l := range *p {
		l.wake()
	}
}

// detachFD takes nc's socket out of Go's netpoller: it returns a
// duplicate of its descriptor (non-blocking, as the socket is) and
// closes nc.
func detachFD(nc net.Conn) (int, error) {
	defer nc.Close()
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return -1, syscall.EINVAL
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1, err
	}
	nfd := -1
	var derr error
	if err := rc.Control(func(fd uintptr) { nfd, derr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return -1, err
	}
	return nfd, derr
}

// fileConn makes a net.Conn of fd, which it closes.
func fileConn(fd int) (net.Conn, error) {
	f := os.NewFile(uintptr(fd), "")
	defer f.Close()
	return net.FileConn(f)
}

// post runs f on the loop; false when the loop has ended.
func (l *evLoop) post(f func()) bool {
	l.mu.Lock()
	if l.exited {
		l.mu.Unlock()
		return false
	}
	l.inbox = append(l.inbox, f)
	l.mu.Unlock()
	l.wake()
	return true
}

func (l *evLoop) wake() { _, _ = unix.Write(l.efd, l.one[:]) }

func (l *evLoop) run() {
	defer l.sv.wg.Done()
	defer l.exit()
	for {
		timeout := -1
		if l.nconns > 0 || len(l.idle) > 0 {
			timeout = int((l.tick + time.Millisecond - 1) / time.Millisecond)
		}
		n, err := unix.EpollWait(l.epfd, l.events, timeout)
		if err != nil && err != unix.EINTR {
			// Cannot happen with a valid epoll descriptor; do not spin.
			time.Sleep(time.Millisecond)
		}
		woken := false
		for _, ev := range l.events[:max(n, 0)] {
			fd := int(ev.Fd)
			switch {
			case fd == l.efd:
				woken = true
			case fd < len(l.clients) && l.clients[fd] != nil:
				l.clientEvent(l.clients[fd], ev.Events)
			case fd < len(l.ups) && l.ups[fd] != nil:
				l.upEvent(l.ups[fd], ev.Events)
			}
		}
		if woken {
			var b [8]byte
			_, _ = unix.Read(l.efd, b[:])
			l.mu.Lock()
			l.work, l.inbox = l.inbox, l.work[:0]
			l.mu.Unlock()
			for i, f := range l.work {
				f()
				l.work[i] = nil
			}
			if l.sv.closing.Load() && !l.closing {
				l.closing = true
				l.closeIdleClients()
			}
			l.closeIdleUps(time.Now(), l.sv.s.closed.Load())
		}
		now := time.Now()
		if (l.nconns > 0 || len(l.idle) > 0) && !now.Before(l.sweep) {
			l.sweep = now.Add(l.tick)
			l.sweepIdle(now)
		}
		if now.Sub(l.yielded) >= yieldEvery {
			// A goroutine that never passes through the scheduler
			// looks, to Go's sysmon, like one running without end: it
			// would take the loop's P every 10ms and then poll every
			// 20µs for a while. Passing through the scheduler now and
			// then (a no-op when nothing else is runnable) avoids that.
			l.yielded = now
			runtime.Gosched()
		}
		if l.nconns == 0 && l.sv.acceptDone.Load() {
			l.mu.Lock()
			l.exited = len(l.inbox) == 0
			l.mu.Unlock()
			if l.exited {
				return
			}
		}
	}
}

// exit closes what the loop still holds: idle upstream connections and
// its own descriptors.
func (l *evLoop) exit() {
	for _, list := range l.idle {
		for _, uc := range list {
			l.dropUp(uc)
		}
	}
	clear(l.idle)
	_ = unix.Close(l.epfd)
	_ = unix.Close(l.efd)
}

func (l *evLoop) register(c *loopConn) {
	if l.sv.closing.Load() {
		_ = unix.Close(c.fd)
		return
	}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, c.fd, &unix.EpollEvent{Events: loopEvents, Fd: int32(c.fd)}); err != nil {
		_ = unix.Close(c.fd)
		return
	}
	for c.fd >= len(l.clients) {
		l.clients = append(l.clients, make([]*loopConn, len(l.clients)+64)...)
	}
	l.clients[c.fd] = c
	l.nconns++
	c.in = make([]byte, clientReadBuffer)
	c.lastActive = time.Now()
	c.state = lcIdle
}

// forget removes c from the loop (its descriptor stays open).
func (l *evLoop) forget(c *loopConn) {
	_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, c.fd, nil)
	l.clients[c.fd] = nil
	l.nconns--
	c.state = lcDone
}

func (l *evLoop) closeClient(c *loopConn) {
	if c.state == lcDone {
		return
	}
	if c.uc != nil {
		l.dropUp(c.uc)
		c.uc = nil
	}
	l.forget(c)
	_ = unix.Close(c.fd)
}

// closeIdleClients closes the connections waiting for a request, as
// shutdown does on the goroutine loop.
func (l *evLoop) closeIdleClients() {
	for _, c := range l.clients {
		if c != nil && c.state == lcIdle {
			l.closeClient(c)
		}
	}
}

// sweepIdle closes client connections idle for IdleTimeout, and stale
// idle upstream connections.
func (l *evLoop) sweepIdle(now time.Time) {
	idle := l.sv.s.cfg.IdleTimeout
	for _, c := range l.clients {
		if c != nil && c.state == lcIdle && now.Sub(c.lastActive) >= idle {
			l.closeClient(c)
		}
	}
	l.closeIdleUps(now, l.sv.s.closed.Load())
}

// closeIdleUps closes idle upstream connections that are stale, whose
// pool is closed or was told to close its idle connections, or all of
// them when all is set.
func (l *evLoop) closeIdleUps(now time.Time, all bool) {
	for up, list := range l.idle {
		keep := list[:0]
		for _, uc := range list {
			if all || !l.reusable(uc, now) {
				l.dropUp(uc)
			} else {
				keep = append(keep, uc)
			}
		}
		clear(list[len(keep):])
		if len(keep) == 0 {
			delete(l.idle, up)
		} else {
			l.idle[up] = keep
		}
	}
}

func (l *evLoop) reusable(uc *loopUp, now time.Time) bool {
	p := uc.up.pool
	return !uc.hup && !p.closed.Load() && p.idleGen.Load() == uc.gen && now.Sub(uc.idleSince) <= maxIdleTime
}

// clientEvent handles epoll's report on a client connection.
func (l *evLoop) clientEvent(c *loopConn, ev uint32) {
	if ev&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		c.readable = true
	}
	gone := ev&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0
	if gone {
		c.hup = true
	}
	switch c.state {
	case lcIdle:
		l.serveConn(c)
	case lcDial, lcUpstream:
		if gone {
			// The client went away before its answer: the upstream
			// exchange is aborted, as on the other paths.
			c.up.m.observe(StatusClientClosedRequest, time.Since(c.start))
			l.closeClient(c)
		}
	case lcWrite:
		if ev&(unix.EPOLLOUT|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
			l.flushClient(c)
		}
	}
}

var headEnd = []byte("\r\n\r\n")

// serveConn reads and starts requests while c waits for one.
func (l *evLoop) serveConn(c *loopConn) {
	for c.state == lcIdle {
		if c.r == c.w {
			c.r, c.w = 0, 0
		}
		b := c.in[c.r:c.w]
		if end := bytes.Index(b, headEnd); end >= 0 {
			head := b[:end+4]
			if !parseRequestHead(head, &c.req) {
				l.handOff(c)
				return
			}
			l.startRequest(c, head)
			continue
		}
		if bytes.Contains(b, []byte("\n\n")) || len(b) >= len(c.in) {
			l.handOff(c) // a bare-LF head, or a large one: net/http's
			return
		}
		if !c.readable {
			return
		}
		if c.r > 0 {
			c.w = copy(c.in, c.in[c.r:c.w])
			c.r = 0
		}
		n, err := unix.Read(c.fd, c.in[c.w:])
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			c.readable = false
			return
		case err != nil || n <= 0:
			if c.w > c.r {
				l.handOff(c) // a partial head, then EOF: net/http answers it
			} else {
				l.closeClient(c)
			}
			return
		}
		if n < len(c.in)-c.w && !c.hup {
			c.readable = false // a short read drained the socket
		}
		c.w += n
	}
}

// startRequest forwards the parsed request c.req, whose head is head.
func (l *evLoop) startRequest(c *loopConn, head []byte) {
	s := l.sv.s
	c.start = time.Now()
	up, extra := s.route(&c.req)
	if up.pool == nil {
		l.handOff(c)
		return
	}
	c.r += len(head)
	c.closing = c.req.close || l.sv.closing.Load()
	if s.closed.Load() {
		c.out.b = append(c.out.b[:0], "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"...)
		c.keep = false
		c.state = lcWrite
		c.off = 0
		l.flushClient(c)
		return
	}
	c.up, c.extra = up, extra
	c.head = c.req.method[0] == 'H'
	c.reqOut.b = c.reqOut.b[:0]
	writeRequestHead(&c.reqOut, &c.req, s, c.ip, up)
	c.retried = false
	if uc := l.popIdle(up); uc != nil {
		l.attach(c, uc, true)
		return
	}
	l.dial(c)
}

// popIdle returns an idle connection to up, or nil.
func (l *evLoop) popIdle(up *upstream) *loopUp {
	list := l.idle[up]
	now := time.Time{}
	for len(list) > 0 {
		uc := list[len(list)-1]
		list[len(list)-1] = nil
		list = list[:len(list)-1]
		if now.IsZero() {
			now = time.Now()
		}
		if l.reusable(uc, now) {
			l.idle[up] = list
			return uc
		}
		l.dropUp(uc)
	}
	delete(l.idle, up)
	return nil
}

// putIdle keeps uc for reuse, or closes it.
func (l *evLoop) putIdle(uc *loopUp) {
	p := uc.up.pool
	list := l.idle[uc.up]
	// A socket not known to be drained (the last read filled the
	// buffer) may hold bytes the upstream sent unasked, which would be
	// read as the next answer: such a connection is not reused.
	if uc.hup || uc.readable || p.closed.Load() || len(list) >= maxIdlePerUpstream {
		l.dropUp(uc)
		return
	}
	uc.c = nil
	uc.idleSince = time.Now()
	uc.gen = p.idleGen.Load()
	l.idle[uc.up] = append(list, uc)
}

// dropUp closes an upstream connection.
func (l *evLoop) dropUp(uc *loopUp) {
	if uc.fd < 0 {
		return
	}
	_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, uc.fd, nil)
	l.ups[uc.fd] = nil
	_ = unix.Close(uc.fd)
	uc.fd = -1
	uc.c = nil
}

// dial connects to c.up on a goroutine (the loop never blocks) and
// sends c's request once connected.
func (l *evLoop) dial(c *loopConn) {
	c.state = lcDial
	l.nconns++ // the loop stays until the dial has reported
	up := c.up
	go func() {
		fd, err := -1, errPoolClosed
		if !up.pool.closed.Load() {
			var nc net.Conn
			nc, err = up.pool.dialer.DialContext(context.Background(), "tcp", up.pool.addr)
			if err == nil {
				fd, err = detachFD(nc)
			}
		}
		// The loop is alive: it counts the dial in nconns.
		_ = l.post(func() { l.dialed(c, up, fd, err) })
	}()
}

func (l *evLoop) dialed(c *loopConn, up *upstream, fd int, err error) {
	l.nconns--
	if c.state != lcDial || c.up != up {
		if err == nil {
			_ = unix.Close(fd)
		}
		return
	}
	if err == nil {
		uc := &loopUp{fd: fd, up: up, in: make([]byte, upstreamReadBuffer)}
		if err = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: loopEvents, Fd: int32(fd)}); err != nil {
			_ = unix.Close(fd)
		} else {
			for fd >= len(l.ups) {
				l.ups = append(l.ups, make([]*loopUp, len(l.ups)+64)...)
			}
			l.ups[fd] = uc
			l.attach(c, uc, false)
			return
		}
	}
	l.badGateway(c, err)
}

// attach sends c's request on uc.
func (l *evLoop) attach(c *loopConn, uc *loopUp, reused bool) {
	c.uc, uc.c = uc, c
	c.reused, c.gotHead = reused, false
	c.state = lcUpstream
	uc.n, uc.off, uc.sent = 0, 0, 0
	l.writeUp(uc)
}

// writeFrom writes b[*off:] to the non-blocking socket fd, advancing
// *off, until all of it is written (done) or the socket is full (not
// done, no error: EPOLLOUT will tell when to go on).
func writeFrom(fd int, b []byte, off *int) (done bool, err error) {
	for *off < len(b) {
		n, err := unix.Write(fd, b[*off:])
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return false, nil
		case err != nil:
			return false, err
		}
		*off += n
	}
	return true, nil
}

// writeUp writes what is left of the request to uc.
func (l *evLoop) writeUp(uc *loopUp) {
	if _, err := writeFrom(uc.fd, uc.c.reqOut.b, &uc.sent); err != nil {
		l.upFailed(uc, err)
	}
}

// upEvent handles epoll's report on an upstream connection.
func (l *evLoop) upEvent(uc *loopUp, ev uint32) {
	if ev&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		uc.readable = true
	}
	if ev&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		uc.hup = true
	}
	c := uc.c
	if c == nil {
		if uc.readable {
			// An idle connection the upstream closed or wrote to
			// unasked: it cannot be reused.
			l.dropIdle(uc)
		}
		return
	}
	if ev&unix.EPOLLOUT != 0 && uc.sent < len(c.reqOut.b) {
		l.writeUp(uc)
		if uc.c != c {
			return
		}
	}
	if uc.readable {
		l.readUp(uc)
	}
}

// dropIdle closes uc and takes it out of the idle list.
func (l *evLoop) dropIdle(uc *loopUp) {
	list := l.idle[uc.up]
	for i, x := range list {
		if x == uc {
			list = append(list[:i], list[i+1:]...)
			list[:cap(list)][len(list)] = nil
			break
		}
	}
	if len(list) == 0 {
		delete(l.idle, uc.up)
	} else {
		l.idle[uc.up] = list
	}
	l.dropUp(uc)
}

// readUp reads the answer on uc while epoll says there is more.
func (l *evLoop) readUp(uc *loopUp) {
	c := uc.c
	for uc.readable && uc.c == c {
		if uc.n == len(uc.in) {
			// Cannot happen: respond hands a response that does not
			// fit to a goroutine, and refuses a head that does not.
			l.upFailed(uc, errBadResponse)
			return
		}
		n, err := unix.Read(uc.fd, uc.in[uc.n:])
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			uc.readable = false
			return
		case err != nil:
			l.upFailed(uc, err)
			return
		case n <= 0:
			l.upFailed(uc, errUpstreamClosed)
			return
		}
		if n < len(uc.in)-uc.n && !uc.hup {
			uc.readable = false
		}
		uc.n += n
		l.respond(uc)
	}
}

var errUpstreamClosed = &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}

// respond answers c once uc holds its whole response; a response that
// does not fit goes to a goroutine.
func (l *evLoop) respond(uc *loopUp) {
	c := uc.c
	for {
		b := uc.in[uc.off:uc.n]
		end := bytes.Index(b, headEnd)
		if end < 0 {
			if uc.n == len(uc.in) {
				if uc.off == 0 {
					l.upFailed(uc, errHeadTooLarge)
					return
				}
				uc.n = copy(uc.in, b)
				uc.off = 0
			}
			return
		}
		h := &c.resp
		if err := parseResponseHead(b[:end+4], c.head, h); err != nil {
			l.upFailed(uc, err)
			return
		}
		if h.status == http.StatusSwitchingProtocols {
			l.upFailed(uc, errUnaskedUpgrade)
			return
		}
		if h.status < 200 {
			uc.off += h.headLen // 1xx: not forwarded
			continue
		}
		if uc.off > 0 {
			// Let the answer start at the buffer's start; parse again.
			uc.n = copy(uc.in, uc.in[uc.off:uc.n])
			uc.off = 0
			continue
		}
		c.gotHead = true
		total := h.headLen
		switch h.framing {
		case bodyNone:
		case bodyLength:
			if int64(len(uc.in)-h.headLen) < h.length {
				l.relayOnGoroutine(c, uc)
				return
			}
			total += int(h.length)
		case bodyChunked:
			// Answered here when the whole chunked body came with
			// its head, re-framed as the goroutine loop does; a body
			// still coming is a stream, relayed as it arrives by the
			// goroutine loop's code (which also answers a malformed
			// body as it always has).
			end, done, bad := scanChunked(uc.in[h.headLen:uc.n])
			if bad || !done {
				l.relayOnGoroutine(c, uc)
				return
			}
			total += end
		default:
			l.relayOnGoroutine(c, uc)
			return
		}
		if uc.n < total {
			return // more to come
		}
		l.deliver(c, uc, total)
		return
	}
}

var (
	errHeadTooLarge   = errorString("httpsplit: upstream response head too large")
	errUnaskedUpgrade = errorString("upstream switched protocols for a request that asked for no upgrade")
)

type errorString string

func (e errorString) Error() string { return string(e) }

// deliver writes the whole response in uc.in[:total] to c.
func (l *evLoop) deliver(c *loopConn, uc *loopUp, total int) {
	h := &c.resp
	c.out.b = c.out.b[:0]
	writeResponseHead(&c.out, h, c.head, &c.extra, c.closing, &c.num)
	if h.framing == bodyChunked {
		c.out.b = appendChunked(c.out.b, uc.in[h.headLen:total], &c.num)
	} else {
		c.out.b = append(c.out.b, uc.in[h.headLen:total]...)
	}
	status := h.status
	c.uc = nil
	if h.keepAlive && uc.n == total && uc.sent == len(c.reqOut.b) {
		l.putIdle(uc)
	} else {
		l.dropUp(uc)
	}
	c.up.m.observe(status, time.Since(c.start))
	c.keep = !c.closing && !l.sv.closing.Load()
	c.state = lcWrite
	c.off = 0
	l.flushClient(c)
}

// upFailed ends an exchange on uc that failed before a response was
// delivered: a reused connection that failed before answering is
// retried on a new one (the request is a GET or HEAD); otherwise the
// client gets a 502.
func (l *evLoop) upFailed(uc *loopUp, err error) {
	c := uc.c
	got := uc.n > 0
	l.dropUp(uc)
	c.uc = nil
	if c.reused && !got && !c.retried {
		c.retried = true
		l.dial(c)
		return
	}
	if c.gotHead {
		// The upstream began an answer and cut it short: the client's
		// connection is closed with nothing of it sent, as a relayed
		// answer cut short ends the client's connection.
		c.up.m.observe(http.StatusBadGateway, time.Since(c.start))
		l.closeClient(c)
		return
	}
	l.badGateway(c, err)
}

// badGateway answers c's request 502, as forward does.
func (l *evLoop) badGateway(c *loopConn, err error) {
	s := l.sv.s
	if s.cfg.Logger != nil {
		s.cfg.Logger.LogAttrs(context.Background(), slog.LevelWarn, "httpsplit: upstream failed",
			slog.String("revision", string(c.up.rev)), slog.String("error", err.Error()))
	}
	c.out.b = append(c.out.b[:0], "HTTP/1.1 502 Bad Gateway\r\n"...)
	c.extra.write(&c.out)
	c.out.b = append(c.out.b, "Content-Length: 0\r\n"...)
	if c.closing {
		c.out.b = append(c.out.b, "Connection: close\r\n"...)
	}
	c.out.b = append(c.out.b, "\r\n"...)
	c.up.m.observe(http.StatusBadGateway, time.Since(c.start))
	c.keep = !c.closing && !l.sv.closing.Load()
	c.state = lcWrite
	c.off = 0
	l.flushClient(c)
}

// flushClient writes what is left of c's response; once it is all
// written, c reads its next request or is closed.
func (l *evLoop) flushClient(c *loopConn) {
	if done, err := writeFrom(c.fd, c.out.b, &c.off); err != nil {
		l.closeClient(c)
		return
	} else if !done {
		return // EPOLLOUT will tell
	}
	if !c.keep {
		l.closeClient(c)
		return
	}
	c.state = lcIdle
	c.lastActive = time.Now()
	if c.closing || l.sv.closing.Load() {
		l.closeClient(c)
		return
	}
	l.serveConn(c)
}

// handOff gives c, with what has been read of it and not consumed, to
// the net/http server.
func (l *evLoop) handOff(c *loopConn) {
	pre := bytes.Clone(c.in[c.r:c.w])
	l.forget(c)
	nc, err := fileConn(c.fd)
	if err != nil {
		return
	}
	sv := l.sv
	sv.wg.Add(1)
	go func() {
		defer sv.wg.Done()
		if !sv.handoff.give(&replayConn{Conn: nc, br: bufio.NewReaderSize(&prefixReader{pre: pre, r: nc}, clientReadBuffer)}) {
			_ = nc.Close()
		}
	}()
}

// relayOnGoroutine moves c and uc, whose response head is in uc.in, to a
// goroutine that relays the response with the goroutine loop's code
// and then gives c back to the loop, or serves it as the goroutine loop
// does when it has read ahead of the response.
func (l *evLoop) relayOnGoroutine(c *loopConn, uc *loopUp) {
	pre := bytes.Clone(c.in[c.r:c.w])
	upPre := bytes.Clone(uc.in[uc.off:uc.n])
	up, head, extra, closing, start := c.up, c.head, c.extra, c.closing, c.start
	c.uc, uc.c = nil, nil
	_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, uc.fd, nil)
	l.ups[uc.fd] = nil
	unc, uerr := fileConn(uc.fd)
	uc.fd = -1
	l.forget(c)
	nc, err := fileConn(c.fd)
	if err != nil || uerr != nil {
		if err == nil {
			_ = nc.Close()
		}
		if uerr == nil {
			_ = unc.Close()
		}
		return
	}
	sc := &serverConn{sv: l.sv, nc: nc, ip: c.ip}
	l.sv.adopt(sc)
	wc := newWaitConn(unc)
	u := &upConn{Conn: unc, wc: wc, br: bufio.NewReaderSize(&prefixReader{pre: upPre, r: wc}, upstreamReadBuffer), bw: bufio.NewWriterSize(wc, 4<<10)}
	u.abort = func() { _ = unc.SetDeadline(aLongTimeAgo) }
	go sc.run(pre, func() bool {
		b, err := readResponseHead(u.br)
		if err == nil {
			err = parseResponseHead(b, head, &sc.resp)
		}
		if err != nil {
			// Cannot happen: the loop parsed this head already.
			_ = u.Close()
			return false
		}
		_, _ = u.br.Discard(sc.resp.headLen)
		status, keep := sc.relay(u, up, head, extra, closing)
		if !sc.finish(up, start, status, keep, closing) {
			return false
		}
		if sc.br.Buffered() > 0 || !sc.prefixDone() {
			return true // the goroutine loop reads what is buffered
		}
		// Nothing read and not consumed: the connection goes back to
		// the event loop.
		fd, err := detachFD(sc.nc)
		if err == nil {
			l.adopt(&loopConn{fd: fd, ip: sc.ip})
		}
		return false
	})
}

// lineAt returns the line of b that starts at i, without its ending, and
// where the next one starts; whole is false when b holds no line ending
// after i, bad when the line is not a valid HTTP line (a bare LF).
func lineAt(b []byte, i int) (line []byte, next int, whole, bad bool) {
	j := bytes.IndexByte(b[i:], '\n')
	if j < 0 {
		return nil, i, false, false
	}
	line, _, ok := cutLine(b[i : i+j+1])
	return line, i + j + 1, true, !ok
}

// scanChunked reads a chunked body (chunks, the last chunk, trailer
// section) at the start of b, by the rules of copyChunked: end is its
// length once done; bad says it is malformed.
func scanChunked(b []byte) (end int, done, bad bool) {
	i := 0
	for {
		line, next, whole, bad := lineAt(b, i)
		if !whole || bad {
			return 0, false, bad
		}
		n, ok := parseChunkSize(line)
		if !ok {
			return 0, false, true
		}
		i = next
		if n == 0 {
			break
		}
		if int64(len(b)-i) < n+2 {
			return 0, false, false
		}
		i += int(n)
		if b[i] != '\r' || b[i+1] != '\n' {
			return 0, false, true
		}
		i += 2
	}
	for {
		line, next, whole, bad := lineAt(b, i)
		if !whole || bad {
			return 0, false, bad
		}
		i = next
		if len(line) == 0 {
			return i, true, false
		}
		if _, _, ok := splitField(line); !ok {
			return 0, false, true
		}
	}
}

// appendChunked appends the chunked body b, which scanChunked accepted,
// re-framed as copyChunked writes it: chunk extensions dropped, and
// hop-by-hop fields and Content-Length dropped from the trailers.
func appendChunked(dst, b []byte, num *[20]byte) []byte {
	i := 0
	for {
		line, next, _, _ := lineAt(b, i)
		n, _ := parseChunkSize(line)
		i = next
		if n == 0 {
			break
		}
		dst = append(dst, strconv.AppendInt(num[:0], n, 16)...)
		dst = append(dst, "\r\n"...)
		dst = append(dst, b[i:i+int(n)]...)
		dst = append(dst, "\r\n"...)
		i += int(n) + 2
	}
	dst = append(dst, "0\r\n"...)
	for {
		line, next, _, _ := lineAt(b, i)
		i = next
		if len(line) == 0 {
			break
		}
		name, value, _ := splitField(line)
		if isHopByHop(name) || equalFold(name, "Content-Length") {
			continue
		}
		dst = append(dst, name...)
		dst = append(dst, ": "...)
		dst = append(dst, value...)
		dst = append(dst, "\r\n"...)
	}
	return append(dst, "\r\n"...)
}
