package rollback_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/glidepath/glidepath/rollback"
	"github.com/glidepath/glidepath/strategy"
)

// The tests in this file run real processes: a child (this test binary
// re-executed with helperEnv set; see TestMain) runs a release against
// a file-backed target and a FileStore and is killed with SIGKILL; the
// parent resumes. Process crashes happen in real time, so these tests do
// not use synctest; they assert outcomes, never durations.

var soak = flag.Bool("soak", false, "run the crash tests for many more iterations (or set GLIDEPATH_SOAK=n)")

const (
	helperEnv = "GLIDEPATH_ROLLBACK_HELPER"
	dirEnv    = "GLIDEPATH_ROLLBACK_DIR"
	failEnv   = "GLIDEPATH_ROLLBACK_FAIL_AT"
)

// fileTarget is a Target whose applied States are appended, one JSON line
// each, to a file, so that another process can read its history and
// resume against it. Every instance is ready at once.
type fileTarget struct{ path string }

func (f fileTarget) Apply(ctx context.Context, s strategy.State) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	line, err := json.Marshal(s)
	if err != nil {
		return err
	}
	fh, err := os.OpenFile(f.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer fh.Close()
	if _, err := fh.Write(append(line, '\n')); err != nil { // one write: a kill cannot split it
		return err
	}
	return fh.Sync()
}

func (f fileTarget) Observe(ctx context.Context) (strategy.Observation, error) {
	states, err := f.states()
	if err != nil {
		return strategy.Observation{}, err
	}
	s := states[len(states)-1]
	o := strategy.Observation{State: s, Ready: strategy.Replicas{Stable: max(s.Desired(s.Stable), 1)}}
	if s.Canary != "" {
		o.Ready.Canary = max(s.Desired(s.Canary), 1)
	}
	return o, nil
}

// states returns every State in the file, the initial one first.
func (f fileTarget) states() ([]strategy.State, error) {
	data, err := os.ReadFile(f.path)
	if err != nil {
		return nil, err
	}
	var out []strategy.State
	for line := range bytes.Lines(data) {
		if !bytes.HasSuffix(line, []byte("\n")) {
			return nil, fmt.Errorf("%s: torn line %q", f.path, line)
		}
		var s strategy.State
		if err := json.Unmarshal(line, &s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no state", f.path)
	}
	return out, nil
}

// gate fails when the canary's weight reaches failAt (never when 0).
type gate struct{ failAt int }

func (gate) Name() string { return "gate" }

func (g gate) Analyze(_ context.Context, in strategy.Input) (strategy.Verdict, error) {
	if g.failAt > 0 && in.State.Weight >= g.failAt {
		return strategy.Verdict{Outcome: strategy.Fail, Reason: fmt.Sprintf("weight %d reached %d", in.State.Weight, g.failAt)}, nil
	}
	return strategy.Verdict{Outcome: strategy.Pass, Reason: "fine"}, nil
}

// crashPlan is a canary in three analysed steps, then full promotion.
func crashPlan(a strategy.Analyzer) strategy.Strategy {
	return strategy.StrategyFunc(func(stable, canary strategy.Revision) (strategy.Plan, error) {
		p := strategy.Plan{Strategy: "crash-canary", Stable: strategy.State{Stable: stable, Replicas: strategy.Replicas{Stable: 4}}}
		for _, w := range []int{10, 30, 60} {
			p.Steps = append(p.Steps,
				strategy.Apply(strategy.State{Stable: stable, Canary: canary, Weight: w, Replicas: strategy.Replicas{Stable: 4, Canary: (4*w + 99) / 100}}),
				strategy.Analyze(a).Named(fmt.Sprintf("analyse %d%%", w)),
				strategy.Pause(2*time.Millisecond))
		}
		p.Steps = append(p.Steps,
			strategy.Apply(strategy.State{Stable: stable, Canary: canary, Weight: 100, Replicas: strategy.Replicas{Stable: 4, Canary: 4}}),
			strategy.Apply(strategy.State{Stable: canary, Replicas: strategy.Replicas{Stable: 4}}))
		return p, nil
	})
}

func crashRelease(dir string, failAt int) strategy.Release {
	return strategy.Release{
		Target: fileTarget{filepath.Join(dir, "target.jsonl")}, Stable: "v1", Canary: "v2",
		Strategy: crashPlan(gate{failAt}),
		Options:  strategy.Options{PollInterval: time.Millisecond, RetryInitial: time.Millisecond, ProgressDeadline: 10 * time.Second},
	}
}

// helperProcess is the child process of the crash and race tests: TestMain
// runs it instead of the tests when the test binary is started with
// helperEnv set to mode.
func helperProcess(mode string) {
	dir := os.Getenv(dirEnv)
	store, err := rollback.OpenFileStore(filepath.Join(dir, "store"), rollback.FileOptions{})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	owner := fmt.Sprintf("child-%d", os.Getpid())
	ctx := context.Background()
	switch mode {
	case "stale":
		staleHolder(ctx, store, owner, dir)
	case "frozen":
		frozenHolder(ctx, dir)
	case "takeover":
		crashingTakeover(ctx, dir)
	case "crash":
		failAt, _ := strconv.Atoi(os.Getenv(failEnv))
		m := &rollback.Manager{Store: store, Owner: owner, LeaseTTL: 100 * time.Millisecond}
		rel := crashRelease(dir, failAt)
		var mu sync.Mutex
		rel.Observer = strategy.ObserverFunc(func(e strategy.Event) {
			mu.Lock()
			fmt.Printf("%T\n", e) // one line per event: the parent counts them to pick where to kill
			mu.Unlock()
		})
		ro, err := m.Start(ctx, "svc", rel)
		if err != nil {
			fmt.Println("error", err)
			os.Exit(2)
		}
		res, _ := ro.Wait(ctx)
		fmt.Println("done", res.Phase)
	case "race":
		m := &rollback.Manager{Store: store, Owner: owner, LeaseTTL: time.Minute}
		rel := strategy.Release{Target: fileTarget{filepath.Join(dir, "target.jsonl")}, Stable: "v1", Canary: "v2",
			Strategy: strategy.StrategyFunc(func(stable, canary strategy.Revision) (strategy.Plan, error) {
				return strategy.Plan{Strategy: "hold", Steps: []strategy.Step{
					strategy.Apply(strategy.State{Stable: stable, Canary: canary, Weight: 50}),
					strategy.Pause(0),
					strategy.Apply(strategy.State{Stable: canary}),
				}}, nil
			})}
		paused := make(chan struct{}, 1)
		rel.Observer = strategy.ObserverFunc(func(e strategy.Event) {
			if pc, ok := e.(strategy.PhaseChanged); ok && pc.To == strategy.PhasePaused {
				paused <- struct{}{}
			}
		})
		ro, err := m.Start(ctx, "svc", rel)
		if err != nil {
			fmt.Println("refused", err)
			return
		}
		fmt.Println("started")
		io.Copy(io.Discard, os.Stdin) // hold the release until the parent closes stdin
		<-paused
		if err := ro.Promote(); err != nil {
			fmt.Println("promote", err)
		}
		res, err := ro.Wait(ctx)
		fmt.Println("done", res.Phase, err)
	}
}

func helper(_ crashT, mode, dir string, env ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.count=1")
	cmd.Env = append(os.Environ(), append([]string{helperEnv + "=" + mode, dirEnv + "=" + dir}, env...)...)
	cmd.Stderr = os.Stderr
	return cmd
}

func crashIterations() int {
	if n, err := strconv.Atoi(os.Getenv("GLIDEPATH_SOAK")); err == nil && n > 0 {
		return n
	}
	if *soak {
		return 2000
	}
	if testing.Short() {
		return 40
	}
	return 200
}

// crashParallel is how many crash iterations run at once. An iteration
// spends most of its time waiting for the killed child's lease to expire,
// not computing, so they overlap well even on a small machine.
const crashParallel = 8

// crashT is what an iteration needs of its test: *testing.T, or an
// iterT in a worker goroutine.
type crashT interface {
	Helper()
	TempDir() string
	Context() context.Context
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Errorf(format string, args ...any)
}

// iterT runs one iteration in a goroutine other than the test's: its
// failures are collected for the test goroutine to report, and Fatal ends
// the iteration's goroutine only.
type iterT struct {
	*testing.T
	mu   *sync.Mutex
	errs *[]string
}

func (t iterT) Errorf(format string, args ...any) {
	t.mu.Lock()
	*t.errs = append(*t.errs, fmt.Sprintf(format, args...))
	t.mu.Unlock()
}

func (t iterT) Fatalf(format string, args ...any) {
	t.Errorf(format, args...)
	runtime.Goexit()
}

func (t iterT) Fatal(args ...any) { t.Fatalf("%s", fmt.Sprint(args...)) }

// TestCrashResume kills a release at random points with SIGKILL and
// resumes it in this process, continuing or rolling back: 200 times in a
// normal run, 40 with -short, more for a soak (see the package docs).
func TestCrashResume(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s, err := strconv.ParseUint(os.Getenv("GLIDEPATH_SEED"), 10, 64); err == nil {
		seed = s
	}
	n := crashIterations()
	t.Logf("seed %d (GLIDEPATH_SEED reproduces it), %d iterations, %d at a time", seed, n, crashParallel)
	var (
		mu       sync.Mutex
		errs     []string
		outcomes = map[string]int{}
		wg       sync.WaitGroup
		slots    = make(chan struct{}, crashParallel)
	)
	for i := range n {
		mu.Lock()
		failed := len(errs) > 0
		mu.Unlock()
		if failed {
			break
		}
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			rng := rand.New(rand.NewPCG(seed, uint64(i)))
			what := crashOnce(iterT{T: t, mu: &mu, errs: &errs}, i, rng)
			mu.Lock()
			outcomes[what]++
			mu.Unlock()
		})
	}
	wg.Wait()
	for _, e := range errs {
		t.Error(e)
	}
	if len(errs) > 0 {
		t.Fatalf("seed %d (GLIDEPATH_SEED reproduces it)", seed)
	}
	t.Logf("outcomes: %v", outcomes)
}

func crashOnce(t crashT, i int, rng *rand.Rand) string {
	t.Helper()
	dir := t.TempDir()
	tgt := fileTarget{filepath.Join(dir, "target.jsonl")}
	initial := strategy.State{Stable: "v1", Replicas: strategy.Replicas{Stable: 4}}
	if err := tgt.Apply(t.Context(), initial); err != nil {
		t.Fatal(err)
	}
	failAt := 0
	if rng.IntN(2) == 0 {
		failAt = 60
	}
	mode := rollback.ResumeMode(rng.IntN(2))
	killAfter := rng.IntN(44) // events; a full run emits 38 to 44

	cmd := helper(t, "crash", dir, fmt.Sprintf("%s=%d", failEnv, failAt))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	lines := 0
	for lines < killAfter && sc.Scan() {
		lines++
	}
	cmd.Process.Kill() // SIGKILL
	io.Copy(io.Discard, out)
	cmd.Wait()

	store, err := rollback.OpenFileStore(filepath.Join(dir, "store"), rollback.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m := &rollback.Manager{Store: store, Owner: "parent", LeaseTTL: 10 * time.Second}
	ctx := t.Context()
	before, err := m.History(ctx, "svc")
	if err != nil {
		t.Fatal(err)
	}
	pend, err := m.Pending(ctx, "svc")
	if err != nil {
		t.Fatalf("iteration %d: pending: %v", i, err)
	}
	rel := crashRelease(dir, failAt)
	rel.Stable, rel.Canary = "", "" // filled in from the record
	ro, rerr := m.Resume(ctx, "svc", rel, rollback.ResumeOptions{Mode: mode, WaitForLease: true})
	if rerr == nil {
		if _, err := ro.Wait(ctx); err != nil && !errors.Is(err, strategy.ErrAnalysisFailed) && !errors.Is(err, strategy.ErrAborted) {
			t.Errorf("iteration %d: resumed release: %v", i, err)
		}
	} else if !errors.Is(rerr, rollback.ErrNothingToResume) {
		t.Fatalf("iteration %d: resume: %v", i, rerr)
	}
	hist, err := m.History(ctx, "svc")
	if err != nil {
		t.Fatal(err)
	}
	states, err := tgt.states()
	if err != nil {
		t.Fatalf("iteration %d: %v", i, err)
	}
	final := states[len(states)-1]
	if p, err := m.Pending(ctx, "svc"); p != nil || err != nil {
		t.Fatalf("iteration %d: still pending after resume: %+v %v", i, p, err)
	}

	// Killed before the release was recorded: nothing may have been applied.
	if len(hist) == 0 {
		if pend != nil || len(before) != 0 || !errors.Is(rerr, rollback.ErrNothingToResume) || len(states) != 1 {
			t.Fatalf("iteration %d: no history, yet pending %v, resume %v, target %v", i, pend, rerr, states)
		}
		return "killed before start"
	}
	if len(hist) != 1 {
		t.Fatalf("iteration %d: %d history entries", i, len(hist))
	}
	e := hist[0]
	var want strategy.Phase
	var what string
	switch {
	case len(before) == 1:
		what = "finished before the kill"
		want = strategy.PhasePromoted
		if failAt > 0 {
			want = strategy.PhaseRolledBack
		}
	case !pend.Progress.Pending():
		what = "ended, not yet settled"
		want = pend.Progress.Phase
	case mode == rollback.RollBack || failAt > 0 || pend.Progress.Checkpoint.Rollback:
		what = "resumed to roll back"
		want = strategy.PhaseRolledBack
	default:
		what = "resumed to continue"
		want = strategy.PhasePromoted
	}
	if e.Phase != want {
		t.Fatalf("iteration %d (%s, mode %d, fail at %d): outcome %s, want %s (%s)", i, what, mode, failAt, e.Phase, want, e.Reason)
	}
	wantState := initial
	if want == strategy.PhasePromoted {
		wantState = strategy.State{Stable: "v2", Replicas: strategy.Replicas{Stable: 4}}
	}
	if final != wantState {
		t.Fatalf("iteration %d (%s): target ends on %v, want %v", i, what, final, wantState)
	}
	if (rerr == nil) != (e.Resumed > 0) {
		t.Fatalf("iteration %d: entry says resumed %d times, resume returned %v", i, e.Resumed, rerr)
	}
	// The journal reads cleanly (a torn tail was cut off by the resume),
	// and every State the target received was the recorded intent at that
	// position: nothing applied unrecorded, twice out of order, or lost.
	recs, err := store.Journal(ctx, "svc", e.Journal)
	if err != nil {
		t.Fatalf("iteration %d: journal: %v", i, err)
	}
	p := rollback.Replay(recs)
	if k := subsequence(p.Intents, states[1:]); k >= 0 {
		t.Fatalf("iteration %d (%s): apply %d (%v) is not the next recorded intent\nintents %v\napplied %v", i, what, k, states[k+1], p.Intents, states[1:])
	}
	if p.Phase != want || p.Finished.IsZero() {
		t.Fatalf("iteration %d: journal ends %s (finished %v), want %s", i, p.Phase, p.Finished, want)
	}
	return what
}

// TestTwoProcessesRace starts the same target from two processes at once:
// exactly one runs, the other is refused naming the holder.
func TestTwoProcessesRace(t *testing.T) {
	dir := t.TempDir()
	if err := (fileTarget{filepath.Join(dir, "target.jsonl")}).Apply(t.Context(), strategy.State{Stable: "v1"}); err != nil {
		t.Fatal(err)
	}
	type child struct {
		cmd   *exec.Cmd
		in    io.WriteCloser
		out   *bufio.Scanner
		first string
	}
	var kids [2]*child
	for k := range kids {
		c := &child{cmd: helper(t, "race", dir)}
		var err error
		if c.in, err = c.cmd.StdinPipe(); err != nil {
			t.Fatal(err)
		}
		pipe, err := c.cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		c.out = bufio.NewScanner(pipe)
		kids[k] = c
	}
	for _, c := range kids {
		if err := c.cmd.Start(); err != nil {
			t.Fatal(err)
		}
	}
	started := 0
	for _, c := range kids {
		if !c.out.Scan() {
			t.Fatal("a child printed nothing")
		}
		c.first = c.out.Text()
		if c.first == "started" {
			started++
		} else if !strings.HasPrefix(c.first, "refused") || !strings.Contains(c.first, "is leased by \"child-") || !strings.Contains(c.first, "until") {
			t.Errorf("loser says %q", c.first)
		}
	}
	if started != 1 {
		t.Fatalf("%d children started the release (%q, %q)", started, kids[0].first, kids[1].first)
	}
	for _, c := range kids {
		c.in.Close()
		var rest []string
		for c.out.Scan() {
			rest = append(rest, c.out.Text())
		}
		if err := c.cmd.Wait(); err != nil {
			t.Errorf("child: %v", err)
		}
		if c.first == "started" && !slices.ContainsFunc(rest, func(l string) bool { return strings.HasPrefix(l, "done Promoted <nil>") }) {
			t.Errorf("winner ended with %q", rest)
		}
	}
	states, err := fileTarget{filepath.Join(dir, "target.jsonl")}.states()
	if err != nil || states[len(states)-1] != (strategy.State{Stable: "v2"}) {
		t.Fatalf("target: %v %v", states, err)
	}
}
