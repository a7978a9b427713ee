//go:build unix

package rollback_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
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

// TestFileStoreWritesHonourContext: the lease holder's own writes wait for
// an operation frozen with the lock for at most their context and
// LockTimeout, and a second Acquire of a held lease is refused at once.
func TestFileStoreWritesHonourContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := rollback.OpenFileStore(t.TempDir(), rollback.FileOptions{LockTimeout: 3 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		l, err := s.Acquire(t.Context(), "svc", "a", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(currentLock(t, s, "svc"), os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		start := time.Now()
		if err := s.Append(ctx, l, "j", rec(strategy.RecordStep, 1)); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != time.Second {
			t.Fatalf("append with a 1s deadline: %v after %v", err, time.Since(start))
		}
		start = time.Now()
		if _, err := s.Renew(t.Context(), l, time.Hour); !errors.Is(err, rollback.ErrLockTimeout) || time.Since(start) != 3*time.Second {
			t.Fatalf("renew: %v after %v, want ErrLockTimeout after 3s", err, time.Since(start))
		}
		ctx, cancel = context.WithCancel(t.Context())
		go func() { time.Sleep(500 * time.Millisecond); cancel() }()
		start = time.Now()
		if err := s.Release(ctx, l); !errors.Is(err, context.Canceled) || time.Since(start) != 500*time.Millisecond {
			t.Fatalf("release cancelled after 500ms: %v after %v", err, time.Since(start))
		}
		start = time.Now()
		if _, err := s.Acquire(t.Context(), "svc", "b", time.Hour); !errors.Is(err, rollback.ErrLeaseHeld) || time.Since(start) != 0 {
			t.Fatalf("acquire of the held lease: %v after %v, want ErrLeaseHeld at once", err, time.Since(start))
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

// TestFileStoreNamesArePortable: names that differ only by case, or that
// hold characters some file systems refuse (':' and '\' on Windows, a
// trailing '.'), get directories that stay distinct where case is ignored
// (macOS, Windows) and hold none of those characters. A target directory
// that an earlier version named (keeping case and '.') is still used.
func TestFileStoreNamesArePortable(t *testing.T) {
	dir := t.TempDir()
	s, err := rollback.OpenFileStore(dir, rollback.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dirOf := func(name string) string { return filepath.Base(filepath.Dir(s.JournalPath(name, "j"))) }
	names := []string{"svc", "Svc", "SVC", "ns:svc", "ns/svc", `ns\svc`, "svc.", "svc..", "CON", "con", "a%41", "aA", "~", "%7E", "%7e"}
	seen := map[string]string{}
	for _, n := range names {
		d := dirOf(n)
		if other, dup := seen[strings.ToLower(d)]; dup {
			t.Errorf("%q and %q share the directory %s where case is ignored", n, other, d)
		}
		seen[strings.ToLower(d)] = n
		if strings.ContainsAny(d, `:\/`) || strings.HasSuffix(d, ".") || strings.HasSuffix(d, " ") {
			t.Errorf("directory %q of %q is not portable", d, n)
		}
	}
	if t.Failed() {
		return
	}

	// A store written by an earlier version: its directory kept the name's
	// case and dots.
	// "ABC" reads like a portable name (A-F are hex digits) but is not one.
	for _, name := range []string{"Checkout.EU", "ABC"} {
		earlierVersionTarget(t, s, dir, name, dirOf(name))
	}
}

func earlierVersionTarget(t *testing.T, s *rollback.FileStore, dir, name, portable string) {
	t.Helper()
	ctx := t.Context()
	l, err := s.Acquire(ctx, name, "a", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Append(ctx, l, "j", recWhy(strategy.RecordStarted, 0, "before")); err != nil {
		t.Fatal(err)
	}
	if err := s.Release(ctx, l); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, portable), filepath.Join(dir, "t-"+name)); err != nil {
		t.Fatal(err)
	}
	old, err := rollback.OpenFileStore(dir, rollback.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := filepath.Base(filepath.Dir(old.JournalPath(name, "j"))); got != "t-"+name {
		t.Fatalf("a target of an earlier version's store is looked for in %s, want t-%s", got, name)
	}
	l, err = old.Acquire(ctx, name, "b", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := old.Append(ctx, l, "j", recWhy(strategy.RecordStep, 1, "after")); err != nil {
		t.Fatal(err)
	}
	if recs, err := old.Journal(ctx, name, "j"); err != nil || !slices.Equal(steps(recs), []int{0, 1}) {
		t.Fatalf("journal of the earlier version's target: %v %v, want steps [0 1]", steps(recs), err)
	}
	if _, err := os.Stat(filepath.Join(dir, portable)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a second directory %s was made for the earlier version's target (%v)", portable, err)
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

// frozenHolder is the child of TestFrozenProcessLosesItsLease: it takes
// the lease, records a release, and makes one more store call (a renewal,
// or a journal append, per GLIDEPATH_FREEZE_AT) that stops inside the
// store, holding the target's lock, until the parent (which stops the
// process with SIGSTOP meanwhile) lets it go on. Then it reports what
// every later call returns.
func frozenHolder(ctx context.Context, dir string) {
	at := os.Getenv("GLIDEPATH_FREEZE_AT")
	in := bufio.NewReader(os.Stdin)
	var armed atomic.Bool
	hook := func(op rollback.FileOp, path string) error {
		base := filepath.Base(path)
		if op == rollback.FileWrite && strings.HasPrefix(base, map[string]string{"renew": "lease.", "append": "journal."}[at]) && armed.CompareAndSwap(true, false) {
			fmt.Println("frozen")
			if _, err := in.ReadString('\n'); err != nil {
				os.Exit(4)
			}
		}
		return nil
	}
	store, err := rollback.OpenFileStore(filepath.Join(dir, "store"), rollback.FileOptions{Fault: hook})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(3)
	}
	l, err := store.Acquire(ctx, "svc", "child", staleTTL)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(3)
	}
	j := &rollback.Journal{Store: store, Lease: l, Name: "000001"}
	if err := store.Update(ctx, "svc", &l, func(tr *rollback.TargetRecord) error {
		tr.Seq, tr.Active = 1, &rollback.Active{Journal: "000001", Release: "r", Stable: "v1", Canary: "v2", Owner: "child"}
		return nil
	}); err != nil {
		fmt.Println("error", err)
		os.Exit(3)
	}
	if err := j.Record(ctx, recWhy(strategy.RecordStarted, 0, "child")); err != nil {
		fmt.Println("error", err)
		os.Exit(3)
	}
	armed.Store(true)
	if at == "renew" {
		_, err = store.Renew(ctx, l, staleTTL)
	} else {
		err = j.Record(ctx, recWhy(strategy.RecordStep, 99, "frozen"))
	}
	fmt.Println("woke", err)
	fmt.Println("record", j.Record(ctx, recWhy(strategy.RecordStep, 98, "child")))
	_, err = j.Fence(ctx)
	fmt.Println("fence", err)
	_, err = store.Renew(ctx, l, staleTTL)
	fmt.Println("renew", err)
}

// processState returns the state letter of pid from /proc ("T" when it is
// stopped), or "" where there is no /proc.
func processState(pid int) string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	_, rest, _ := strings.Cut(string(data), ") ")
	state, _, _ := strings.Cut(rest, " ")
	return state
}

// TestFrozenProcessLosesItsLease stops (SIGSTOP) a real process inside a
// store call, with the target's flock held, takes its lease over from
// this process while it stays stopped, reads its release (Pending,
// History) meanwhile, and lets it go on: every write it then makes is
// refused, its Fence fails with ErrFenced, and its record is not in the
// journal that the new holder and readers see.
func TestFrozenProcessLosesItsLease(t *testing.T) {
	for _, at := range []string{"renew", "append"} {
		t.Run(at, func(t *testing.T) {
			dir := t.TempDir()
			store, err := rollback.OpenFileStore(filepath.Join(dir, "store"), rollback.FileOptions{TakeoverGrace: 50 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			cmd := helper(t, "frozen", dir, "GLIDEPATH_FREEZE_AT="+at)
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() {
				_ = cmd.Process.Signal(syscall.SIGCONT)
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
			}()
			lines := bufio.NewScanner(stdout)
			if !lines.Scan() || lines.Text() != "frozen" {
				t.Fatalf("child: %q %v", lines.Text(), lines.Err())
			}
			if err := cmd.Process.Signal(syscall.SIGSTOP); err != nil {
				t.Fatal(err)
			}
			ctx := t.Context()
			m := &rollback.Manager{Store: store, Owner: "parent"}
			if _, err := m.History(ctx, "svc"); err != nil {
				t.Fatalf("history while the holder is stopped: %v", err)
			}
			if p, err := m.Pending(ctx, "svc"); err != nil || p == nil || p.Active.Owner != "child" || p.Progress.Records != 1 {
				t.Fatalf("pending while the holder is stopped: %+v %v", p, err)
			}
			l := takeOver(t, store, "parent")
			if st := processState(cmd.Process.Pid); st != "" && st != "T" && st != "t" {
				t.Fatalf("the child is in state %q, not stopped: the takeover did not happen while it was frozen", st)
			}
			if err := store.Append(ctx, l, "000001", recWhy(strategy.RecordStep, 1, "parent")); err != nil {
				t.Fatal(err)
			}
			if err := store.Update(ctx, "svc", &l, func(tr *rollback.TargetRecord) error { tr.Seq = 2; return nil }); err != nil {
				t.Fatal(err)
			}
			if _, err := io.WriteString(stdin, "go\n"); err != nil {
				t.Fatal(err)
			}
			if err := cmd.Process.Signal(syscall.SIGCONT); err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for lines.Scan() {
				kind, rest, _ := strings.Cut(lines.Text(), " ")
				got[kind] = rest
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("child: %v (%v)", err, got)
			}
			for _, k := range []string{"woke", "record", "fence", "renew"} {
				if !strings.Contains(got[k], rollback.ErrLeaseLost.Error()) {
					t.Errorf("the woken holder's %s: %q, want it refused for a lost lease", k, got[k])
				}
			}
			if !strings.Contains(got["fence"], strategy.ErrFenced.Error()) {
				t.Errorf("the woken holder's fence: %q, want ErrFenced", got["fence"])
			}
			if at == "append" {
				// Its record was written, into its own file, after the seal.
				files, _ := filepath.Glob(filepath.Join(dir, "store", "*", "journal.*"))
				slices.Sort(files)
				if data, err := os.ReadFile(files[0]); err != nil || !strings.Contains(string(data), `"reason":"frozen"`) {
					t.Fatalf("the woken child's record is not in %s (%v): the test did not reach the write", files[0], err)
				}
			}
			fresh, _ := rollback.OpenFileStore(filepath.Join(dir, "store"), rollback.FileOptions{})
			for _, s := range []*rollback.FileStore{store, fresh} {
				recs, err := s.Journal(ctx, "svc", "000001")
				if err != nil || !slices.Equal(steps(recs), []int{0, 1}) {
					t.Fatalf("journal: %v %v, want the child's first record and the parent's", steps(recs), err)
				}
				if tr, err := s.Load(ctx, "svc"); err != nil || tr.Seq != 2 {
					t.Fatalf("record: %+v %v", tr, err)
				}
			}
		})
	}
}
