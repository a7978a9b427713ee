package httpsplit

import (
	"bufio"
	"net"
	"testing"
	"time"
)

// A connection idle for longer than maxIdleTime is closed, not reused; a
// fresher one is reused; after close nothing is kept.
func TestConnPoolIdleTime(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	p := newConnPool(ln.Addr().String(), &net.Dialer{})
	pipe := func() (*upConn, net.Conn) {
		a, b := net.Pipe()
		return &upConn{Conn: a, br: bufio.NewReader(a), bw: bufio.NewWriter(a)}, b
	}
	old, oldPeer := pipe()
	defer oldPeer.Close()
	p.put(old)
	old.idleSince = time.Now().Add(-2 * maxIdleTime)
	fresh, freshPeer := pipe()
	defer freshPeer.Close()
	p.put(fresh)
	c, reused, err := p.get(t.Context())
	if err != nil || !reused || c != fresh {
		t.Fatalf("get = %p reused %v err %v, want the fresh connection %p", c, reused, err, fresh)
	}
	if _, err := oldPeer.Write([]byte{1}); err == nil {
		t.Error("the stale connection was not closed")
	}
	// Pool empty: a new connection is dialled.
	c2, reused, err := p.get(t.Context())
	if err != nil || reused {
		t.Fatalf("get on an empty pool: reused %v, err %v", reused, err)
	}
	p.close()
	p.put(c2) // closed, not kept
	p.put(fresh)
	if len(p.idle) != 0 {
		t.Errorf("%d idle connections kept after close", len(p.idle))
	}
	if _, _, err := p.get(t.Context()); err != errPoolClosed {
		t.Errorf("get after close: %v", err)
	}
}
