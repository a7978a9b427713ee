package httpsplit_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/httpsplit"
	"github.com/glidepath/glidepath/strategy/strategytest"
)

func TestConformance(t *testing.T) {
	v1, v2 := newBackend(t, "v1"), newBackend(t, "v2")
	initial := strategy.State{Stable: "v1"}
	strategytest.TestTarget(t, strategytest.Conformance{
		New: func() strategy.Target {
			s, _ := newSplitter(t, initial, httpsplit.Config{}, v1, v2)
			return s
		},
		Initial:     initial,
		Canary:      "v2",
		ReadyWithin: 10 * time.Second,
	})
}

func TestValidateNamesEveryProblem(t *testing.T) {
	cfg := httpsplit.Config{
		Upstreams:      map[strategy.Revision]string{"v1": "ftp://x", "v2": "http://"},
		Initial:        strategy.State{Stable: "v0", Canary: "v2", Weight: 120},
		HealthPath:     "healthz",
		HealthTimeout:  -time.Second,
		Sticky:         httpsplit.Sticky{Cookie: "a b", Header: "X User"},
		RevisionHeader: "X:Rev",
		Buckets:        []float64{1, 0.5},
	}
	err := cfg.Validate()
	if !errors.Is(err, strategy.ErrInvalidConfig) {
		t.Fatalf("Validate = %v, want ErrInvalidConfig", err)
	}
	for _, want := range []string{
		"revision v1", "scheme must be http", "revision v2", "no host",
		"weight 120", "revision v0 has no upstream", "health path", "health timeout",
		"sticky cookie", "sticky header", "revision header", "buckets",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate error does not mention %q:\n%v", want, err)
		}
	}
	if _, err := httpsplit.New(t.Context(), cfg); !errors.Is(err, strategy.ErrInvalidConfig) {
		t.Errorf("New = %v, want ErrInvalidConfig", err)
	}
	if err := (httpsplit.Config{Upstreams: map[strategy.Revision]string{"v1": "http://127.0.0.1:1"}, Initial: strategy.State{Stable: "v1"}}).Validate(); err != nil {
		t.Errorf("valid config: %v", err)
	}
}

func TestApplyRefusesBadStates(t *testing.T) {
	v1 := newBackend(t, "v1")
	s, _ := newSplitter(t, strategy.State{Stable: "v1"}, httpsplit.Config{}, v1)
	for _, st := range []strategy.State{
		{Stable: "v1", Canary: "v9", Weight: 10}, // no upstream
		{Stable: "v1", Weight: 10},               // weight without canary
		{Stable: "v1", Canary: "v1", Weight: 10, Route: strategy.HeaderRoute{Header: "X", Regex: "("}}, // bad regex
	} {
		err := s.Apply(t.Context(), st)
		if err == nil || !strategy.IsPermanent(err) {
			t.Errorf("Apply(%s) = %v, want a permanent error", st, err)
		}
	}
	if got := s.State(); got != (strategy.State{Stable: "v1"}) {
		t.Errorf("state after refused applies = %s, want stable=v1", got)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.Apply(ctx, strategy.State{Stable: "v1"}); err == nil {
		t.Error("Apply with a cancelled context returned nil")
	}
}

func TestResolve(t *testing.T) {
	v1, v2 := newBackend(t, "v1"), newBackend(t, "v2")
	var asked []strategy.Revision
	var mu sync.Mutex
	cfg := httpsplit.Config{Resolve: func(ctx context.Context, rev strategy.Revision) (*url.URL, error) {
		mu.Lock()
		asked = append(asked, rev)
		mu.Unlock()
		if rev == "v2" {
			return url.Parse(v2.URL)
		}
		return nil, strategy.Permanent(fmt.Errorf("unknown revision %s", rev))
	}}
	s, front := newSplitter(t, strategy.State{Stable: "v1"}, cfg, v1)
	if err := s.Apply(t.Context(), strategy.State{Stable: "v1", Canary: "v2", Weight: 100}); err != nil {
		t.Fatal(err)
	}
	if _, body, _ := get(t.Context(), t, front.Client(), front.URL); body != "v2" {
		t.Errorf("weight 100 served %q, want v2", body)
	}
	if err := s.Apply(t.Context(), strategy.State{Stable: "v1", Canary: "v3", Weight: 1}); !strategy.IsPermanent(err) {
		t.Errorf("Apply with an unresolvable revision = %v, want the resolver's permanent error", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(asked) != "[v2 v3]" {
		t.Errorf("resolver asked for %v, want [v2 v3] (v1 is in Upstreams)", asked)
	}
}

// TestNoRequestLostWhileWeightsChange drives concurrent load through the
// splitter while another goroutine keeps applying new States, and checks
// that every request was answered 2xx by one of the two backends.
func TestNoRequestLostWhileWeightsChange(t *testing.T) {
	v1, v2 := newBackend(t, "v1"), newBackend(t, "v2")
	s, front := newSplitter(t, strategy.State{Stable: "v1"}, httpsplit.Config{}, v1, v2)
	client := front.Client()
	client.Transport.(*http.Transport).MaxIdleConnsPerHost = 64

	const workers, perWorker = 8, 300
	var ok, bad atomic.Int64
	var byBody sync.Map // body -> *atomic.Int64
	var failures sync.Map
	progress := make(chan struct{}, 1) // a request completed: apply the next State
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, front.URL+"/req", nil)
				if i%3 == 0 {
					req.Header.Set("X-Canary", "yes")
				}
				resp, err := client.Do(req)
				if err != nil {
					bad.Add(1)
					failures.Store(fmt.Sprintf("worker %d req %d", w, i), err.Error())
					continue
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusOK || (string(body) != "v1" && string(body) != "v2") {
					bad.Add(1)
					failures.Store(fmt.Sprintf("worker %d req %d", w, i), fmt.Sprintf("%d %q %v", resp.StatusCode, body, err))
					continue
				}
				ok.Add(1)
				select {
				case progress <- struct{}{}:
				default:
				}
				n, _ := byBody.LoadOrStore(string(body), new(atomic.Int64))
				n.(*atomic.Int64).Add(1)
			}
		})
	}
	done := make(chan struct{})
	var applies atomic.Int64
	var applyErr atomic.Value
	var applier sync.WaitGroup
	applier.Go(func() {
		r := rand.New(rand.NewPCG(1, 2))
		states := func() strategy.State {
			switch r.IntN(5) {
			case 0:
				return strategy.State{Stable: "v1"}
			case 1:
				return strategy.State{Stable: "v2"}
			case 2:
				return strategy.State{Stable: "v1", Canary: "v2", Weight: r.IntN(101),
					Route: strategy.HeaderRoute{Header: "X-Canary", Exact: "yes"}}
			default:
				return strategy.State{Stable: "v1", Canary: "v2", Weight: r.IntN(101)}
			}
		}
		for {
			select {
			case <-done:
				return
			case <-progress:
			}
			if err := s.Apply(t.Context(), states()); err != nil {
				applyErr.Store(err)
				return
			}
			applies.Add(1)
		}
	})
	wg.Wait()
	close(done)
	applier.Wait()

	if err, _ := applyErr.Load().(error); err != nil {
		t.Fatalf("Apply failed under load: %v", err)
	}
	failures.Range(func(k, v any) bool {
		t.Errorf("%s: %s", k, v)
		return true
	})
	total := int64(workers * perWorker)
	if ok.Load() != total || bad.Load() != 0 {
		t.Fatalf("%d of %d requests answered 2xx by a backend, %d failed", ok.Load(), total, bad.Load())
	}
	count := func(name string) int64 {
		if n, ok := byBody.Load(name); ok {
			return n.(*atomic.Int64).Load()
		}
		return 0
	}
	if count("v1")+count("v2") != total || v1.served.Load() != count("v1") || v2.served.Load() != count("v2") {
		t.Errorf("clients saw v1=%d v2=%d; backends served v1=%d v2=%d; want both to sum to %d",
			count("v1"), count("v2"), v1.served.Load(), v2.served.Load(), total)
	}
	if count("v1") == 0 || count("v2") == 0 || applies.Load() < 10 {
		t.Errorf("the test did not exercise the split: v1=%d v2=%d over %d applies", count("v1"), count("v2"), applies.Load())
	}
	st := s.Stats()
	if got := st["v1"].Requests + st["v2"].Requests; got != uint64(total) || st["v1"].Errors+st["v2"].Errors != 0 {
		t.Errorf("stats count %d requests and %d errors, want %d and 0", got, st["v1"].Errors+st["v2"].Errors, total)
	}
	t.Logf("%d requests (v1 %d, v2 %d) across %d applies", total, count("v1"), count("v2"), applies.Load())
}

// TestStickyClientsOnlyMoveForward checks that with a sticky key each
// client's revision is a function of its bucket, so raising the weight
// only moves clients from stable to canary.
func TestStickyClientsOnlyMoveForward(t *testing.T) {
	v1, v2 := newBackend(t, "v1"), newBackend(t, "v2")
	s, front := newSplitter(t, strategy.State{Stable: "v1"}, httpsplit.Config{
		Sticky: httpsplit.Sticky{Header: "X-User"}, RevisionHeader: "X-Revision",
	}, v1, v2)
	const clients = 400
	onCanary := make([]bool, clients)
	for _, w := range []int{0, 5, 10, 25, 50, 75, 99, 100} {
		if err := s.Apply(t.Context(), strategy.State{Stable: "v1", Canary: "v2", Weight: w}); err != nil {
			t.Fatal(err)
		}
		n := 0
		for c := range clients {
			key := fmt.Sprintf("user-%d", c)
			_, body, h := get(t.Context(), t, front.Client(), front.URL, "X-User", key)
			canary := body == "v2"
			if h.Get("X-Revision") != body {
				t.Fatalf("revision header %q, body %q", h.Get("X-Revision"), body)
			}
			if want := httpsplit.Bucket("v2", key) < w; canary != want {
				t.Fatalf("weight %d: client %s (bucket %d) on canary=%v, want %v", w, key, httpsplit.Bucket("v2", key), canary, want)
			}
			if onCanary[c] && !canary {
				t.Fatalf("weight %d: client %s moved back from canary to stable", w, key)
			}
			onCanary[c] = canary
			if canary {
				n++
			}
		}
		// The buckets spread evenly enough that the share is near the weight.
		if share := 100 * n / clients; share < w-8 || share > w+8 {
			t.Errorf("weight %d sends %d%% of clients to the canary", w, share)
		}
	}
}

func TestStickyCookie(t *testing.T) {
	v1, v2 := newBackend(t, "v1"), newBackend(t, "v2")
	s, front := newSplitter(t, strategy.State{Stable: "v1", Canary: "v2", Weight: 50}, httpsplit.Config{
		Sticky: httpsplit.Sticky{Cookie: "canary-key"},
	}, v1, v2)
	seen := map[string]int{}
	for c := range 40 {
		jar, err := cookiejar.New(nil)
		if err != nil {
			t.Fatal(err)
		}
		client := &http.Client{Transport: front.Client().Transport, Jar: jar}
		_, first, h := get(t.Context(), t, client, front.URL)
		if !strings.Contains(h.Get("Set-Cookie"), "canary-key=") {
			t.Fatalf("client %d: first response sets no sticky cookie (Set-Cookie %q)", c, h.Get("Set-Cookie"))
		}
		for range 10 {
			_, body, h := get(t.Context(), t, client, front.URL)
			if body != first {
				t.Fatalf("client %d: served by %s then %s with its cookie", c, first, body)
			}
			if h.Get("Set-Cookie") != "" {
				t.Fatalf("client %d: a client with a cookie was given another", c)
			}
		}
		seen[first]++
	}
	if seen["v1"] == 0 || seen["v2"] == 0 {
		t.Errorf("at weight 50, 40 clients were all served by one revision: %v", seen)
	}
	_ = s
}

func TestHeaderRoute(t *testing.T) {
	v1, v2 := newBackend(t, "v1"), newBackend(t, "v2")
	s, front := newSplitter(t, strategy.State{Stable: "v1"}, httpsplit.Config{}, v1, v2)
	cases := []struct {
		route   strategy.HeaderRoute
		headers []string // name, value pairs
		want    string
	}{
		{strategy.HeaderRoute{Header: "X-Canary", Exact: "yes"}, []string{"X-Canary", "yes"}, "v2"},
		{strategy.HeaderRoute{Header: "X-Canary", Exact: "yes"}, []string{"x-canary", "yes"}, "v2"}, // names are case-insensitive
		{strategy.HeaderRoute{Header: "X-Canary", Exact: "yes"}, []string{"X-Canary", "yes please"}, "v1"},
		{strategy.HeaderRoute{Header: "X-Canary", Exact: "yes"}, []string{"X-Canary", "no", "X-Canary", "yes"}, "v2"}, // any value
		{strategy.HeaderRoute{Header: "X-Canary", Exact: "yes"}, nil, "v1"},
		{strategy.HeaderRoute{Header: "User-Agent", Prefix: "beta/"}, []string{"User-Agent", "beta/1.2"}, "v2"},
		{strategy.HeaderRoute{Header: "User-Agent", Prefix: "beta/"}, []string{"User-Agent", "app beta/1.2"}, "v1"},
		{strategy.HeaderRoute{Header: "X-Group", Regex: "team-[a-c]"}, []string{"X-Group", "team-b"}, "v2"},
		{strategy.HeaderRoute{Header: "X-Group", Regex: "team-[a-c]"}, []string{"X-Group", "team-d"}, "v1"},
		// The regex must match the whole value, not a substring.
		{strategy.HeaderRoute{Header: "X-Group", Regex: "team-[a-c]"}, []string{"X-Group", "my-team-b"}, "v1"},
		{strategy.HeaderRoute{Header: "X-Group", Regex: "team-[a-c]|ops"}, []string{"X-Group", "ops"}, "v2"},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%+v/%v", c.route, c.headers), func(t *testing.T) {
			// Weight 0: only the route can send a request to the canary.
			if err := s.Apply(t.Context(), strategy.State{Stable: "v1", Canary: "v2", Route: c.route}); err != nil {
				t.Fatal(err)
			}
			for range 5 {
				if _, body, _ := get(t.Context(), t, front.Client(), front.URL, c.headers...); body != c.want {
					t.Fatalf("served by %s, want %s", body, c.want)
				}
			}
		})
	}
}

func TestObserveReportsUpstreamHealth(t *testing.T) {
	v1, v2 := newBackend(t, "v1"), newBackend(t, "v2")
	gone := httptest.NewServer(http.NotFoundHandler())
	goneURL := gone.URL
	gone.Close()
	s, _ := newSplitter(t, strategy.State{Stable: "v1"}, httpsplit.Config{
		Upstreams: map[strategy.Revision]string{"v3": goneURL},
	}, v1, v2)
	ctx := t.Context()
	canary := strategy.State{Stable: "v1", Canary: "v2"}
	if err := s.Apply(ctx, canary); err != nil {
		t.Fatal(err)
	}
	obs, err := s.Observe(ctx)
	if err != nil || obs.State != canary || obs.Ready != (strategy.Replicas{Stable: 1, Canary: 1}) {
		t.Fatalf("healthy: Observe = %+v, %v", obs, err)
	}
	v2.healthy.Store(false)
	obs, err = s.Observe(ctx)
	if err != nil || obs.Ready != (strategy.Replicas{Stable: 1, Canary: 0}) || obs.Satisfies(strategy.State{Stable: "v1", Canary: "v2", Weight: 10}) {
		t.Fatalf("canary health failing: Observe = %+v, %v; want canary not ready", obs, err)
	}
	if err := s.Apply(ctx, strategy.State{Stable: "v1", Canary: "v3"}); err != nil {
		t.Fatal(err)
	}
	if obs, err = s.Observe(ctx); err != nil || obs.Ready != (strategy.Replicas{Stable: 1, Canary: 0}) {
		t.Fatalf("canary unreachable: Observe = %+v, %v; want canary not ready", obs, err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Observe(cctx); err == nil {
		t.Error("Observe with a cancelled context returned no error")
	}
}

func TestHealthPathAndTimeout(t *testing.T) {
	var hits atomic.Int64
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/base/ready":
			hits.Add(1)
		case "/base/hang":
			select {
			case <-release:
			case <-r.Context().Done():
			}
		default:
			http.NotFound(w, r)
		}
	}))
	defer slow.Close()
	defer close(release)
	mk := func(path string) *httpsplit.Splitter {
		s, err := httpsplit.New(t.Context(), httpsplit.Config{
			Upstreams:     map[strategy.Revision]string{"v1": slow.URL + "/base"},
			Initial:       strategy.State{Stable: "v1"},
			HealthPath:    path,
			HealthTimeout: 50 * time.Millisecond,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.CloseIdleConnections)
		return s
	}
	if obs, _ := mk("/ready").Observe(t.Context()); obs.Ready.Stable != 1 || hits.Load() != 1 {
		t.Errorf("custom health path: ready %d after %d hits, want 1 after 1", obs.Ready.Stable, hits.Load())
	}
	if obs, _ := mk("/hang").Observe(t.Context()); obs.Ready.Stable != 0 {
		t.Errorf("a health check that never answers reported ready")
	}
}

func TestProxyFailureAndClientCancel(t *testing.T) {
	gone := httptest.NewServer(http.NotFoundHandler())
	goneURL := gone.URL
	gone.Close()
	entered := make(chan struct{}, 1)
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-r.Context().Done()
	}))
	defer hang.Close()
	s, front := newSplitter(t, strategy.State{Stable: "down"}, httpsplit.Config{
		Upstreams: map[strategy.Revision]string{"down": goneURL, "hang": hang.URL},
	})
	if code, _, _ := get(t.Context(), t, front.Client(), front.URL); code != http.StatusBadGateway {
		t.Errorf("unreachable upstream answered %d, want 502", code)
	}
	if err := s.Apply(t.Context(), strategy.State{Stable: "hang"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, front.URL, nil)
		resp, err := front.Client().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	<-entered
	cancel()
	if err := <-errc; err == nil {
		t.Error("the cancelled request succeeded")
	}
	// The splitter records the cancelled request once the proxy notices.
	waitFor(t, func() bool { return s.Stats()["hang"].Requests == 1 })
	st := s.Stats()
	if st["down"].Requests != 1 || st["down"].Errors != 1 {
		t.Errorf("unreachable upstream: %+v, want 1 request, 1 error", st["down"])
	}
	if st["hang"].Errors != 0 {
		t.Errorf("a request the client cancelled counted as an error: %+v", st["hang"])
	}
}

// waitFor polls cond (bounded) until it holds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 10s")
		}
		<-tick.C
	}
}

func TestForwardedHeadersAndHost(t *testing.T) {
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "host=%s xff=%s path=%s query=%s", r.Host, r.Header.Get("X-Forwarded-For"), r.URL.Path, r.URL.RawQuery)
	}))
	defer echo.Close()
	for _, preserve := range []bool{false, true} {
		s, front := newSplitter(t, strategy.State{Stable: "v1"}, httpsplit.Config{
			Upstreams:    map[strategy.Revision]string{"v1": echo.URL + "/base"},
			PreserveHost: preserve,
		})
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, front.URL+"/a/b?x=1", nil)
		req.Host = "shop.example"
		resp, err := front.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		wantHost := strings.TrimPrefix(echo.URL, "http://")
		if preserve {
			wantHost = "shop.example"
		}
		want := fmt.Sprintf("host=%s xff=127.0.0.1 path=/base/a/b query=x=1", wantHost)
		if string(body) != want {
			t.Errorf("PreserveHost %v: upstream saw %q, want %q", preserve, body, want)
		}
		if got := s.Pick(req); got != "v1" {
			t.Errorf("Pick = %s", got)
		}
	}
}

func TestPickFollowsTheStickyKey(t *testing.T) {
	s, _ := newSplitter(t, strategy.State{Stable: "v1", Canary: "v2", Weight: 40}, httpsplit.Config{
		Sticky: httpsplit.Sticky{Header: "X-User", Cookie: "k"},
	}, newBackend(t, "v1"), newBackend(t, "v2"))
	for i := range 200 {
		key := fmt.Sprintf("u%d", i)
		want := strategy.Revision("v1")
		if httpsplit.Bucket("v2", key) < 40 {
			want = "v2"
		}
		byHeader := httptest.NewRequest(http.MethodGet, "/", nil)
		byHeader.Header.Set("X-User", key)
		byCookie := httptest.NewRequest(http.MethodGet, "/", nil)
		byCookie.Header.Set("Cookie", `other=1; k="`+key+`"`)
		if got := s.Pick(byHeader); got != want {
			t.Fatalf("header key %s: Pick = %s, want %s", key, got, want)
		}
		if got := s.Pick(byCookie); got != want {
			t.Fatalf("cookie key %s: Pick = %s, want %s", key, got, want)
		}
	}
}
