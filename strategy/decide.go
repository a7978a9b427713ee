package strategy

import (
	"errors"
	"fmt"
)

// This file is the executor's decision core: one pure function, decide,
// that turns the run's state, the policy and one event into the next
// action and the new state. Control calls, step outcomes, verdicts
// (inline, background, last word), deadlines, journal failures and
// cancellation all arrive here as an event; nothing here does I/O, starts
// a goroutine or reads a clock. The run loop (loop.go) performs the
// actions: it applies, observes, waits, analyses and journals, and starts
// a rollback from one place only, when decide says doRollBack.

// evKind says what happened.
type evKind uint8

const (
	// evLook: nothing new from a step; look at what is pending (control
	// calls, cancellation, queued background verdicts). It is also the
	// event of every wake-up while holding.
	evLook evKind = iota
	// evResume: a resumed release begins (Event.resume says from where).
	evResume
	// Step outcomes (of a plan step, or of the final Apply of a
	// PromoteFull).
	evStepDone         // the step completed
	evStepFail         // inline analysis: Fail (Event.verdict)
	evStepInconclusive // inline analysis: Inconclusive (Event.verdict)
	evDeadline         // a wait for readiness missed its deadline (Event.err)
	evTarget           // the target refused an Apply after every retry (Event.err)
	evJournal          // the journal could not record an intent (Event.err)
	evFenced           // the lease was lost: another driver holds the target (Event.err)
	evInterrupted      // a control call or a background verdict cut the step short
	evCancelled        // the release's context ended during the step
	// evBgVerdict: a background verdict was taken from the queue
	// (Event.verdict); a last word arrives the same way.
	evBgVerdict
	// evPlanDone: every step ran, or a PromoteFull applied the final
	// State; Event.pend.abort says whether an Abort was accepted first.
	evPlanDone
)

var evNames = [...]string{"look", "resume", "step-done", "step-fail", "step-inconclusive", "deadline", "target-error",
	"journal-error", "fenced", "interrupted", "cancelled", "bg-verdict", "plan-done"}

func (k evKind) String() string { return evNames[k] }

// pendingInputs is a snapshot of what arrived asynchronously, taken by the
// loop (under the Rollout's lock where a decision must be atomic with it).
type pendingInputs struct {
	abort     bool // an Abort was accepted
	full      bool // a PromoteFull was accepted and not yet taken
	promote   bool // a Promote was accepted (only while paused)
	userPause bool // a Pause hold is set
	cancelled bool // the release's context has ended
	fenced    bool // ... because the lease was lost (its cause matches ErrFenced)
	bgQueued  bool // a background verdict waits in the queue
	bgFail    bool // one of them is a Fail
}

// resumeInfo is what a Checkpoint says that decides something.
type resumeInfo struct {
	rollBack bool
	promote  bool
	failures int
}

// event is one input of decide.
type event struct {
	kind    evKind
	pend    pendingInputs
	verdict Verdict
	err     error
	resume  resumeInfo
}

// actKind says what the loop does next.
type actKind uint8

const (
	doRunStep     actKind = iota // run the current step (again)
	doLook                       // look at what is pending, then run the step
	doNextStep                   // the current step is done: record it and go on
	doTakeBg                     // take the next background verdict from the queue
	doRelaunch                   // relaunch the analyzer whose verdict was handled, then look
	doRequeue                    // put the verdict being handled back in the queue, then look
	doHold                       // pause (act.pause, act.why) and wait for an event
	doWait                       // keep holding: wait for a control call or cancellation
	doPromoteFull                // apply the plan's final State, skipping the rest
	doFinish                     // the release is promoted
	doRollBack                   // roll back (act.errKind, act.cause)
	doStop                       // end without touching the target (act.errKind, act.cause, act.why)
)

var actNames = [...]string{"run-step", "look", "next-step", "take-bg", "relaunch", "requeue", "hold", "wait",
	"promote-full", "finish", "roll-back", "stop"}

func (k actKind) String() string { return actNames[k] }

// action is decide's answer.
type action struct {
	kind    actKind
	pause   PauseReason // doHold
	why     string      // doHold, doStop: the Status reason
	errKind error       // doRollBack, doStop: the sentinel
	cause   error       // doRollBack, doStop: the cause
	// ctxCause: the cause is the context's (the loop fills it in).
	ctxCause bool
	// failed: the verdict whose Fail ends the release (its time is the
	// release's FailedAt).
	failed *Verdict
	// leaveHold: the action ends a hold because of a Promote, an Unpause or
	// a background Fail; the loop sets the phase back to Progressing
	// atomically with the decision.
	leaveHold bool
	// consumePromote: the action takes the pending Promote.
	consumePromote bool
	// takeFull: the action takes the pending PromoteFull.
	takeFull bool
}

// policy is what Options say about decisions.
type policy struct {
	failuresAllowed int
	pauseOnFail     bool
	pauseOnDeadline bool
	leaveOnCancel   bool
}

func policyOf(o Options) policy {
	return policy{failuresAllowed: o.OnFail.Allowed, pauseOnFail: o.OnFail.Pause,
		pauseOnDeadline: o.OnDeadline.Pause, leaveOnCancel: o.OnCancel.Leave}
}

// runPhase is where the run stands for decide.
type runPhase uint8

const (
	phRun  runPhase = iota // between steps, or running one
	phHold                 // paused, waiting for a person (or a background Fail)
)

// decState is the run's state as far as decisions go.
type decState struct {
	phase runPhase
	// full: a PromoteFull was taken; the remaining steps are skipped and
	// every "run again" applies the final State again.
	full bool
	// failures counts the Fail verdicts so far (recorded ones included,
	// after a resume).
	failures int
	// holding is the pause reason while phase is phHold; onPromote is
	// what a Promote (or, for a user hold, an Unpause) that ends it does;
	// requeueOnFail: a background Fail that ends the hold puts the
	// verdict being judged back in the queue (a background Inconclusive).
	onPromote     actKind
	requeueOnFail bool
	holding       PauseReason
}

// decide is the executor's only decision function: given the run's state,
// the policy and an event, it returns what to do next and the new state.
// It is pure.
func decide(st decState, pol policy, ev event) (action, decState) {
	if st.phase == phHold {
		return decideHold(st, pol, ev)
	}
	switch ev.kind {
	case evResume:
		switch {
		case ev.resume.rollBack:
			return action{kind: doRollBack, errKind: ErrAborted, cause: errResumedRollback}, st
		case ev.resume.promote:
			st.full = true
			return action{kind: doLook}, st
		}
		st.failures = ev.resume.failures
		if st.failures > pol.failuresAllowed {
			// The Fail that exceeded the allowance was recorded, and the
			// process stopped before it acted on it.
			v := Verdict{Outcome: Fail, Reason: failuresReason(st.failures, pol.failuresAllowed)}
			st.failures-- // failed counts it again
			return failed(st, pol, v, doLook)
		}
		return action{kind: doLook}, st
	case evLook:
		p := ev.pend
		switch {
		case p.fenced:
			return lostLease(st)
		case p.abort:
			return action{kind: doRollBack, errKind: ErrAborted}, st
		case p.cancelled:
			return cancelled(st, pol)
		case p.full:
			st.full = true
			return action{kind: doPromoteFull, takeFull: true}, st
		case st.full:
			return action{kind: doPromoteFull}, st
		case p.bgQueued:
			return action{kind: doTakeBg}, st
		case p.userPause:
			return hold(st, PausedForUser, "paused by a user", doLook, false)
		}
		return action{kind: doRunStep}, st
	case evBgVerdict:
		switch ev.verdict.Outcome {
		case Fail:
			return failed(st, pol, ev.verdict, doRelaunch)
		case Inconclusive:
			return hold(st, PausedForInconclusive, ev.verdict.String(), doRelaunch, true)
		}
		return action{kind: doLook}, st
	case evStepDone:
		return action{kind: doNextStep}, st
	case evStepFail:
		return failed(st, pol, ev.verdict, doNextStep)
	case evStepInconclusive:
		// A person judges the inconclusive step; a Promote passes it.
		return hold(st, PausedForInconclusive, ev.verdict.String(), doNextStep, false)
	case evDeadline:
		if pol.pauseOnDeadline {
			return hold(st, PausedForDeadline, errText(ev.err), doLook, false)
		}
		return action{kind: doRollBack, errKind: ErrDeadlineExceeded, cause: ev.err}, st
	case evTarget:
		return action{kind: doRollBack, errKind: ErrTarget, cause: ev.err}, st
	case evJournal:
		return action{kind: doStop, errKind: ErrJournal, cause: ev.err,
			why: "the journal could not record the next step; nothing unrecorded was applied"}, st
	case evFenced:
		return action{kind: doStop, errKind: ErrFenced, cause: ev.err,
			why: "another driver holds the target's lease; this one stopped without applying"}, st
	case evInterrupted:
		return action{kind: doLook}, st
	case evCancelled:
		if ev.pend.fenced {
			return lostLease(st)
		}
		if ev.pend.abort {
			return action{kind: doRollBack, errKind: ErrAborted}, st
		}
		return cancelled(st, pol)
	case evPlanDone:
		if ev.pend.abort {
			// An Abort accepted as the last State was applied.
			return action{kind: doRollBack, errKind: ErrAborted}, st
		}
		return action{kind: doFinish}, st
	}
	return action{kind: doStop, errKind: ErrTarget, cause: errUnknownEvent, why: "internal error: unknown event"}, st
}

// decideHold decides while the release is paused. Only evLook (a wake-up,
// with what is pending) can end a hold; the order is the priority.
func decideHold(st decState, pol policy, ev event) (action, decState) {
	p := ev.pend
	leave := func(a action) (action, decState) {
		st.phase, st.holding = phRun, ""
		return a, st
	}
	switch {
	case p.fenced:
		st.phase, st.holding = phRun, ""
		return lostLease(st)
	case p.abort:
		return leave(action{kind: doRollBack, errKind: ErrAborted})
	case p.cancelled:
		st.phase, st.holding = phRun, ""
		return cancelled(st, pol)
	case p.full:
		st.full = true
		return leave(action{kind: doPromoteFull, takeFull: true})
	case p.promote:
		return leave(action{kind: st.onPromote, leaveHold: true, consumePromote: true})
	case st.holding == PausedForUser && !p.userPause:
		return leave(action{kind: st.onPromote, leaveHold: true})
	case !pol.pauseOnFail && p.bgFail:
		// A background Fail ends the pause (unless failures pause anyway)
		// and is then taken from the queue like any other.
		if st.requeueOnFail {
			return leave(action{kind: doRequeue, leaveHold: true})
		}
		return leave(action{kind: doLook, leaveHold: true})
	}
	return action{kind: doWait}, st
}

// failed applies the failure policy to a Fail; tolerated is what follows
// a tolerated Fail or a Promote past it: the next step (an inline
// analysis passed by a person), a relaunch (a background analyzer), or
// a look (a resumed release re-runs its step).
func failed(st decState, pol policy, v Verdict, then actKind) (action, decState) {
	st.failures++
	if st.failures <= pol.failuresAllowed {
		if then == doNextStep {
			return action{kind: doLook}, st // re-run the failed analysis
		}
		return action{kind: then}, st
	}
	if pol.pauseOnFail {
		return hold(st, PausedForFailure, v.String(), then, false)
	}
	return action{kind: doRollBack, errKind: ErrAnalysisFailed, cause: verdictError{v}, failed: &v}, st
}

func hold(st decState, reason PauseReason, why string, onPromote actKind, requeueOnFail bool) (action, decState) {
	st.phase, st.holding, st.onPromote, st.requeueOnFail = phHold, reason, onPromote, requeueOnFail
	return action{kind: doHold, pause: reason, why: why}, st
}

// lostLease stops a release whose context was cancelled because its lease
// was lost: another driver owns the target now, so this one neither rolls
// back nor honours an Abort (it could not apply or record either).
func lostLease(st decState) (action, decState) {
	return action{kind: doStop, errKind: ErrFenced, ctxCause: true,
		why: "the lease was lost to another driver; this one stopped without applying"}, st
}

func cancelled(st decState, pol policy) (action, decState) {
	if pol.leaveOnCancel {
		return action{kind: doStop, errKind: ErrStopped, ctxCause: true,
			why: "context cancelled; target left as recorded for a later resume"}, st
	}
	return action{kind: doRollBack, errKind: ErrCancelled, ctxCause: true}, st
}

var (
	errResumedRollback = errors.New("resumed a release that was rolling back or aborted")
	errUnknownEvent    = errors.New("unknown event")
)

func failuresReason(n, allowed int) string {
	return fmt.Sprintf("%d Fail verdicts recorded before the release resumed, %d allowed", n, allowed)
}

// verdictError is a Fail verdict as the cause of a rollback.
type verdictError struct{ v Verdict }

func (e verdictError) Error() string { return e.v.String() }

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
