package strategy

import (
	"errors"
	"fmt"
	"testing"

	"pgregory.net/rapid"
)

var (
	testFail = Verdict{Analyzer: "a", Outcome: Fail, Reason: "too many errors"}
	testInc  = Verdict{Analyzer: "a", Outcome: Inconclusive, Reason: "no data"}
	testPass = Verdict{Analyzer: "a", Outcome: Pass}
	errBoom  = errors.New("boom")
)

func running() decState { return decState{} }
func fullRun() decState { return decState{full: true} }
func holding(reason PauseReason, onPromote actKind, requeue bool) decState {
	return decState{phase: phHold, holding: reason, onPromote: onPromote, requeueOnFail: requeue}
}

// TestDecideTable lists every (phase, event) pair and what must follow.
// Phases: running a step (or between steps), promoting fully, and holding
// (for each reason a hold has). Every event kind appears for the running
// phases; holding answers only wake-ups (evLook), whatever is pending.
func TestDecideTable(t *testing.T) {
	rollBack := func(kind error) action { return action{kind: doRollBack, errKind: kind} }
	strict := policy{}
	lenient := policy{failuresAllowed: 1}
	pausing := policy{pauseOnFail: true, pauseOnDeadline: true}
	leave := policy{leaveOnCancel: true}
	cases := []struct {
		name  string
		st    decState
		pol   policy
		ev    event
		want  action // only the fields compared below
		phase runPhase
		pause PauseReason
	}{
		// Running: looking at what is pending, in priority order.
		{"run/look/nothing", running(), strict, event{kind: evLook}, action{kind: doRunStep}, phRun, ""},
		{"run/look/abort", running(), strict, event{kind: evLook, pend: pendingInputs{abort: true, cancelled: true, full: true}}, rollBack(ErrAborted), phRun, ""},
		{"run/look/cancel", running(), strict, event{kind: evLook, pend: pendingInputs{cancelled: true, full: true}}, rollBack(ErrCancelled), phRun, ""},
		{"run/look/cancel-leave", running(), leave, event{kind: evLook, pend: pendingInputs{cancelled: true}}, action{kind: doStop, errKind: ErrStopped}, phRun, ""},
		{"run/look/promote-full", running(), strict, event{kind: evLook, pend: pendingInputs{full: true, bgQueued: true}}, action{kind: doPromoteFull}, phRun, ""},
		{"run/look/bg-queued", running(), strict, event{kind: evLook, pend: pendingInputs{bgQueued: true, userPause: true}}, action{kind: doTakeBg}, phRun, ""},
		{"run/look/user-pause", running(), strict, event{kind: evLook, pend: pendingInputs{userPause: true}}, action{kind: doHold}, phHold, PausedForUser},
		{"run/look/stray-promote", running(), strict, event{kind: evLook, pend: pendingInputs{promote: true}}, action{kind: doRunStep}, phRun, ""},
		// Running: resuming from a checkpoint.
		{"run/resume/plain", running(), strict, event{kind: evResume}, action{kind: doLook}, phRun, ""},
		{"run/resume/rollback", running(), strict, event{kind: evResume, resume: resumeInfo{rollBack: true, promote: true}}, rollBack(ErrAborted), phRun, ""},
		{"run/resume/promote", running(), strict, event{kind: evResume, resume: resumeInfo{promote: true, failures: 3}}, action{kind: doLook}, phRun, ""},
		{"run/resume/recorded-fail", running(), strict, event{kind: evResume, resume: resumeInfo{failures: 1}}, rollBack(ErrAnalysisFailed), phRun, ""},
		{"run/resume/recorded-fail-pause", running(), pausing, event{kind: evResume, resume: resumeInfo{failures: 1}}, action{kind: doHold}, phHold, PausedForFailure},
		{"run/resume/tolerated-fail", running(), lenient, event{kind: evResume, resume: resumeInfo{failures: 1}}, action{kind: doLook}, phRun, ""},
		// Running: step outcomes.
		{"run/step-done", running(), strict, event{kind: evStepDone}, action{kind: doNextStep}, phRun, ""},
		{"run/step-fail", running(), strict, event{kind: evStepFail, verdict: testFail}, rollBack(ErrAnalysisFailed), phRun, ""},
		{"run/step-fail/tolerated", running(), lenient, event{kind: evStepFail, verdict: testFail}, action{kind: doLook}, phRun, ""},
		{"run/step-fail/pause", running(), pausing, event{kind: evStepFail, verdict: testFail}, action{kind: doHold}, phHold, PausedForFailure},
		{"run/step-inconclusive", running(), strict, event{kind: evStepInconclusive, verdict: testInc}, action{kind: doHold}, phHold, PausedForInconclusive},
		{"run/deadline", running(), strict, event{kind: evDeadline, err: errBoom}, rollBack(ErrDeadlineExceeded), phRun, ""},
		{"run/deadline/pause", running(), pausing, event{kind: evDeadline, err: errBoom}, action{kind: doHold}, phHold, PausedForDeadline},
		{"run/target", running(), strict, event{kind: evTarget, err: errBoom}, rollBack(ErrTarget), phRun, ""},
		{"run/journal", running(), strict, event{kind: evJournal, err: errBoom}, action{kind: doStop, errKind: ErrJournal}, phRun, ""},
		{"run/fenced", running(), strict, event{kind: evFenced, err: errBoom}, action{kind: doStop, errKind: ErrFenced}, phRun, ""},
		{"run/interrupted", running(), strict, event{kind: evInterrupted}, action{kind: doLook}, phRun, ""},
		{"run/cancelled", running(), strict, event{kind: evCancelled}, rollBack(ErrCancelled), phRun, ""},
		{"run/cancelled-leave", running(), leave, event{kind: evCancelled}, action{kind: doStop, errKind: ErrStopped}, phRun, ""},
		{"run/cancelled-after-abort", running(), leave, event{kind: evCancelled, pend: pendingInputs{abort: true}}, rollBack(ErrAborted), phRun, ""},
		// Running: background verdicts.
		{"run/bg-fail", running(), strict, event{kind: evBgVerdict, verdict: testFail}, rollBack(ErrAnalysisFailed), phRun, ""},
		{"run/bg-fail/tolerated", running(), lenient, event{kind: evBgVerdict, verdict: testFail}, action{kind: doRelaunch}, phRun, ""},
		{"run/bg-fail/pause", running(), pausing, event{kind: evBgVerdict, verdict: testFail}, action{kind: doHold}, phHold, PausedForFailure},
		{"run/bg-inconclusive", running(), strict, event{kind: evBgVerdict, verdict: testInc}, action{kind: doHold}, phHold, PausedForInconclusive},
		{"run/bg-pass", running(), strict, event{kind: evBgVerdict, verdict: testPass}, action{kind: doLook}, phRun, ""},
		// Running: the end of the plan.
		{"run/plan-done", running(), strict, event{kind: evPlanDone}, action{kind: doFinish}, phRun, ""},
		{"run/plan-done/aborted", running(), strict, event{kind: evPlanDone, pend: pendingInputs{abort: true}}, rollBack(ErrAborted), phRun, ""},

		// Promoting fully: a look promotes again; outcomes as for a step.
		{"full/look", fullRun(), strict, event{kind: evLook}, action{kind: doPromoteFull}, phRun, ""},
		{"full/look/abort", fullRun(), strict, event{kind: evLook, pend: pendingInputs{abort: true}}, rollBack(ErrAborted), phRun, ""},
		{"full/look/bg-queued", fullRun(), strict, event{kind: evLook, pend: pendingInputs{bgQueued: true}}, action{kind: doPromoteFull}, phRun, ""},
		{"full/resume", fullRun(), strict, event{kind: evResume}, action{kind: doLook}, phRun, ""},
		{"full/step-done", fullRun(), strict, event{kind: evStepDone}, action{kind: doNextStep}, phRun, ""},
		{"full/step-fail", fullRun(), strict, event{kind: evStepFail, verdict: testFail}, rollBack(ErrAnalysisFailed), phRun, ""},
		{"full/step-inconclusive", fullRun(), strict, event{kind: evStepInconclusive, verdict: testInc}, action{kind: doHold}, phHold, PausedForInconclusive},
		{"full/deadline/pause", fullRun(), pausing, event{kind: evDeadline, err: errBoom}, action{kind: doHold}, phHold, PausedForDeadline},
		{"full/deadline", fullRun(), strict, event{kind: evDeadline, err: errBoom}, rollBack(ErrDeadlineExceeded), phRun, ""},
		{"full/target", fullRun(), strict, event{kind: evTarget, err: errBoom}, rollBack(ErrTarget), phRun, ""},
		{"full/journal", fullRun(), strict, event{kind: evJournal, err: errBoom}, action{kind: doStop, errKind: ErrJournal}, phRun, ""},
		{"full/fenced", fullRun(), strict, event{kind: evFenced, err: errBoom}, action{kind: doStop, errKind: ErrFenced}, phRun, ""},
		{"full/interrupted", fullRun(), strict, event{kind: evInterrupted}, action{kind: doLook}, phRun, ""},
		{"full/cancelled", fullRun(), strict, event{kind: evCancelled}, rollBack(ErrCancelled), phRun, ""},
		{"full/bg-verdict", fullRun(), strict, event{kind: evBgVerdict, verdict: testFail}, rollBack(ErrAnalysisFailed), phRun, ""},
		{"full/plan-done", fullRun(), strict, event{kind: evPlanDone}, action{kind: doFinish}, phRun, ""},
		{"full/plan-done/aborted", fullRun(), strict, event{kind: evPlanDone, pend: pendingInputs{abort: true}}, rollBack(ErrAborted), phRun, ""},

		// Holding: only what is pending at a wake-up ends a hold.
		{"hold/nothing", holding(PausedForInconclusive, doNextStep, false), strict, event{kind: evLook}, action{kind: doWait}, phHold, PausedForInconclusive},
		{"hold/abort", holding(PausedForFailure, doNextStep, false), pausing, event{kind: evLook, pend: pendingInputs{abort: true, full: true, promote: true, cancelled: true}}, rollBack(ErrAborted), phRun, ""},
		// A lost lease (the context's cause matches ErrFenced) stops the release
		// where it is: another driver owns the target, so neither a rollback
		// nor an accepted Abort may be applied by this one.
		{"run/look/lease-lost", running(), strict, event{kind: evLook, pend: pendingInputs{fenced: true, cancelled: true, abort: true, full: true}}, action{kind: doStop, errKind: ErrFenced}, phRun, ""},
		{"run/cancelled/lease-lost", running(), strict, event{kind: evCancelled, pend: pendingInputs{fenced: true, cancelled: true, abort: true}}, action{kind: doStop, errKind: ErrFenced}, phRun, ""},
		{"hold/lease-lost", holding(PausedForStep, doNextStep, false), pausing, event{kind: evLook, pend: pendingInputs{fenced: true, cancelled: true, abort: true, promote: true}}, action{kind: doStop, errKind: ErrFenced}, phRun, ""},
		{"hold/promote-full", holding(PausedForDeadline, doLook, false), strict, event{kind: evLook, pend: pendingInputs{full: true, promote: true}}, action{kind: doPromoteFull}, phRun, ""},
		{"hold/promote/inline-inconclusive", holding(PausedForInconclusive, doNextStep, false), strict, event{kind: evLook, pend: pendingInputs{promote: true}}, action{kind: doNextStep, leaveHold: true, consumePromote: true}, phRun, ""},
		{"hold/promote/bg-inconclusive", holding(PausedForInconclusive, doRelaunch, true), strict, event{kind: evLook, pend: pendingInputs{promote: true, bgFail: true}}, action{kind: doRelaunch, leaveHold: true, consumePromote: true}, phRun, ""},
		{"hold/promote/deadline", holding(PausedForDeadline, doLook, false), strict, event{kind: evLook, pend: pendingInputs{promote: true}}, action{kind: doLook, leaveHold: true, consumePromote: true}, phRun, ""},
		{"hold/promote/failed", holding(PausedForFailure, doNextStep, false), pausing, event{kind: evLook, pend: pendingInputs{promote: true}}, action{kind: doNextStep, leaveHold: true, consumePromote: true}, phRun, ""},
		{"hold/user/resume", holding(PausedForUser, doLook, false), strict, event{kind: evLook}, action{kind: doLook, leaveHold: true}, phRun, ""},
		{"hold/user/still", holding(PausedForUser, doLook, false), strict, event{kind: evLook, pend: pendingInputs{userPause: true}}, action{kind: doWait}, phHold, PausedForUser},
		{"hold/user/bg-fail", holding(PausedForUser, doLook, false), strict, event{kind: evLook, pend: pendingInputs{userPause: true, bgQueued: true, bgFail: true}}, action{kind: doLook, leaveHold: true}, phRun, ""},
		{"hold/user/bg-fail-pausing", holding(PausedForUser, doLook, false), pausing, event{kind: evLook, pend: pendingInputs{userPause: true, bgQueued: true, bgFail: true}}, action{kind: doWait}, phHold, PausedForUser},
		{"hold/bg-inconclusive/bg-fail", holding(PausedForInconclusive, doRelaunch, true), strict, event{kind: evLook, pend: pendingInputs{bgQueued: true, bgFail: true}}, action{kind: doRequeue, leaveHold: true}, phRun, ""},
		{"hold/bg-inconclusive/bg-pass", holding(PausedForInconclusive, doRelaunch, true), strict, event{kind: evLook, pend: pendingInputs{bgQueued: true}}, action{kind: doWait}, phHold, PausedForInconclusive},
		{"hold/deadline/bg-fail", holding(PausedForDeadline, doLook, false), strict, event{kind: evLook, pend: pendingInputs{bgQueued: true, bgFail: true}}, action{kind: doLook, leaveHold: true}, phRun, ""},
		{"hold/cancelled", holding(PausedForInconclusive, doNextStep, false), strict, event{kind: evLook, pend: pendingInputs{cancelled: true}}, rollBack(ErrCancelled), phRun, ""},
		{"hold/cancelled-leave", holding(PausedForInconclusive, doNextStep, false), leave, event{kind: evLook, pend: pendingInputs{cancelled: true}}, action{kind: doStop, errKind: ErrStopped}, phRun, ""},
		{"hold/cancelled-after-abort", holding(PausedForUser, doLook, false), leave, event{kind: evLook, pend: pendingInputs{cancelled: true, abort: true, userPause: true}}, rollBack(ErrAborted), phRun, ""},
	}
	seen := map[string]bool{}
	for _, c := range cases {
		act, st := decide(c.st, c.pol, c.ev)
		if act.kind != c.want.kind || act.errKind != c.want.errKind || act.leaveHold != c.want.leaveHold || act.consumePromote != c.want.consumePromote {
			t.Errorf("%s: got %s (kind %v, leave %v, promote %v), want %s (kind %v, leave %v, promote %v)", c.name,
				act.kind, act.errKind, act.leaveHold, act.consumePromote, c.want.kind, c.want.errKind, c.want.leaveHold, c.want.consumePromote)
		}
		if st.phase != c.phase || (c.phase == phHold && st.holding != c.pause) {
			t.Errorf("%s: new phase %d %s, want %d %s", c.name, st.phase, st.holding, c.phase, c.pause)
		}
		if act.kind == doHold && act.pause != c.pause {
			t.Errorf("%s: holds for %s, want %s", c.name, act.pause, c.pause)
		}
		ph := "run"
		switch {
		case c.st.phase == phHold:
			ph = "hold"
		case c.st.full:
			ph = "full"
		}
		seen[ph+"/"+c.ev.kind.String()] = true
	}
	// Every event kind is listed for both running phases; a hold is
	// listed for every reason it can have.
	for k := evLook; k <= evPlanDone; k++ {
		for _, ph := range []string{"run", "full"} {
			if !seen[ph+"/"+k.String()] {
				t.Errorf("no row for phase %s and event %s", ph, k)
			}
		}
	}
	reasons := map[PauseReason]bool{}
	for _, c := range cases {
		if c.st.phase == phHold {
			reasons[c.st.holding] = true
		}
	}
	for _, r := range []PauseReason{PausedForInconclusive, PausedForUser, PausedForFailure, PausedForDeadline} {
		if !reasons[r] {
			t.Errorf("no row holding for %s", r)
		}
	}
}

// TestDecideProperties drives decide with random event sequences and
// checks the executor's invariants (ARCHITECTURE.md) on every answer:
// an accepted Abort is acted on at the next look (and nothing promotes
// past it); a Fail beyond the allowance never leads on without a person;
// only a hold waits, and a hold ends only on something pending; a
// cancelled context ends the release by the policy; nothing else moves
// the release to its end.
func TestDecideProperties(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		pol := policy{
			failuresAllowed: rapid.IntRange(0, 2).Draw(rt, "allowed"),
			pauseOnFail:     rapid.Bool().Draw(rt, "pause-on-fail"),
			pauseOnDeadline: rapid.Bool().Draw(rt, "pause-on-deadline"),
			leaveOnCancel:   rapid.Bool().Draw(rt, "leave-on-cancel"),
		}
		st := decState{}
		aborted := false
		owed := false // a Fail beyond the allowance awaits a rollback or a person
		n := rapid.IntRange(1, 60).Draw(rt, "events")
		for k := range n {
			ev := event{kind: evKind(rapid.IntRange(int(evLook), int(evPlanDone)).Draw(rt, fmt.Sprintf("kind%d", k)))}
			if st.phase == phHold {
				ev.kind = evLook
			}
			p := &ev.pend
			p.abort = aborted || rapid.IntRange(0, 9).Draw(rt, fmt.Sprintf("abort%d", k)) == 0
			p.full = rapid.IntRange(0, 9).Draw(rt, fmt.Sprintf("full%d", k)) == 0
			p.promote = rapid.IntRange(0, 4).Draw(rt, fmt.Sprintf("promote%d", k)) == 0
			p.userPause = rapid.IntRange(0, 4).Draw(rt, fmt.Sprintf("pause%d", k)) == 0
			p.cancelled = rapid.IntRange(0, 9).Draw(rt, fmt.Sprintf("cancel%d", k)) == 0
			p.bgQueued = rapid.Bool().Draw(rt, fmt.Sprintf("bg%d", k))
			p.bgFail = p.bgQueued && rapid.Bool().Draw(rt, fmt.Sprintf("bgfail%d", k))
			ev.verdict = rapid.SampledFrom([]Verdict{testPass, testFail, testInc}).Draw(rt, fmt.Sprintf("verdict%d", k))
			if ev.kind == evStepFail {
				ev.verdict = testFail
			}
			if ev.kind == evResume {
				if k > 0 {
					continue // a resume only begins a run
				}
				ev.resume = resumeInfo{failures: rapid.IntRange(0, 3).Draw(rt, "resume-failures")}
			}
			aborted = p.abort
			before := st
			act, next := decide(st, pol, ev)
			rt.Logf("%+v %s %+v -> %s %v", before, ev.kind, ev.pend, act.kind, act.errKind)

			// Invariant: only a hold waits; a hold waits unless something
			// pending ends it.
			if act.kind == doWait {
				if before.phase != phHold {
					rt.Fatalf("doWait outside a hold")
				}
				if p.abort || p.full || p.promote || p.cancelled || (before.holding == PausedForUser && !p.userPause) || (!pol.pauseOnFail && p.bgFail) {
					rt.Fatalf("a hold ignored %+v", ev.pend)
				}
			}
			// Invariant: an accepted Abort is acted on at every look, at
			// the end of the plan and on cancellation.
			if p.abort && (ev.kind == evLook || ev.kind == evPlanDone || ev.kind == evCancelled) &&
				(act.kind != doRollBack || act.errKind != ErrAborted) {
				rt.Fatalf("an accepted Abort was not acted on: %s", act.kind)
			}
			// Invariant: nothing promotes past an accepted Abort.
			if act.kind == doFinish && p.abort {
				rt.Fatalf("promoted past an accepted Abort")
			}
			// Invariant: a cancelled context ends the release by the
			// policy (or rolls back an accepted Abort).
			if p.cancelled && (ev.kind == evLook || ev.kind == evCancelled) {
				switch {
				case p.abort:
				case pol.leaveOnCancel && (act.kind != doStop || act.errKind != ErrStopped):
					rt.Fatalf("cancelled under OnCancel.Leave: %s", act.kind)
				case !pol.leaveOnCancel && act.kind != doStop && (act.kind != doRollBack || act.errKind != ErrCancelled) && act.errKind != ErrAborted:
					rt.Fatalf("cancelled under the default OnCancel: %s", act.kind)
				}
			}
			// Invariant: a Fail beyond the allowance rolls back or holds
			// for a person; the release goes on past it only by a
			// Promote (or PromoteFull, or a resume of a user hold).
			if fails := ev.kind == evStepFail || (ev.kind == evBgVerdict && ev.verdict.Outcome == Fail) ||
				(ev.kind == evResume && ev.resume.failures > pol.failuresAllowed); fails && next.failures > pol.failuresAllowed && before.phase == phRun {
				switch {
				case act.kind == doRollBack && act.errKind == ErrAnalysisFailed:
				case act.kind == doHold && act.pause == PausedForFailure && pol.pauseOnFail:
					owed = true
				default:
					rt.Fatalf("a Fail beyond the allowance led to %s", act.kind)
				}
			}
			if owed && before.phase == phHold && before.holding == PausedForFailure && next.phase == phRun {
				if !(p.abort || p.full || p.promote || p.cancelled) {
					rt.Fatalf("left a failure hold without a person: %s", act.kind)
				}
				owed = false
			}
			// Invariant: failures never decrease.
			if next.failures < before.failures {
				rt.Fatalf("failures went from %d to %d", before.failures, next.failures)
			}
			// Invariant: a rollback for a failed analysis comes from a Fail
			// beyond the allowance.
			if act.kind == doRollBack && act.errKind == ErrAnalysisFailed && next.failures <= pol.failuresAllowed {
				rt.Fatalf("rolled back for %d failures, %d allowed", next.failures, pol.failuresAllowed)
			}
			// The run loop performs the action; model the parts that
			// change the decision state.
			st = next
			if act.kind == doRollBack || act.kind == doStop || act.kind == doFinish {
				st, aborted, owed = decState{}, false, false
			}
		}
	})
}
