package httpsplit_test

import (
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/httpsplit"
)

// pipeListener is a net.Listener of in-memory connections (net.Pipe), so
// that Serve can run inside a synctest bubble.
type pipeListener struct {
	conns chan net.Conn
	once  sync.Once
	done  chan struct{}
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }

// dial returns the client end of a new connection.
func (l *pipeListener) dial() net.Conn {
	client, server := net.Pipe()
	l.conns <- server
	return client
}

// A connection that sends no request is closed after IdleTimeout, not
// before; one that has sent part of a head is closed the same way.
func TestServeClosesIdleConnections(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := httpsplit.New(t.Context(), httpsplit.Config{
			Upstreams:   map[strategy.Revision]string{"v1": "http://127.0.0.1:1"},
			Initial:     strategy.State{Stable: "v1"},
			IdleTimeout: time.Minute,
		})
		if err != nil {
			t.Fatal(err)
		}
		ln := newPipeListener()
		served := make(chan error, 1)
		go func() { served <- s.Serve(ln) }()

		idle, partial := ln.dial(), ln.dial()
		go func() { _, _ = io.WriteString(partial, "GET / HTTP/1.1\r\nHost:") }()
		ended := func(c net.Conn) chan error {
			ch := make(chan error, 1)
			go func() {
				_, err := io.ReadAll(c)
				ch <- err
			}()
			return ch
		}
		idleEnded, partialEnded := ended(idle), ended(partial)

		time.Sleep(time.Minute - time.Second)
		synctest.Wait()
		select {
		case <-idleEnded:
			t.Fatal("the idle connection was closed before IdleTimeout")
		case <-partialEnded:
			t.Fatal("the slow connection was closed before IdleTimeout")
		default:
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		for name, ch := range map[string]chan error{"idle": idleEnded, "slow": partialEnded} {
			select {
			case <-ch:
			default:
				t.Errorf("the %s connection is still open after IdleTimeout", name)
			}
		}
		idle.Close()
		partial.Close()
		_ = s.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
	})
}
