package etcdstore

import (
	"testing"
	"time"

	"github.com/glidepath/glidepath/rollback"
	"github.com/glidepath/glidepath/rollback/etcdstore/internal/etcdtest"
	"github.com/glidepath/glidepath/strategy"
)

// TestReleaseSurvivesAnEtcdRestart kills etcd (SIGKILL) and starts it
// again on the same data while a release runs: the client reconnects, the
// release goes on to promotion, and its journal shows every applied State
// recorded as an intent before it was applied.
func TestReleaseSurvivesAnEtcdRestart(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	s := newStore(t, srv)
	tgt := etcdTarget{cli: cli}
	if err := tgt.Apply(t.Context(), strategy.State{Stable: "v1", Replicas: strategy.Replicas{Stable: 4}}); err != nil {
		t.Fatal(err)
	}
	m := &rollback.Manager{Store: s, Owner: "driver", LeaseTTL: 10 * time.Second}
	rel := failoverRelease(cli, false)
	applied := make(chan strategy.State, 32)
	rel.Observer = strategy.ObserverFunc(func(e strategy.Event) {
		if ev, ok := e.(strategy.StateApplied); ok {
			applied <- ev.State
		}
	})
	ro, err := m.Start(t.Context(), "svc", rel)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		<-applied
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	res, err := ro.Wait(t.Context())
	if err != nil || res.Phase != strategy.PhasePromoted {
		t.Fatalf("release across the restart: %s %v", res.Phase, err)
	}
	hist, err := m.History(t.Context(), "svc")
	if err != nil || len(hist) != 1 || hist[0].Phase != strategy.PhasePromoted {
		t.Fatalf("history %+v %v", hist, err)
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
