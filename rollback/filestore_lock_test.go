//go:build unix

package rollback_test

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/glidepath/glidepath/rollback"
	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/strategytest"
)

// currentLock returns the lock file of target's current lease epoch.
func currentLock(t *testing.T, s *rollback.FileStore, target string) string {
	t.Helper()
	locks, err := filepath.Glob(filepath.Join(filepath.Dir(s.JournalPath(target, "x")), "lock*"))
	if err != nil || len(locks) == 0 {
		t.Fatalf("no lock file for %s: %v", target, err)
	}
	slices.Sort(locks) // lock.<20 digits> sort by number, after the initial "lock"
	return locks[len(locks)-1]
}

// holdLock takes the lock of target's current epoch (after leasing and
// releasing it once) as another process frozen inside a store operation
// would hold it.
func holdLock(t *testing.T, s *rollback.FileStore, target string) {
	t.Helper()
	l, err := s.Acquire(t.Context(), target, "setup", time.Millisecond) // creates the target's directory and lock
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Release(t.Context(), l)
	f, err := os.OpenFile(currentLock(t, s, target), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
}

// TestFileStoreLockHonoursContextAndTimeout: an operation frozen while it
// holds a target's lock blocks no one for long. Writes wait for at most
// the context and LockTimeout; reads do not wait at all; an Acquire of the
// lapsed lease waits TakeoverGrace and takes it over without the lock.
func TestFileStoreLockHonoursContextAndTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := rollback.OpenFileStore(t.TempDir(), rollback.FileOptions{LockTimeout: 3 * time.Second, TakeoverGrace: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		holdLock(t, s, "svc")
		noop := func(*rollback.TargetRecord) error { return nil }
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		start := time.Now()
		err = s.Update(ctx, "svc", nil, noop)
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != time.Second {
			t.Fatalf("update with a 1s context against a frozen holder: %v after %v", err, time.Since(start))
		}
		start = time.Now()
		err = s.Update(t.Context(), "svc", nil, noop)
		if !errors.Is(err, rollback.ErrLockTimeout) || time.Since(start) != 3*time.Second {
			t.Fatalf("update against a frozen holder: %v after %v, want ErrLockTimeout after the 3s LockTimeout", err, time.Since(start))
		}
		start = time.Now()
		m := &rollback.Manager{Store: s, Owner: "b"}
		if _, err := m.History(t.Context(), "svc"); err != nil || time.Since(start) != 0 {
			t.Fatalf("history against a frozen holder: %v after %v, want it at once", err, time.Since(start))
		}
		if p, err := m.Pending(t.Context(), "svc"); err != nil || p != nil || time.Since(start) != 0 {
			t.Fatalf("pending against a frozen holder: %v %v after %v, want it at once", p, err, time.Since(start))
		}
		ctx, cancel = context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		_, err = s.Acquire(ctx, "svc", "b", time.Minute)
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != time.Second {
			t.Fatalf("acquire with a 1s context against a frozen holder: %v after %v", err, time.Since(start))
		}
		start = time.Now()
		l, err := s.Acquire(t.Context(), "svc", "b", time.Minute)
		if err != nil || time.Since(start) != 2*time.Second {
			t.Fatalf("acquire against a frozen holder: %v after %v, want the lease after the 2s TakeoverGrace", err, time.Since(start))
		}
		// The new lease's operations do not wait for the frozen holder.
		start = time.Now()
		if err := s.Update(t.Context(), "svc", &l, noop); err != nil || time.Since(start) != 0 {
			t.Fatalf("update under the new lease: %v after %v", err, time.Since(start))
		}
		if _, err := s.Renew(t.Context(), l, time.Minute); err != nil || time.Since(start) != 0 {
			t.Fatalf("renew of the new lease: %v after %v", err, time.Since(start))
		}
		// Another target is not affected.
		if _, err := s.Acquire(t.Context(), "other", "b", time.Minute); err != nil {
			t.Fatal(err)
		}
	})
}

// TestFileStoreNamesAreInjective crafts short names that look like a long
// name's shortened directory: each must get a directory (and a lease) of
// its own.
func TestFileStoreNamesAreInjective(t *testing.T) {
	s, err := rollback.OpenFileStore(t.TempDir(), rollback.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dirOf := func(name string) string { return filepath.Base(filepath.Dir(s.JournalPath(name, "j"))) }
	long := strings.Repeat("payments-eu-west-1/", 12)
	short := strings.TrimPrefix(dirOf(long), "t-")
	names := []string{long, long + "x", short, url.PathEscape(short), strings.ReplaceAll(short, "%~", "-"), short[:100], strings.Repeat("a", 200)}
	if un, err := url.PathUnescape(strings.ReplaceAll(short, "%~", "-")); err == nil {
		names = append(names, un) // the old shortened form, as a name that escapes to it
	}
	seen := map[string]string{}
	for _, n := range names {
		d := dirOf(n)
		if other, dup := seen[d]; dup {
			t.Fatalf("%q and %q share the directory %s", n, other, d)
		}
		seen[d] = n
		if len(d) > 200 {
			t.Fatalf("directory name of %d bytes for %q", len(d), n)
		}
	}
	ctx := t.Context()
	for _, n := range names {
		if _, err := s.Acquire(ctx, n, "a", time.Minute); err != nil {
			t.Fatalf("acquire %q while the others are held: %v", n, err)
		}
	}
}

// TestFileStoreReadOnly: History and Pending work on a store whose files
// cannot be written (a read-only mount: every change fails with EROFS).
func TestFileStoreReadOnly(t *testing.T) {
	dir := t.TempDir()
	rw, err := rollback.OpenFileStore(dir, rollback.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	m := &rollback.Manager{Store: rw, Owner: "a"}
	tgt := strategytest.NewTarget(stateOf("v1"))
	paused := make(chan struct{}, 1)
	ro, err := m.Start(ctx, "svc", strategy.Release{Target: tgt, Stable: "v1", Canary: "v2", Strategy: holdPlan(),
		Observer: strategy.ObserverFunc(func(e strategy.Event) {
			if pc, ok := e.(strategy.PhaseChanged); ok && pc.To == strategy.PhasePaused {
				paused <- struct{}{}
			}
		})})
	if err != nil {
		t.Fatal(err)
	}
	<-paused // the release waits for Promote: its journal is what Pending reads
	// The lock files are gone (a copy of the store) and nothing may be created.
	locks, _ := filepath.Glob(filepath.Join(dir, "*", "lock"))
	for _, l := range locks {
		os.Remove(l)
	}
	erofs := func(rollback.FileOp, string) error { return syscall.EROFS }
	rdonly, err := rollback.OpenFileStore(dir, rollback.FileOptions{Fault: erofs})
	if err != nil {
		t.Fatal(err)
	}
	rm := &rollback.Manager{Store: rdonly, Owner: "reader"}
	if _, err := rm.History(ctx, "svc"); err != nil {
		t.Fatalf("history on a read-only store: %v", err)
	}
	p, err := rm.Pending(ctx, "svc")
	if err != nil || p == nil || p.Active.Canary != "v2" || p.Progress.Records == 0 {
		t.Fatalf("pending on a read-only store: %+v %v", p, err)
	}
	if h, err := rm.History(ctx, "never-seen"); err != nil || len(h) != 0 {
		t.Fatalf("history of an unknown target on a read-only store: %v %v", h, err)
	}
	if _, err := rdonly.Acquire(ctx, "svc2", "x", time.Minute); !errors.Is(err, syscall.EROFS) {
		t.Fatalf("a write on the read-only store: %v, want EROFS", err)
	}
	_ = ro.Abort()
	_, _ = ro.Wait(ctx)
}
