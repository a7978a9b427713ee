//go:build unix

package rollback_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/glidepath/glidepath/rollback"
	"github.com/glidepath/glidepath/strategy"
)

// fencedFileTarget is a FencedTarget shared between processes: its State,
// and the highest fencing token it accepted, live in one file, changed
// under an flock; every accepted write is also logged.
type fencedFileTarget struct{ dir string }

type fencedTargetFile struct {
	Token uint64         `json:"token"`
	State strategy.State `json:"state"`
}

var _ strategy.FencedTarget = fencedFileTarget{}

func (f fencedFileTarget) locked(fn func(cur *fencedTargetFile) (bool, error)) error {
	lf, err := os.OpenFile(filepath.Join(f.dir, "target.lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer lf.Close()
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	path := filepath.Join(f.dir, "target.json")
	var cur fencedTargetFile
	if data, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(data, &cur); err != nil {
			return err
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	write, err := fn(&cur)
	if err != nil || !write {
		return err
	}
	data, _ := json.Marshal(cur)
	if err := os.WriteFile(path+".tmp", data, 0o644); err != nil {
		return err
	}
	log, err := os.OpenFile(filepath.Join(f.dir, "target.log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer log.Close()
	if _, err := log.Write(append(data, '\n')); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}

func (f fencedFileTarget) ApplyFenced(ctx context.Context, s strategy.State, token uint64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return f.locked(func(cur *fencedTargetFile) (bool, error) {
		if token != 0 && token < cur.Token {
			return false, strategy.Permanent(fmt.Errorf("%w: token %d, the target has seen %d", strategy.ErrFenced, token, cur.Token))
		}
		cur.Token = max(cur.Token, token)
		cur.State = s
		return true, nil
	})
}

func (f fencedFileTarget) Apply(ctx context.Context, s strategy.State) error {
	return f.ApplyFenced(ctx, s, 0)
}

func (f fencedFileTarget) Observe(context.Context) (strategy.Observation, error) {
	var out strategy.Observation
	err := f.locked(func(cur *fencedTargetFile) (bool, error) {
		out.State = cur.State
		out.Ready = cur.State.Replicas
		return false, nil
	})
	return out, err
}

func (f fencedFileTarget) log(t *testing.T) []fencedTargetFile {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(f.dir, "target.log"))
	if err != nil {
		t.Fatal(err)
	}
	var out []fencedTargetFile
	for line := range strings.Lines(string(data)) {
		var e fencedTargetFile
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

var (
	staleStable = strategy.State{Stable: "v1", Replicas: strategy.Replicas{Stable: 4}}
	staleCanary = func(w int) strategy.State {
		return strategy.State{Stable: "v1", Canary: "v2", Weight: w, Replicas: strategy.Replicas{Stable: 4, Canary: 2}}
	}
)

const staleTTL = 300 * time.Millisecond

// staleHolder is the child of the stale-holder tests: it drives a release
// by hand (journal, Fence, ApplyFenced, renewal every TTL/3 as a Manager
// does) and, between a successful Fence and the Apply it guards, waits for
// the parent, which freezes it with SIGSTOP and takes over.
func staleHolder(ctx context.Context, store *rollback.FileStore, owner, dir string) {
	tgt := fencedFileTarget{dir: dir}
	plain := os.Getenv("GLIDEPATH_STALE_PLAIN") != ""
	fail := func(what string, err error) {
		fmt.Println("error", what, err)
		os.Exit(3)
	}
	l, err := store.Acquire(ctx, "svc", owner, staleTTL)
	if err != nil {
		fail("acquire", err)
	}
	go func() {
		for {
			time.Sleep(staleTTL / 3)
			_, _ = store.Renew(ctx, l, staleTTL)
		}
	}()
	j := &rollback.Journal{Store: store, Lease: l, Name: "000001"}
	if err := j.Record(ctx, strategy.Record{Kind: strategy.RecordStarted, Release: "r", Stable: "v1", Canary: "v2", At: time.Now()}); err != nil {
		fail("record", err)
	}
	// One Fence-then-Apply as every step does: the window a target that
	// cannot enforce tokens keeps open, in a process that is not frozen.
	s10 := staleCanary(10)
	begin := time.Now()
	tok, err := j.Fence(ctx)
	if err != nil {
		fail("fence", err)
	}
	fenced := time.Now()
	if err := tgt.ApplyFenced(ctx, s10, tok); err != nil {
		fail("apply", err)
	}
	fmt.Printf("window fence=%s apply=%s\n", fenced.Sub(begin), time.Since(fenced))
	if err := j.Record(ctx, strategy.Record{Kind: strategy.RecordApplied, Release: "r", State: &s10, At: time.Now()}); err != nil {
		fail("record", err)
	}
	tok, err = j.Fence(ctx)
	if err != nil {
		fail("fence", err)
	}
	fmt.Println("fenced", tok)
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		fail("stdin", err)
	}
	s50 := staleCanary(50)
	if plain {
		err = tgt.Apply(ctx, s50)
	} else {
		err = tgt.ApplyFenced(ctx, s50, tok)
	}
	fmt.Println("apply", err)
	_, err = j.Fence(ctx)
	fmt.Println("fence", err)
	err = j.Record(ctx, strategy.Record{Kind: strategy.RecordApplied, Release: "r", State: &s50, At: time.Now()})
	fmt.Println("record", err)
}

// runStaleHolder runs the child, freezes it between its Fence and its
// Apply, takes the lease over, rolls the target back under the new lease
// and lets the child go on. It returns the child's report lines by kind.
func runStaleHolder(t *testing.T, plain bool) (map[string]string, fencedFileTarget, *rollback.FileStore) {
	dir := t.TempDir()
	tgt := fencedFileTarget{dir: dir}
	if err := tgt.Apply(t.Context(), staleStable); err != nil {
		t.Fatal(err)
	}
	store, err := rollback.OpenFileStore(filepath.Join(dir, "store"), rollback.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var env []string
	if plain {
		env = append(env, "GLIDEPATH_STALE_PLAIN=1")
	}
	cmd := helper(t, "stale", dir, env...)
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
	got := map[string]string{}
	next := func() {
		if !lines.Scan() {
			t.Fatalf("child ended early: %v (so far %v)", lines.Err(), got)
		}
		kind, rest, _ := strings.Cut(lines.Text(), " ")
		if kind == "error" {
			t.Fatalf("child: %s", rest)
		}
		got[kind] = rest
	}
	for got["fenced"] == "" {
		next()
	}
	// A is frozen after its Fence succeeded and before its Apply.
	if err := cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	var b rollback.Lease
	for {
		b, err = store.Acquire(ctx, "svc", "b", time.Minute)
		var held *rollback.LeaseHeldError
		if errors.As(err, &held) {
			time.Sleep(max(time.Until(held.Expires), time.Millisecond)) // the frozen holder's lease runs out in real time
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		break
	}
	jb := &rollback.Journal{Store: store, Lease: b, Name: "000001"}
	tok, err := jb.Fence(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if old, _ := strconv.ParseUint(got["fenced"], 10, 64); tok <= old {
		t.Fatalf("the successor's token %d is not above the frozen holder's %s", tok, got["fenced"])
	}
	if err := tgt.ApplyFenced(ctx, staleStable, tok); err != nil {
		t.Fatal(err)
	}
	if err := jb.Record(ctx, strategy.Record{Kind: strategy.RecordPhase, Release: "r", Phase: strategy.PhaseRolledBack, At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	// A wakes up and goes on where it was.
	if _, err := io.WriteString(stdin, "go\n"); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	for lines.Scan() {
		kind, rest, _ := strings.Cut(lines.Text(), " ")
		got[kind] = rest
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
	t.Logf("one Fence then Apply in a running process: %s", got["window"])
	// Whatever the target did, the frozen holder can no longer journal or fence.
	for _, k := range []string{"fence", "record"} {
		if !strings.Contains(got[k], rollback.ErrLeaseLost.Error()) {
			t.Errorf("the woken holder's %s: %q, want it refused for a lost lease", k, got[k])
		}
	}
	if !strings.Contains(got["fence"], strategy.ErrFenced.Error()) {
		t.Errorf("the woken holder's fence: %q, want it to match strategy.ErrFenced", got["fence"])
	}
	recs, err := store.Journal(ctx, "svc", "000001")
	if err != nil {
		t.Fatal(err)
	}
	if last := recs[len(recs)-1]; len(recs) != 3 || last.Phase != strategy.PhaseRolledBack {
		t.Errorf("journal has %d records ending %+v: the woken holder wrote after the takeover", len(recs), last)
	}
	return got, tgt, store
}

// TestStaleHolderCannotMoveFencedTarget is the SIGSTOP scenario: process A
// is frozen in the middle of a release (after its Fence, before its
// Apply), B takes the lease over and rolls back, A wakes: a FencedTarget
// refuses A's Apply, and A can no longer write the journal.
func TestStaleHolderCannotMoveFencedTarget(t *testing.T) {
	got, tgt, _ := runStaleHolder(t, false)
	if !strings.Contains(got["apply"], strategy.ErrFenced.Error()) {
		t.Fatalf("the woken holder's Apply: %q, want it refused as fenced", got["apply"])
	}
	obs, err := tgt.Observe(t.Context())
	if err != nil || obs.State != staleStable {
		t.Fatalf("target serves %+v (%v), want the rolled-back %+v", obs.State, err, staleStable)
	}
	log := tgt.log(t)
	var highest uint64
	for i, e := range log {
		if e.Token != 0 && e.Token < highest {
			t.Fatalf("write %d carries token %d after token %d was accepted", i, e.Token, highest)
		}
		highest = max(highest, e.Token)
	}
	if last := log[len(log)-1]; last.State != staleStable {
		t.Fatalf("last accepted write %+v, want the rollback", last)
	}
}

// TestStaleHolderWindowWithoutFencing measures the window that remains for
// a target that cannot enforce tokens (plain Apply): the frozen holder's
// one pending Apply lands after the takeover. This is the documented
// limit of Journal.Fence; the holder's next Fence and journal write fail,
// so it applies nothing more.
func TestStaleHolderWindowWithoutFencing(t *testing.T) {
	got, tgt, _ := runStaleHolder(t, true)
	if got["apply"] != "<nil>" {
		t.Fatalf("the woken holder's plain Apply: %q; it lands on a target that cannot check tokens", got["apply"])
	}
	obs, err := tgt.Observe(t.Context())
	if err != nil || obs.State != staleCanary(50) {
		t.Fatalf("target serves %+v (%v): the window this test measures did not open", obs.State, err)
	}
}

func TestJournalFence(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		store := rollback.NewMemStore()
		a, err := store.Acquire(ctx, "svc", "a", 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		ja := &rollback.Journal{Store: store, Lease: a, Name: "j"}
		var _ strategy.Fencer = ja
		if tok, err := ja.Fence(ctx); err != nil || tok != a.Token {
			t.Fatalf("fence under a held lease: %d %v, want token %d", tok, err, a.Token)
		}
		time.Sleep(11 * time.Second)
		if tok, err := ja.Fence(ctx); !errors.Is(err, rollback.ErrLeaseLost) || !errors.Is(err, strategy.ErrFenced) || tok != 0 {
			t.Fatalf("fence under an expired lease: %d %v", tok, err)
		}
		b, err := store.Acquire(ctx, "svc", "b", 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		jb := &rollback.Journal{Store: store, Lease: b, Name: "j"}
		if tok, err := jb.Fence(ctx); err != nil || tok != b.Token || tok <= a.Token {
			t.Fatalf("fence of the new holder: %d %v", tok, err)
		}
		if _, err := ja.Fence(ctx); !errors.Is(err, strategy.ErrFenced) || !strings.Contains(err.Error(), `taken over by "b"`) {
			t.Fatalf("fence of the old holder after a takeover: %v", err)
		}
	})
}
