//go:build unix

package etcdstore

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/glidepath/glidepath/rollback"
	"github.com/glidepath/glidepath/rollback/etcdstore/internal/etcdtest"
	"github.com/glidepath/glidepath/strategy"
)

// TestWorkerTakesOverFromAKilledDriver: a driver process on etcd is killed
// (SIGKILL) in the middle of a release; a Worker in this process takes its
// release over once the lease expires and promotes it.
func TestWorkerTakesOverFromAKilledDriver(t *testing.T) {
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
	_ = cmd.Process.Kill()
	_, _ = io.Copy(io.Discard, out)
	_ = cmd.Wait()

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
	if err != nil || len(hist) != 1 || hist[0].Outcome != strategy.PhasePromoted || hist[0].Resumed != 1 {
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
}
