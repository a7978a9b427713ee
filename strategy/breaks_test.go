package strategy_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/glidepath/glidepath/rollback"
	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/strategytest"
)

// These tests each try to break one safety promise of the executor in a
// way an adversarial review found: a decision lost across a crash, a
// stale view of the target, a control call lost to a race, a verdict
// missing from history.

// upTo returns the records up to and including the first one for which
// stop is true: the journal a process leaves when it is killed right
// after writing that record.
func upTo(recs []journaled, stop func(strategy.Record) bool) []strategy.Record {
	var out []strategy.Record
	for _, j := range recs {
		out = append(out, j.rec)
		if stop(j.rec) {
			return out
		}
	}
	return out
}

// A Fail verdict that reached the journal decides the release even when
// the process died before it could act on it: the resumed release rolls
// back (or pauses, under OnFail.Pause) instead of analysing again
// and promoting a canary whose metric has recovered.
func TestResumeActsOnRecordedFail(t *testing.T) {
	for _, pause := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			plan := func(a strategy.Analyzer) strategy.Strategy {
				return planOf(strategy.Apply(at(20, 1)), strategy.Analyze(a), strategy.Apply(at(100, 4)))
			}
			opts := strategy.Options{OnFail: strategy.Policy{Pause: pause}}
			tgt := strategytest.NewTarget(stable4)
			j := &recordingJournal{tgt: tgt}
			opts.Journal = j
			r, err := strategy.Start(t.Context(), release(tgt, plan(strategytest.Script("errors", strategy.Fail)), opts))
			if err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
			_ = r.Abort()
			_, _ = r.Wait(t.Context())
			// The process is killed right after the Fail was written.
			recs := upTo(j.all(), func(rec strategy.Record) bool {
				return rec.Kind == strategy.RecordVerdict && rec.Verdict.Outcome == strategy.Fail
			})
			cp := rollback.Replay(recs).Checkpoint
			if cp.Rollback {
				t.Fatalf("the journal was cut before the rollback, yet the checkpoint says roll back: %+v", cp)
			}

			// The metric has recovered by the time the release resumes.
			tgt2 := strategytest.NewTarget(at(20, 1))
			recovered := strategytest.Script("errors", strategy.Pass)
			opts.Journal = nil
			rel := release(tgt2, plan(recovered), opts)
			rel.Resume = &cp
			r2, err := strategy.Start(t.Context(), rel)
			if err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
			if pause {
				st := r2.Status()
				if st.Phase != strategy.PhasePaused || st.PauseReason != strategy.PausedForFailure {
					t.Fatalf("resumed under OnFail.Pause: %s %s, want paused for the recorded Fail", st.Phase, st.PauseReason)
				}
				_ = r2.Abort()
			}
			res, err := r2.Wait(t.Context())
			if res.Phase != strategy.PhaseRolledBack || tgt2.State() != stable4 {
				t.Fatalf("resumed after a recorded Fail: %s %v, target %s", res.Phase, err, tgt2.State())
			}
			if !pause && !errors.Is(err, strategy.ErrAnalysisFailed) {
				t.Fatalf("error %v, want ErrAnalysisFailed", err)
			}
			if recovered.Calls() != 0 {
				t.Fatalf("the recorded Fail was analysed again (%d calls)", recovered.Calls())
			}
		})
	}
}

// flakyObserve fails the next n Observe calls when armed.
type flakyObserve struct {
	*strategytest.Target
	fail atomic.Int32
}

func (f *flakyObserve) Observe(ctx context.Context) (strategy.Observation, error) {
	if f.fail.Add(-1) >= 0 {
		return strategy.Observation{}, errors.New("observe: connection reset")
	}
	return f.Target.Observe(ctx)
}

// An Apply takes effect but its reply is lost; PromoteFull interrupts the
// retries; the next Observe fails once. The make-before-break State must
// be built from what the target really has (the lost State: little canary
// capacity, no canary traffic), not from the State before it, or traffic
// moves onto canary capacity that is not ready.
func TestPromoteFullAfterLostReplyAndFailedObserve(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inner := strategytest.NewTarget(stable4)
		inner.ReadyAfter = 20 * time.Second
		// Applies: at(0,2) (capacity first), at(20,2), then at(0,2) again
		// for step 1: that one takes effect and hangs.
		inner.Faults = []strategytest.Fault{{Op: strategytest.OpApply, After: 2, Times: 1, Hang: true, Applied: true}}
		tgt := &flakyObserve{Target: inner}
		r, err := strategy.Start(t.Context(), release(tgt, planOf(strategy.Apply(at(20, 2)), strategy.Apply(at(0, 2)), strategy.Apply(at(100, 4))),
			strategy.Options{}))
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(25 * time.Second)
		synctest.Wait()
		if got := inner.State(); got != at(0, 2) {
			t.Fatalf("setup: target on %s, want the lost State %s", got, at(0, 2))
		}
		tgt.fail.Store(1)
		if err := r.PromoteFull(); err != nil {
			t.Fatal(err)
		}
		res, err := r.Wait(t.Context())
		if err != nil || res.Phase != strategy.PhasePromoted || inner.State() != final4 {
			t.Fatalf("%s %v, target %s", res.Phase, err, inner.State())
		}
		if err := strategytest.CheckCapacityBeforeTraffic(stable4, inner.History()); err != nil {
			t.Fatal(err)
		}
	})
}

// An Abort that returned nil is acted on even when the context is
// cancelled at the same moment under OnCancel.Leave: the release rolls
// back rather than stopping at the canary weight.
func TestAcceptedAbortWinsOverCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tgt := strategytest.NewTarget(stable4)
		j := &recordingJournal{tgt: tgt}
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		r, err := strategy.Start(ctx, release(tgt, planOf(strategy.Apply(at(20, 1)), strategy.Pause(0), strategy.Apply(at(100, 4))),
			strategy.Options{OnCancel: strategy.Policy{Leave: true}, Journal: j}))
		if err != nil {
			t.Fatal(err)
		}
		waitPhase(t, r, strategy.PhasePaused)
		if err := r.Abort(); err != nil {
			t.Fatal(err)
		}
		cancel()
		res, err := r.Wait(t.Context())
		if !errors.Is(err, strategy.ErrAborted) || res.Phase != strategy.PhaseRolledBack || tgt.State() != stable4 {
			t.Fatalf("an accepted Abort was lost to cancellation: %s %v, target %s", res.Phase, err, tgt.State())
		}
	})
}

// A background Fail that is queued when a person's PromoteFull is taken
// is overridden, but it is still recorded: history shows the verdict the
// operator overrode.
func TestOverriddenBackgroundFailIsRecorded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tgt := strategytest.NewTarget(stable4)
		j := &recordingJournal{tgt: tgt}
		bg := &strategytest.Analyzer{ID: "bg", Answers: []strategytest.Answer{{Outcome: strategy.Fail, After: 10 * time.Second}}}
		// The inline analysis takes an hour of virtual time, so the release is
		// certainly still in it when the Pause below arrives (an instant Pass
		// let the release finish first on some schedules).
		inline := &strategytest.Analyzer{ID: "ok", Answers: []strategytest.Answer{{Outcome: strategy.Pass, After: time.Hour}}}
		rel := release(tgt, planOf(strategy.Apply(at(20, 1)), strategy.Analyze(inline), strategy.Apply(at(100, 4))),
			strategy.Options{OnFail: strategy.Policy{Pause: true}, Journal: j})
		rel.Background = []strategy.Background{{From: 0, Analyzers: []strategy.Analyzer{bg}}}
		r, err := strategy.Start(t.Context(), rel)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Pause(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Second)
		synctest.Wait()
		if err := r.PromoteFull(); err != nil {
			t.Fatal(err)
		}
		res, err := r.Wait(t.Context())
		if err != nil || res.Phase != strategy.PhasePromoted {
			t.Fatalf("%s %v", res.Phase, err)
		}
		found := false
		for _, rec := range j.all() {
			if rec.rec.Kind == strategy.RecordVerdict && rec.rec.Verdict.Analyzer == "bg" && rec.rec.Verdict.Outcome == strategy.Fail {
				found = true
			}
		}
		if !found {
			t.Fatal("the background Fail the operator overrode is not in the journal")
		}
	})
}

// An Abort is recorded before it returns nil, so that a process that dies
// right after it resumes into a rollback, not into the rest of the plan.
func TestAbortIsRecordedAndHonouredOnResume(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		plan := planOf(strategy.Apply(at(20, 1)), strategy.Pause(0), strategy.Apply(at(100, 4)))
		tgt := strategytest.NewTarget(stable4)
		j := &recordingJournal{tgt: tgt}
		r, err := strategy.Start(t.Context(), release(tgt, plan, strategy.Options{Journal: j}))
		if err != nil {
			t.Fatal(err)
		}
		waitPhase(t, r, strategy.PhasePaused)
		if err := r.Abort(); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Wait(t.Context()); !errors.Is(err, strategy.ErrAborted) {
			t.Fatal(err)
		}
		// The process is killed right after the Abort was written.
		recs := upTo(j.all(), func(rec strategy.Record) bool { return rec.Kind == strategy.RecordAbort })
		if last := recs[len(recs)-1]; last.Kind != strategy.RecordAbort {
			t.Fatalf("no abort record in the journal (last %s)", last.Kind)
		}
		cp := rollback.Replay(recs).Checkpoint
		tgt2 := strategytest.NewTarget(at(20, 1))
		rel := release(tgt2, plan, strategy.Options{})
		rel.Resume = &cp
		res, err := strategy.Run(t.Context(), rel)
		if !errors.Is(err, strategy.ErrAborted) || res.Phase != strategy.PhaseRolledBack || tgt2.State() != stable4 {
			t.Fatalf("resumed after a recorded Abort: %s %v, target %s", res.Phase, err, tgt2.State())
		}
	})
}

// fencingJournal is a Journal with a lease: Fence fails once the lease is
// lost, and returns its token otherwise.
type fencingJournal struct {
	recordingJournal
	token  uint64
	lost   atomic.Bool
	fences atomic.Int32
}

func (j *fencingJournal) Fence(context.Context) (uint64, error) {
	j.fences.Add(1)
	if j.lost.Load() {
		return 0, errors.New("lease taken over by another process")
	}
	return j.token, nil
}

// A driver whose lease was lost (its Fencer fails) never applies: not the
// next step, not a retry, not a rollback.
func TestStaleDriverNeverApplies(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tgt := strategytest.NewTarget(stable4)
		tgt.Faults = []strategytest.Fault{{Op: strategytest.OpApply, After: 2, Times: 1}} // the third Apply is retried
		j := &fencingJournal{recordingJournal: recordingJournal{tgt: tgt}, token: 3}
		r, err := strategy.Start(t.Context(), release(tgt, planOf(strategy.Apply(at(20, 1)), strategy.Pause(0), strategy.Apply(at(50, 2)), strategy.Apply(at(100, 4))),
			strategy.Options{Journal: j, RetryInitial: 10 * time.Second}))
		if err != nil {
			t.Fatal(err)
		}
		waitPhase(t, r, strategy.PhasePaused)
		if tgt.FenceToken() != 3 {
			t.Fatalf("the target saw token %d, want 3", tgt.FenceToken())
		}
		if err := r.Promote(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second) // the first attempt failed; a retry is due
		synctest.Wait()
		applied := len(tgt.History())
		j.lost.Store(true)
		res, err := r.Wait(t.Context())
		if !errors.Is(err, strategy.ErrFenced) || res.Phase != strategy.PhaseStopped {
			t.Fatalf("%s %v", res.Phase, err)
		}
		if n := len(tgt.History()); n != applied {
			t.Fatalf("a driver that lost its lease applied %d more States: %v", n-applied, tgt.States()[applied:])
		}
		if got := int(j.fences.Load()); got < tgt.Calls(strategytest.OpApply)+1 {
			t.Fatalf("%d fences for %d Apply attempts: not every attempt was fenced", got, tgt.Calls(strategytest.OpApply))
		}
	})
}

// A stale holder's write is refused by a target that enforces the token,
// even when the stale driver's own check passed (the window between its
// Fence and its Apply).
func TestStaleTokenIsRefusedByTheTarget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tgt := strategytest.NewTarget(stable4)
		// A newer holder has already written with token 9.
		if err := tgt.ApplyFenced(t.Context(), stable4, 9); err != nil {
			t.Fatal(err)
		}
		j := &fencingJournal{recordingJournal: recordingJournal{tgt: tgt}, token: 4}
		res, err := strategy.Run(t.Context(), release(tgt, planOf(strategy.Apply(at(20, 1)), strategy.Apply(at(100, 4))), strategy.Options{Journal: j}))
		if !errors.Is(err, strategy.ErrFenced) || res.Phase != strategy.PhaseStopped {
			t.Fatalf("%s %v", res.Phase, err)
		}
		if n := len(tgt.History()); n != 1 || tgt.State() != stable4 {
			t.Fatalf("the stale driver moved the target: %v", tgt.States())
		}
		err = tgt.ApplyFenced(t.Context(), at(20, 1), 8)
		if !errors.Is(err, strategy.ErrFenced) || !strategy.IsPermanent(err) {
			t.Fatalf("a stale token: %v", err)
		}
		if err := tgt.ApplyFenced(t.Context(), at(20, 1), 0); err != nil || tgt.FenceToken() != 9 {
			t.Fatalf("token 0 is unfenced: %v, token now %d", err, tgt.FenceToken())
		}
	})
}

// An Abort whose record cannot be written is acted on all the same: a
// failing journal must not keep a release at the canary weight.
func TestAbortActedOnWhenItCannotBeRecorded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tgt := strategytest.NewTarget(stable4)
		j := &failingJournal{recordingJournal: recordingJournal{tgt: tgt}, fail: func(rec strategy.Record) bool { return rec.Kind == strategy.RecordAbort }}
		r, err := strategy.Start(t.Context(), release(tgt, planOf(strategy.Apply(at(20, 1)), strategy.Pause(0), strategy.Apply(at(100, 4))), strategy.Options{Journal: j}))
		if err != nil {
			t.Fatal(err)
		}
		waitPhase(t, r, strategy.PhasePaused)
		if err := r.Abort(); err != nil {
			t.Fatal(err)
		}
		res, err := r.Wait(t.Context())
		if !errors.Is(err, strategy.ErrAborted) || tgt.State() != stable4 || res.JournalErr == "" {
			t.Fatalf("%s %v, target %s, journal error %q", res.Phase, err, tgt.State(), res.JournalErr)
		}
	})
}
