package rollback_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/glidepath/glidepath/rollback"
	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/strategytest"
)

// diskFault fails every file-system change with errno once more than
// after journal writes have succeeded, until cleared.
type diskFault struct {
	errno   syscall.Errno
	after   int64
	writes  atomic.Int64
	cleared atomic.Bool
}

func (d *diskFault) hook(op rollback.FileOp, path string) error {
	if d.cleared.Load() {
		return nil
	}
	if op == rollback.FileWrite && strings.Contains(filepath.Base(path), "journal") {
		if d.writes.Add(1) > d.after {
			return d.errno
		}
		return nil
	}
	if d.writes.Load() > d.after {
		return d.errno
	}
	return nil
}

// TestFullDiskStopsBeforeNextApply fails the store's disk at every point
// of a release in turn: the release stops before its next Apply with a
// journal error, every State the target received was recorded first, and
// the release is resumed once the disk has room again.
func TestFullDiskStopsBeforeNextApply(t *testing.T) {
	var stopped, promoted int
	defer func() {
		if !t.Failed() && (stopped < 10 || promoted == 0) {
			t.Errorf("the disk filled up during %d releases and after %d: every point of a release must be covered", stopped, promoted)
		}
	}()
	for after := int64(0); after < 24; after++ {
		errno := syscall.ENOSPC
		if after%2 == 1 {
			errno = syscall.EROFS
		}
		synctest.Test(t, func(t *testing.T) {
			dir := t.TempDir()
			d := &diskFault{errno: errno, after: after}
			s, err := rollback.OpenFileStore(dir, rollback.FileOptions{Fault: d.hook})
			if err != nil {
				t.Fatal(err)
			}
			m := newManager(s, "a")
			tgt := strategytest.NewTarget(v1State)
			res, err := release(t, m, tgt, "v1", "v2", strategy.Pass)
			if err != nil {
				stopped++
				if !errors.Is(err, strategy.ErrJournal) || !errors.Is(err, errno) || res.Phase != strategy.PhaseStopped {
					t.Fatalf("after %d writes: %v (phase %s)", after, err, res.Phase)
				}
				if !strings.Contains(err.Error(), errno.Error()) {
					t.Fatalf("after %d writes: the error does not say why: %v", after, err)
				}
			}
			// Read what was recorded through a healthy view of the directory.
			clean, _ := rollback.OpenFileStore(dir, rollback.FileOptions{})
			recs, jerr := clean.Journal(t.Context(), "svc", "000001")
			if jerr != nil && !errors.Is(jerr, rollback.ErrTornRecord) {
				t.Fatalf("after %d writes: journal: %v", after, jerr)
			}
			p := rollback.Replay(recs)
			applied := tgt.States()
			if k := subsequence(p.Intents, applied); k >= 0 || len(applied) != len(p.Intents) {
				t.Fatalf("after %d writes: target applied %v, journal intents %v", after, applied, p.Intents)
			}
			if err == nil {
				promoted++
				if tgt.State() != stateOf("v2") {
					t.Fatalf("after %d writes: promoted, yet target on %v", after, tgt.State())
				}
			}
			// Room again: the release is resumed (it was left active) and ends promoted.
			d.cleared.Store(true)
			m2 := newManager(clean, "b")
			pend, perr := m2.Pending(t.Context(), "svc")
			if perr != nil {
				t.Fatal(perr)
			}
			if pend == nil {
				if err != nil {
					t.Fatalf("after %d writes: a stopped release is not pending", after)
				}
				return
			}
			ro, rerr := m2.Resume(t.Context(), "svc", strategy.Release{Target: tgt,
				Strategy: canaryPlan(strategytest.Script("checks", strategy.Pass))}, rollback.ResumeOptions{WaitForLease: true})
			if rerr != nil {
				if errors.Is(rerr, rollback.ErrNothingToResume) && err == nil {
					return // its end was recorded; only the history entry was missing
				}
				t.Fatalf("after %d writes: resume: %v", after, rerr)
			}
			if res, err := ro.Wait(t.Context()); err != nil || res.Phase != strategy.PhasePromoted {
				t.Fatalf("after %d writes: resumed: %v %v", after, res.Phase, err)
			}
			if tgt.State() != stateOf("v2") {
				t.Fatalf("after %d writes: target on %v", after, tgt.State())
			}
			if err := strategytest.CheckCapacityBeforeTraffic(v1State, tgt.History()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestReadOnlyStoreRefusesToStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		if _, err := rollback.OpenFileStore(dir, rollback.FileOptions{}); err != nil {
			t.Fatal(err)
		}
		s, _ := rollback.OpenFileStore(dir, rollback.FileOptions{Fault: func(rollback.FileOp, string) error { return syscall.EROFS }})
		tgt := strategytest.NewTarget(v1State)
		_, err := release(t, newManager(s, "a"), tgt, "v1", "v2", strategy.Pass)
		if !errors.Is(err, syscall.EROFS) || !strings.Contains(err.Error(), "read-only file system") || !strings.Contains(err.Error(), `"svc"`) {
			t.Fatalf("got %v", err)
		}
		if n := tgt.Calls(strategytest.OpApply) + tgt.Calls(strategytest.OpObserve); n != 0 {
			t.Fatalf("the target was called %d times", n)
		}
	})
}

// stallingStore refuses to renew leases while stalled, as a process that
// is paused (GC, SIGSTOP, a saturated host) fails to renew.
type stallingStore struct {
	rollback.Store
	stalled atomic.Bool
}

func (s *stallingStore) Renew(ctx context.Context, l rollback.Lease, ttl time.Duration) (rollback.Lease, error) {
	if s.stalled.Load() {
		return rollback.Lease{}, errors.New("stalled")
	}
	return s.Store.Renew(ctx, l, ttl)
}

// TestLostLeaseIsFenced lets a release's lease lapse and another process
// take the target over: the first process cannot write its journal, so it
// stops without applying anything more, and the second finishes the
// release.
func TestLostLeaseIsFenced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := rollback.NewMemStore()
		slow := &stallingStore{Store: mem}
		a := newManager(slow, "a")
		tgt := strategytest.NewTarget(v1State)
		ro, err := a.Start(t.Context(), "svc", strategy.Release{Target: tgt, Stable: "v1", Canary: "v2",
			Strategy: canaryPlan(strategytest.Script("checks", strategy.Pass))})
		if err != nil {
			t.Fatal(err)
		}
		advance(time.Second)
		synctest.Wait()
		if ro.Status().Phase != strategy.PhasePaused {
			t.Fatalf("phase %s", ro.Status().Phase)
		}
		slow.stalled.Store(true)
		b := newManager(mem, "b")
		ro2, err := b.Resume(t.Context(), "svc", strategy.Release{Target: tgt,
			Strategy: canaryPlan(strategytest.Script("checks", strategy.Pass))}, rollback.ResumeOptions{WaitForLease: true})
		if err != nil {
			t.Fatal(err)
		}
		res2, err2 := ro2.Wait(t.Context())
		res1, err1 := ro.Wait(t.Context())
		if !errors.Is(err1, strategy.ErrJournal) || !errors.Is(err1, rollback.ErrLeaseLost) || res1.Phase != strategy.PhaseStopped {
			t.Fatalf("fenced release: %v %v", res1.Phase, err1)
		}
		if err2 != nil || res2.Phase != strategy.PhasePromoted {
			t.Fatalf("taken-over release: %v %v", res2.Phase, err2)
		}
		// The fenced process applied nothing after the takeover: every
		// apply is the next recorded intent of the one journal.
		hist, _ := b.History(t.Context(), "svc")
		if len(hist) != 1 || hist[0].Resumed != 1 || hist[0].Phase != strategy.PhasePromoted {
			t.Fatalf("history %+v", hist)
		}
		p := rollback.Replay(journalOf(t, mem, "svc", hist[0]))
		if k := subsequence(p.Intents, tgt.States()); k >= 0 || len(tgt.States()) != len(p.Applied) {
			t.Fatalf("applied %v, intents %v", tgt.States(), p.Intents)
		}
		if tgt.State() != stateOf("v2") {
			t.Fatalf("target on %v", tgt.State())
		}
	})
}
