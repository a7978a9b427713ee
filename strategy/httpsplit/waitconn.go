package httpsplit

import (
	"net"
	"syscall"
)

// waitConn saves a system call per exchange on a connection where a
// write is always followed by a read of the answer (a request to an
// upstream, a response before the client's next request).
//
// A read on a Go connection first tries the read system call and, when no
// data is there yet (EAGAIN), parks until the poller reports the socket
// readable and reads again: right after a write, the first attempt is
// always wasted. With deferWrite set, the next Write is held back and
// sent by the next Read from inside syscall.RawConn.Read, after the
// runtime has reset the socket's readiness and before it waits for it:
// the answer can only arrive after the write, so its readiness is never
// missed, and the read is tried once, when the answer is there. A Read
// that fails before the held write was sent sends it anyway. It is
// only for a peer that speaks only when spoken to (an upstream): data
// that arrived before the Read would not be noticed until more came.
type waitConn struct {
	net.Conn
	rc         syscall.RawConn // nil: no raw access, every call as usual
	deferWrite bool
	pending    []byte
	// Kept across calls so that Read makes no closure per call.
	p        []byte
	wrote    bool
	n        int
	rerr     error
	readFunc func(fd uintptr) bool
}

func newWaitConn(nc net.Conn) *waitConn {
	c := &waitConn{Conn: nc}
	if sc, ok := nc.(syscall.Conn); ok && rawIOSupported {
		if rc, err := sc.SyscallConn(); err == nil {
			c.rc = rc
		}
	}
	c.readFunc = c.read
	return c
}

// holdNextWrite makes the next Write wait for the next Read, when the
// connection supports it.
func (c *waitConn) holdNextWrite() { c.deferWrite = c.rc != nil }

func (c *waitConn) Write(p []byte) (int, error) {
	if len(c.pending) > 0 {
		// Keep the order: what was held goes first.
		if _, err := c.sendPending(); err != nil {
			return 0, err
		}
	}
	if !c.deferWrite {
		return c.Conn.Write(p)
	}
	c.deferWrite = false
	c.pending = append(c.pending[:0], p...)
	return len(p), nil
}

func (c *waitConn) Read(p []byte) (int, error) {
	c.deferWrite = false // a hold lasts until the next Read at most
	if len(c.pending) == 0 {
		return c.Conn.Read(p)
	}
	c.p, c.wrote, c.n, c.rerr = p, false, 0, nil
	err := c.rc.Read(c.readFunc)
	c.p = nil
	if !c.wrote {
		// The read failed at once (a deadline, a closed connection):
		// what was written must still be sent.
		if _, werr := c.sendPending(); werr != nil && err == nil {
			err = werr
		}
	}
	if err != nil {
		return 0, err
	}
	if c.rerr != nil {
		return 0, c.rerr
	}
	if c.n == 0 {
		return 0, errEOF
	}
	return c.n, nil
}

func (c *waitConn) read(fd uintptr) bool {
	if !c.wrote {
		c.wrote = true
		if _, err := c.sendPending(); err != nil {
			c.rerr = err
			return true
		}
		return false // wait for the answer
	}
	for {
		n, err := rawRead(fd, c.p)
		switch err {
		case nil:
			c.n = n
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		default:
			c.rerr = &net.OpError{Op: "read", Net: "tcp", Addr: c.RemoteAddr(), Err: err}
			return true
		}
	}
}

func (c *waitConn) sendPending() (int, error) {
	p := c.pending
	c.pending = c.pending[:0]
	return c.Conn.Write(p)
}
