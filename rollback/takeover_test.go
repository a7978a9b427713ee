package rollback_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/glidepath/glidepath/rollback"
	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/strategytest"
)

// freezer is a FileStore Fault hook that stops the store's next matching
// change until thawed. The operation holds the target's real lock while it
// is stopped, exactly as one in a frozen (SIGSTOP) process does.
type freezer struct {
	match  func(op rollback.FileOp, base string) bool
	armed  atomic.Bool
	inside chan struct{}
	thaw   chan struct{}
}

func newFreezer(match func(op rollback.FileOp, base string) bool) *freezer {
	return &freezer{match: match, inside: make(chan struct{}), thaw: make(chan struct{})}
}

func (f *freezer) hook(op rollback.FileOp, path string) error {
	if f.match(op, filepath.Base(path)) && f.armed.CompareAndSwap(true, false) {
		close(f.inside)
		<-f.thaw
	}
	return nil
}

// takeOver acquires target through s as ResumeOptions.WaitForLease does:
// on a held lease it waits until the lease's expiry and tries again.
func takeOver(t *testing.T, s rollback.Store, owner string) rollback.Lease {
	t.Helper()
	for {
		l, err := s.Acquire(t.Context(), "svc", owner, time.Minute)
		var held *rollback.LeaseHeldError
		if errors.As(err, &held) {
			time.Sleep(max(time.Until(held.Expires), time.Millisecond))
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
}

// TestFrozenHolderDoesNotBlockTakeover freezes a lease holder inside each
// kind of store call, with the target's lock held, and checks that another
// store takes the lease over TTL + TakeoverGrace after the holder's last
// renewal, that reads never wait for it, and that nothing the holder does
// when it wakes is seen by the new holder or by readers.
func TestFrozenHolderDoesNotBlockTakeover(t *testing.T) {
	isWrite := func(prefix string) func(rollback.FileOp, string) bool {
		return func(op rollback.FileOp, base string) bool {
			return op == rollback.FileWrite && strings.HasPrefix(base, prefix)
		}
	}
	for _, c := range []struct {
		name string
		// appendFirst: the holder journals a record before it freezes.
		appendFirst bool
		match       func(rollback.FileOp, string) bool
		frozen      func(ctx context.Context, s *rollback.FileStore, l rollback.Lease) error
	}{
		{"renew", true, isWrite("lease."), func(ctx context.Context, s *rollback.FileStore, l rollback.Lease) error {
			_, err := s.Renew(ctx, l, time.Minute)
			return err
		}},
		{"release", true, isWrite("lease."), func(ctx context.Context, s *rollback.FileStore, l rollback.Lease) error {
			return s.Release(ctx, l)
		}},
		{"append", true, isWrite("journal."), func(ctx context.Context, s *rollback.FileStore, l rollback.Lease) error {
			return s.Append(ctx, l, "000001", recWhy(strategy.RecordStep, 99, "frozen"))
		}},
		{"first append", false, func(op rollback.FileOp, base string) bool {
			return op == rollback.FileCreate && strings.HasPrefix(base, "journal.")
		}, func(ctx context.Context, s *rollback.FileStore, l rollback.Lease) error {
			return s.Append(ctx, l, "000001", recWhy(strategy.RecordStep, 99, "frozen"))
		}},
		{"fenced update", true, isWrite("target."), func(ctx context.Context, s *rollback.FileStore, l rollback.Lease) error {
			return s.Update(ctx, "svc", &l, func(tr *rollback.TargetRecord) error {
				tr.Seq, tr.Active = 99, nil
				return nil
			})
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := t.Context()
				dir := t.TempDir()
				fz := newFreezer(c.match)
				a, err := rollback.OpenFileStore(dir, rollback.FileOptions{Fault: fz.hook})
				if err != nil {
					t.Fatal(err)
				}
				b, err := rollback.OpenFileStore(dir, rollback.FileOptions{})
				if err != nil {
					t.Fatal(err)
				}
				const ttl = 30 * time.Second
				la, err := a.Acquire(ctx, "svc", "a", ttl)
				if err != nil {
					t.Fatal(err)
				}
				if err := a.Update(ctx, "svc", &la, func(tr *rollback.TargetRecord) error {
					tr.Seq, tr.Active = 1, &rollback.Active{Journal: "000001", Release: "r", Stable: "v1", Canary: "v2", Owner: "a"}
					return nil
				}); err != nil {
					t.Fatal(err)
				}
				want := []int{}
				if c.appendFirst {
					if err := a.Append(ctx, la, "000001", recWhy(strategy.RecordStarted, 0, "")); err != nil {
						t.Fatal(err)
					}
					want = append(want, 0)
				}
				time.Sleep(ttl / 3)
				if la, err = a.Renew(ctx, la, ttl); err != nil { // the last renewal: the lease ends ttl from now
					t.Fatal(err)
				}
				frozeAt := time.Now()
				fz.armed.Store(true)
				done := make(chan error, 1)
				go func() { done <- c.frozen(ctx, a, la) }()
				<-fz.inside

				// Frozen, holding the lock: reads go on at once.
				m := &rollback.Manager{Store: b, Owner: "b"}
				if _, err := m.History(ctx, "svc"); err != nil {
					t.Fatalf("history while the holder is frozen: %v", err)
				}
				p, err := m.Pending(ctx, "svc")
				if err != nil || p == nil || p.Progress.Records != len(want) {
					t.Fatalf("pending while the holder is frozen: %+v %v", p, err)
				}
				if time.Since(frozeAt) != 0 {
					t.Fatalf("reads waited %v for the frozen holder", time.Since(frozeAt))
				}

				lb := takeOver(t, b, "b")
				if took := time.Since(frozeAt); took != ttl+rollback.DefaultTakeoverGrace {
					t.Fatalf("takeover %v after the holder froze, want TTL %v + grace %v", took, ttl, rollback.DefaultTakeoverGrace)
				}
				if lb.Token <= la.Token {
					t.Fatalf("new token %d not above %d", lb.Token, la.Token)
				}
				if recs, err := b.Journal(ctx, "svc", "000001"); err != nil || !slices.Equal(steps(recs), want) {
					t.Fatalf("journal at the takeover: %v %v, want %v", steps(recs), err, want)
				}
				if err := b.Append(ctx, lb, "000001", recWhy(strategy.RecordStep, 1, "b")); err != nil {
					t.Fatal(err)
				}
				want = append(want, 1)
				if err := b.Update(ctx, "svc", &lb, func(tr *rollback.TargetRecord) error { tr.Seq = 2; return nil }); err != nil {
					t.Fatal(err)
				}

				// The holder wakes and finishes its call, then goes on.
				close(fz.thaw)
				if err := <-done; !errors.Is(err, rollback.ErrLeaseLost) {
					t.Fatalf("the woken holder's %s: %v, want ErrLeaseLost", c.name, err)
				}
				if err := a.Append(ctx, la, "000001", recWhy(strategy.RecordStep, 98, "")); !errors.Is(err, rollback.ErrLeaseLost) {
					t.Fatalf("the woken holder's next append: %v", err)
				}
				if _, err := (&rollback.Journal{Store: a, Lease: la, Name: "000001"}).Fence(ctx); !errors.Is(err, strategy.ErrFenced) {
					t.Fatalf("the woken holder's fence: %v, want ErrFenced", err)
				}
				if _, err := a.Renew(ctx, la, ttl); !errors.Is(err, rollback.ErrLeaseLost) {
					t.Fatalf("the woken holder's renewal: %v", err)
				}

				// No reader sees anything it wrote after the takeover.
				fresh, _ := rollback.OpenFileStore(dir, rollback.FileOptions{})
				for name, s := range map[string]*rollback.FileStore{"new holder": b, "woken holder": a, "fresh store": fresh} {
					recs, err := s.Journal(ctx, "svc", "000001")
					if err != nil || !slices.Equal(steps(recs), want) {
						t.Fatalf("journal through the %s: %v %v, want %v", name, steps(recs), err, want)
					}
					tr, err := s.Load(ctx, "svc")
					if err != nil || tr.Seq != 2 || tr.Active == nil {
						t.Fatalf("record through the %s: %+v %v", name, tr, err)
					}
				}
				if _, err := b.Acquire(ctx, "svc", "c", time.Minute); !errors.Is(err, rollback.ErrLeaseHeld) || !strings.Contains(err.Error(), `"b"`) {
					t.Fatalf("the new holder's lease after the old one woke: %v", err)
				}
				if _, err := b.Renew(ctx, lb, time.Minute); err != nil {
					t.Fatalf("the new holder's renewal: %v", err)
				}
				if err := b.Append(ctx, lb, "000001", recWhy(strategy.RecordStep, 2, "b")); err != nil {
					t.Fatal(err)
				}
				if recs, err := fresh.Journal(ctx, "svc", "000001"); err != nil || !slices.Equal(steps(recs), append(want, 2)) {
					t.Fatalf("journal after the new holder went on: %v %v", steps(recs), err)
				}
				if c.name == "append" || c.name == "first append" {
					// The frozen append did write its record, into a file no one reads.
					files, _ := filepath.Glob(filepath.Join(dir, "*", "journal.*"))
					slices.Sort(files)
					data, err := os.ReadFile(files[0])
					if err != nil || !strings.Contains(string(data), `"reason":"frozen"`) {
						t.Fatalf("the woken holder's record is not in its own file %s (%v): the test did not reach the write", files[0], err)
					}
				}
			})
		})
	}
}

// TestTakeoverWaitsForAnOperationInFlight: an operation that is merely
// slower than the takeover (not frozen past TakeoverGrace) finishes first,
// and is kept.
func TestTakeoverWaitsForAnOperationInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		dir := t.TempDir()
		fz := newFreezer(func(op rollback.FileOp, base string) bool {
			return op == rollback.FileWrite && strings.HasPrefix(base, "target")
		})
		a, _ := rollback.OpenFileStore(dir, rollback.FileOptions{Fault: fz.hook})
		b, _ := rollback.OpenFileStore(dir, rollback.FileOptions{})
		l, err := a.Acquire(ctx, "svc", "a", time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Release(ctx, l); err != nil {
			t.Fatal(err)
		}
		fz.armed.Store(true)
		done := make(chan error, 1)
		go func() {
			done <- a.Update(ctx, "svc", nil, func(tr *rollback.TargetRecord) error {
				tr.CommitTimes = map[strategy.Revision]time.Time{"v2": time.Unix(1, 0)}
				return nil
			})
		}()
		<-fz.inside
		go func() {
			time.Sleep(rollback.DefaultTakeoverGrace / 2)
			close(fz.thaw)
		}()
		start := time.Now()
		if _, err := b.Acquire(ctx, "svc", "b", time.Minute); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took < rollback.DefaultTakeoverGrace/2 || took >= rollback.DefaultTakeoverGrace {
			t.Fatalf("acquire took %v, want it once the update finished (after %v), before the grace ran out", took, rollback.DefaultTakeoverGrace/2)
		}
		if err := <-done; err != nil {
			t.Fatalf("the update in flight: %v", err)
		}
		tr, err := b.Load(ctx, "svc")
		if err != nil || tr.CommitTimes["v2"].IsZero() {
			t.Fatalf("the update in flight was lost: %+v %v", tr, err)
		}
	})
}

// TestFileStoreReadsPreviousLayout opens a store written by the release
// before lease epochs (testdata/store-v1: one promoted release, one
// stopped at its pause), reads its history and pending release, resumes
// it, and reads both journals whole afterwards.
func TestFileStoreReadsPreviousLayout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		dir := t.TempDir()
		if err := os.CopyFS(dir, os.DirFS("testdata/store-v1")); err != nil {
			t.Fatal(err)
		}
		oldJournal, _ := os.ReadFile(filepath.Join(dir, "t-svc", "journal-000002.log"))
		s, err := rollback.OpenFileStore(dir, rollback.FileOptions{})
		if err != nil {
			t.Fatal(err)
		}
		m := newManager(s, "b")
		h, err := m.History(ctx, "svc")
		if err != nil || len(h) != 1 || h[0].Canary != "v2" || h[0].Phase != strategy.PhasePromoted {
			t.Fatalf("history of the old store: %+v %v", h, err)
		}
		if got := journalOf(t, s, "svc", h[0]); len(got) == 0 {
			t.Fatal("the old store's finished journal reads empty")
		}
		p, err := m.Pending(ctx, "svc")
		if err != nil || p == nil || p.Active.Canary != "v3" || p.Progress.Records == 0 {
			t.Fatalf("pending of the old store: %+v %v", p, err)
		}
		before, err := s.Journal(ctx, "svc", "000002")
		if err != nil {
			t.Fatal(err)
		}
		if ts, _ := s.Targets(ctx); !slices.Equal(ts, []string{"svc"}) {
			t.Fatalf("targets of the old store: %v", ts)
		}
		tgt := strategytest.NewTarget(strategy.State{Stable: "v2", Canary: "v3", Weight: 25, Replicas: strategy.Replicas{Stable: 4, Canary: 1}})
		ro, err := m.Resume(ctx, "svc", strategy.Release{Target: tgt, Strategy: canaryPlan(strategytest.Script("checks", strategy.Pass))}, rollback.ResumeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if res, err := ro.Wait(ctx); err != nil || res.Phase != strategy.PhasePromoted {
			t.Fatalf("resumed release of the old store: %v %v", res.Phase, err)
		}
		after, err := s.Journal(ctx, "svc", "000002")
		if err != nil || len(after) <= len(before) {
			t.Fatalf("journal after the resume: %d records (%v), had %d", len(after), err, len(before))
		}
		for i := range before {
			if after[i].Kind != before[i].Kind || !after[i].At.Equal(before[i].At) {
				t.Fatalf("record %d changed: %+v, was %+v", i, after[i], before[i])
			}
		}
		h, err = m.History(ctx, "svc")
		if err != nil || len(h) != 2 || h[1].Canary != "v3" || h[1].Phase != strategy.PhasePromoted || h[1].Resumed != 1 {
			t.Fatalf("history after the resume: %+v %v", h, err)
		}
		// A driver of the earlier release reads lease.json only: it finds
		// its lease taken over.
		var legacy rollback.Lease
		if data, err := os.ReadFile(filepath.Join(dir, "t-svc", "lease.json")); err != nil || json.Unmarshal(data, &legacy) != nil || legacy.Owner != "b" || legacy.Token <= 2 {
			t.Fatalf("lease.json after the first takeover: %+v %v", legacy, err)
		}
		if now, _ := os.ReadFile(filepath.Join(dir, "t-svc", "journal-000002.log")); string(now) != string(oldJournal) {
			t.Fatal("the old journal file was changed: new records belong in the new lease's file")
		}
		// A store reopened later (another process) reads the same.
		s2, _ := rollback.OpenFileStore(dir, rollback.FileOptions{})
		if again, err := s2.Journal(ctx, "svc", "000002"); err != nil || len(again) != len(after) {
			t.Fatalf("journal through a reopened store: %d %v", len(again), err)
		}
	})
}

// recWhy is a record of kind at step, with reason.
func recWhy(kind strategy.RecordKind, step int, reason string) strategy.Record {
	r := rec(kind, step)
	r.Reason = reason
	return r
}

// steps lists the Step of each record.
func steps(recs []strategy.Record) []int {
	out := []int{}
	for _, r := range recs {
		out = append(out, r.Step)
	}
	return out
}

// TestTakeoverFrozenBeforeItCommits freezes an Acquire in the middle of
// its takeover (it has claimed the next epoch and written the new lease,
// not committed it): a second Acquire takes over TakeoverGrace later and
// marks the first claim aborted, and the first, when it wakes, is refused.
func TestTakeoverFrozenBeforeItCommits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		dir := t.TempDir()
		fz := newFreezer(func(op rollback.FileOp, base string) bool {
			return op == rollback.FileRename && strings.HasPrefix(base, "epoch.") // the commit
		})
		a, _ := rollback.OpenFileStore(dir, rollback.FileOptions{Fault: fz.hook})
		b, _ := rollback.OpenFileStore(dir, rollback.FileOptions{})
		first, err := b.Acquire(ctx, "svc", "first", time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Append(ctx, first, "j", rec(strategy.RecordStarted, 0)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second) // the first lease expires
		fz.armed.Store(true)
		done := make(chan error, 1)
		go func() {
			_, err := a.Acquire(ctx, "svc", "a", time.Minute)
			done <- err
		}()
		<-fz.inside
		start := time.Now()
		lb, err := b.Acquire(ctx, "svc", "b", time.Minute)
		if err != nil || time.Since(start) != rollback.DefaultTakeoverGrace {
			t.Fatalf("acquire past a frozen takeover: %v after %v", err, time.Since(start))
		}
		if err := b.Append(ctx, lb, "j", rec(strategy.RecordStep, 1)); err != nil {
			t.Fatal(err)
		}
		close(fz.thaw)
		var held *rollback.LeaseHeldError
		if err := <-done; !errors.As(err, &held) || held.Owner != "b" {
			t.Fatalf("the woken takeover: %v, want the lease held by b", err)
		}
		if _, err := b.Renew(ctx, lb, time.Minute); err != nil {
			t.Fatalf("b's lease after the woken takeover gave up: %v", err)
		}
		if recs, err := a.Journal(ctx, "svc", "j"); err != nil || !slices.Equal(steps(recs), []int{0, 1}) {
			t.Fatalf("journal: %v %v", steps(recs), err)
		}
	})
}

// TestAbandonedClaim: a takeover that fails half way (its disk fails at
// the commit, so its claim cannot even be marked aborted) leaves the
// target usable: the next Acquire and an unfenced Update go on.
func TestAbandonedClaim(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		dir := t.TempDir()
		var fail atomic.Bool
		broken, _ := rollback.OpenFileStore(dir, rollback.FileOptions{Fault: func(op rollback.FileOp, path string) error {
			if fail.Load() && strings.HasPrefix(filepath.Base(path), "epoch.") {
				return errors.New("disk gone")
			}
			return nil
		}})
		s, _ := rollback.OpenFileStore(dir, rollback.FileOptions{})
		l, err := s.Acquire(ctx, "svc", "a", time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Append(ctx, l, "j", rec(strategy.RecordStarted, 0)); err != nil {
			t.Fatal(err)
		}
		if err := s.Release(ctx, l); err != nil {
			t.Fatal(err)
		}
		fail.Store(true)
		if _, err := broken.Acquire(ctx, "svc", "broken", time.Minute); err == nil || !strings.Contains(err.Error(), "disk gone") {
			t.Fatalf("acquire on a failing disk: %v", err)
		}
		if claims, _ := filepath.Glob(filepath.Join(dir, "*", "lock.*")); len(claims) != 2 {
			t.Fatalf("lock files %v, want the committed epoch's and the abandoned claim's", claims)
		}
		if err := s.Update(ctx, "svc", nil, func(tr *rollback.TargetRecord) error { tr.Seq = 5; return nil }); err != nil {
			t.Fatalf("unfenced update past an abandoned claim: %v", err)
		}
		l2, err := s.Acquire(ctx, "svc", "b", time.Minute)
		if err != nil {
			t.Fatalf("acquire past an abandoned claim: %v", err)
		}
		if l2.Token <= l.Token+1 {
			t.Fatalf("token %d reuses the abandoned claim's", l2.Token)
		}
		if err := s.Append(ctx, l2, "j", rec(strategy.RecordStep, 1)); err != nil {
			t.Fatal(err)
		}
		if recs, err := s.Journal(ctx, "svc", "j"); err != nil || !slices.Equal(steps(recs), []int{0, 1}) {
			t.Fatalf("journal: %v %v", steps(recs), err)
		}
		if tr, err := s.Load(ctx, "svc"); err != nil || tr.Seq != 5 {
			t.Fatalf("record: %+v %v", tr, err)
		}
	})
}

// TestReadsDuringAppends reads a journal without a lock while another
// store appends records that cross page boundaries: a reader never reports
// a frame being written as torn or corrupt, and never sees records go
// away.
func TestReadsDuringAppends(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	w, _ := rollback.OpenFileStore(dir, rollback.FileOptions{})
	r, _ := rollback.OpenFileStore(dir, rollback.FileOptions{})
	l, err := w.Acquire(ctx, "svc", "w", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	n := 300
	if testing.Short() {
		n = 60
	}
	done := make(chan error, 1)
	go func() {
		for i := range n {
			if err := w.Append(ctx, l, "j", recWhy(strategy.RecordStep, i, strings.Repeat("x", 1000+(i*997)%7000))); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	seen := 0
	for finished := false; !finished; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			finished = true
		default:
		}
		recs, err := r.Journal(ctx, "svc", "j")
		if err != nil {
			t.Fatalf("read during appends, after %d records: %v", seen, err)
		}
		if len(recs) < seen {
			t.Fatalf("read %d records after %d", len(recs), seen)
		}
		seen = len(recs)
	}
	if seen != n {
		t.Fatalf("final read: %d records, want %d", seen, n)
	}
}

// TestReadDuringTakeoverSeesNoStaleWrite: a holder frozen inside an
// append wakes after a takeover has sealed its journal file and before the
// takeover committed; its record lands beyond the seal. A reader at that
// moment waits for the takeover's commit instead of returning the record
// that the committed store leaves out.
func TestReadDuringTakeoverSeesNoStaleWrite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		dir := t.TempDir()
		fa := newFreezer(func(op rollback.FileOp, base string) bool {
			return op == rollback.FileWrite && strings.HasPrefix(base, "journal.")
		})
		fc := newFreezer(func(op rollback.FileOp, base string) bool {
			return op == rollback.FileRename && strings.HasPrefix(base, "epoch.")
		})
		a, _ := rollback.OpenFileStore(dir, rollback.FileOptions{Fault: fa.hook})
		c, _ := rollback.OpenFileStore(dir, rollback.FileOptions{Fault: fc.hook})
		r, _ := rollback.OpenFileStore(dir, rollback.FileOptions{})
		la, err := a.Acquire(ctx, "svc", "a", time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Append(ctx, la, "j", rec(strategy.RecordStarted, 0)); err != nil {
			t.Fatal(err)
		}
		fa.armed.Store(true)
		appended := make(chan error, 1)
		go func() { appended <- a.Append(ctx, la, "j", rec(strategy.RecordStep, 99)) }()
		<-fa.inside
		time.Sleep(time.Second) // a's lease expires
		fc.armed.Store(true)
		acquired := make(chan error, 1)
		go func() {
			_, err := c.Acquire(ctx, "svc", "c", time.Minute)
			acquired <- err
		}()
		<-fc.inside // c has claimed and sealed; its commit is next
		close(fa.thaw)
		if err := <-appended; !errors.Is(err, rollback.ErrLeaseLost) {
			t.Fatalf("the woken append: %v, want ErrLeaseLost", err)
		}
		go func() {
			time.Sleep(100 * time.Millisecond)
			close(fc.thaw)
		}()
		recs, err := r.Journal(ctx, "svc", "j")
		if err != nil || !slices.Equal(steps(recs), []int{0}) {
			t.Fatalf("read during the takeover: %v %v, want only the record written before it", steps(recs), err)
		}
		if err := <-acquired; err != nil {
			t.Fatal(err)
		}
		if recs, err := r.Journal(ctx, "svc", "j"); err != nil || !slices.Equal(steps(recs), []int{0}) {
			t.Fatalf("read after the takeover: %v %v", steps(recs), err)
		}
	})
}

// crashingTakeover is the child of TestCrashDuringTakeover: it takes the
// lease over and appends a record, and dies (os.Exit: no deferred call
// runs, the kernel drops its locks) just before the file-system change
// numbered GLIDEPATH_DIE_AT.
func crashingTakeover(ctx context.Context, dir string) {
	dieAt, _ := strconv.Atoi(os.Getenv("GLIDEPATH_DIE_AT"))
	var changes atomic.Int64
	s, err := rollback.OpenFileStore(filepath.Join(dir, "store"), rollback.FileOptions{Fault: func(op rollback.FileOp, path string) error {
		if int(changes.Add(1)) == dieAt {
			os.Exit(7)
		}
		return nil
	}})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	l, err := s.Acquire(ctx, "svc", "child", 100*time.Millisecond)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	if err := s.Append(ctx, l, "j", recWhy(strategy.RecordStep, 1, "child")); err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	fmt.Println("done")
}

// TestCrashDuringTakeover kills a process at every file-system change of
// a takeover (and of its first append): whatever point it died at, the
// store reads the records written before, the next Acquire gets a larger
// token, and the journal goes on with no record lost or duplicated.
func TestCrashDuringTakeover(t *testing.T) {
	for dieAt := 1; ; dieAt++ {
		dir := t.TempDir()
		s, err := rollback.OpenFileStore(filepath.Join(dir, "store"), rollback.FileOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ctx := t.Context()
		first, err := s.Acquire(ctx, "svc", "first", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Append(ctx, first, "j", recWhy(strategy.RecordStarted, 0, "first")); err != nil {
			t.Fatal(err)
		}
		if err := s.Release(ctx, first); err != nil {
			t.Fatal(err)
		}
		cmd := helper(t, "takeover", dir, "GLIDEPATH_DIE_AT="+strconv.Itoa(dieAt))
		out, err := cmd.Output()
		completed := err == nil && strings.TrimSpace(string(out)) == "done"
		if err != nil {
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 7 {
				t.Fatalf("die at %d: child: %v %s", dieAt, err, out)
			}
		}
		want := []int{0}
		if completed {
			want = append(want, 1)
		}
		recs, err := s.Journal(ctx, "svc", "j")
		if err != nil || !slices.Equal(steps(recs), want) && !slices.Equal(steps(recs), []int{0, 1}) {
			t.Fatalf("die at %d: journal %v %v", dieAt, steps(recs), err)
		}
		want = steps(recs) // the child's record is kept if its append was durable before it died
		if _, err := s.Load(ctx, "svc"); err != nil {
			t.Fatalf("die at %d: load: %v", dieAt, err)
		}
		l := takeOver(t, s, "parent") // after a lease the child took expires
		if l.Token <= first.Token {
			t.Fatalf("die at %d: token %d after %d", dieAt, l.Token, first.Token)
		}
		if err := s.Append(ctx, l, "j", recWhy(strategy.RecordStep, 2, "parent")); err != nil {
			t.Fatalf("die at %d: append after the crash: %v", dieAt, err)
		}
		fresh, _ := rollback.OpenFileStore(filepath.Join(dir, "store"), rollback.FileOptions{})
		if recs, err := fresh.Journal(ctx, "svc", "j"); err != nil || !slices.Equal(steps(recs), append(want, 2)) {
			t.Fatalf("die at %d: journal after the crash %v %v, want %v", dieAt, steps(recs), err, append(want, 2))
		}
		if completed {
			t.Logf("a takeover and its first append make %d file-system changes; each was a crash point", dieAt-1)
			return
		}
	}
}

// TestFileStoreCollectsOldEpochs: leases that write nothing leave no files
// behind, and each lease that journals leaves its journal file and the
// small commit that seals it.
func TestFileStoreCollectsOldEpochs(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s, _ := rollback.OpenFileStore(dir, rollback.FileOptions{})
	count := func() int {
		ents, err := os.ReadDir(filepath.Join(dir, "t-svc"))
		if err != nil {
			t.Fatal(err)
		}
		return len(ents)
	}
	for range 50 {
		l, err := s.Acquire(ctx, "svc", "a", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Renew(ctx, l, time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := s.Update(ctx, "svc", &l, func(tr *rollback.TargetRecord) error { tr.Seq++; return nil }); err != nil {
			t.Fatal(err)
		}
		if err := s.Release(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("files after 50 leases that journaled nothing: %d", count())
	if n := count(); n > 10 {
		t.Fatalf("%d files after 50 leases that journaled nothing", n)
	}
	idle := count()
	for i := range 20 {
		l, err := s.Acquire(ctx, "svc", "a", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Append(ctx, l, "j", rec(strategy.RecordStep, i)); err != nil {
			t.Fatal(err)
		}
		if err := s.Release(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("files after 20 more leases that journaled: %d", count())
	if n := count(); n > idle+2*20 {
		t.Fatalf("%d files after 20 leases that journaled (%d before), want at most two more each", n, idle)
	}
	if tr, err := s.Load(ctx, "svc"); err != nil || tr.Seq != 50 {
		t.Fatalf("record: %+v %v", tr, err)
	}
	recs, err := s.Journal(ctx, "svc", "j")
	if err != nil || len(recs) != 20 {
		t.Fatalf("journal: %d records, %v", len(recs), err)
	}
}

// TestLostLeaseStopsReleasePromptly: a Manager whose lease renewal finds
// the lease taken over stops its release at once, in the middle of a long
// pause or while held for a Promote, instead of at its next journal write.
// It applies nothing more and records nothing more.
func TestLostLeaseStopsReleasePromptly(t *testing.T) {
	longPause := strategy.StrategyFunc(func(stable, canary strategy.Revision) (strategy.Plan, error) {
		return strategy.Plan{Strategy: "long-pause", Stable: stateOf(stable), Steps: []strategy.Step{
			strategy.Apply(strategy.State{Stable: stable, Canary: canary, Weight: 20, Replicas: strategy.Replicas{Stable: 4, Canary: 1}}),
			strategy.Pause(time.Hour),
			strategy.Apply(stateOf(canary)),
		}}, nil
	})
	for name, plan := range map[string]strategy.Strategy{"timed pause": longPause, "held for promote": holdPlan()} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := t.Context()
				dir := t.TempDir()
				fz := newFreezer(func(op rollback.FileOp, base string) bool {
					return op == rollback.FileWrite && strings.HasPrefix(base, "lease.")
				})
				a, _ := rollback.OpenFileStore(dir, rollback.FileOptions{Fault: fz.hook})
				b, _ := rollback.OpenFileStore(dir, rollback.FileOptions{})
				const ttl = 30 * time.Second
				tgt := strategytest.NewTarget(v1State)
				start := time.Now()
				ro, err := (&rollback.Manager{Store: a, Owner: "a", LeaseTTL: ttl}).Start(ctx, "svc",
					strategy.Release{Target: tgt, Stable: "v1", Canary: "v2", Strategy: plan})
				if err != nil {
					t.Fatal(err)
				}
				fz.armed.Store(true) // the first renewal (ttl/3 in) freezes inside the store
				<-fz.inside
				lb := takeOver(t, b, "b")
				took := time.Since(start)
				before, err := b.Journal(ctx, "svc", "000001")
				if err != nil {
					t.Fatal(err)
				}
				applied := len(tgt.States())
				close(fz.thaw)
				res, err := ro.Wait(ctx)
				if !errors.Is(err, strategy.ErrFenced) || !errors.Is(err, rollback.ErrLeaseLost) {
					t.Fatalf("the release after its lease was taken over: %v (phase %s), want it fenced", err, res.Phase)
				}
				if stopped := time.Since(start); stopped != took {
					t.Fatalf("the release stopped %v after it started, the takeover was at %v: not at once", stopped, took)
				}
				if len(tgt.States()) != applied {
					t.Fatalf("the release applied %v after losing its lease", tgt.States()[applied:])
				}
				after, err := b.Journal(ctx, "svc", "000001")
				if err != nil || len(after) != len(before) {
					t.Fatalf("journal had %d records at the takeover, %d after the old driver stopped (%v)", len(before), len(after), err)
				}
				if tr, err := b.Load(ctx, "svc"); err != nil || tr.Active == nil {
					t.Fatalf("the release is no longer pending for the new holder: %+v %v", tr, err)
				}
				if _, err := b.Renew(ctx, lb, time.Minute); err != nil {
					t.Fatalf("the new holder's lease: %v", err)
				}
			})
		})
	}
}
