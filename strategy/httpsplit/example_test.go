package httpsplit_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/httpsplit"
)

// revisionServer answers every request with its revision's name.
func revisionServer(name string) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, name)
	}))
}

// fetch sends a GET through the splitter and returns the body.
func fetch(h http.Handler, header ...string) string {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Body.String()
}

// A Splitter in front of two revisions: the executor (or, here, the example)
// applies States, and requests follow them.
func Example() {
	ctx := context.Background()
	v1, v2 := revisionServer("v1"), revisionServer("v2")
	defer v1.Close()
	defer v2.Close()

	s, err := httpsplit.New(ctx, httpsplit.Config{
		Upstreams: map[strategy.Revision]string{"v1": v1.URL, "v2": v2.URL},
		Initial:   strategy.State{Stable: "v1"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.CloseIdleConnections()
	fmt.Println("before the release:", fetch(s))

	// The canary is deployed with no weight, but testers reach it by header.
	_ = s.Apply(ctx, strategy.State{Stable: "v1", Canary: "v2",
		Route: strategy.HeaderRoute{Header: "X-Canary", Exact: "always"}})
	fmt.Println("weight 0:", fetch(s), "| with X-Canary:", fetch(s, "X-Canary", "always"))

	_ = s.Apply(ctx, strategy.State{Stable: "v1", Canary: "v2", Weight: 100})
	fmt.Println("weight 100:", fetch(s))

	_ = s.Apply(ctx, strategy.State{Stable: "v2"})
	fmt.Println("promoted:", fetch(s))
	// Output:
	// before the release: v1
	// weight 0: v1 | with X-Canary: v2
	// weight 100: v2
	// promoted: v2
}

// Stats reads the per-revision numbers that the splitter also exports to
// Prometheus.
func ExampleSplitter_Stats() {
	ctx := context.Background()
	v1 := revisionServer("v1")
	defer v1.Close()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "broken", http.StatusInternalServerError)
	}))
	defer failing.Close()

	s, _ := httpsplit.New(ctx, httpsplit.Config{
		Upstreams: map[strategy.Revision]string{"v1": v1.URL, "v2": failing.URL},
		Initial:   strategy.State{Stable: "v1"},
	})
	defer s.CloseIdleConnections()
	for range 3 {
		fetch(s)
	}
	_ = s.Apply(ctx, strategy.State{Stable: "v1", Canary: "v2", Weight: 100})
	for range 2 {
		fetch(s)
	}
	st := s.Stats()
	for _, rev := range []strategy.Revision{"v1", "v2"} {
		fmt.Printf("%s: %d requests, %d errors, error rate %.0f%%, %d latencies recorded\n",
			rev, st[rev].Requests, st[rev].Errors, 100*st[rev].ErrorRate(), st[rev].Latency.Count)
	}
	// Output:
	// v1: 3 requests, 0 errors, error rate 0%, 3 latencies recorded
	// v2: 2 requests, 2 errors, error rate 100%, 2 latencies recorded
}

// With a sticky key the split is a function of the client: a client goes
// to the canary while the weight is above its bucket, so raising the weight
// only ever moves clients from stable to canary.
func ExampleSticky() {
	ctx := context.Background()
	v1, v2 := revisionServer("v1"), revisionServer("v2")
	defer v1.Close()
	defer v2.Close()
	s, _ := httpsplit.New(ctx, httpsplit.Config{
		Upstreams: map[strategy.Revision]string{"v1": v1.URL, "v2": v2.URL},
		Initial:   strategy.State{Stable: "v1"},
		Sticky:    httpsplit.Sticky{Header: "X-User"},
	})
	defer s.CloseIdleConnections()

	users := []string{"ada", "grace", "linus", "ken"}
	for _, w := range []int{25, 50, 70, 90} {
		_ = s.Apply(ctx, strategy.State{Stable: "v1", Canary: "v2", Weight: w})
		fmt.Printf("weight %2d:", w)
		for _, u := range users {
			fmt.Printf(" %s(%02d)=%s", u, httpsplit.Bucket("v2", u), fetch(s, "X-User", u))
		}
		fmt.Println()
	}
	// Output:
	// weight 25: ada(29)=v1 grace(23)=v2 linus(83)=v1 ken(63)=v1
	// weight 50: ada(29)=v2 grace(23)=v2 linus(83)=v1 ken(63)=v1
	// weight 70: ada(29)=v2 grace(23)=v2 linus(83)=v1 ken(63)=v2
	// weight 90: ada(29)=v2 grace(23)=v2 linus(83)=v2 ken(63)=v2
}

// Observe reports each revision's health: 1 when its upstream answers the
// health path with 2xx. The executor does not move traffic onto a revision
// reported down.
func ExampleSplitter_Observe() {
	ctx := context.Background()
	up := revisionServer("v1")
	defer up.Close()
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "starting", http.StatusServiceUnavailable)
	}))
	defer down.Close()
	s, _ := httpsplit.New(ctx, httpsplit.Config{
		Upstreams:  map[strategy.Revision]string{"v1": up.URL, "v2": down.URL},
		Initial:    strategy.State{Stable: "v1", Canary: "v2"},
		HealthPath: "/ready",
	})
	defer s.CloseIdleConnections()
	obs, _ := s.Observe(ctx)
	fmt.Println(obs.State, "ready:", obs.Ready.Stable, obs.Ready.Canary)
	fmt.Println("may 10% go to v2?", obs.Satisfies(strategy.State{Stable: "v1", Canary: "v2", Weight: 10}))
	// Output:
	// stable=v1 canary=v2 weight=0% ready: 1 0
	// may 10% go to v2? false
}

// Close a splitter when it is retired: requests in flight finish, later
// ones are refused, and its metrics leave the registry it was registered
// with, so a new splitter can take their place.
func ExampleSplitter_Close() {
	v1 := revisionServer("v1")
	defer v1.Close()
	reg := prometheus.NewRegistry()
	s, err := httpsplit.New(context.Background(), httpsplit.Config{
		Upstreams:  map[strategy.Revision]string{"v1": v1.URL},
		Initial:    strategy.State{Stable: "v1"},
		Registerer: reg,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(fetch(s))
	before, _ := testutil.GatherAndCount(reg)
	_ = s.Close()
	after, _ := testutil.GatherAndCount(reg)
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	fmt.Println(before > 0, after, rec.Code)
	// Output:
	// v1
	// true 0 503
}

// ApplyFenced carries the lease's fencing token: once the driver holding
// token 2 has moved traffic, a driver still acting on token 1 (it lost the
// lease without noticing) cannot move it back.
func ExampleSplitter_ApplyFenced() {
	ctx := context.Background()
	v1, v2 := revisionServer("v1"), revisionServer("v2")
	defer v1.Close()
	defer v2.Close()
	s, err := httpsplit.New(ctx, httpsplit.Config{
		Upstreams: map[strategy.Revision]string{"v1": v1.URL, "v2": v2.URL},
		Initial:   strategy.State{Stable: "v1"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.CloseIdleConnections()

	// The old holder (token 1) starts the canary.
	err = s.ApplyFenced(ctx, strategy.State{Stable: "v1", Canary: "v2", Weight: 10}, 1)
	fmt.Println("token 1:", err)
	// Its successor (token 2) sends everything to the canary, and retries.
	all := strategy.State{Stable: "v1", Canary: "v2", Weight: 100}
	fmt.Println("token 2:", s.ApplyFenced(ctx, all, 2), s.ApplyFenced(ctx, all, 2))
	// The old holder's retry is refused, for good, and traffic stays put.
	err = s.ApplyFenced(ctx, strategy.State{Stable: "v1", Canary: "v2", Weight: 10}, 1)
	fmt.Println("token 1 again: fenced:", errors.Is(err, strategy.ErrFenced), "permanent:", strategy.IsPermanent(err))
	fmt.Println("serving:", s.State(), "->", fetch(s))
	// Output:
	// token 1: <nil>
	// token 2: <nil> <nil>
	// token 1 again: fenced: true permanent: true
	// serving: stable=v1 canary=v2 weight=100% -> v2
}

// Serve runs the splitter as a proxy of its own, at a lower cost per
// request than mounting it on net/http's server; requests it does not
// read itself (a POST here) are served by net/http on the same listener.
func ExampleSplitter_Serve() {
	v1 := revisionServer("v1")
	defer v1.Close()
	s, err := httpsplit.New(context.Background(), httpsplit.Config{
		Upstreams: map[strategy.Revision]string{"v1": v1.URL},
		Initial:   strategy.State{Stable: "v1"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()

	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		var payload io.Reader
		if method == http.MethodPost {
			payload = strings.NewReader("x")
		}
		req, _ := http.NewRequest(method, "http://"+ln.Addr().String()+"/", payload)
		resp, err := client.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(method, resp.StatusCode, string(body))
	}

	_ = s.Close() // stops listening; Serve returns once its connections end
	fmt.Println("Serve:", <-done)
	// Output:
	// GET 200 v1
	// POST 200 v1
	// Serve: http: Server closed
}
