package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Backend is an HTTP server on a loopback port that plays one revision of
// a service. It answers GET /healthz with 200 and every other request with
// its name, after a short simulated processing time.
type Backend struct {
	// Name is the revision the backend plays.
	Name string
	// URL is its base URL, http://127.0.0.1:PORT.
	URL string

	failEvery int64
	n         atomic.Int64
	srv       *http.Server
	done      chan struct{}
}

// StartBackend starts a backend for revision name. When failEvery is
// positive, every failEvery-th request (health checks apart) is answered
// with HTTP 500: a revision with a bug that a fixed fraction of requests
// hits.
func StartBackend(name string, failEvery int) (*Backend, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b := &Backend{Name: name, URL: "http://" + ln.Addr().String(), failEvery: int64(failEvery), done: make(chan struct{})}
	b.srv = &http.Server{Handler: b, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		defer close(b.done)
		_ = b.srv.Serve(ln)
	}()
	return b, nil
}

// ServeHTTP answers one request.
func (b *Backend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/healthz" {
		_, _ = io.WriteString(w, "ok\n")
		return
	}
	n := b.n.Add(1)
	// 0.3 to 1.5 ms of "work", so that latencies are not all zero.
	t := time.NewTimer(300*time.Microsecond + rand.N(1200*time.Microsecond))
	select {
	case <-t.C:
	case <-r.Context().Done():
		t.Stop()
		return
	}
	if b.failEvery > 0 && n%b.failEvery == 0 {
		http.Error(w, b.Name+": internal error", http.StatusInternalServerError)
		return
	}
	_, _ = fmt.Fprintf(w, "hello from %s\n", b.Name)
}

// Close stops the backend and waits for its server goroutine.
func (b *Backend) Close() error {
	err := b.srv.Close()
	<-b.done
	return err
}

// Load sends GET requests to a URL at a fixed rate and counts the answers
// by the revision that served them (read from a response header).
type Load struct {
	header string
	client *http.Client
	tr     *http.Transport
	stop   chan struct{}
	wg     sync.WaitGroup

	sent, answered, lost, skipped atomic.Int64

	mu     sync.Mutex
	served map[string]int64
	failed map[string]int64
}

// LoadCounts is what a [Load] saw.
type LoadCounts struct {
	// Sent requests; Answered got an HTTP response (any status); Lost got
	// none (a connection error or timeout).
	Sent, Answered, Lost int64
	// Skipped ticks found too many requests in flight and sent nothing.
	Skipped int64
	// Served counts answers by revision; Failed the 5xx among them.
	Served, Failed map[string]int64
}

// maxInFlight bounds the requests a Load has in flight.
const maxInFlight = 64

// StartLoad sends rate requests per second to url until Stop, reading the
// serving revision from the response header named header.
func StartLoad(ctx context.Context, url string, rate int, header string) *Load {
	tr := &http.Transport{MaxIdleConnsPerHost: maxInFlight, IdleConnTimeout: 30 * time.Second}
	l := &Load{
		header: header,
		tr:     tr,
		client: &http.Client{Transport: tr, Timeout: 5 * time.Second},
		stop:   make(chan struct{}),
		served: map[string]int64{},
		failed: map[string]int64{},
	}
	sem := make(chan struct{}, maxInFlight)
	l.wg.Go(func() {
		tick := time.NewTicker(time.Second / time.Duration(max(rate, 1)))
		defer tick.Stop()
		for {
			select {
			case <-l.stop:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			select {
			case sem <- struct{}{}:
			default:
				l.skipped.Add(1)
				continue
			}
			l.sent.Add(1)
			l.wg.Go(func() {
				defer func() { <-sem }()
				l.one(ctx, url)
			})
		}
	})
	return l
}

func (l *Load) one(ctx context.Context, url string) {
	req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodGet, url, nil)
	if err != nil {
		l.lost.Add(1)
		return
	}
	resp, err := l.client.Do(req)
	if err != nil {
		l.lost.Add(1)
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	l.answered.Add(1)
	rev := resp.Header.Get(l.header)
	l.mu.Lock()
	l.served[rev]++
	if resp.StatusCode >= 500 {
		l.failed[rev]++
	}
	l.mu.Unlock()
}

// Counts returns what the load has seen so far.
func (l *Load) Counts() LoadCounts {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := LoadCounts{Sent: l.sent.Load(), Answered: l.answered.Load(), Lost: l.lost.Load(), Skipped: l.skipped.Load(),
		Served: map[string]int64{}, Failed: map[string]int64{}}
	for k, v := range l.served {
		c.Served[k] = v
	}
	for k, v := range l.failed {
		c.Failed[k] = v
	}
	return c
}

// Stop stops sending, waits for every request in flight to be answered
// (or lost), and returns the final counts.
func (l *Load) Stop() LoadCounts {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
	l.tr.CloseIdleConnections()
	return l.Counts()
}

// Serve serves h on a fresh loopback port and returns its base URL and a
// function that shuts the server down gracefully (waiting for requests in
// flight).
func Serve(h http.Handler) (url string, shutdown func(context.Context) error, err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	return "http://" + ln.Addr().String(), func(ctx context.Context) error {
		err := srv.Shutdown(ctx)
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			err = errors.Join(err, srv.Close())
		}
		<-done
		return err
	}, nil
}
