package rollback_test

import (
	"testing"
	"time"

	"github.com/glidepath/glidepath/rollback"
	"github.com/glidepath/glidepath/strategy"
)

func TestReplay(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s1 := strategy.State{Stable: "v1", Canary: "v2", Weight: 10}
	s2 := strategy.State{Stable: "v1", Canary: "v2", Weight: 50}
	r := func(k strategy.RecordKind, step int, mod func(*strategy.Record)) strategy.Record {
		at = at.Add(time.Second)
		rec := strategy.Record{Kind: k, Release: "v1->v2", Step: step, At: at}
		if mod != nil {
			mod(&rec)
		}
		return rec
	}
	state := func(s strategy.State) func(*strategy.Record) { return func(r *strategy.Record) { r.State = &s } }
	fail := func(r *strategy.Record) {
		r.Verdict = &strategy.Verdict{Analyzer: "a", Outcome: strategy.Fail, At: r.At}
	}
	started := r(strategy.RecordStarted, 0, func(r *strategy.Record) { r.Fingerprint, r.Stable, r.Canary, r.Strategy = "fp", "v1", "v2", "canary" })
	base := []strategy.Record{started,
		r(strategy.RecordIntent, 0, state(s1)), r(strategy.RecordApplied, 0, state(s1)),
		r(strategy.RecordStep, 1, func(r *strategy.Record) { r.Failures = 1 }),
		r(strategy.RecordVerdict, 1, fail), // tolerated, then the process died
		r(strategy.RecordIntent, 2, state(s2)),
	}
	p := rollback.Replay(base)
	want := strategy.Checkpoint{Fingerprint: "fp", Step: 1, State: s2, Failures: 2}
	if p.Checkpoint != want || !p.Pending() || p.Starts != 1 || p.Stable != "v1" || p.Strategy != "canary" || len(p.Intents) != 2 || len(p.Applied) != 1 {
		t.Fatalf("replay: %+v", p)
	}

	rolling := append(append([]strategy.Record{}, base...),
		r(strategy.RecordVerdict, 2, fail),
		r(strategy.RecordPhase, 2, func(r *strategy.Record) {
			r.Phase, r.Reason, r.Rollback = strategy.PhaseRollingBack, "analysis failed", true
		}),
		r(strategy.RecordIntent, 2, func(r *strategy.Record) { s := strategy.State{Stable: "v1"}; r.State, r.Rollback = &s, true }))
	p = rollback.Replay(rolling)
	if !p.Checkpoint.Rollback || !p.Pending() || p.Cause != "analysis failed" || !p.FailedAt.Equal(rolling[len(rolling)-3].At) {
		t.Fatalf("rolling back: %+v", p)
	}
	// Resumed and finished.
	done := append(append([]strategy.Record{}, rolling...),
		r(strategy.RecordStarted, 0, nil),
		r(strategy.RecordPhase, 2, func(r *strategy.Record) { r.Phase = strategy.PhaseRolledBack }),
		r(strategy.RecordFinished, 2, func(r *strategy.Record) { r.Phase = strategy.PhaseRolledBack }))
	p = rollback.Replay(done)
	if p.Pending() || p.Finished.IsZero() || p.Starts != 2 || p.RollbackFinished.IsZero() || p.Cause != "analysis failed" || !p.Started.Equal(started.At) {
		t.Fatalf("finished: %+v", p)
	}
	// Finished is the time of the finished record, Final the last State
	// recorded; a later start (a resume) makes the release unfinished again.
	if !p.Finished.Equal(done[len(done)-1].At) || p.Final != p.Checkpoint.State || p.Final != (strategy.State{Stable: "v1"}) ||
		p.Phase != strategy.PhaseRolledBack || p.Canary != "v2" || p.TimeToRestore() <= 0 {
		t.Fatalf("finished: %+v", p)
	}
	if p := rollback.Replay(append(append([]strategy.Record{}, done...), r(strategy.RecordStarted, 0, nil))); !p.Finished.IsZero() {
		t.Fatalf("started again, still finished at %v", p.Finished)
	}
	// While rolling back (before the resume) nothing was finished.
	if p := rollback.Replay(rolling); !p.Finished.IsZero() || p.Final != (strategy.State{Stable: "v1"}) {
		t.Fatalf("rolling back: finished %v, final %v", p.Finished, p.Final)
	}

	// A release that stopped or degraded is still pending; degraded rolls back.
	for _, ph := range []strategy.Phase{strategy.PhaseStopped, strategy.PhaseDegraded} {
		p = rollback.Replay(append(append([]strategy.Record{}, base...), r(strategy.RecordFinished, 1, func(r *strategy.Record) { r.Phase = ph })))
		if !p.Pending() || p.Finished.IsZero() || p.Checkpoint.Rollback != (ph == strategy.PhaseDegraded) {
			t.Fatalf("%s: %+v", ph, p)
		}
	}
	// A full promotion in progress resumes as one.
	p = rollback.Replay(append(append([]strategy.Record{}, base...),
		r(strategy.RecordIntent, 1, func(r *strategy.Record) { s := strategy.State{Stable: "v2"}; r.State, r.Promote = &s, true })))
	if !p.Checkpoint.Promote || p.Checkpoint.Rollback {
		t.Fatalf("promote: %+v", p.Checkpoint)
	}
	if p := rollback.Replay(nil); !p.Pending() || p.Checkpoint != (strategy.Checkpoint{}) {
		t.Fatalf("empty: %+v", p)
	}
}
