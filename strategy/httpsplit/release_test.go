package httpsplit_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/glidepath/glidepath/canary"
	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/httpsplit"
)

// recorder is a Target that records every State applied through it.
type recorder struct {
	*httpsplit.Splitter
	mu      sync.Mutex
	applied []strategy.State
}

func (r *recorder) Apply(ctx context.Context, s strategy.State) error {
	err := r.Splitter.Apply(ctx, s)
	if err == nil {
		r.mu.Lock()
		r.applied = append(r.applied, s)
		r.mu.Unlock()
	}
	return err
}

func (r *recorder) states() []strategy.State {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]strategy.State(nil), r.applied...)
}

// load sends requests through url until stop is closed and counts them.
type load struct {
	wg         sync.WaitGroup
	ok, failed atomic.Int64
}

func startLoad(ctx context.Context, c *http.Client, url string, workers int, stop <-chan struct{}) *load {
	l := &load{}
	for range workers {
		l.wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				resp, err := c.Do(req)
				if err != nil {
					l.failed.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					l.ok.Add(1)
				} else {
					l.failed.Add(1)
				}
			}
		})
	}
	return l
}

func releaseOptions() strategy.Options {
	return strategy.Options{ProgressDeadline: 400 * time.Millisecond, PollInterval: 20 * time.Millisecond,
		RetryInitial: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond}
}

// TestReleaseNeverSendsTrafficToAnUnhealthyCanary runs a canary release
// whose canary upstream fails its health check: the executor must wait for
// it, miss the progress deadline and roll back, without ever giving the
// canary weighted traffic.
func TestReleaseNeverSendsTrafficToAnUnhealthyCanary(t *testing.T) {
	v1, v2 := newBackend(t, "v1"), newBackend(t, "v2")
	v2.healthy.Store(false)
	s, front := newSplitter(t, strategy.State{Stable: "v1"}, httpsplit.Config{}, v1, v2)
	tgt := &recorder{Splitter: s}
	stop := make(chan struct{})
	l := startLoad(t.Context(), front.Client(), front.URL, 4, stop)

	res, err := strategy.Run(t.Context(), strategy.Release{
		Target: tgt, Stable: "v1", Canary: "v2",
		Strategy: canary.Config{StepWeights: []int{20, 50}, Interval: 50 * time.Millisecond},
		Options:  releaseOptions(),
	})
	close(stop)
	l.wg.Wait()

	if !errors.Is(err, strategy.ErrDeadlineExceeded) || res.Phase != strategy.PhaseRolledBack {
		t.Fatalf("release ended %s with %v; want rolled back on the progress deadline", res.Phase, err)
	}
	for _, st := range tgt.states() {
		if st.Share("v2") > 0 || !st.Route.IsZero() {
			t.Errorf("the executor applied %s, which sends traffic to the unhealthy canary", st)
		}
	}
	if len(tgt.states()) == 0 {
		t.Error("nothing was applied: the release never deployed the canary")
	}
	if got := s.State(); got != (strategy.State{Stable: "v1"}) {
		t.Errorf("final state %s, want stable=v1", got)
	}
	if n := v2.served.Load(); n != 0 {
		t.Errorf("the unhealthy canary served %d requests", n)
	}
	if l.failed.Load() != 0 || l.ok.Load() == 0 {
		t.Errorf("load: %d ok, %d failed", l.ok.Load(), l.failed.Load())
	}
}

// TestReleasePromotesAHealthyCanary runs the same release with a healthy
// canary: it is promoted and every request is answered.
func TestReleasePromotesAHealthyCanary(t *testing.T) {
	v1, v2 := newBackend(t, "v1"), newBackend(t, "v2")
	s, front := newSplitter(t, strategy.State{Stable: "v1"}, httpsplit.Config{}, v1, v2)
	stop := make(chan struct{})
	l := startLoad(t.Context(), front.Client(), front.URL, 4, stop)
	res, err := strategy.Run(t.Context(), strategy.Release{
		Target: s, Stable: "v1", Canary: "v2",
		Strategy: canary.Config{StepWeights: []int{20, 50}, Interval: 50 * time.Millisecond},
		Options:  releaseOptions(),
	})
	// Let some requests reach the promoted revision before stopping.
	waitFor(t, func() bool { return s.Stats()["v2"].Requests > 0 })
	close(stop)
	l.wg.Wait()
	if err != nil || res.Phase != strategy.PhasePromoted {
		t.Fatalf("release ended %s with %v; want promoted", res.Phase, err)
	}
	if got := s.State(); got != (strategy.State{Stable: "v2"}) {
		t.Errorf("final state %s, want stable=v2", got)
	}
	if l.failed.Load() != 0 {
		t.Errorf("%d requests failed during the release", l.failed.Load())
	}
	st := s.Stats()
	if st["v1"].Requests+st["v2"].Requests != uint64(l.ok.Load()) {
		t.Errorf("stats count %d+%d requests, clients saw %d", st["v1"].Requests, st["v2"].Requests, l.ok.Load())
	}
}
