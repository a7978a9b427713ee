package strategy

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// This file is the run loop: it performs the actions the decision core
// (decide.go) chooses and turns what happens into events. It keeps only
// I/O: apply, observe, wait, analyse, journal.

// runState is the state of one run of a release, owned by the run
// goroutine: nothing else reads or writes it, apart from the fields under
// bgMu, which background analyzers' goroutines share. What callers share
// (status, result, control flags) lives in the Rollout under its mutex.
type runState struct {
	// dec is the decision core's state; step the index of the step the
	// run stands at.
	dec  decState
	step int
	// bg is the background verdict being decided on (a pointer: it is
	// rare, and every in-flight release holds a runState).
	bg *bgResult

	// pausedStep (index+1, 0 for none) and pausedFor record how long an
	// interrupted timed pause step already lasted.
	pausedStep int
	pausedFor  time.Duration
	// pending is the last State whose Apply failed: the target may have
	// applied it anyway (hasPending).
	pending    State
	hasPending bool

	bgCtx     context.Context
	bgCancel  context.CancelCauseFunc
	bgStarted []bool
	lastWord  bool // background analysis has had its last word

	bgMu      sync.Mutex
	bgLive    int           // background goroutines not yet returned
	bgRunning [][]bool      // [group][analyzer]: its goroutine has not returned
	bgClosed  bool          // answers arriving now are dropped
	bgExit    chan struct{} // capacity 1: "a background goroutine returned"
}

// drive runs the release: it asks the decision core what to do, does it,
// and feeds back what happened, until the release ends. It is the only
// place that starts a rollback.
func (r *Rollout) drive(ctx context.Context, rs *runState) error {
	if err := r.begin(ctx); err != nil {
		return err
	}
	pol := policyOf(r.opts)
	act := r.first(rs, pol)
	for {
		switch act.kind {
		case doFinish, doRollBack, doStop:
			return r.end(ctx, rs, &act)
		case doRunStep:
			act = r.runAndDecide(ctx, rs, pol)
		default:
			act = r.perform(ctx, rs, pol, &act)
		}
	}
}

// first is the first action: look at the first step, or decide how a
// resumed release goes on from its checkpoint.
//
//go:noinline
func (r *Rollout) first(rs *runState, pol policy) action {
	cp := r.rel.Resume
	if cp == nil {
		return action{kind: doLook}
	}
	rs.step = cp.Step
	r.setStep(rs.step)
	return r.decideNext(rs, pol, &event{kind: evResume, resume: resumeInfo{rollBack: cp.Rollback, promote: cp.Promote, failures: cp.Failures}})
}

// end does an action that ends the release: it records the promotion,
// rolls back (the only call of rollback) or stops.
//
//go:noinline
func (r *Rollout) end(ctx context.Context, rs *runState, act *action) error {
	switch act.kind {
	case doFinish:
		r.recordEnd(ctx, Record{Kind: RecordPhase, Step: len(r.plan.Steps), Phase: PhasePromoted, Promote: rs.dec.full})
		return nil
	case doRollBack:
		if act.failed != nil {
			r.mu.Lock()
			r.result.FailedAt = act.failed.At
			r.mu.Unlock()
		}
		return r.rollback(ctx, rs, rs.step, act.errKind, r.causeOf(ctx, *act))
	}
	r.stopBackground(rs)
	r.setPhase(PhaseStopped, "", act.why)
	return r.stepError(rs.step, act.errKind, r.causeOf(ctx, *act))
}

// perform does an action that does not end the release and returns the
// next one. It is kept out of drive so that drive's stack frame, live for
// the whole release, stays small.
//
//go:noinline
func (r *Rollout) perform(ctx context.Context, rs *runState, pol policy, act *action) action {
	switch act.kind {
	case doLook:
		if !rs.dec.full && rs.step >= len(r.plan.Steps) {
			return r.planDone(rs, pol, "every step completed")
		}
		r.enter(rs)
		return r.decideNext(rs, pol, &event{kind: evLook, pend: r.pendingInputs(ctx)})
	case doNextStep:
		rs.step = r.advance(ctx, rs, rs.step)
		return action{kind: doLook}
	case doTakeBg:
		if bg, ok := r.nextBg(); ok {
			rs.bg = &bg
			return r.decideNext(rs, pol, &event{kind: evBgVerdict, verdict: bg.verdict})
		}
		return action{kind: doLook}
	case doRelaunch:
		r.launchBg(rs, rs.bg.group, rs.bg.index)
		return action{kind: doLook}
	case doRequeue:
		r.requeueBg(*rs.bg)
		return action{kind: doLook}
	case doHold:
		r.setPhase(PhasePaused, act.pause, act.why)
		r.recordEnd(ctx, Record{Kind: RecordPhase, Step: r.Status().Step, Phase: PhasePaused, Reason: act.why})
		return r.holdWait(ctx, rs, pol)
	case doPromoteFull:
		return r.promoteFully(ctx, rs, pol)
	}
	// doWait is only answered while holding.
	return action{kind: doStop, errKind: ErrTarget, cause: fmt.Errorf("glidepath: internal error: action %s outside a hold", act.kind),
		why: "internal error"}
}

// runAndDecide runs the current step and decides on how it went.
//
//go:noinline
func (r *Rollout) runAndDecide(ctx context.Context, rs *runState, pol policy) action {
	ev := r.runStep(ctx, rs, rs.step)
	ev.pend = r.pendingInputs(ctx)
	return r.decideNext(rs, pol, &ev)
}

func (r *Rollout) causeOf(ctx context.Context, act action) error {
	if act.ctxCause {
		return context.Cause(ctx)
	}
	return act.cause
}

// decideNext asks the decision core and keeps its new state.
//
//go:noinline
func (r *Rollout) decideNext(rs *runState, pol policy, ev *event) action {
	var act action
	act, rs.dec = decide(rs.dec, pol, *ev)
	return act
}

// enter prepares the step the run stands at: background analysis that
// attaches there starts, and before the final step background analysis
// has its last word.
func (r *Rollout) enter(rs *runState) {
	if rs.dec.full {
		return
	}
	i := rs.step
	r.setStep(i)
	r.startBackground(rs, i)
	if i == len(r.plan.Steps)-1 && len(r.plan.Background) > 0 && !rs.lastWord {
		r.lastWord(rs, i)
	}
}

// pendingInputs snapshots what arrived asynchronously.
func (r *Rollout) pendingInputs(ctx context.Context) pendingInputs {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pendingLocked(ctx)
}

func (r *Rollout) pendingLocked(ctx context.Context) pendingInputs {
	return pendingInputs{abort: r.abort, full: r.promoteFull, promote: r.promote, userPause: r.userPause,
		cancelled: ctx.Err() != nil, fenced: leaseLost(ctx), bgQueued: len(r.bgEvents) > 0, bgFail: hasOutcome(r.bgEvents, Fail)}
}

// holdWait waits while the release is paused until the decision core
// says what ends the pause. The decision is taken under r.mu together
// with the phase change, so that a Promote is either taken by this pause
// or refused.
func (r *Rollout) holdWait(ctx context.Context, rs *runState, pol policy) action {
	for {
		r.mu.Lock()
		act, dec := decide(rs.dec, pol, event{kind: evLook, pend: r.pendingLocked(ctx)})
		if act.kind != doWait {
			rs.dec = dec
			if act.consumePromote {
				r.promote = false
			}
			var ev PhaseChanged
			if act.leaveHold {
				ev = r.setPhaseLocked(PhaseProgressing, "", "")
			}
			r.mu.Unlock()
			r.emitPhase(ev)
			return act
		}
		r.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-r.wake:
		}
	}
}

// planDone ends the release as promoted unless an Abort was accepted
// before, decided under r.mu so that an Abort is either acted on or
// refused (ErrNotRunning), never accepted and ignored.
func (r *Rollout) planDone(rs *runState, pol policy, reason string) action {
	r.setStep(len(r.plan.Steps))
	r.mu.Lock()
	act, dec := decide(rs.dec, pol, event{kind: evPlanDone, pend: pendingInputs{abort: r.abort}})
	rs.dec = dec
	var ev PhaseChanged
	if act.kind == doFinish {
		ev = r.setPhaseLocked(PhasePromoted, "", reason)
	}
	r.mu.Unlock()
	r.emitPhase(ev)
	if act.kind != doFinish {
		rs.step = min(rs.step, len(r.plan.Steps)-1)
		r.setStep(rs.step)
	}
	return act
}

// promoteFully applies the plan's final State, skipping everything left.
// An Abort interrupts it; what follows a failure is the decision core's.
func (r *Rollout) promoteFully(ctx context.Context, rs *runState, pol policy) action {
	r.stopBackground(rs)
	r.mu.Lock()
	r.promoteFull = false // taken; a pause on the way (OnDeadline.Pause) waits for a person
	r.mu.Unlock()
	r.setPhase(PhaseProgressing, "", "promoting fully")
	sctx, cancel := r.interruptible(ctx)
	err := r.transition(sctx, rs, r.plan.Final, false, rs.step)
	r.endInterruptible(cancel)
	if err != nil {
		ev := r.stepErr(ctx, sctx, err)
		ev.pend = r.pendingInputs(ctx)
		return r.decideNext(rs, pol, &ev)
	}
	return r.planDone(rs, pol, "promoted fully, remaining steps skipped")
}

func (r *Rollout) run(ctx context.Context) {
	defer close(r.done)
	now := time.Now()
	r.mu.Lock()
	r.status.Started, r.status.Updated = now, now
	r.result.Started = now
	r.mu.Unlock()

	rs := &runState{}
	rs.bgCtx, rs.bgCancel = context.WithCancelCause(ctx)
	if n := len(r.plan.Background); n > 0 {
		rs.bgStarted = make([]bool, n)
		rs.bgRunning = make([][]bool, n)
		for g, b := range r.plan.Background {
			rs.bgRunning[g] = make([]bool, len(b.Analyzers))
		}
		rs.bgExit = make(chan struct{}, 1)
	}
	err := r.drive(ctx, rs)
	r.closeBackground(rs)
	r.finish(ctx, err)
}

func (r *Rollout) finish(ctx context.Context, err error) {
	st := r.Status()
	// The release is over; recording its end must not depend on a
	// context that may already be cancelled.
	r.recordEnd(context.WithoutCancel(ctx), Record{Kind: RecordFinished, Step: st.Step, Phase: st.Phase, Reason: st.Reason})
	now := time.Now()
	r.mu.Lock()
	r.err = err
	r.result.Phase = r.status.Phase
	r.result.Reason = r.status.Reason
	r.result.Final = r.current
	r.result.Finished = now
	if err != nil {
		r.result.Err = err.Error()
	}
	res := r.result
	r.mu.Unlock()
	r.emit(ReleaseFinished{EventMeta: EventMeta{Release: r.name, Time: now, Step: st.Step}, Result: res, Err: err})
}

func (r *Rollout) record(ctx context.Context, rec Record) error {
	if r.opts.Journal == nil {
		return nil
	}
	rec.Release = r.name
	if rec.At.IsZero() {
		rec.At = time.Now()
	}
	if err := journalSafe(func() error { return r.opts.Journal.Record(context.WithoutCancel(ctx), rec) }); err != nil {
		return fmt.Errorf("%w: %w", ErrJournal, err)
	}
	return nil
}

// begin records and announces the start, and observes the target. It is
// kept out of drive so that drive's stack frame, live for the whole
// release, stays small.
func (r *Rollout) begin(ctx context.Context) error {
	rec := Record{Kind: RecordStarted, Step: 0, Strategy: r.plan.Strategy, Stable: r.rel.Stable, Canary: r.rel.Canary}
	if r.opts.Journal != nil {
		rec.Fingerprint = r.plan.Fingerprint()
	}
	if err := r.record(ctx, rec); err != nil {
		r.setPhase(PhaseStopped, "", "the journal could not record the start; nothing was applied")
		return &StepError{Step: -1, Kind: ErrJournal, Err: err}
	}
	r.emit(ReleaseStarted{EventMeta: r.meta(), Strategy: r.plan.Strategy, Stable: r.rel.Stable, Canary: r.rel.Canary,
		Steps: len(r.plan.Steps), Resumed: r.rel.Resume != nil})
	r.setPhase(PhaseProgressing, "", "")

	var obs Observation
	err := r.retry(ctx, func(c context.Context) error {
		var e error
		obs, e = r.observe(c)
		return e
	}, nil)
	if err != nil {
		if leaseLost(ctx) {
			r.setPhase(PhaseStopped, "", "the lease was lost before anything was applied")
			return &StepError{Step: -1, Kind: ErrFenced, Err: context.Cause(ctx)}
		}
		if ctx.Err() != nil && !r.opts.OnCancel.Leave {
			r.setPhase(PhaseStopped, "", "cancelled before anything was applied")
			return &StepError{Step: -1, Kind: ErrCancelled, Err: context.Cause(ctx)}
		}
		if ctx.Err() != nil && r.opts.OnCancel.Leave {
			r.setPhase(PhaseStopped, "", "cancelled before anything was applied")
			return &StepError{Step: -1, Kind: ErrStopped, Err: context.Cause(ctx)}
		}
		r.setPhase(PhaseStopped, "", "the target could not be observed; nothing was applied")
		return &StepError{Step: -1, Kind: ErrTarget, Err: err}
	}
	r.mu.Lock()
	r.current = obs.State
	r.status.State = obs.State
	r.mu.Unlock()
	if err := r.checkServing(obs.State); err != nil {
		r.setPhase(PhaseStopped, "", "refused before anything was applied: "+err.Error())
		return &StepError{Step: -1, Kind: ErrServingMismatch, Err: err}
	}

	return nil
}

func (r *Rollout) setStep(i int) {
	r.mu.Lock()
	r.status.Step = i
	r.mu.Unlock()
}

// advance records that step i is done and returns i+1. A journal error
// is surfaced by the next apply, which records its intent first.
func (r *Rollout) advance(ctx context.Context, rs *runState, i int) int {
	if err := r.record(ctx, Record{Kind: RecordStep, Step: i + 1, Failures: rs.dec.failures}); err != nil {
		// The next Apply records its intent first and stops the release
		// if the journal is still failing; note the lost record.
		r.journalErr(err)
	}
	return i + 1
}

// journalErr keeps the first journal error that did not stop the release.
func (r *Rollout) journalErr(err error) {
	r.mu.Lock()
	if r.result.JournalErr == "" {
		r.result.JournalErr = err.Error()
	}
	r.mu.Unlock()
}

// recordEnd records something that no Apply depends on (a verdict, a pause,
// a final phase); a failure is kept in Result.JournalErr, and the next
// Apply, which records its intent first, stops the release if the journal
// is still failing.
func (r *Rollout) recordEnd(ctx context.Context, rec Record) {
	if err := r.record(ctx, rec); err != nil {
		r.journalErr(err)
	}
}

func (r *Rollout) stepError(i int, kind, cause error) *StepError {
	e := &StepError{Step: i, Kind: kind, Err: cause}
	if i >= 0 && i < len(r.plan.Steps) {
		e.StepKind = r.plan.Steps[i].Kind
		e.StepName = r.plan.Steps[i].Name
	}
	return e
}

// interruptible returns a child of ctx that Abort and PromoteFull cancel
// with errInterrupted.
func (r *Rollout) interruptible(ctx context.Context) (context.Context, context.CancelCauseFunc) {
	sctx, cancel := context.WithCancelCause(ctx)
	r.mu.Lock()
	r.stepCancel = cancel
	r.mu.Unlock()
	return sctx, cancel
}

func (r *Rollout) endInterruptible(cancel context.CancelCauseFunc) {
	r.mu.Lock()
	r.stepCancel = nil
	r.mu.Unlock()
	cancel(nil)
}

// checkServing refuses a new release (or a resumed one that had applied
// nothing yet) when the target
// does not serve exactly Release.Stable: a stale or mistyped stable
// revision would otherwise have the release move traffic back to it and
// record it as the rollback point.
func (r *Rollout) checkServing(s State) error {
	if r.opts.AdoptServing || r.rel.Resume != nil && r.rel.Resume.State != (State{}) {
		// A resumed release that had applied something stands wherever it
		// left the target.
		return nil
	}
	var serving []string
	for _, rev := range [2]Revision{s.Stable, s.Canary} {
		if share := s.Share(rev); share > 0 {
			serving = append(serving, fmt.Sprintf("%s (%d%%)", rev, share))
		}
	}
	switch {
	case len(serving) == 0 && r.opts.AllowEmptyTarget:
		return nil
	case len(serving) == 0:
		return fmt.Errorf("the target serves no revision, and the release's stable revision is %s (set Options.AllowEmptyTarget for a first release)", r.rel.Stable)
	case s.Share(r.rel.Stable) == 100 && s.Route.IsZero():
		return nil
	}
	return fmt.Errorf("the target serves %s, but the release's stable revision is %s (resume the release that left it so, or set Options.AdoptServing to release over it deliberately)",
		strings.Join(serving, " and "), r.rel.Stable)
}
