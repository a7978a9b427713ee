package httpsplit_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/httpsplit"
)

// weightGauge reads the canary weight the splitter exports to Prometheus.
func weightGauge(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "glidepath_httpsplit_canary_weight_ratio" {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatal("no canary weight gauge gathered")
	return 0
}

// served sends n requests through front and counts the answers per body.
func served(t *testing.T, front *frontend, n int) map[string]int {
	t.Helper()
	got := map[string]int{}
	for range n {
		_, body, _ := get(t.Context(), t, front.Client(), front.URL)
		got[body]++
	}
	return got
}

// assertFenced fails unless err is a permanent ErrFenced.
func assertFenced(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, strategy.ErrFenced) || !strategy.IsPermanent(err) {
		t.Errorf("%s = %v, want a permanent error matching strategy.ErrFenced", what, err)
	}
}

func TestApplyFencedRefusesAStaleToken(t *testing.T) {
	ctx := t.Context()
	v1, v2 := newBackend(t, "v1"), newBackend(t, "v2")
	reg := prometheus.NewRegistry()
	s, front := newSplitter(t, strategy.State{Stable: "v1"}, httpsplit.Config{Registerer: reg}, v1, v2)
	t.Cleanup(func() { _ = s.Close() })

	// The successor (token 8) moved all traffic to the canary.
	all := strategy.State{Stable: "v1", Canary: "v2", Weight: 100}
	if err := s.ApplyFenced(ctx, all, 8); err != nil {
		t.Fatalf("ApplyFenced(token 8) = %v", err)
	}
	// The stale holder (token 7) wakes up and tries to roll back, then to
	// move the weight; both are refused, whatever the State.
	for _, st := range []strategy.State{
		{Stable: "v1"},
		{Stable: "v1", Canary: "v2", Weight: 50},
		all, // even the State being served: the token is stale
	} {
		assertFenced(t, "ApplyFenced("+st.String()+", token 7)", s.ApplyFenced(ctx, st, 7))
	}
	assertFenced(t, "ApplyFenced(token 1)", s.ApplyFenced(ctx, strategy.State{Stable: "v1"}, 1))

	if got := s.State(); got != all {
		t.Errorf("State after stale writes = %s, want %s", got, all)
	}
	obs, err := s.Observe(ctx)
	if err != nil || obs.State != all {
		t.Errorf("Observe after stale writes = %s, %v; want %s", obs.State, err, all)
	}
	if w := weightGauge(t, reg); w != 1 {
		t.Errorf("canary weight gauge after stale writes = %v, want 1", w)
	}
	before := v1.served.Load()
	if got := served(t, front, 20); got["v2"] != 20 {
		t.Errorf("after stale writes, 20 requests were served %v, want all by v2", got)
	}
	if n := v1.served.Load() - before; n != 0 {
		t.Errorf("v1 served %d requests after the stale writes, want 0", n)
	}
}

func TestApplyFencedEqualAndZeroTokens(t *testing.T) {
	ctx := t.Context()
	v1, v2 := newBackend(t, "v1"), newBackend(t, "v2")
	s, front := newSplitter(t, strategy.State{Stable: "v1"}, httpsplit.Config{}, v1, v2)

	step := func(w int) strategy.State { return strategy.State{Stable: "v1", Canary: "v2", Weight: w} }
	mustApply := func(st strategy.State, token uint64) {
		t.Helper()
		if err := s.ApplyFenced(ctx, st, token); err != nil {
			t.Fatalf("ApplyFenced(%s, token %d) = %v", st, token, err)
		}
		if got := s.State(); got != st {
			t.Fatalf("after ApplyFenced(%s, token %d) the splitter serves %s", st, token, got)
		}
	}

	// Token 0 on a fresh splitter applies.
	mustApply(step(10), 0)
	// The holder of token 3 applies, retries and moves on under the same
	// token.
	mustApply(step(20), 3)
	mustApply(step(20), 3)
	mustApply(step(100), 3)
	// Token 0 (and Apply) is not fenced: it applies although 0 < 3 ...
	mustApply(step(0), 0)
	if err := s.Apply(ctx, step(100)); err != nil {
		t.Fatalf("Apply after token 3 = %v", err)
	}
	// ... and it did not lower or raise the remembered token: 2 is still
	// refused and 3 still accepted.
	assertFenced(t, "ApplyFenced(token 2) after a token-0 write", s.ApplyFenced(ctx, step(0), 2))
	if got := s.State(); got != step(100) {
		t.Fatalf("a refused write changed the State to %s", got)
	}
	mustApply(step(40), 3)
	// A newer holder raises it.
	mustApply(step(60), 4)
	assertFenced(t, "ApplyFenced(token 3) after token 4", s.ApplyFenced(ctx, step(100), 3))

	// A write that is not applied (an invalid State) fences no one.
	err := s.ApplyFenced(ctx, strategy.State{Stable: "v1", Canary: "v2", Weight: 120}, 9)
	if !errors.Is(err, strategy.ErrInvalidConfig) || errors.Is(err, strategy.ErrFenced) {
		t.Fatalf("ApplyFenced(invalid, token 9) = %v, want ErrInvalidConfig", err)
	}
	mustApply(step(100), 5)

	if got := served(t, front, 10); got["v2"] != 10 {
		t.Errorf("at weight 100, 10 requests were served %v, want all by v2", got)
	}
}

// TestStaleHolderRetryAfterTakeover plays the lost-lease story through the
// splitter: holder A (token 1) is frozen inside an Apply (here, in the
// resolver), holder B (token 2) takes over and rolls back, then A wakes and
// its write and its retry land. Traffic must end where B put it.
func TestStaleHolderRetryAfterTakeover(t *testing.T) {
	ctx := t.Context()
	v1, v2 := newBackend(t, "v1"), newBackend(t, "v2")
	inResolve, wake := make(chan struct{}), make(chan struct{})
	cfg := httpsplit.Config{Resolve: func(ctx context.Context, rev strategy.Revision) (*url.URL, error) {
		if rev == "v2" {
			close(inResolve)
			<-wake
			return url.Parse(v2.URL)
		}
		return nil, strategy.Permanent(fmt.Errorf("unknown revision %s", rev))
	}}
	s, front := newSplitter(t, strategy.State{Stable: "v1"}, cfg, v1)

	half := strategy.State{Stable: "v1", Canary: "v2", Weight: 50}
	rollback := strategy.State{Stable: "v1"}
	aDone := make(chan error, 1)
	go func() { aDone <- s.ApplyFenced(ctx, half, 1) }()
	<-inResolve
	bDone := make(chan error, 1)
	go func() { bDone <- s.ApplyFenced(ctx, rollback, 2) }()
	close(wake)
	if err := <-aDone; err != nil {
		t.Fatalf("A's first write (token 1, before B's) = %v", err)
	}
	if err := <-bDone; err != nil {
		t.Fatalf("B's rollback (token 2) = %v", err)
	}
	// A's retry loop fires again.
	for i := range 3 {
		assertFenced(t, fmt.Sprintf("A's retry #%d", i+1), s.ApplyFenced(ctx, half, 1))
	}
	if got := s.State(); got != rollback {
		t.Fatalf("the splitter serves %s, want B's %s", got, rollback)
	}
	if got := served(t, front, 20); got["v1"] != 20 {
		t.Errorf("after B's rollback and A's retries, 20 requests were served %v, want all by v1", got)
	}
}

// TestConcurrentApplyFencedEndsOnTheHighestToken starts many writers with
// distinct tokens at once, in random order, and checks the safety property
// itself, not only the end: the splitter never applies a token lower than
// one it applied before. Each writer's canary is a revision named after its
// token, resolved under the splitter's lock, so the resolver sees the
// order in which writes were applied.
func TestConcurrentApplyFencedEndsOnTheHighestToken(t *testing.T) {
	ctx := t.Context()
	v1, v2 := newBackend(t, "v1"), newBackend(t, "v2")
	var mu sync.Mutex
	var applied []uint64
	cfg := httpsplit.Config{Resolve: func(ctx context.Context, rev strategy.Revision) (*url.URL, error) {
		tok, err := strconv.ParseUint(strings.TrimPrefix(string(rev), "c"), 10, 64)
		if err != nil {
			return nil, strategy.Permanent(err)
		}
		mu.Lock()
		applied = append(applied, tok)
		mu.Unlock()
		return url.Parse(v2.URL)
	}}
	s, _ := newSplitter(t, strategy.State{Stable: "v1"}, cfg, v1)

	const writers = 32
	for round := range 10 {
		base := uint64(round * 100)
		tokens := make([]uint64, writers)
		for i := range tokens {
			tokens[i] = base + uint64(i) + 1
		}
		rand.Shuffle(len(tokens), func(i, j int) { tokens[i], tokens[j] = tokens[j], tokens[i] })
		state := func(tok uint64) strategy.State {
			return strategy.State{Stable: "v1", Canary: strategy.Revision(fmt.Sprintf("c%d", tok)), Weight: int(tok % 101)}
		}
		start := make(chan struct{})
		errs := make([]error, writers)
		var wg sync.WaitGroup
		for i, tok := range tokens {
			wg.Go(func() {
				<-start
				errs[i] = s.ApplyFenced(ctx, state(tok), tok)
			})
		}
		close(start)
		wg.Wait()

		highest := base + writers
		for i, err := range errs {
			switch {
			case tokens[i] == highest && err != nil:
				t.Errorf("round %d: the highest token %d was refused: %v", round, highest, err)
			case err != nil && !(errors.Is(err, strategy.ErrFenced) && strategy.IsPermanent(err)):
				t.Errorf("round %d: token %d failed with %v, want nil or a permanent ErrFenced", round, tokens[i], err)
			}
		}
		if got := s.State(); got != state(highest) {
			t.Errorf("round %d: the splitter ends on %s, want the highest token's %s", round, got, state(highest))
		}
		// Every later round's tokens are above this one's; a writer of
		// this round is now stale.
		assertFenced(t, "a writer of the finished round", s.ApplyFenced(ctx, state(base+1), base+1))
	}
	mu.Lock()
	defer mu.Unlock()
	for i := 1; i < len(applied); i++ {
		if applied[i] <= applied[i-1] {
			t.Fatalf("token %d was applied after token %d (order %v)", applied[i], applied[i-1], applied)
		}
	}
	if len(applied) < 10 {
		t.Errorf("only %d writes were applied over 10 rounds", len(applied))
	}
}
