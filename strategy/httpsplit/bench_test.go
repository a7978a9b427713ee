package httpsplit

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/glidepath/glidepath/strategy"
)

// staticTransport answers every request in memory, so that the benchmarks
// measure the splitter and the reverse proxy rather than the network.
type staticTransport struct{}

func (staticTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("ok")),
		ContentLength: 2, Request: r, ProtoMajor: 1, ProtoMinor: 1}, nil
}

func benchSplitter(b *testing.B, st strategy.State, sticky Sticky) *Splitter {
	s, err := New(context.Background(), Config{
		Upstreams: map[strategy.Revision]string{"v1": "http://127.0.0.1:1", "v2": "http://127.0.0.1:2"},
		Initial:   st, Sticky: sticky, Transport: staticTransport{},
	})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkChoose measures the routing decision alone.
func BenchmarkChoose(b *testing.B) {
	route := func(r strategy.HeaderRoute) strategy.State {
		return strategy.State{Stable: "v1", Canary: "v2", Weight: 30, Route: r}
	}
	cases := []struct {
		name   string
		state  strategy.State
		sticky Sticky
		header http.Header
	}{
		{"stable-only", strategy.State{Stable: "v1"}, Sticky{}, http.Header{}},
		{"weighted-random", route(strategy.HeaderRoute{}), Sticky{}, http.Header{}},
		{"sticky-header", route(strategy.HeaderRoute{}), Sticky{Header: "X-User"}, http.Header{"X-User": {"user-12345"}}},
		{"sticky-cookie", route(strategy.HeaderRoute{}), Sticky{Cookie: "k"}, http.Header{"Cookie": {"session=abc; k=4fzyo82mvyr"}}},
		{"route-exact-miss", route(strategy.HeaderRoute{Header: "X-Canary", Exact: "yes"}), Sticky{}, http.Header{"X-Canary": {"no"}}},
		{"route-regex-hit", route(strategy.HeaderRoute{Header: "X-Group", Regex: "team-[a-c]"}), Sticky{}, http.Header{"X-Group": {"team-b"}}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			s := benchSplitter(b, c.state, c.sticky)
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.Header = c.header
			b.ReportAllocs()
			for b.Loop() {
				t := s.table.Load()
				if t.choose(req.Header, s.clientKey(req)) == nil {
					b.Fatal("no upstream")
				}
			}
		})
	}
}

// BenchmarkServeHTTP measures a whole proxied request against an in-memory
// upstream: routing, the reverse proxy and the metrics.
func BenchmarkServeHTTP(b *testing.B) {
	s := benchSplitter(b, strategy.State{Stable: "v1", Canary: "v2", Weight: 30}, Sticky{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req := httptest.NewRequest(http.MethodGet, "/path?q=1", nil)
		for pb.Next() {
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatal(rec.Code)
			}
		}
	})
}

// BenchmarkLoopback measures whole requests over loopback TCP, client,
// servers and all, directly at an upstream, through a splitter serving
// with Splitter.Serve, through one mounted on net/http's server (whose
// fast path serves these GETs) and through one given a Transport (which
// sends everything through httputil.ReverseProxy): the difference is what
// the proxy costs in allocations and, in the cpu-µs/op metric (the
// process's user and system time per request, which other load on the
// machine does not inflate as it does ns/op), in CPU time.
func BenchmarkLoopback(b *testing.B) {
	body := []byte("hello from the backend\n")
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(body)
	}))
	defer up.Close()
	newFront := func(tr http.RoundTripper) (*Splitter, *httptest.Server) {
		s, err := New(context.Background(), Config{
			Upstreams: map[strategy.Revision]string{"v1": up.URL, "v2": up.URL},
			Initial:   strategy.State{Stable: "v1", Canary: "v2", Weight: 50},
			Transport: tr,
		})
		if err != nil {
			b.Fatal(err)
		}
		return s, httptest.NewServer(s)
	}
	fast, fastFront := newFront(nil)
	defer fast.Close()
	defer fastFront.Close()
	rpTransport := &http.Transport{MaxIdleConnsPerHost: 512, DisableCompression: true}
	defer rpTransport.CloseIdleConnections()
	rp, rpFront := newFront(rpTransport)
	defer rp.Close()
	defer rpFront.Close()
	served, servedFront := newFront(nil)
	servedFront.Close() // served by Serve instead
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	serveDone := make(chan error, 1)
	go func() { serveDone <- served.Serve(ln) }()
	defer func() { served.Close(); <-serveDone }()
	for _, c := range []struct{ name, url string }{{"direct", up.URL}, {"split-serve", "http://" + ln.Addr().String()}, {"split", fastFront.URL}, {"split-reverseproxy", rpFront.URL}} {
		b.Run(c.name, func(b *testing.B) {
			tr := &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr}
			b.ReportAllocs()
			b.SetParallelism(4)
			cpu0 := processCPU()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := client.Get(c.url)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			})
			if cpu := processCPU() - cpu0; cpu > 0 {
				b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/op")
			}
		})
	}
}

// BenchmarkApply measures swapping the routing table.
func BenchmarkApply(b *testing.B) {
	s := benchSplitter(b, strategy.State{Stable: "v1"}, Sticky{})
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if err := s.Apply(ctx, strategy.State{Stable: "v1", Canary: "v2", Weight: i % 101}); err != nil {
			b.Fatal(err)
		}
	}
}

func TestBufferPool(t *testing.T) {
	var p bufferPool
	buf := p.Get()
	if len(buf) != copyBufferSize {
		t.Fatalf("buffer of %d bytes", len(buf))
	}
	p.Put(buf)
	p.Put(make([]byte, 10)) // not one of ours: dropped
	if allocs := testing.AllocsPerRun(100, func() { p.Put(p.Get()) }); allocs > 0 {
		t.Errorf("Get and Put allocate %v times", allocs)
	}
}

func TestBucketSpread(t *testing.T) {
	// Every bucket is used, and none is more than twice its share.
	var counts [100]int
	const n = 100000
	for i := range n {
		counts[bucket(hashString(fnvOffset, "v2"), "client-"+strconv.Itoa(i))]++
	}
	for b, c := range counts {
		if c < n/100/2 || c > 2*n/100 {
			t.Errorf("bucket %d holds %d of %d keys", b, c, n)
		}
	}
}
