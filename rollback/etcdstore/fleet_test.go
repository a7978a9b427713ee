//go:build unix

package etcdstore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/glidepath/glidepath/rollback"
	"github.com/glidepath/glidepath/rollback/etcdstore/internal/etcdtest"
	"github.com/glidepath/glidepath/strategy"
)

// The fleet test: three deploy-service replicas, each a process running a
// Manager that starts releases and a Worker that takes over dead ones,
// share one etcd. Each of 10 targets gets 5 releases in a row (r0 -> r1 ->
// ... ; release k of an even-numbered target with k = 3 fails its analysis
// and rolls back). One replica is killed (SIGKILL) while it drives a
// release, another is stopped (SIGSTOP) while it drives one and woken
// (SIGCONT) only after every release ended.
const (
	fleetMode        = "fleet"
	fleetPrefix      = "fleet/"
	fleetTargetCount = 10
	fleetPerTarget   = 5
	fleetTTL         = time.Second
	// fleetData holds the targets' state, the fence token each has seen
	// and the log of every write each accepted (or refused).
	fleetData = "fleet-target/"
)

func init() {
	// A re-executed test binary becomes a replica before TestMain runs.
	if os.Getenv(helperEnv) == fleetMode {
		os.Exit(fleetReplica())
	}
}

func fleetTargetName(i int) string { return "t" + strconv.Itoa(i) }

// fleetWrite is one write a fleetTarget accepted or refused.
type fleetWrite struct {
	Token uint64         `json:"token"`
	Pid   int            `json:"pid"`
	State strategy.State `json:"state"`
}

// fleetTarget is a strategy.FencedTarget shared by every process: its
// State is an etcd key; it remembers the highest token it accepted, refuses
// a lower one, and logs every accepted write (token and writer's pid) in
// the same transaction as the write itself, so the log's order (etcd's
// revisions) is the order in which the target changed.
type fleetTarget struct {
	cli  *clientv3.Client
	name string
	pid  int
}

var fleetSeq atomic.Int64

func (f *fleetTarget) key(kind string) string { return fleetData + f.name + "/" + kind }

func (f *fleetTarget) Apply(ctx context.Context, s strategy.State) error {
	return f.ApplyFenced(ctx, s, 0) // logged with token 0: the test fails on it
}

func (f *fleetTarget) ApplyFenced(ctx context.Context, s strategy.State, token uint64) error {
	state, _ := json.Marshal(s)
	entry, _ := json.Marshal(fleetWrite{Token: token, Pid: f.pid, State: s})
	fk := f.key("fence")
	for {
		r, err := f.cli.Get(ctx, fk)
		if err != nil {
			return err
		}
		var seen uint64
		var rev int64
		if len(r.Kvs) > 0 {
			seen, _ = strconv.ParseUint(string(r.Kvs[0].Value), 10, 64)
			rev = r.Kvs[0].ModRevision
		}
		seq := strconv.Itoa(f.pid) + "-" + strconv.FormatInt(fleetSeq.Add(1), 10)
		if token != 0 && token < seen {
			_, _ = f.cli.Put(ctx, f.key("refused/"+seq), string(entry))
			return strategy.Permanent(fmt.Errorf("%w: token %d, but %s has seen %d", strategy.ErrFenced, token, f.name, seen))
		}
		ops := []clientv3.Op{clientv3.OpPut(f.key("state"), string(state)), clientv3.OpPut(f.key("log/"+seq), string(entry))}
		if token > seen {
			ops = append(ops, clientv3.OpPut(fk, strconv.FormatUint(token, 10)))
		}
		tr, err := f.cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(fk), "=", rev)).Then(ops...).Commit()
		if err != nil {
			return err
		}
		if tr.Succeeded {
			return nil
		}
	}
}

func (f *fleetTarget) Observe(ctx context.Context) (strategy.Observation, error) {
	r, err := f.cli.Get(ctx, f.key("state"))
	if err != nil {
		return strategy.Observation{}, err
	}
	var s strategy.State
	if len(r.Kvs) > 0 {
		if err := json.Unmarshal(r.Kvs[0].Value, &s); err != nil {
			return strategy.Observation{}, err
		}
	}
	return strategy.Observation{State: s, Ready: s.Replicas}, nil
}

// fleetFails says whether release canary of target fails its analysis.
func fleetFails(target string, canary strategy.Revision) bool {
	i, _ := strconv.Atoi(strings.TrimPrefix(target, "t"))
	return i%2 == 0 && canary == "r3"
}

// fleetRelease builds release canary of target: a short canary (25%, an
// analysis, 50%, promotion) whose analysis fails when fleetFails says so.
// It is also the replicas' Rebuild, so it depends only on what a Store
// records (the target and the canary revision).
func fleetRelease(cli *clientv3.Client, target string, canary strategy.Revision, pid int) strategy.Release {
	fail := fleetFails(target, canary)
	judge := strategy.AnalyzerFunc(func(context.Context, strategy.Input) (strategy.Verdict, error) {
		if fail {
			return strategy.Verdict{Outcome: strategy.Fail, Reason: "the canary's error rate is too high"}, nil
		}
		return strategy.Verdict{Outcome: strategy.Pass, Reason: "healthy"}, nil
	})
	plan := strategy.StrategyFunc(func(stable, canary strategy.Revision) (strategy.Plan, error) {
		at := func(w int) strategy.State {
			return strategy.State{Stable: stable, Canary: canary, Weight: w, Replicas: strategy.Replicas{Stable: 2, Canary: 1}}
		}
		return strategy.Plan{Strategy: "fleet-canary", Stable: strategy.State{Stable: stable, Replicas: strategy.Replicas{Stable: 2}},
			Steps: []strategy.Step{
				strategy.Apply(at(25)), strategy.Pause(30 * time.Millisecond), strategy.Analyze(judge),
				strategy.Apply(at(50)), strategy.Pause(30 * time.Millisecond),
				strategy.Apply(strategy.State{Stable: canary, Replicas: strategy.Replicas{Stable: 2}}),
			}}, nil
	})
	return strategy.Release{Target: &fleetTarget{cli: cli, name: target, pid: pid}, Strategy: plan,
		Options: strategy.Options{PollInterval: 5 * time.Millisecond, RetryInitial: 5 * time.Millisecond, ProgressDeadline: 5 * time.Second}}
}

// fleetServing is the revision a target serves after the releases in h.
func fleetServing(h []rollback.Entry) strategy.Revision {
	if len(h) == 0 {
		return "r0"
	}
	if e := h[len(h)-1]; e.Phase == strategy.PhasePromoted {
		return e.Canary
	}
	return h[len(h)-1].Stable
}

// fleetReplica is one replica: until its stdin closes it starts the next
// release of every target that has none running and fewer than
// fleetPerTarget finished, and runs a Worker that resumes the releases of
// dead replicas. It prints "started", "resumed" and "ended" lines.
func fleetReplica() int {
	cli, err := etcdtest.NewClient(os.Getenv(endpointEnv))
	if err != nil {
		fmt.Println("error", err)
		return 2
	}
	defer cli.Close()
	s, err := New(cli, Options{Prefix: fleetPrefix})
	if err != nil {
		fmt.Println("error", err)
		return 2
	}
	pid := os.Getpid()
	m := &rollback.Manager{Store: s, Owner: "pid-" + strconv.Itoa(pid), LeaseTTL: fleetTTL}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); cancel() }()

	var outMu sync.Mutex
	say := func(format string, args ...any) {
		outMu.Lock()
		defer outMu.Unlock()
		fmt.Printf(format+"\n", args...)
	}
	var targets []string
	for i := range fleetTargetCount {
		targets = append(targets, fleetTargetName(i))
	}
	w := &rollback.Worker{
		Manager: m,
		Targets: targets,
		Rebuild: func(_ context.Context, rec rollback.Recorded) (strategy.Release, error) {
			return fleetRelease(cli, rec.Target, rec.Canary, pid), nil
		},
		Interval: 100 * time.Millisecond,
		OnEvent: func(e rollback.WorkerEvent) {
			switch {
			case e.Resumed:
				say("resumed %s %s", e.Target, e.Release)
			case e.Done:
				say("ended %s %s %s %s", e.Target, e.Release, e.Result.Phase, oneLine(e.Err))
			}
		},
	}
	workerDone := make(chan error, 1)
	go func() { workerDone <- w.Run(ctx) }()

	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		busy = map[string]bool{}
	)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for ctx.Err() == nil {
		for _, name := range targets {
			mu.Lock()
			b := busy[name]
			mu.Unlock()
			if b || ctx.Err() != nil {
				continue
			}
			tr, err := s.Load(ctx, name)
			if err != nil || tr.Active != nil || len(tr.History) >= fleetPerTarget {
				continue
			}
			canary := strategy.Revision("r" + strconv.Itoa(len(tr.History)+1))
			rel := fleetRelease(cli, name, canary, pid)
			rel.Stable, rel.Canary = fleetServing(tr.History), canary
			ro, err := m.Start(ctx, name, rel)
			if err != nil {
				continue // another replica drives it, or got there first
			}
			mu.Lock()
			busy[name] = true
			mu.Unlock()
			say("started %s %s", name, canary)
			wg.Go(func() {
				res, err := ro.Wait(context.WithoutCancel(ctx))
				mu.Lock()
				delete(busy, name)
				mu.Unlock()
				say("ended %s %s %s %s", name, canary, res.Phase, oneLine(err))
			})
		}
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
	wg.Wait()
	if err := <-workerDone; err != nil {
		say("error %v", err)
		return 2
	}
	return 0
}

func oneLine(err error) string { return strings.ReplaceAll(fmt.Sprint(err), "\n", "; ") }

// replicaOut collects a replica's output lines.
type replicaOut struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	lines   []string
	changed changes // told of every line
}

// changes tells a waiter, without blocking the teller, that something
// its condition reads may have changed: a replica printed a line, or a key
// changed in etcd.
type changes chan struct{}

func (c changes) signal() {
	select {
	case c <- struct{}{}:
	default:
	}
}

func (o *replicaOut) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf.Write(p)
	for {
		i := bytes.IndexByte(o.buf.Bytes(), '\n')
		if i < 0 {
			break
		}
		o.lines = append(o.lines, string(o.buf.Next(i + 1)[:i]))
		if o.changed != nil {
			o.changed.signal()
		}
	}
	return len(p), nil
}

// count returns how many releases the replica took on (started or
// resumed) and how many of them ended, and its "error" lines.
func (o *replicaOut) count() (took, ended int, errs []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, l := range o.lines {
		switch strings.Fields(l)[0] {
		case "started", "resumed":
			took++
		case "ended":
			ended++
		case "error":
			errs = append(errs, l)
		}
	}
	return took, ended, errs
}

func (o *replicaOut) snapshot() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.lines...)
}

type replica struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *replicaOut
	owner string
}

// waitFor checks cond each time changed says what it reads may have
// changed, until it holds or d passes.
func waitFor(t *testing.T, what string, d time.Duration, changed changes, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for !cond() {
		select {
		case <-changed:
		case <-deadline.C:
			if cond() {
				return
			}
			t.Fatalf("after %v: still waiting for %s", d, what)
		}
	}
}

// TestFleetSurvivesAKilledAndAFrozenReplica: three replicas in separate
// processes share one etcd and run 50 releases over 10 targets. One is
// killed (SIGKILL) while it drives a release; another is stopped (SIGSTOP)
// while it drives one, past its lease, and woken (SIGCONT) after the others
// finished everything. It asserts, from the targets' write logs and from
// every change etcd made (a watch from revision 1):
//
//   - every target has exactly its 5 releases in its history, each promoted
//     or rolled back as its analysis decides, and serves the last promoted
//     revision; the releases the killed and the frozen replica were driving
//     were resumed by another replica;
//   - no target ever had two drivers at once: every applied write carries a
//     token (Apply without one never happens), the tokens of the writes a
//     target accepted never go down, and each token's writes come from the
//     process that acquired that lease;
//   - every State a target accepted was journaled as an intent, under the
//     same lease, before the target accepted it;
//   - every journal is gap-free (record keys 0..n-1, each written once and
//     never rewritten or deleted), reads back without damage and replays to
//     its entry's outcome; every write to a journal, a target record or a
//     history happened while a lease of that target was live;
//   - the frozen replica, once woken, wrote nothing: no target write and no
//     journal, record or history change (a fresh lease it may take and give
//     back is allowed), and the releases it was driving ended for it with a
//     lost lease.
//
// The faults hit the first two replicas when (polling etcd) a target whose
// lease one of them holds has just accepted that release's first step, so
// the release is interrupted mid-way; the freeze lasts until the survivor
// finished all 50 releases (and at least 2 leases).
func TestFleetSurvivesAKilledAndAFrozenReplica(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	s, err := New(cli, Options{Prefix: fleetPrefix})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for i := range fleetTargetCount {
		st, _ := json.Marshal(strategy.State{Stable: "r0", Replicas: strategy.Replicas{Stable: 2}})
		if _, err := cli.Put(t.Context(), fleetData+fleetTargetName(i)+"/state", string(st)); err != nil {
			t.Fatal(err)
		}
	}

	// What the waits below read changes in etcd or in a replica's output.
	changed := make(changes, 1)
	watchCtx, stopWatch := context.WithCancel(t.Context())
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for range cli.Watch(watchCtx, "", clientv3.WithPrefix()) {
			changed.signal()
		}
	}()
	defer func() { stopWatch(); <-watched }()

	var reps []*replica
	for range 3 {
		r := &replica{out: &replicaOut{changed: changed}}
		r.cmd = exec.Command(os.Args[0], "-test.run=^$")
		r.cmd.Env = append(os.Environ(), helperEnv+"="+fleetMode, endpointEnv+"="+srv.Endpoint)
		r.cmd.Stdout, r.cmd.Stderr = r.out, os.Stderr
		if r.stdin, err = r.cmd.StdinPipe(); err != nil {
			t.Fatal(err)
		}
		if err := r.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		r.owner = "pid-" + strconv.Itoa(r.cmd.Process.Pid)
		reps = append(reps, r)
	}
	exited := make([]bool, len(reps))
	defer func() {
		for i, r := range reps {
			if !exited[i] {
				_ = r.cmd.Process.Signal(syscall.SIGCONT)
				_ = r.cmd.Process.Kill()
				_ = r.cmd.Wait()
			}
		}
	}()
	victim, sleeper, survivor := reps[0], reps[1], reps[2]

	finished := func() int {
		n := 0
		for i := range fleetTargetCount {
			tr, err := s.Load(t.Context(), fleetTargetName(i))
			if err != nil {
				t.Fatal(err)
			}
			n += len(tr.History)
		}
		return n
	}
	// driving returns the active journals of the targets where owner holds
	// the lease and the last write the target accepted is owner's first
	// step (25%) under that lease: releases it is in the middle of, with
	// an analysis and two Applies still to come.
	driving := func(owner string) map[string]string {
		out := map[string]string{}
		r, err := cli.Get(t.Context(), fleetPrefix+"t/", clientv3.WithPrefix())
		if err != nil {
			t.Fatal(err)
		}
		for _, kv := range r.Kvs {
			target, ok := strings.CutSuffix(strings.TrimPrefix(string(kv.Key), fleetPrefix+"t/"), "/lease")
			if !ok || string(kv.Value) != owner {
				continue
			}
			last, err := cli.Get(t.Context(), fleetData+target+"/log/", clientv3.WithPrefix(),
				clientv3.WithSort(clientv3.SortByModRevision, clientv3.SortDescend), clientv3.WithLimit(1))
			if err != nil {
				t.Fatal(err)
			}
			var w fleetWrite
			if len(last.Kvs) == 0 || json.Unmarshal(last.Kvs[0].Value, &w) != nil ||
				w.Token != uint64(kv.CreateRevision) || w.State.Weight != 25 || w.State.Canary == "" {
				continue
			}
			tr, err := s.Load(t.Context(), target)
			if err != nil {
				t.Fatal(err)
			}
			if tr.Active != nil {
				out[target] = tr.Active.Journal
			}
		}
		return out
	}
	// interrupted[target] = journals whose driver was killed or frozen.
	interrupted := map[string][]string{}
	var held map[string]string

	waitFor(t, "the first replica to drive a release after 3 finished", 30*time.Second, changed, func() bool {
		if finished() < 3 {
			return false
		}
		held = driving(victim.owner)
		return len(held) > 0
	})
	if err := victim.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = victim.cmd.Wait()
	exited[0] = true
	for tg, j := range held {
		interrupted[tg] = append(interrupted[tg], j)
	}
	t.Logf("%v: killed %s while it drove %v", time.Since(start).Round(time.Millisecond), victim.owner, held)

	waitFor(t, "the second replica to drive a release after 15 finished", 30*time.Second, changed, func() bool {
		if finished() < 15 {
			return false
		}
		held = driving(sleeper.owner)
		return len(held) > 0
	})
	if err := sleeper.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	frozen := time.Now()
	for tg, j := range held {
		interrupted[tg] = append(interrupted[tg], j)
	}
	t.Logf("%v: froze %s while it drove %v", time.Since(start).Round(time.Millisecond), sleeper.owner, held)

	waitFor(t, "all 50 releases to finish", 45*time.Second, changed, func() bool { return finished() == fleetTargetCount*fleetPerTarget })
	if time.Since(frozen) < 2*fleetTTL {
		// Not a sleep for synchronisation: the fault is a freeze past the lease.
		time.Sleep(2*fleetTTL - time.Since(frozen))
	}
	t.Logf("%v: all releases finished; waking %s after %v", time.Since(start).Round(time.Millisecond), sleeper.owner, time.Since(frozen).Round(time.Millisecond))
	took, ended, _ := sleeper.out.count()
	if took == ended {
		t.Fatalf("the frozen replica had no release in progress (took %d, ended %d)", took, ended)
	}
	wake, err := cli.Get(t.Context(), "wake")
	if err != nil {
		t.Fatal(err)
	}
	wakeRev := wake.Header.Revision
	before := len(sleeper.out.snapshot())
	if err := sleeper.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	// A woken driver waiting for its target to converge notices the lost
	// lease only when it next writes: at the latest after ProgressDeadline.
	waitFor(t, "the woken replica's releases to end", 30*time.Second, changed, func() bool {
		took, ended, _ := sleeper.out.count()
		return took == ended
	})
	for i, r := range reps[1:] {
		_ = r.stdin.Close()
		if err := r.cmd.Wait(); err != nil {
			t.Errorf("replica %s: %v", r.owner, err)
		}
		exited[i+1] = true
	}
	t.Logf("%v: replicas stopped", time.Since(start).Round(time.Millisecond))
	for _, r := range []*replica{victim, sleeper, survivor} {
		if _, _, errs := r.out.count(); len(errs) > 0 {
			t.Errorf("replica %s: %q", r.owner, errs)
		}
	}
	// What the woken replica's releases said. Some may have started,
	// been resumed or ended just before the freeze and say so only now;
	// the ones it drove must find their lease lost (the etcd checks below
	// prove it wrote nothing).
	fenced := 0
	for _, l := range sleeper.out.snapshot()[before:] {
		if f := strings.Fields(l); f[0] == "error" {
			t.Errorf("after it woke, the frozen replica says %q", l)
		}
		if strings.Contains(l, "lease lost") {
			fenced++
		}
	}
	if fenced == 0 {
		t.Errorf("no release of the woken replica ended for a lost lease: %q", sleeper.out.snapshot()[before:])
	}

	// The histories.
	resumed, resumedInterrupted := 0, 0
	for i := range fleetTargetCount {
		name := fleetTargetName(i)
		tr, err := s.Load(t.Context(), name)
		if err != nil {
			t.Fatal(err)
		}
		if tr.Active != nil || len(tr.History) != fleetPerTarget {
			t.Fatalf("%s: active %+v, %d releases in its history, want none active and %d", name, tr.Active, len(tr.History), fleetPerTarget)
		}
		for k, e := range tr.History {
			want := strategy.PhasePromoted
			if fleetFails(name, e.Canary) {
				want = strategy.PhaseRolledBack
			}
			if e.Canary != strategy.Revision("r"+strconv.Itoa(k+1)) || e.Stable != fleetServing(tr.History[:k]) || e.Phase != want {
				t.Errorf("%s: release %d is %s -> %s %s (%s), want r%d %s", name, k+1, e.Stable, e.Canary, e.Phase, e.Reason, k+1, want)
			}
			resumed += e.Resumed
			if slices.Contains(interrupted[name], e.Journal) {
				if e.Resumed == 0 {
					t.Errorf("%s: release %s was interrupted mid-way, but its history says it was never resumed", name, e.Journal)
				}
				resumedInterrupted++
			}
			checkJournal(t, cli, s, name, e)
		}
		obs, err := (&fleetTarget{cli: cli, name: name}).Observe(t.Context())
		if want := fleetServing(tr.History); err != nil || obs.State.Stable != want || obs.State.Canary != "" {
			t.Errorf("%s serves %+v (%v), want %s only", name, obs.State, err, want)
		}
	}

	// Every change etcd made, in order.
	end, err := cli.Get(t.Context(), "end")
	if err != nil {
		t.Fatal(err)
	}
	events := allEvents(t, cli, end.Header.Revision)
	type epoch struct {
		token uint64
		owner string
	}
	live := map[string]epoch{}     // target -> its live lease
	owners := map[uint64]string{}  // token -> owner that acquired it
	highest := map[string]uint64{} // target -> highest token it accepted
	type intent struct {
		token uint64
		state strategy.State
	}
	intents := map[string]map[intent]bool{} // target -> States journaled as intents, by lease
	writes, refused, afterWake := 0, 0, 0
	for _, ev := range events {
		key, rev := string(ev.Kv.Key), ev.Kv.ModRevision
		switch {
		case strings.HasPrefix(key, fleetPrefix+"t/"):
			rest := strings.TrimPrefix(key, fleetPrefix+"t/")
			target, sub, _ := strings.Cut(rest, "/")
			if sub == "lease" {
				if ev.Type == clientv3.EventTypeDelete {
					delete(live, target)
				} else if ev.IsCreate() {
					live[target] = epoch{uint64(ev.Kv.CreateRevision), string(ev.Kv.Value)}
					owners[uint64(ev.Kv.CreateRevision)] = string(ev.Kv.Value)
				}
				if rev > wakeRev {
					afterWake++
				}
				continue
			}
			if rev > wakeRev {
				t.Errorf("after the frozen replica woke, %s was written (%s, revision %d)", key, ev.Type, rev)
			}
			if _, ok := live[target]; !ok {
				t.Errorf("%s was written (%s, revision %d) while no lease of %s was live", key, ev.Type, rev, target)
			}
			if strings.HasPrefix(sub, "j/") && (ev.Type == clientv3.EventTypeDelete || !ev.IsCreate()) {
				t.Errorf("journal record %s was rewritten or deleted (%s, revision %d)", key, ev.Type, rev)
			}
			var rec strategy.Record
			if strings.HasPrefix(sub, "j/") && ev.Type == clientv3.EventTypePut && json.Unmarshal(ev.Kv.Value, &rec) == nil &&
				rec.Kind == strategy.RecordIntent && rec.State != nil {
				if intents[target] == nil {
					intents[target] = map[intent]bool{}
				}
				intents[target][intent{live[target].token, *rec.State}] = true
			}
		case strings.HasPrefix(key, fleetData):
			target, sub, _ := strings.Cut(strings.TrimPrefix(key, fleetData), "/")
			if strings.HasPrefix(sub, "refused/") {
				refused++
				continue
			}
			if !strings.HasPrefix(sub, "log/") {
				continue
			}
			var w fleetWrite
			if err := json.Unmarshal(ev.Kv.Value, &w); err != nil {
				t.Fatal(err)
			}
			writes++
			who := "pid-" + strconv.Itoa(w.Pid)
			switch {
			case w.Token == 0:
				t.Errorf("%s: an unfenced write by %s: %+v", target, who, w.State)
			case w.Token < highest[target]:
				t.Errorf("%s: %s wrote %+v with token %d after the target had accepted token %d", target, who, w.State, w.Token, highest[target])
			case owners[w.Token] != who:
				t.Errorf("%s: %s wrote with token %d, which %q acquired", target, who, w.Token, owners[w.Token])
			case !intents[target][intent{w.Token, w.State}]:
				t.Errorf("%s: %s applied %+v under token %d without journaling it as an intent under that lease first", target, who, w.State, w.Token)
			}
			if rev > wakeRev && who == sleeper.owner {
				t.Errorf("%s: the woken replica wrote %+v (token %d)", target, w.State, w.Token)
			}
			highest[target] = max(highest[target], w.Token)
		}
	}
	t.Logf("%v: %d target writes checked, %d stale writes refused by the targets, %d resumes (%d of interrupted releases), %d etcd revisions, %d lease changes after the wake, %d releases of the woken replica ended for a lost lease",
		time.Since(start).Round(time.Millisecond), writes, refused, resumed, resumedInterrupted, len(events), afterWake, fenced)
}

// checkJournal checks e's journal: its record keys are 0..n-1, it reads
// back without damage, and it replays to e's outcome.
func checkJournal(t *testing.T, cli *clientv3.Client, s *Store, target string, e rollback.Entry) {
	t.Helper()
	prefix := s.JournalPrefix(target, e.Journal)
	r, err := cli.Get(t.Context(), prefix, clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
	if err != nil {
		t.Fatal(err)
	}
	for i, kv := range r.Kvs {
		if n, ok := parseSeq(string(kv.Key), prefix); !ok || n != uint64(i) {
			t.Errorf("%s journal %s: record key %d is %s: a gap", target, e.Journal, i, kv.Key)
			return
		}
	}
	recs, err := s.Journal(t.Context(), target, e.Journal)
	if err != nil || len(recs) != len(r.Kvs) {
		t.Errorf("%s journal %s: %d records of %d keys (%v)", target, e.Journal, len(recs), len(r.Kvs), err)
		return
	}
	if p := rollback.Replay(recs); p.Finished.IsZero() || p.Phase != e.Phase {
		t.Errorf("%s journal %s replays to %s (finished %v), its history says %s", target, e.Journal, p.Phase, p.Finished, e.Phase)
	}
}

// allEvents returns every change etcd made up to revision last.
func allEvents(t *testing.T, cli *clientv3.Client, last int64) []*clientv3.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var out []*clientv3.Event
	for resp := range cli.Watch(ctx, "\x00", clientv3.WithFromKey(), clientv3.WithRev(1)) {
		if err := resp.Err(); err != nil {
			t.Fatal(err)
		}
		out = append(out, resp.Events...)
		if len(out) > 0 && out[len(out)-1].Kv.ModRevision >= last {
			return out
		}
	}
	t.Fatalf("watching etcd's changes: %v", ctx.Err())
	return nil
}
