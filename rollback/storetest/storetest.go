package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/glidepath/glidepath/rollback"
	"github.com/glidepath/glidepath/strategy"
)

// Harness describes a [rollback.Store] implementation to [TestStore].
type Harness struct {
	// New returns an empty store for one subtest. It is called inside the
	// subtest (inside its synctest bubble unless RealClock is set) and
	// should register its cleanup with t.Cleanup. Required.
	New func(t *testing.T) rollback.Store
	// Reopen, when set, returns another handle on the same data as s, as
	// a second process would open it (a FileStore on the same directory,
	// a second etcd client). The concurrency subtests then spread their
	// writers over several handles.
	Reopen func(t *testing.T, s rollback.Store) rollback.Store
	// RealClock says the store's leases expire on a clock the suite
	// cannot fake (a server's): subtests then run outside synctest and
	// wait out leases in real time.
	RealClock bool
	// MinTTL is the shortest lease the store honours exactly (etcd's
	// leases have whole seconds, for example). Zero means a second.
	MinTTL time.Duration
	// ExpiryGrace is how long after a lease's TTL the store may still
	// report it held (a server that reaps expired leases periodically).
	// Zero means none.
	ExpiryGrace time.Duration
	// Tear, when set, leaves a torn final record at the end of the named
	// journal, as a crash in the middle of an Append does.
	Tear func(t *testing.T, s rollback.Store, target, journal string)
	// Corrupt, when set, damages the i-th record (from 0) of the named
	// journal, as a flipped byte on disk does.
	Corrupt func(t *testing.T, s rollback.Store, target, journal string, i int)
	// LargeRecords is how many bytes of payload the long-history and
	// long-journal subtests put in each entry (default 16 KiB), so that a
	// store which keeps a history or a journal in one value meets its
	// size limits.
	LargeRecords int
}

// TestStore runs the conformance suite against the store h describes.
func TestStore(t *testing.T, h Harness) {
	t.Helper()
	if h.New == nil {
		t.Fatal("storetest: Harness.New is nil")
	}
	s := suite{h: h}
	tests := []struct {
		name string
		fn   func(*testing.T)
	}{
		{"LeasesAndTokens", s.leasesAndTokens},
		{"ExpiryAndTakeover", s.expiryAndTakeover},
		{"FencedWritesRefused", s.fencedWritesRefused},
		{"Journals", s.journals},
		{"Records", s.records},
		{"ConcurrentAcquire", s.concurrentAcquire},
		{"ConcurrentUpdates", s.concurrentUpdates},
		{"LongHistory", s.longHistory},
		{"LongJournal", s.longJournal},
		{"CancelledContext", s.cancelledContext},
	}
	if h.Tear != nil {
		tests = append(tests, struct {
			name string
			fn   func(*testing.T)
		}{"TornJournal", s.tornJournal})
	}
	if h.Corrupt != nil {
		tests = append(tests, struct {
			name string
			fn   func(*testing.T)
		}{"CorruptJournal", s.corruptJournal})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if h.RealClock {
				t.Parallel()
				tc.fn(t)
				return
			}
			synctest.Test(t, tc.fn)
		})
	}
}

type suite struct{ h Harness }

func (s suite) ttl() time.Duration {
	if s.h.MinTTL > 0 {
		return s.h.MinTTL
	}
	return time.Second
}

// outlive waits until a lease of ttl taken now has certainly expired.
func (s suite) outlive(ttl time.Duration) {
	time.Sleep(ttl + s.h.ExpiryGrace + ttl/10)
}

func (s suite) handles(t *testing.T, st rollback.Store, n int) []rollback.Store {
	out := []rollback.Store{st}
	for len(out) < n {
		if s.h.Reopen == nil {
			out = append(out, st)
			continue
		}
		out = append(out, s.h.Reopen(t, st))
	}
	return out
}

func rec(kind strategy.RecordKind, step int, reason string) strategy.Record {
	return strategy.Record{Kind: kind, Release: "r", Step: step, Reason: reason, At: time.Now().UTC().Truncate(time.Millisecond)}
}

func steps(recs []strategy.Record) []int {
	out := make([]int, len(recs))
	for i, r := range recs {
		out[i] = r.Step
	}
	return out
}

func mustAcquire(t *testing.T, st rollback.Store, target, owner string, ttl time.Duration) rollback.Lease {
	t.Helper()
	l, err := st.Acquire(t.Context(), target, owner, ttl)
	if err != nil {
		t.Fatalf("acquire %s by %s: %v", target, owner, err)
	}
	return l
}

func (s suite) leasesAndTokens(t *testing.T) {
	ctx := t.Context()
	st := s.h.New(t)
	ttl := 30 * time.Second
	before := time.Now()
	a := mustAcquire(t, st, "svc", "a", ttl)
	if a.Token == 0 || a.Owner != "a" || a.Target != "svc" {
		t.Fatalf("lease %+v: want owner a, target svc and a non-zero token", a)
	}
	if a.Expires.Before(before.Add(ttl)) {
		t.Fatalf("lease expires at %v, before now+ttl %v", a.Expires, before.Add(ttl))
	}
	for _, owner := range []string{"b", "a"} {
		_, err := st.Acquire(ctx, "svc", owner, ttl)
		var held *rollback.LeaseHeldError
		if !errors.Is(err, rollback.ErrLeaseHeld) || !errors.As(err, &held) {
			t.Fatalf("second acquire by %s: %v, want a *LeaseHeldError", owner, err)
		}
		if held.Owner != "a" || held.Target != "svc" || held.Expires.IsZero() {
			t.Fatalf("LeaseHeldError %+v does not name holder a, target svc and an expiry", held)
		}
	}
	other := mustAcquire(t, st, "other", "b", ttl)
	if err := st.Release(ctx, other); err != nil {
		t.Fatalf("release of another target: %v", err)
	}
	renewed, err := st.Renew(ctx, a, 2*ttl)
	if err != nil || renewed.Token != a.Token || renewed.Owner != "a" || !renewed.Expires.After(a.Expires) {
		t.Fatalf("renew: %+v %v; want the same token and a later expiry than %v", renewed, err, a.Expires)
	}
	if err := st.Release(ctx, renewed); err != nil {
		t.Fatalf("release: %v", err)
	}
	if err := st.Release(ctx, renewed); !errors.Is(err, rollback.ErrLeaseLost) {
		t.Fatalf("second release: %v, want ErrLeaseLost", err)
	}
	if _, err := st.Renew(ctx, renewed, ttl); !errors.Is(err, rollback.ErrLeaseLost) {
		t.Fatalf("renew after release: %v, want ErrLeaseLost", err)
	}
	// Tokens grow with every acquisition, whoever acquires.
	last := a.Token
	for i, owner := range []string{"a", "b", "c", "a"} {
		l := mustAcquire(t, st, "svc", owner, ttl)
		if l.Token <= last {
			t.Fatalf("acquisition %d by %s got token %d, not above %d", i, owner, l.Token, last)
		}
		last = l.Token
		if err := st.Release(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	// A forged lease (right owner, wrong token) is not the lease.
	l := mustAcquire(t, st, "svc", "a", ttl)
	forged := l
	forged.Token++
	if err := st.Append(ctx, forged, "j", rec(strategy.RecordStarted, 0, "")); !errors.Is(err, rollback.ErrLeaseLost) {
		t.Fatalf("append with a forged token: %v, want ErrLeaseLost", err)
	}
	if err := st.Update(ctx, "svc", &forged, func(*rollback.TargetRecord) error { return nil }); !errors.Is(err, rollback.ErrLeaseLost) {
		t.Fatalf("update with a forged token: %v, want ErrLeaseLost", err)
	}
	if err := st.Release(ctx, forged); !errors.Is(err, rollback.ErrLeaseLost) {
		t.Fatalf("release with a forged token: %v, want ErrLeaseLost", err)
	}
	// The lease of one target does not fence another.
	cross := l
	cross.Target = "other"
	if err := st.Append(ctx, cross, "j", rec(strategy.RecordStarted, 0, "")); !errors.Is(err, rollback.ErrLeaseLost) {
		t.Fatalf("append to another target under svc's lease: %v, want ErrLeaseLost", err)
	}
	if recs, err := st.Journal(ctx, "svc", "j"); err != nil || len(recs) != 0 {
		t.Fatalf("refused appends left records: %v %v", recs, err)
	}
}

func (s suite) expiryAndTakeover(t *testing.T) {
	ctx := t.Context()
	st := s.h.New(t)
	ttl := s.ttl()
	a := mustAcquire(t, st, "svc", "a", ttl)
	if err := st.Append(ctx, a, "j", rec(strategy.RecordStarted, 0, "")); err != nil {
		t.Fatal(err)
	}
	s.outlive(ttl)
	// Expired, nobody took over: still no writes.
	if err := st.Append(ctx, a, "j", rec(strategy.RecordStep, 1, "")); !errors.Is(err, rollback.ErrLeaseLost) {
		t.Fatalf("append on an expired lease: %v, want ErrLeaseLost", err)
	}
	if err := st.Update(ctx, "svc", &a, func(tr *rollback.TargetRecord) error { tr.Seq = 99; return nil }); !errors.Is(err, rollback.ErrLeaseLost) {
		t.Fatalf("fenced update on an expired lease: %v, want ErrLeaseLost", err)
	}
	b := mustAcquire(t, st, "svc", "b", time.Minute)
	if b.Token <= a.Token {
		t.Fatalf("takeover token %d not above %d", b.Token, a.Token)
	}
	if err := st.Append(ctx, a, "j", rec(strategy.RecordStep, 1, "")); !errors.Is(err, rollback.ErrLeaseLost) {
		t.Fatalf("append by the old holder: %v, want ErrLeaseLost", err)
	}
	if _, err := st.Renew(ctx, a, ttl); !errors.Is(err, rollback.ErrLeaseLost) {
		t.Fatalf("renew by the old holder: %v, want ErrLeaseLost", err)
	}
	if err := st.Release(ctx, a); !errors.Is(err, rollback.ErrLeaseLost) {
		t.Fatalf("release by the old holder: %v, want ErrLeaseLost", err)
	}
	if err := st.Append(ctx, b, "j", rec(strategy.RecordStep, 2, "")); err != nil {
		t.Fatal(err)
	}
	recs, err := st.Journal(ctx, "svc", "j")
	if err != nil || !slices.Equal(steps(recs), []int{0, 2}) {
		t.Fatalf("journal steps %v (%v), want [0 2]: the fenced holder's writes must be absent", steps(recs), err)
	}
	if tr, err := st.Load(ctx, "svc"); err != nil || tr.Seq == 99 {
		t.Fatalf("the expired holder's update landed: %+v %v", tr, err)
	}
	// The new holder is not fenced by the old one's release attempt.
	if _, err := st.Renew(ctx, b, time.Minute); err != nil {
		t.Fatalf("renew by the new holder: %v", err)
	}
}

func (s suite) fencedWritesRefused(t *testing.T) {
	ctx := t.Context()
	st := s.h.New(t)
	l := mustAcquire(t, st, "svc", "a", time.Minute)
	if err := st.Update(ctx, "svc", &l, func(tr *rollback.TargetRecord) error {
		tr.Seq = 1
		tr.Active = &rollback.Active{Journal: "000001", Release: "r", Stable: "v1", Canary: "v2", Owner: "a"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := st.Append(ctx, l, "000001", rec(strategy.RecordStarted, 0, "")); err != nil {
		t.Fatal(err)
	}
	if err := st.Release(ctx, l); err != nil {
		t.Fatal(err)
	}
	if err := st.Append(ctx, l, "000001", rec(strategy.RecordStep, 1, "")); !errors.Is(err, rollback.ErrLeaseLost) {
		t.Fatalf("append after release: %v, want ErrLeaseLost", err)
	}
	called := false
	if err := st.Update(ctx, "svc", &l, func(tr *rollback.TargetRecord) error { called = true; tr.Active = nil; return nil }); !errors.Is(err, rollback.ErrLeaseLost) {
		t.Fatalf("fenced update after release: %v, want ErrLeaseLost", err)
	}
	_ = called // a store may or may not call fn before refusing; what matters is that nothing is written
	tr, err := st.Load(ctx, "svc")
	if err != nil || tr.Active == nil || tr.Active.Journal != "000001" {
		t.Fatalf("a refused update changed the record: %+v %v", tr, err)
	}
	if recs, err := st.Journal(ctx, "svc", "000001"); err != nil || len(recs) != 1 {
		t.Fatalf("a refused append changed the journal: %d records, %v", len(recs), err)
	}
	// An unfenced update still works (Manager.SetCommitTime uses one).
	if err := st.Update(ctx, "svc", nil, func(tr *rollback.TargetRecord) error { tr.Seq = 2; return nil }); err != nil {
		t.Fatalf("unfenced update: %v", err)
	}
}

func (s suite) journals(t *testing.T) {
	ctx := t.Context()
	st := s.h.New(t)
	l := mustAcquire(t, st, "svc", "a", time.Minute)
	state := strategy.State{Stable: "v1", Canary: "v2", Weight: 25, Replicas: strategy.Replicas{Stable: 4, Canary: 1}}
	want := []strategy.Record{
		{Kind: strategy.RecordStarted, Release: "r", Strategy: "canary", Fingerprint: "f", Stable: "v1", Canary: "v2"},
		{Kind: strategy.RecordIntent, Release: "r", Step: 0, State: &state},
		{Kind: strategy.RecordApplied, Release: "r", Step: 0, State: &state},
		{Kind: strategy.RecordVerdict, Release: "r", Step: 1, Verdict: &strategy.Verdict{Analyzer: "checks", Outcome: strategy.Fail, Reason: "ratio 0.2 > 0.1"}},
		{Kind: strategy.RecordPhase, Release: "r", Step: 1, Phase: strategy.PhaseRollingBack, Reason: "failed \"quoted\" \n newline ✓"},
	}
	for i := range want {
		want[i].At = time.Date(2026, 1, 2, 3, 4, 5, i*1000, time.UTC)
		if err := st.Append(ctx, l, "j1", want[i]); err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		if err := st.Append(ctx, l, "j2", rec(strategy.RecordStep, 100+i, "")); err != nil {
			t.Fatal(err)
		}
	}
	got, err := st.Journal(ctx, "svc", "j1")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("journal has %d records, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Kind != w.Kind || g.Step != w.Step || g.Reason != w.Reason || g.Phase != w.Phase || !g.At.Equal(w.At) ||
			g.Stable != w.Stable || g.Canary != w.Canary || g.Fingerprint != w.Fingerprint ||
			(w.State != nil && (g.State == nil || *g.State != *w.State)) ||
			(w.Verdict != nil && (g.Verdict == nil || g.Verdict.Reason != w.Verdict.Reason || g.Verdict.Outcome != w.Verdict.Outcome)) {
			t.Fatalf("record %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
	if recs, err := st.Journal(ctx, "svc", "j2"); err != nil || !slices.Equal(steps(recs), []int{100, 101, 102, 103, 104}) {
		t.Fatalf("second journal: %v %v", steps(recs), err)
	}
	for _, q := range [][2]string{{"svc", "never"}, {"nobody", "j1"}} {
		if recs, err := st.Journal(ctx, q[0], q[1]); err != nil || len(recs) != 0 {
			t.Fatalf("journal %s/%s never written: %v %v, want empty", q[0], q[1], recs, err)
		}
	}
	// Names with separators and odd characters stay apart.
	for _, name := range []string{"a/b", "a", "a%2Fb", "../x", "ä b"} {
		ln := mustAcquire(t, st, name, "a", time.Minute)
		if err := st.Append(ctx, ln, "j/1", rec(strategy.RecordStarted, 0, name)); err != nil {
			t.Fatalf("append to %q: %v", name, err)
		}
	}
	for _, name := range []string{"a/b", "a", "a%2Fb", "../x", "ä b"} {
		recs, err := st.Journal(ctx, name, "j/1")
		if err != nil || len(recs) != 1 || recs[0].Reason != name {
			t.Fatalf("journal of %q: %+v %v, want its one record", name, recs, err)
		}
	}
}

func (s suite) records(t *testing.T) {
	ctx := t.Context()
	st := s.h.New(t)
	tr, err := st.Load(ctx, "svc")
	if err != nil || tr.Target != "svc" || tr.Active != nil || len(tr.History) != 0 || tr.Seq != 0 {
		t.Fatalf("record of a new target: %+v %v, want the zero record named svc", tr, err)
	}
	l := mustAcquire(t, st, "svc", "a", time.Minute)
	now := time.Now().UTC().Truncate(time.Millisecond)
	if err := st.Update(ctx, "svc", &l, func(tr *rollback.TargetRecord) error {
		tr.Seq = 3
		tr.Active = &rollback.Active{Journal: "000003", Release: "r", Stable: "v1", Canary: "v2", Owner: "a", Started: now}
		tr.History = []rollback.Entry{{Target: "svc", Result: strategy.Result{Release: "old", Stable: "v0", Canary: "v1", Phase: strategy.PhasePromoted, Finished: now}}}
		tr.RolledBack = []strategy.Revision{"bad"}
		tr.CommitTimes = map[strategy.Revision]time.Time{"v2": now}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	if err := st.Update(ctx, "svc", &l, func(tr *rollback.TargetRecord) error { tr.Seq = 99; tr.History = nil; return boom }); !errors.Is(err, boom) {
		t.Fatalf("update whose fn fails: %v, want its error", err)
	}
	tr, err = st.Load(ctx, "svc")
	if err != nil || tr.Seq != 3 || tr.Active == nil || tr.Active.Canary != "v2" || !tr.Active.Started.Equal(now) ||
		len(tr.History) != 1 || tr.History[0].Release != "old" || !slices.Equal(tr.RolledBack, []strategy.Revision{"bad"}) ||
		!tr.CommitTimes["v2"].Equal(now) {
		t.Fatalf("load after update: %+v %v", tr, err)
	}
	// The function sees the current record.
	if err := st.Update(ctx, "svc", nil, func(tr *rollback.TargetRecord) error {
		if tr.Seq != 3 || tr.Target != "svc" {
			return fmt.Errorf("fn saw %+v", tr)
		}
		tr.Active = nil
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if tr, err := st.Load(ctx, "svc"); err != nil || tr.Active != nil || len(tr.History) != 1 {
		t.Fatalf("load after clearing Active: %+v %v", tr, err)
	}
	// A store that lists its targets lists those with a record, by name.
	if lister, ok := st.(rollback.TargetLister); ok {
		long := strings.Repeat("long/name ", 40)
		for _, name := range []string{"a/b", long} {
			if err := st.Update(ctx, name, nil, func(tr *rollback.TargetRecord) error { tr.Seq = 1; return nil }); err != nil {
				t.Fatal(err)
			}
		}
		mustAcquire(t, st, "lease-only", "a", time.Minute)
		names, err := lister.Targets(ctx)
		want := []string{"a/b", long, "svc"}
		slices.Sort(want)
		if err != nil || !slices.Equal(names, want) {
			t.Fatalf("Targets: %q %v, want %q", names, err, want)
		}
	}
}

func (s suite) concurrentAcquire(t *testing.T) {
	st := s.h.New(t)
	hs := s.handles(t, st, 3)
	const workers, rounds = 6, 4
	var (
		mu     sync.Mutex
		tokens []uint64
		wg     sync.WaitGroup
		errs   = make(chan error, workers)
	)
	ctx := t.Context()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := hs[w%len(hs)]
			owner := fmt.Sprintf("w%d", w)
			for won := 0; won < rounds; {
				l, err := h.Acquire(ctx, "svc", owner, time.Minute)
				if errors.Is(err, rollback.ErrLeaseHeld) {
					time.Sleep(time.Millisecond) // let the holder run (fake time in a bubble)
					continue
				}
				if err != nil {
					errs <- err
					return
				}
				won++
				mu.Lock()
				tokens = append(tokens, l.Token)
				mu.Unlock()
				// While this worker holds the lease, its records are the only
				// ones written; it writes three in a row, tagged with its token.
				for i := range 3 {
					r := rec(strategy.RecordStep, i, fmt.Sprint(l.Token))
					if err := h.Append(ctx, l, "shared", r); err != nil {
						errs <- fmt.Errorf("%s append under its own lease: %w", owner, err)
						return
					}
				}
				if err := h.Release(ctx, l); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	slices.Sort(tokens)
	if len(slices.Compact(slices.Clone(tokens))) != workers*rounds {
		t.Fatalf("tokens %v: two acquisitions got the same token", tokens)
	}
	recs, err := st.Journal(ctx, "svc", "shared")
	if err != nil || len(recs) != 3*workers*rounds {
		t.Fatalf("journal has %d records (%v), want %d", len(recs), err, 3*workers*rounds)
	}
	// Each holder's three records are contiguous and in order: no other
	// holder wrote between them, and the holders appear in token order.
	var prev uint64
	for i := 0; i < len(recs); i += 3 {
		tok := recs[i].Reason
		for k := range 3 {
			if recs[i+k].Reason != tok || recs[i+k].Step != k {
				t.Fatalf("records %d..%d interleave holders: %+v", i, i+2, recs[i:i+3])
			}
		}
		var n uint64
		fmt.Sscan(tok, &n)
		if n <= prev {
			t.Fatalf("holder with token %d wrote after holder with token %d", n, prev)
		}
		prev = n
	}
}

func (s suite) concurrentUpdates(t *testing.T) {
	st := s.h.New(t)
	hs := s.handles(t, st, 3)
	const workers, each = 5, 8
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	ctx := t.Context()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := hs[w%len(hs)]
			for i := range each {
				err := h.Update(ctx, "svc", nil, func(tr *rollback.TargetRecord) error {
					tr.Seq++
					tr.RolledBack = append(tr.RolledBack, strategy.Revision(fmt.Sprintf("w%d-%d", w, i)))
					return nil
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	tr, err := st.Load(ctx, "svc")
	if err != nil || tr.Seq != workers*each || len(tr.RolledBack) != workers*each {
		t.Fatalf("after %d concurrent updates: seq %d, %d revisions (%v): an update was lost", workers*each, tr.Seq, len(tr.RolledBack), err)
	}
}

func (s suite) payload() string {
	n := s.h.LargeRecords
	if n <= 0 {
		n = 16 << 10
	}
	return strings.Repeat("x", n)
}

// longHistory writes a history far larger than one etcd request (about
// 2 MiB with the default payload) one entry at a time, as Manager does,
// trimming it to keep entries.
func (s suite) longHistory(t *testing.T) {
	ctx := t.Context()
	st := s.h.New(t)
	const total, keep = 150, 120
	pad := s.payload()
	l := mustAcquire(t, st, "svc", "a", time.Hour)
	for i := range total {
		err := st.Update(ctx, "svc", &l, func(tr *rollback.TargetRecord) error {
			tr.History = append(tr.History, rollback.Entry{Target: "svc", Result: strategy.Result{Release: fmt.Sprint(i), Reason: pad, Phase: strategy.PhasePromoted}})
			if n := len(tr.History) - keep; n > 0 {
				tr.History = slices.Delete(tr.History, 0, n)
			}
			tr.Seq = uint64(i + 1)
			return nil
		})
		if err != nil {
			t.Fatalf("update %d: %v", i, err)
		}
	}
	tr, err := st.Load(ctx, "svc")
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.History) != keep || tr.Seq != total {
		t.Fatalf("history of %d entries (seq %d), want %d (seq %d)", len(tr.History), tr.Seq, keep, total)
	}
	for i, e := range tr.History {
		if e.Release != fmt.Sprint(total-keep+i) || e.Reason != pad {
			t.Fatalf("history[%d] is release %q, want %d, oldest first", i, e.Release, total-keep+i)
		}
	}
	// Replacing the whole history in one update works too.
	if err := st.Update(ctx, "svc", &l, func(tr *rollback.TargetRecord) error {
		tr.History = tr.History[len(tr.History)-2:]
		tr.History[0].Reason = "changed"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	tr, err = st.Load(ctx, "svc")
	if err != nil || len(tr.History) != 2 || tr.History[0].Reason != "changed" || tr.History[1].Release != fmt.Sprint(total-1) {
		t.Fatalf("after trimming: %d entries %v", len(tr.History), err)
	}
}

// longJournal appends a journal far larger than one etcd request.
func (s suite) longJournal(t *testing.T) {
	ctx := t.Context()
	st := s.h.New(t)
	const n = 160
	pad := s.payload()
	l := mustAcquire(t, st, "svc", "a", time.Hour)
	for i := range n {
		if err := st.Append(ctx, l, "j", rec(strategy.RecordStep, i, pad)); err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
	}
	recs, err := st.Journal(ctx, "svc", "j")
	if err != nil || len(recs) != n {
		t.Fatalf("journal has %d records (%v), want %d", len(recs), err, n)
	}
	for i, r := range recs {
		if r.Step != i || r.Reason != pad {
			t.Fatalf("record %d is step %d", i, r.Step)
		}
	}
}

func (s suite) tornJournal(t *testing.T) {
	ctx := t.Context()
	st := s.h.New(t)
	l := mustAcquire(t, st, "svc", "a", time.Minute)
	for i := range 3 {
		if err := st.Append(ctx, l, "j", rec(strategy.RecordStep, i, "")); err != nil {
			t.Fatal(err)
		}
	}
	s.h.Tear(t, st, "svc", "j")
	recs, err := st.Journal(ctx, "svc", "j")
	var ce *rollback.CorruptError
	if !errors.Is(err, rollback.ErrTornRecord) || !errors.As(err, &ce) || !ce.Torn {
		t.Fatalf("torn journal: %v, want a *CorruptError matching ErrTornRecord", err)
	}
	if !slices.Equal(steps(recs), []int{0, 1, 2}) {
		t.Fatalf("torn journal returned steps %v, want the three before the torn record", steps(recs))
	}
	// The next write cuts the torn record off and goes on.
	if err := st.Append(ctx, l, "j", rec(strategy.RecordStep, 3, "")); err != nil {
		t.Fatalf("append after a torn record: %v", err)
	}
	if recs, err := st.Journal(ctx, "svc", "j"); err != nil || !slices.Equal(steps(recs), []int{0, 1, 2, 3}) {
		t.Fatalf("after the append: %v %v", steps(recs), err)
	}
}

func (s suite) corruptJournal(t *testing.T) {
	ctx := t.Context()
	st := s.h.New(t)
	l := mustAcquire(t, st, "svc", "a", time.Minute)
	for i := range 4 {
		if err := st.Append(ctx, l, "j", rec(strategy.RecordStep, i, "")); err != nil {
			t.Fatal(err)
		}
	}
	s.h.Corrupt(t, st, "svc", "j", 1)
	recs, err := st.Journal(ctx, "svc", "j")
	var ce *rollback.CorruptError
	if !errors.Is(err, rollback.ErrCorrupt) || errors.Is(err, rollback.ErrTornRecord) || !errors.As(err, &ce) || ce.Path == "" {
		t.Fatalf("corrupt journal: %v, want a *CorruptError matching ErrCorrupt and naming where", err)
	}
	if len(recs) > 1 {
		t.Fatalf("corrupt journal returned %d records: nothing after the damage may be trusted", len(recs))
	}
	// Damage is never repaired into a different history: appending is refused.
	if err := st.Append(ctx, l, "j", rec(strategy.RecordStep, 4, "")); !errors.Is(err, rollback.ErrCorrupt) {
		t.Fatalf("append to a corrupt journal: %v, want ErrCorrupt", err)
	}
}

func (s suite) cancelledContext(t *testing.T) {
	st := s.h.New(t)
	l := mustAcquire(t, st, "svc", "a", time.Minute)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := st.Append(ctx, l, "j", rec(strategy.RecordStarted, 0, "")); err == nil {
		t.Fatal("append with a cancelled context succeeded")
	}
	if err := st.Update(ctx, "svc", &l, func(tr *rollback.TargetRecord) error { tr.Seq = 5; return nil }); err == nil {
		t.Fatal("update with a cancelled context succeeded")
	}
	if _, err := st.Acquire(ctx, "other", "a", time.Minute); err == nil {
		t.Fatal("acquire with a cancelled context succeeded")
	}
	if recs, err := st.Journal(t.Context(), "svc", "j"); err != nil || len(recs) != 0 {
		t.Fatalf("a cancelled append wrote: %v %v", recs, err)
	}
	if tr, err := st.Load(t.Context(), "svc"); err != nil || tr.Seq != 0 {
		t.Fatalf("a cancelled update wrote: %+v %v", tr, err)
	}
}
