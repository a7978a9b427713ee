//go:build unix

package etcdstore

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/glidepath/glidepath/rollback"
	"github.com/glidepath/glidepath/rollback/etcdstore/internal/etcdtest"
	"github.com/glidepath/glidepath/strategy"
)

// TestWorkerTakesOverFromAKilledDriver: a driver process on etcd is killed
// (SIGKILL) in the middle of a release; a Worker in this process takes its
// release over once the lease expires and promotes it.
func TestWorkerTakesOverFromAKilledDriver(t *testing.T) { takeOver(t, false) }

// TestWorkerTakesOverFromAFrozenDriver: the driver is stopped (SIGSTOP)
// past its lease, a Worker takes the release over and promotes it, then the
// driver wakes (SIGCONT): it must not write, and the target stays promoted.
func TestWorkerTakesOverFromAFrozenDriver(t *testing.T) { takeOver(t, true) }

func takeOver(t *testing.T, freeze bool) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	tgt := etcdTarget{cli: cli}
	if err := tgt.Apply(t.Context(), strategy.State{Stable: "v1", Replicas: strategy.Replicas{Stable: 4}}); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=driver", endpointEnv+"="+srv.Endpoint)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	for applied := 0; applied < 3 && sc.Scan(); {
		if strings.HasPrefix(sc.Text(), "applied") {
			applied++
		}
		if strings.HasPrefix(sc.Text(), "error") {
			t.Fatal(sc.Text())
		}
	}
	if freeze {
		// Frozen right after an Apply: its next act is a journal write.
		if err := cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
	} else {
		_ = cmd.Process.Kill()
		_, _ = io.Copy(io.Discard, out)
		_ = cmd.Wait()
	}
	defer func() { _ = cmd.Process.Kill() }()

	s, err := New(cli, Options{Prefix: "failover/"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var events []rollback.WorkerEvent
	w := &rollback.Worker{
		Manager: &rollback.Manager{Store: s, Owner: "survivor", LeaseTTL: 2 * time.Second},
		Rebuild: func(_ context.Context, rec rollback.Recorded) (strategy.Release, error) {
			rel := failoverRelease(cli, false)
			rel.Stable, rel.Canary = "", ""
			return rel, nil
		},
		Interval: 100 * time.Millisecond,
		OnEvent: func(e rollback.WorkerEvent) {
			events = append(events, e)
			if e.Done {
				cancel()
			}
		},
	}
	if err := w.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if t.Context().Err() != nil || len(events) != 2 || !events[1].Done || events[1].Result.Phase != strategy.PhasePromoted {
		t.Fatalf("worker events %+v, want a resume and a promotion", events)
	}
	hist, err := w.Manager.History(t.Context(), "svc")
	if err != nil || len(hist) != 1 || hist[0].Phase != strategy.PhasePromoted || hist[0].Resumed != 1 {
		t.Fatalf("history %+v %v", hist, err)
	}
	obs, err := tgt.Observe(t.Context())
	if err != nil || obs.State.Stable != "v2" || obs.State.Canary != "" {
		t.Fatalf("target %+v %v, want v2 only", obs.State, err)
	}
	recs, err := s.Journal(t.Context(), "svc", hist[0].Journal)
	if err != nil {
		t.Fatalf("journal: %v", err)
	}
	p := rollback.Replay(recs)
	if p.Starts != 2 || p.Phase != strategy.PhasePromoted {
		t.Fatalf("journal replays to %d starts, %s", p.Starts, p.Phase)
	}
	if !freeze {
		return
	}
	rev, err := cli.Get(t.Context(), "failover/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	var rest []string
	for sc.Scan() {
		rest = append(rest, sc.Text())
	}
	_ = cmd.Wait()
	last := ""
	if len(rest) > 0 {
		last = rest[len(rest)-1]
	}
	if !strings.HasPrefix(last, "done ") || !strings.Contains(last, "lease lost") {
		t.Fatalf("the woken driver said %q, want it to stop for a lost lease", rest)
	}
	for _, l := range rest {
		if strings.HasPrefix(l, "applied") {
			t.Fatalf("the woken driver applied: %q", rest)
		}
	}
	obs, err = tgt.Observe(t.Context())
	if err != nil || obs.State.Stable != "v2" || obs.State.Canary != "" {
		t.Fatalf("after the frozen driver woke, the target is %+v %v", obs.State, err)
	}
	after, err := cli.Get(t.Context(), "failover/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		t.Fatal(err)
	}
	if after.Header.Revision != rev.Header.Revision {
		t.Fatalf("the woken driver wrote to etcd: revision %d before it woke, %d after", rev.Header.Revision, after.Header.Revision)
	}
	if recs2, err := s.Journal(t.Context(), "svc", hist[0].Journal); err != nil || len(recs2) != len(recs) {
		t.Fatalf("the woken driver wrote to the journal: %d records, then %d (%v)", len(recs), len(recs2), err)
	}
}
