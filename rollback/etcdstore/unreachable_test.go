//go:build unix

package etcdstore

import (
	"context"
	"testing"
	"time"

	"github.com/glidepath/glidepath/rollback"
	"github.com/glidepath/glidepath/rollback/etcdstore/internal/etcdtest"
	"github.com/glidepath/glidepath/strategy"
)

// TestEtcdUnreachableLongerThanTheLease freezes etcd (SIGSTOP) for twice
// the lease while a release runs. The driver cannot record, so it applies
// nothing unrecorded; once etcd answers again the release is finished
// either by the driver (if its lease survived) or by a Worker that takes
// the expired lease over. Either way it ends promoted, once, with every
// Apply recorded before it.
func TestEtcdUnreachableLongerThanTheLease(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	s := newStore(t, srv)
	tgt := etcdTarget{cli: cli}
	if err := tgt.Apply(t.Context(), strategy.State{Stable: "v1", Replicas: strategy.Replicas{Stable: 4}}); err != nil {
		t.Fatal(err)
	}
	const ttl = time.Second
	m := &rollback.Manager{Store: s, Owner: "driver", LeaseTTL: ttl}
	rel := failoverRelease(cli, false)
	applied := make(chan struct{}, 32)
	rel.Observer = strategy.ObserverFunc(func(e strategy.Event) {
		if _, ok := e.(strategy.StateApplied); ok {
			applied <- struct{}{}
		}
	})
	ro, err := m.Start(t.Context(), "svc", rel)
	if err != nil {
		t.Fatal(err)
	}
	<-applied
	if err := srv.Pause(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * ttl) // the fault: etcd unreachable for longer than the lease
	if err := srv.Continue(); err != nil {
		t.Fatal(err)
	}
	res, _ := ro.Wait(t.Context())
	t.Logf("the driver's release ended %s (%s)", res.Phase, res.Reason)
	if res.Phase != strategy.PhasePromoted {
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		w := &rollback.Worker{
			Manager: &rollback.Manager{Store: s, Owner: "worker", LeaseTTL: 5 * time.Second},
			Rebuild: func(context.Context, rollback.Recorded) (strategy.Release, error) {
				return failoverRelease(cli, false), nil
			},
			Interval:      100 * time.Millisecond,
			ResumeStopped: true, // the driver stopped because it could not record: finish it
			OnEvent: func(e rollback.WorkerEvent) {
				if e.Done {
					cancel()
				}
			},
		}
		if err := w.Run(ctx); err != nil {
			t.Fatal(err)
		}
	}
	hist, err := m.History(t.Context(), "svc")
	if err != nil || len(hist) != 1 || hist[0].Phase != strategy.PhasePromoted {
		t.Fatalf("history %+v %v, want one promoted release", hist, err)
	}
	recs, err := s.Journal(t.Context(), "svc", hist[0].Journal)
	if err != nil {
		t.Fatal(err)
	}
	p := rollback.Replay(recs)
	j := 0
	for _, a := range p.Applied {
		for j < len(p.Intents) && p.Intents[j] != a {
			j++
		}
		if j == len(p.Intents) {
			t.Fatalf("applied %+v without a recorded intent before it", a)
		}
		j++
	}
	if obs, err := tgt.Observe(t.Context()); err != nil || obs.State.Stable != "v2" || obs.State.Canary != "" {
		t.Fatalf("target %+v %v", obs.State, err)
	}
}
