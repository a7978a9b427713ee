package strategy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// This file is the executor: the only code in glidepath that applies States
// to targets. Strategies only plan; everything with side effects (retries,
// deadlines, analysis, events, journaling, rollback) happens here.

type flow int

const (
	flowRun  flow = iota // run step i (again)
	flowNext             // step i is done; go on with i+1
	flowEnd              // the release is over; the error says how
)

type action int

const (
	actPromote action = iota
	actAbort
	actPromoteFull
	actCancel
	actBgFail
)

// bgResult is a verdict reached by a background analyzer.
type bgResult struct {
	group, index int
	verdict      Verdict
}

type stepKind int

const (
	outOK stepKind = iota
	outFail
	outInconclusive
	outDeadline
	outTarget
	outJournal
	outFenced
	outInterrupted
	outCancelled
)

type stepOut struct {
	kind    stepKind
	err     error
	verdict Verdict
}

// executor state that only the run goroutine touches, apart from the
// fields under bgMu, which background analyzers' goroutines share.
type runState struct {
	failures  int
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
	if err := r.opts.Journal.Record(context.WithoutCancel(ctx), rec); err != nil {
		return fmt.Errorf("%w: %w", ErrJournal, err)
	}
	return nil
}

func (r *Rollout) drive(ctx context.Context, rs *runState) error {
	if err := r.begin(ctx); err != nil {
		return err
	}
	i := 0
	if cp := r.rel.Resume; cp != nil {
		i = cp.Step
		rs.failures = cp.Failures
		r.setStep(i)
		if cp.RollBack {
			return r.rollback(ctx, rs, i, ErrAborted, errors.New("resumed a release that was rolling back or aborted"))
		}
		if !cp.Promote && cp.Failures > r.opts.OnFail.FailuresAllowed {
			// A Fail was recorded and the process stopped before acting
			// on it: decide it now, as it would have been decided then,
			// rather than analyse again.
			v := Verdict{Outcome: Fail, Reason: fmt.Sprintf("%d Fail verdicts recorded before the release resumed, %d allowed",
				cp.Failures, r.opts.OnFail.FailuresAllowed)}
			rs.failures--
			if f, err := r.onFail(ctx, rs, i, v, true); f == flowEnd {
				return err
			}
		}
		if cp.Promote {
			// A recorded PromoteFull: react finds the flag and promotes,
			// and goes on reacting (a missed deadline may pause it, and a
			// person may try again or abort) until the release ends.
			r.mu.Lock()
			r.promoteFull = true
			r.mu.Unlock()
			for {
				if f, err := r.react(ctx, rs, i); f == flowEnd {
					return err
				}
			}
		}
	}
	last := len(r.plan.Steps) - 1
	for i < len(r.plan.Steps) {
		r.setStep(i)
		r.startBackground(rs, i)
		if i == last && len(r.plan.Background) > 0 && !rs.lastWord {
			r.lastWord(rs, i)
		}
		f, err := r.react(ctx, rs, i)
		switch f {
		case flowEnd:
			return err
		case flowNext:
			i = r.advance(ctx, rs, i)
			continue
		}
		out := r.runStep(ctx, rs, i)
		f, err = r.handle(ctx, rs, i, out)
		switch f {
		case flowEnd:
			return err
		case flowNext:
			i = r.advance(ctx, rs, i)
		}
	}
	r.setStep(len(r.plan.Steps))
	if !r.promoted("every step completed") {
		// An Abort accepted while the last step ran.
		r.setStep(last)
		return r.rollback(ctx, rs, last, ErrAborted, nil)
	}
	r.recordEnd(ctx, Record{Kind: RecordPhase, Step: len(r.plan.Steps), Phase: PhasePromoted})
	return nil
}

// promoted ends the release as promoted unless an Abort was accepted
// before, checked atomically so that an Abort is either acted on or
// refused (ErrNotRunning), never accepted and ignored.
func (r *Rollout) promoted(reason string) bool {
	r.mu.Lock()
	if r.abort {
		r.mu.Unlock()
		return false
	}
	ev := r.setPhaseLocked(PhasePromoted, "", reason)
	r.mu.Unlock()
	r.emitPhase(ev)
	return true
}

// lastWord cancels background analysis with ErrPlanComplete before the
// final step and waits for its answers, which react then acts on like any
// other. An analyzer that has not answered within Options.AnalysisGrace
// gets no say, and the release does not promote on its silence: it is
// recorded as Inconclusive.
func (r *Rollout) lastWord(rs *runState, i int) {
	rs.lastWord = true
	rs.bgCancel(ErrPlanComplete)
	if r.waitBackground(rs, r.opts.AnalysisGrace) {
		return
	}
	rs.bgMu.Lock()
	defer rs.bgMu.Unlock()
	rs.bgClosed = true // a late answer is dropped
	for g, running := range rs.bgRunning {
		for k, on := range running {
			if !on {
				continue
			}
			a := r.plan.Background[g].Analyzers[k]
			v := normalize(a, Verdict{Outcome: Inconclusive,
				Reason: fmt.Sprintf("gave no last word within %v of the end of the plan", r.opts.AnalysisGrace)}, nil)
			r.report(rs, g, k, v)
		}
	}
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
		obs, e = r.rel.Target.Observe(c)
		return e
	}, nil)
	if err != nil {
		if ctx.Err() != nil && r.opts.OnCancel != LeaveAsRecorded {
			r.setPhase(PhaseStopped, "", "cancelled before anything was applied")
			return &StepError{Step: -1, Kind: ErrCancelled, Err: context.Cause(ctx)}
		}
		if ctx.Err() != nil && r.opts.OnCancel == LeaveAsRecorded {
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
	if err := r.record(ctx, Record{Kind: RecordStep, Step: i + 1, Failures: rs.failures}); err != nil {
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

// handle turns a step's outcome into what happens next.
func (r *Rollout) handle(ctx context.Context, rs *runState, i int, out stepOut) (flow, error) {
	switch out.kind {
	case outOK:
		return flowNext, nil
	case outInterrupted:
		return flowRun, nil // react reads the flags and acts
	case outCancelled:
		return flowEnd, r.cancelled(ctx, rs, i)
	case outFail:
		return r.onFail(ctx, rs, i, out.verdict, false)
	case outInconclusive:
		act := r.hold(ctx, PauseInconclusive, out.verdict.String())
		if act == actPromote {
			return flowNext, nil // a person judged the inconclusive step
		}
		return r.dispatch(ctx, rs, i, act)
	case outDeadline:
		if r.opts.PauseOnDeadline {
			act := r.hold(ctx, PauseDeadline, out.err.Error())
			if act == actPromote {
				return flowRun, nil // wait again
			}
			return r.dispatch(ctx, rs, i, act)
		}
		return flowEnd, r.rollback(ctx, rs, i, ErrDeadlineExceeded, out.err)
	case outTarget:
		return flowEnd, r.rollback(ctx, rs, i, ErrTarget, out.err)
	case outFenced:
		r.stopBackground(rs)
		r.setPhase(PhaseStopped, "", "another driver holds the target's lease; this one stopped without applying")
		return flowEnd, r.stepError(i, ErrFenced, out.err)
	case outJournal:
		r.stopBackground(rs)
		r.setPhase(PhaseStopped, "", "the journal could not record the next step; nothing unrecorded was applied")
		return flowEnd, r.stepError(i, ErrJournal, out.err)
	}
	return flowEnd, fmt.Errorf("glidepath: unknown step outcome %d", out.kind)
}

// dispatch performs the actions common to every pause and check point.
// A background Fail that ended a pause (actBgFail) is left in the queue
// for react, which journals it and applies the failure policy.
func (r *Rollout) dispatch(ctx context.Context, rs *runState, i int, act action) (flow, error) {
	switch act {
	case actAbort:
		return flowEnd, r.rollback(ctx, rs, i, ErrAborted, nil)
	case actPromoteFull:
		return r.promoteFullNow(ctx, rs, i)
	case actCancel:
		return flowEnd, r.cancelled(ctx, rs, i)
	}
	return flowRun, nil
}

// react handles, between steps, everything that arrived asynchronously:
// cancellation, Abort, PromoteFull, background verdicts and user pauses.
func (r *Rollout) react(ctx context.Context, rs *runState, i int) (flow, error) {
	for {
		if ctx.Err() != nil {
			return flowEnd, r.cancelled(ctx, rs, i)
		}
		r.mu.Lock()
		abort, full, paused := r.abort, r.promoteFull, r.userPause
		r.mu.Unlock()
		if abort {
			return flowEnd, r.rollback(ctx, rs, i, ErrAborted, nil)
		}
		if full {
			return r.promoteFullNow(ctx, rs, i)
		}
		if ev, ok := r.nextBg(); ok {
			switch ev.verdict.Outcome {
			case Fail:
				f, err := r.onFail(ctx, rs, i, ev.verdict, true)
				if f != flowRun {
					return f, err
				}
				r.launchBg(rs, ev.group, ev.index)
			case Inconclusive:
				switch act := r.hold(ctx, PauseInconclusive, ev.verdict.String()); act {
				case actPromote:
					r.launchBg(rs, ev.group, ev.index)
				case actBgFail:
					// A Fail arrived while a person was to judge this
					// verdict: handle the Fail first, then pause again.
					r.requeueBg(ev)
				default:
					return r.dispatch(ctx, rs, i, act)
				}
			}
			continue
		}
		if paused {
			act := r.hold(ctx, PauseUser, "paused by a user")
			if act != actPromote && act != actBgFail {
				return r.dispatch(ctx, rs, i, act)
			}
			continue
		}
		return flowRun, nil
	}
}

// onFail applies the failure policy to a Fail verdict.
func (r *Rollout) onFail(ctx context.Context, rs *runState, i int, v Verdict, background bool) (flow, error) {
	rs.failures++
	if rs.failures <= r.opts.OnFail.FailuresAllowed {
		// Tolerated: the caller re-runs the analysis.
		return flowRun, nil
	}
	cause := errors.New(v.String())
	if r.opts.OnFail.Pause {
		act := r.hold(ctx, PauseFailed, v.String())
		if act == actPromote {
			if background {
				return flowRun, nil
			}
			return flowNext, nil
		}
		return r.dispatch(ctx, rs, i, act)
	}
	r.mu.Lock()
	r.result.FailedAt = v.At
	r.mu.Unlock()
	return flowEnd, r.rollback(ctx, rs, i, ErrAnalysisFailed, cause)
}

// hold pauses the release until something ends the pause, and says what.
// A background Fail ends the pause (unless failures pause the release
// anyway) and stays queued for react; the phase is then Progressing again,
// set together with the decision so that a Promote is either taken by
// this pause or refused.
func (r *Rollout) hold(ctx context.Context, reason PauseReason, why string) action {
	r.setPhase(PhasePaused, reason, why)
	r.recordEnd(ctx, Record{Kind: RecordPhase, Step: r.Status().Step, Phase: PhasePaused, Reason: why})
	for {
		r.mu.Lock()
		switch {
		case r.abort:
			r.mu.Unlock()
			return actAbort
		case r.promoteFull:
			r.mu.Unlock()
			return actPromoteFull
		case r.promote, reason == PauseUser && !r.userPause:
			r.promote = false
			ev := r.setPhaseLocked(PhaseProgressing, "", "")
			r.mu.Unlock()
			r.emitPhase(ev)
			return actPromote
		case !r.opts.OnFail.Pause && hasOutcome(r.bgEvents, Fail):
			ev := r.setPhaseLocked(PhaseProgressing, "", "")
			r.mu.Unlock()
			r.emitPhase(ev)
			return actBgFail
		}
		r.mu.Unlock()
		select {
		case <-ctx.Done():
			return actCancel
		case <-r.wake:
		}
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

func (r *Rollout) cancelled(ctx context.Context, rs *runState, i int) error {
	r.mu.Lock()
	aborted := r.abort
	r.mu.Unlock()
	if aborted {
		// An Abort that was accepted is acted on, whatever the
		// cancellation policy says.
		return r.rollback(ctx, rs, i, ErrAborted, nil)
	}
	if r.opts.OnCancel == LeaveAsRecorded {
		r.stopBackground(rs)
		r.setPhase(PhaseStopped, "", "context cancelled; target left as recorded for a later resume")
		return r.stepError(i, ErrStopped, context.Cause(ctx))
	}
	return r.rollback(ctx, rs, i, ErrCancelled, context.Cause(ctx))
}

// promoteFull applies the plan's final State, skipping everything left.
// An Abort interrupts it (and rolls back, as react finds the flag).
func (r *Rollout) promoteFullNow(ctx context.Context, rs *runState, i int) (flow, error) {
	r.stopBackground(rs)
	r.mu.Lock()
	r.promoteFull = false // taken; a pause on the way (PauseOnDeadline) waits for a person
	r.mu.Unlock()
	r.promoting = true
	r.setPhase(PhaseProgressing, "", "promoting fully")
	sctx, cancel := r.interruptible(ctx)
	err := r.transition(sctx, r.plan.Final, false, i)
	r.endInterruptible(cancel)
	r.promoting = false
	if err != nil {
		f, err := r.handle(ctx, rs, i, r.stepErr(ctx, sctx, err))
		if f == flowRun {
			// Still promoting fully: react tries again (after an Abort
			// that interrupted it, react rolls back instead).
			r.mu.Lock()
			r.promoteFull = true
			r.mu.Unlock()
		}
		return f, err
	}
	r.setStep(len(r.plan.Steps))
	if !r.promoted("promoted fully, remaining steps skipped") {
		r.setStep(i)
		return flowRun, nil // an Abort arrived as the final State was applied
	}
	r.recordEnd(ctx, Record{Kind: RecordPhase, Step: len(r.plan.Steps), Phase: PhasePromoted, Promote: true})
	return flowEnd, nil
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

// classify maps an error from transition/wait to a step outcome.
func classify(ctx context.Context, err error) stepOut {
	switch {
	case err == nil:
		return stepOut{kind: outOK}
	case errors.Is(err, ErrFenced):
		return stepOut{kind: outFenced, err: err}
	case errors.Is(err, ErrJournal):
		return stepOut{kind: outJournal, err: err}
	case ctx.Err() != nil:
		return stepOut{kind: outCancelled, err: err}
	case errors.Is(err, errInterrupted):
		return stepOut{kind: outInterrupted, err: err}
	case errors.Is(err, ErrDeadlineExceeded):
		return stepOut{kind: outDeadline, err: err}
	default:
		return stepOut{kind: outTarget, err: err}
	}
}

// runStep runs step i under a context that control calls can interrupt.
func (r *Rollout) runStep(ctx context.Context, rs *runState, i int) stepOut {
	sctx, cancel := r.interruptible(ctx)
	defer r.endInterruptible(cancel)
	// A control call that arrived before the step context existed.
	r.mu.Lock()
	if r.abort || r.promoteFull || len(r.bgEvents) > 0 && hasNonPass(r.bgEvents) {
		r.mu.Unlock()
		return stepOut{kind: outInterrupted}
	}
	r.mu.Unlock()

	started := r.stepStarted(i)
	out, verdicts := r.execStep(ctx, sctx, i)
	r.stepDone(i, started, out, verdicts)
	return out
}

func (r *Rollout) stepStarted(i int) time.Time {
	started := time.Now()
	r.emit(StepStarted{EventMeta: r.meta(), Step: r.plan.Steps[i]})
	return started
}

// execStep does the work of step i.
func (r *Rollout) execStep(ctx, sctx context.Context, i int) (stepOut, []Verdict) {
	step := &r.plan.Steps[i]
	switch step.Kind {
	case StepApply:
		return r.stepErr(ctx, sctx, r.transition(sctx, step.State, false, i)), nil
	case StepWaitReady:
		timeout := step.Timeout
		if timeout == 0 {
			timeout = r.opts.ProgressDeadline
		}
		return r.stepErr(ctx, sctx, r.waitFor(sctx, r.currentState(), nil, timeout)), nil
	case StepPause:
		return r.pauseStep(ctx, sctx, i, step.Duration), nil
	case StepAnalyze:
		return r.analyze(ctx, sctx, i, step.Analyzers)
	}
	return stepOut{kind: outTarget, err: fmt.Errorf("unknown step kind %q", step.Kind)}, nil
}

// stepDone records the result of step i and announces it.
func (r *Rollout) stepDone(i int, started time.Time, out stepOut, verdicts []Verdict) {
	step := &r.plan.Steps[i]
	finished := time.Now()
	sr := StepResult{Index: i, Kind: step.Kind, Name: step.Name, State: step.State, Started: started, Finished: finished, Verdicts: verdicts}
	if out.err != nil {
		sr.Error = out.err.Error()
	} else if out.kind == outFail || out.kind == outInconclusive {
		sr.Error = out.verdict.String()
	}
	r.mu.Lock()
	r.result.Steps = append(r.result.Steps, sr)
	r.mu.Unlock()
	var evErr error
	if sr.Error != "" {
		evErr = errors.New(sr.Error)
	}
	r.emit(StepFinished{EventMeta: r.meta(), Step: *step, Duration: finished.Sub(started), Err: evErr})
}

func hasNonPass(evs []bgResult) bool {
	for _, ev := range evs {
		if ev.verdict.Outcome != Pass {
			return true
		}
	}
	return false
}

func hasOutcome(evs []bgResult, o Outcome) bool {
	for _, ev := range evs {
		if ev.verdict.Outcome == o {
			return true
		}
	}
	return false
}

// stepErr classifies err from work done under sctx (a child of ctx).
func (r *Rollout) stepErr(ctx, sctx context.Context, err error) stepOut {
	if err == nil {
		return stepOut{kind: outOK}
	}
	if errors.Is(err, ErrFenced) {
		return stepOut{kind: outFenced, err: err}
	}
	if errors.Is(err, ErrJournal) {
		return stepOut{kind: outJournal, err: err}
	}
	if ctx.Err() != nil {
		return stepOut{kind: outCancelled, err: err}
	}
	if sctx.Err() != nil && context.Cause(sctx) == errInterrupted {
		return stepOut{kind: outInterrupted, err: err}
	}
	return classify(ctx, err)
}

func (r *Rollout) pauseStep(ctx, sctx context.Context, i int, d time.Duration) stepOut {
	// A timed pause interrupted by a verdict or a hold resumes with the
	// time it had left, not from the start.
	if r.pausedStep == i+1 && d > 0 {
		d = max(d-r.pausedFor, 0)
	}
	began := time.Now()
	why := "paused until promoted"
	if d > 0 {
		why = "paused for " + d.String()
	}
	r.setPhase(PhasePaused, PauseStep, why)
	defer func() {
		r.mu.Lock()
		paused := r.status.Phase == PhasePaused
		r.mu.Unlock()
		if paused {
			r.setPhase(PhaseProgressing, "", "")
		}
	}()
	var timer <-chan time.Time
	fired := false
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timer = t.C
	}
	for {
		r.mu.Lock()
		if r.promote {
			r.promote = false
			r.mu.Unlock()
			r.pausedStep = 0
			return stepOut{kind: outOK}
		}
		if fired && !r.userPause {
			r.mu.Unlock()
			r.pausedStep = 0
			return stepOut{kind: outOK}
		}
		r.mu.Unlock()
		select {
		case <-sctx.Done():
			if r.pausedStep != i+1 {
				r.pausedStep, r.pausedFor = i+1, 0
			}
			r.pausedFor += time.Since(began)
			return r.stepErr(ctx, sctx, context.Cause(sctx))
		case <-r.wake:
		case <-timer:
			fired = true
			timer = nil
		}
	}
}

// analyze runs analyzers concurrently; the worst verdict decides.
func (r *Rollout) analyze(ctx, sctx context.Context, i int, analyzers []Analyzer) (stepOut, []Verdict) {
	cur := r.currentState()
	in := Input{Release: r.name, Stable: r.rel.Stable, Canary: r.rel.Canary, State: cur, Step: i, Current: r.currentState}
	actx := sctx
	if t := r.plan.Steps[i].Timeout; t > 0 {
		var cancel context.CancelFunc
		actx, cancel = context.WithTimeoutCause(sctx, t, fmt.Errorf("analysis did not decide within the step's timeout of %v", t))
		defer cancel()
	}
	type answer struct {
		k int
		v Verdict
	}
	answers := make(chan answer, len(analyzers))
	for k, a := range analyzers {
		go func() {
			v, err := a.Analyze(actx, in)
			if err != nil && actx.Err() != nil && sctx.Err() == nil {
				err = fmt.Errorf("%w (%w)", context.Cause(actx), err)
			}
			answers <- answer{k, normalize(a, v, err)}
		}()
	}
	// Collect the answers. An interrupted or cancelled step does not wait
	// for analyzers that ignore their context; a step past its Timeout
	// waits AnalysisGrace for them, and then counts them as errors.
	verdicts := make([]Verdict, len(analyzers))
	timedOut := actx.Done()
	var grace <-chan time.Time
	for n := 0; n < len(analyzers); {
		select {
		case ans := <-answers:
			verdicts[ans.k] = ans.v
			n++
			continue
		case <-sctx.Done():
			return r.stepErr(ctx, sctx, context.Cause(sctx)), nil
		case <-timedOut:
			timedOut = nil
			t := time.NewTimer(r.opts.AnalysisGrace)
			defer t.Stop()
			grace = t.C
			continue
		case <-grace:
		}
		for k, a := range analyzers {
			if verdicts[k].Outcome == "" { // normalize always sets one
				verdicts[k] = normalize(a, Verdict{}, fmt.Errorf("%w; the analyzer had not returned %v later", context.Cause(actx), r.opts.AnalysisGrace))
			}
		}
		break
	}
	if sctx.Err() != nil {
		return r.stepErr(ctx, sctx, context.Cause(sctx)), nil
	}
	worst := 0
	for k, v := range verdicts {
		r.addVerdict(v)
		r.emit(VerdictReached{EventMeta: r.meta(), Verdict: v})
		if err := r.record(ctx, Record{Kind: RecordVerdict, Step: i, Verdict: &verdicts[k]}); err != nil {
			return stepOut{kind: outJournal, err: err}, verdicts
		}
		if v.Outcome.Worse(verdicts[worst].Outcome) {
			worst = k
		}
	}
	switch verdicts[worst].Outcome {
	case Pass:
		return stepOut{kind: outOK}, verdicts
	case Fail:
		return stepOut{kind: outFail, verdict: verdicts[worst]}, verdicts
	default:
		return stepOut{kind: outInconclusive, verdict: verdicts[worst]}, verdicts
	}
}

// normalize turns an analyzer's answer into a well-formed verdict: errors
// and unknown outcomes become Inconclusive, never Pass.
func normalize(a Analyzer, v Verdict, err error) Verdict {
	name := AnalyzerName(a)
	if v.Analyzer == "" {
		v.Analyzer = name
	}
	if v.At.IsZero() {
		v.At = time.Now()
	}
	if err != nil {
		v.Outcome = Inconclusive
		v.Reason = "analyzer error: " + err.Error()
		v.Measurements = append(v.Measurements, Measurement{Name: name, At: v.At, Error: err.Error()})
		return v
	}
	switch v.Outcome {
	case Pass, Fail, Inconclusive:
	default:
		v.Reason = fmt.Sprintf("analyzer returned unknown outcome %q: %s", v.Outcome, v.Reason)
		v.Outcome = Inconclusive
	}
	return v
}

// startBackground launches the background analyzers that attach at or
// before step i and are not running yet.
func (r *Rollout) startBackground(rs *runState, i int) {
	for g, b := range r.plan.Background {
		if rs.bgStarted[g] || b.From > i {
			continue
		}
		rs.bgStarted[g] = true
		for k := range b.Analyzers {
			r.launchBg(rs, g, k)
		}
	}
}

func (r *Rollout) launchBg(rs *runState, g, k int) {
	if rs.bgCtx.Err() != nil {
		return
	}
	b := r.plan.Background[g]
	a := b.Analyzers[k]
	in := Input{Release: r.name, Stable: r.rel.Stable, Canary: r.rel.Canary, State: r.currentState(), Step: b.From,
		Background: true, Current: r.currentState}
	ctx := rs.bgCtx
	rs.bgMu.Lock()
	rs.bgLive++
	rs.bgRunning[g][k] = true
	rs.bgMu.Unlock()
	go func() {
		v, err := a.Analyze(ctx, in)
		rs.bgMu.Lock()
		defer func() {
			rs.bgLive--
			rs.bgRunning[g][k] = false
			rs.bgMu.Unlock()
			select {
			case rs.bgExit <- struct{}{}:
			default:
			}
		}()
		if rs.bgClosed || ctx.Err() != nil && (err != nil || context.Cause(ctx) != ErrPlanComplete) {
			// The release is rolling back, was promoted by hand or has
			// ended, or the analyzer had no last word: the answer no
			// longer matters.
			return
		}
		r.report(rs, g, k, normalize(a, v, err))
	}()
}

// report records and announces background analyzer k of group g's
// verdict, queues it for react and interrupts the running step when it
// needs a decision. rs.bgMu is held, so that nothing is reported once
// background analysis is closed.
func (r *Rollout) report(rs *runState, g, k int, v Verdict) {
	r.addVerdict(v)
	m := r.meta()
	r.emit(VerdictReached{EventMeta: m, Verdict: v, Background: true})
	// Every verdict is recorded when it arrives, before anything decides
	// on it: one that is then overridden (a PromoteFull) or cut short (a
	// rollback) is still in the release's history, and a Fail is still
	// decided after a crash.
	r.recordEnd(rs.bgCtx, Record{Kind: RecordVerdict, Step: m.Step, Verdict: &v})
	r.mu.Lock()
	r.bgEvents = append(r.bgEvents, bgResult{group: g, index: k, verdict: v})
	if v.Outcome != Pass && r.stepCancel != nil {
		r.stepCancel(errInterrupted)
	}
	r.mu.Unlock()
	r.signal()
}

// waitBackground waits until every background analyzer has returned, or
// grace has passed; it reports whether they all returned.
func (r *Rollout) waitBackground(rs *runState, grace time.Duration) bool {
	var t *time.Timer
	for {
		rs.bgMu.Lock()
		live := rs.bgLive
		rs.bgMu.Unlock()
		if live == 0 {
			if t != nil {
				t.Stop()
			}
			return true
		}
		if t == nil {
			t = time.NewTimer(grace)
		}
		select {
		case <-rs.bgExit:
		case <-t.C:
			return false
		}
	}
}

// nextBg takes the next background verdict to act on: the first Fail, or
// else the oldest.
func (r *Rollout) nextBg() (bgResult, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.bgEvents) == 0 {
		return bgResult{}, false
	}
	k := 0
	for j, ev := range r.bgEvents {
		if ev.verdict.Outcome == Fail {
			k = j
			break
		}
	}
	ev := r.bgEvents[k]
	r.bgEvents = slices.Delete(r.bgEvents, k, k+1)
	return ev, true
}

// requeueBg puts back a verdict that still needs a decision.
func (r *Rollout) requeueBg(ev bgResult) {
	r.mu.Lock()
	r.bgEvents = append(r.bgEvents, ev)
	r.mu.Unlock()
}

// stopBackground cancels background analysis whose answers no longer
// matter. It does not wait: an analyzer that ignores its context must not
// hold a rollback; closeBackground waits for them at the end.
func (r *Rollout) stopBackground(rs *runState) {
	rs.bgCancel(errBackgroundStopped)
}

// closeBackground stops background analysis at the end of the release and
// waits up to Options.AnalysisGrace for the analyzers to return. An
// analyzer still running then is left behind: its answer is dropped, and
// nothing is reported after the release has ended.
func (r *Rollout) closeBackground(rs *runState) {
	rs.bgCancel(errBackgroundStopped)
	if rs.bgExit != nil {
		r.waitBackground(rs, r.opts.AnalysisGrace)
	}
	rs.bgMu.Lock()
	rs.bgClosed = true
	rs.bgMu.Unlock()
}

// errBackgroundStopped cancels background analysis whose answer no longer
// matters (a rollback, an abort, a PromoteFull).
var errBackgroundStopped = errors.New("background analysis stopped")

// rollback returns the target to the plan's stable State, on a fresh
// context bounded by RollbackTimeout, and returns the error that ends the
// release: a *StepError of kind, or of ErrDegraded when the rollback could
// not be applied.
func (r *Rollout) rollback(parent context.Context, rs *runState, i int, kind, cause error) error {
	stepErr := r.stepError(i, kind, cause)
	started := time.Now()
	r.mu.Lock()
	if r.result.FailedAt.IsZero() {
		r.result.FailedAt = started
	}
	r.result.RollbackStarted = started
	r.mu.Unlock()
	r.setPhase(PhaseRollingBack, "", stepErr.Error())
	r.stopBackground(rs)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), r.opts.RollbackTimeout)
	defer cancel()
	r.settle(ctx)
	from := r.currentState()
	path := r.rollbackPath(from)
	to := r.plan.Stable
	if len(path) > 0 {
		to = path[len(path)-1]
	}
	r.emit(RollbackStarted{EventMeta: r.meta(), From: from, To: to, Cause: stepErr})
	if err := r.record(ctx, Record{Kind: RecordPhase, Step: i, Phase: PhaseRollingBack, Reason: stepErr.Error(), Rollback: true}); err != nil {
		return r.degrade(i, stepErr, err)
	}
	for k, s := range path {
		if cur := r.currentState(); k == len(path)-1 && r.plan.RollbackDelay > 0 && holdsIdle(cur, s, r.rel.Canary) {
			// The failed revision no longer gets traffic and the last
			// State removes it: keep it up for a while first.
			t := time.NewTimer(r.plan.RollbackDelay)
			select {
			case <-t.C:
			case <-parent.Done():
				t.Stop()
			case <-ctx.Done():
				t.Stop()
			}
		}
		prev := r.currentState()
		if err := r.transition(ctx, s, true, i); err != nil {
			return r.degrade(i, stepErr, err)
		}
		// A path State that adds instances (a strategy's batch-by-batch
		// rollback) is waited for before the next one removes others.
		if k < len(path)-1 {
			if grown := grownRevisions(prev, s); len(grown) > 0 {
				if err := r.waitFor(ctx, s, grown, r.opts.ProgressDeadline); err != nil {
					return r.degrade(i, stepErr, err)
				}
			}
		}
	}
	finished := time.Now()
	r.mu.Lock()
	r.result.RollbackFinished = finished
	r.mu.Unlock()
	r.setPhase(PhaseRolledBack, "", stepErr.Error())
	r.recordEnd(ctx, Record{Kind: RecordPhase, Step: i, Phase: PhaseRolledBack, Reason: stepErr.Error(), Rollback: true})
	r.mu.Lock()
	failedAt := r.result.FailedAt
	r.mu.Unlock()
	r.emit(RollbackFinished{EventMeta: r.meta(), State: r.currentState(), Duration: finished.Sub(started), FailedAt: failedAt, Cause: stepErr})
	return stepErr
}

func (r *Rollout) degrade(i int, stepErr *StepError, err error) error {
	last := r.currentState()
	if errors.Is(err, ErrFenced) {
		// A newer lease holder drives the target: this driver stops and
		// leaves the rollback to it.
		r.setPhase(PhaseStopped, "", fmt.Sprintf("another driver holds the target's lease; rollback left to it after %v", stepErr))
		return r.stepError(i, ErrFenced, errors.Join(stepErr, err))
	}
	reason := fmt.Sprintf("rollback could not be applied (%v) after %v; target left at %s", err, stepErr, last)
	r.setPhase(PhaseDegraded, "", reason)
	derr := r.stepError(i, ErrDegraded, errors.Join(stepErr, err))
	r.emit(ReleaseDegraded{EventMeta: r.meta(), Last: last, Err: derr})
	return derr
}

// rollbackPath is the sequence of States that brings the target from
// `from` back to the stable State: restore the stable capacity and move
// traffic back (transition waits for the capacity before the traffic
// moves), then remove the canary.
func (r *Rollout) rollbackPath(from State) []State {
	stable := r.plan.Stable
	if r.plan.Rollback != nil {
		return r.plan.Rollback(from)
	}
	if from == stable || (from.Stable == "" && from.Canary == "") {
		return []State{stable}
	}
	c := from
	var path []State
	if c.Stable != stable.Stable {
		// The stable slot holds another revision (a promoted canary, or a
		// partly applied final State). Express the same traffic with the
		// stable revision back in its slot first.
		x := c.Stable
		if x == "" {
			x = c.Canary
		}
		c = State{Stable: stable.Stable, Canary: x, Weight: from.Share(x),
			Replicas: Replicas{Stable: from.Desired(stable.Stable), Canary: from.Desired(x)}}
		path = append(path, c)
	}
	back := c
	back.Weight = 0
	back.Route = HeaderRoute{}
	back.Replicas.Stable = max(c.Replicas.Stable, stable.Replicas.Stable)
	path = append(path, back, stable)
	out := path[:0]
	prev := from
	for _, s := range path {
		if s != prev {
			out = append(out, s)
			prev = s
		}
	}
	return out
}

// transition applies `to`, moving capacity before traffic: when `to` raises
// a revision's share of traffic (or routes headers to it) and that
// revision's capacity is not ready, it first applies `to` with the old
// traffic, waits for the capacity (bounded by the progress deadline), and
// only then applies `to`.
func (r *Rollout) transition(ctx context.Context, to State, rollback bool, i int) error {
	r.settle(ctx)
	from := r.currentState()
	if from == to {
		return nil
	}
	var gains [2]Revision
	n := 0
	for _, rev := range [2]Revision{to.Stable, to.Canary} {
		if rev == "" {
			continue
		}
		routed := rev == to.Canary && !to.Route.IsZero() && (from.Route != to.Route || from.Canary != rev)
		if to.Share(rev) > from.Share(rev) || routed {
			gains[n] = rev
			n++
		}
	}
	if n > 0 {
		var obs Observation
		err := r.retry(ctx, func(c context.Context) error {
			var e error
			obs, e = r.rel.Target.Observe(c)
			return e
		}, nil)
		if err != nil {
			return fmt.Errorf("observing the target before moving traffic: %w", err)
		}
		if !readyFor(obs, to, gains[:n]) {
			if mid, ok := capacityFirst(from, to, gains[:n]); ok && mid != from {
				if err := r.applyRetry(ctx, mid, rollback, i); err != nil {
					return err
				}
			} else if !ok && from != (State{}) {
				// `to` puts traffic on a revision that `from` neither runs
				// nor has a free slot for, so no State can add its
				// capacity under the old traffic. Refuse rather than
				// move traffic onto capacity that is not ready.
				return Permanent(fmt.Errorf("cannot move traffic from %s to %s: no intermediate State can make %v ready first", from, to, gains[:n]))
			}
			if from == (State{}) {
				// A fresh target serves nothing yet: deploy, then wait.
				if err := r.applyRetry(ctx, to, rollback, i); err != nil {
					return err
				}
			}
			if err := r.waitFor(ctx, to, gains[:n], r.opts.ProgressDeadline); err != nil {
				return err
			}
		}
	}
	if r.currentState() == to {
		return nil
	}
	return r.applyRetry(ctx, to, rollback, i)
}

// capacityFirst is the State that adds the capacity `to` wants for the
// revisions gaining traffic while keeping from's traffic and every other
// revision's capacity (make before break). ok is false when a gaining
// revision has no slot in from to be added to.
func capacityFirst(from, to State, gains []Revision) (State, bool) {
	mid := from
	for _, rev := range gains {
		need := to.Desired(rev)
		switch {
		case from.Stable == rev:
			mid.Replicas.Stable = max(mid.Replicas.Stable, need)
		case from.Canary == rev:
			mid.Replicas.Canary = max(mid.Replicas.Canary, need)
		case mid.Canary == "" && mid.Stable != "":
			mid.Canary, mid.Weight = rev, 0
			mid.Replicas.Canary = need
		default:
			return from, false
		}
	}
	return mid, true
}

// grownRevisions lists the revisions to which `to` gives more instances
// than `from` did.
func grownRevisions(from, to State) []Revision {
	var out []Revision
	for _, rev := range [2]Revision{to.Stable, to.Canary} {
		if rev != "" && to.Desired(rev) > from.Desired(rev) {
			out = append(out, rev)
		}
	}
	return out
}

func readyFor(obs Observation, to State, revs []Revision) bool {
	for _, rev := range revs {
		if obs.ReadyCount(rev) < to.Needs(rev) {
			return false
		}
	}
	return true
}

// waitFor polls the target until revs (all of desired's when nil) are
// ready at desired's capacity, or the timeout passes.
func (r *Rollout) waitFor(ctx context.Context, desired State, revs []Revision, timeout time.Duration) error {
	check := func(o Observation) bool {
		if revs == nil {
			return o.Satisfies(desired)
		}
		return readyFor(o, desired, revs)
	}
	deadline := time.Now().Add(timeout)
	announced := false
	var last Observation
	var lastErr error
	for {
		octx, cancel := context.WithTimeout(ctx, r.opts.ApplyTimeout)
		obs, err := r.rel.Target.Observe(octx)
		cancel()
		if err == nil {
			last = obs
			if check(obs) {
				return nil
			}
		} else {
			lastErr = err
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
		}
		if !announced {
			announced = true
			r.emit(WaitingForReady{EventMeta: r.meta(), Desired: desired, Observed: last, Deadline: deadline})
		}
		left := time.Until(deadline)
		if left <= 0 {
			msg := fmt.Sprintf("%v: %s not ready after %v (observed %s, ready %d/%d)", ErrDeadlineExceeded, desired, timeout,
				last.State, last.Ready.Stable, last.Ready.Canary)
			if lastErr != nil {
				msg += fmt.Sprintf("; last observe error: %v", lastErr)
			}
			return fmt.Errorf("%w", &deadlineError{msg: msg})
		}
		t := time.NewTimer(min(r.opts.PollInterval, left))
		select {
		case <-ctx.Done():
			t.Stop()
			return context.Cause(ctx)
		case <-t.C:
		}
	}
}

type deadlineError struct{ msg string }

func (e *deadlineError) Error() string { return e.msg }
func (e *deadlineError) Unwrap() error { return ErrDeadlineExceeded }

// applyRetry records the intent, applies s with retries, and records the
// outcome.
func (r *Rollout) applyRetry(ctx context.Context, s State, rollback bool, i int) error {
	// The record must be written even while the step context is being
	// interrupted: an intent that is not recorded must not be applied.
	if err := r.record(ctx, Record{Kind: RecordIntent, Step: i, State: &s, Rollback: rollback, Promote: r.promoting}); err != nil {
		return err
	}
	attempts := 0
	// Until Apply returns nil, s may or may not have been applied (a
	// reply lost to a timeout or a cancellation).
	r.pending, r.hasPending = s, true
	err := r.retry(ctx, func(c context.Context) error {
		attempts++
		return r.applyOnce(c, s)
	}, func(attempt int, err error, will bool) {
		r.emit(ApplyFailed{EventMeta: r.meta(), State: s, Attempt: attempt, Err: err, WillRetry: will})
	})
	if err != nil {
		return fmt.Errorf("applying %s: %w", s, err)
	}
	r.hasPending = false
	r.applied(s)
	r.emit(StateApplied{EventMeta: r.meta(), State: s, Attempts: attempts, Rollback: rollback})
	err = r.record(ctx, Record{Kind: RecordApplied, Step: i, State: &s, Rollback: rollback})
	if err != nil && rollback {
		// The State is applied; a rollback goes on, and the intent of
		// its next State (if any) stops it if the journal still fails.
		r.journalErr(err)
		return nil
	}
	return err
}

// applyOnce is one Apply attempt. When the journal is a [Fencer], the
// lease is proved by a fenced write before the attempt, and the attempt is
// not made when that fails: a driver that lost its lease must not move the
// target. When the target is a [FencedTarget], it gets the token with the
// State and can refuse a stale holder itself.
func (r *Rollout) applyOnce(ctx context.Context, s State) error {
	if f, ok := r.opts.Journal.(Fencer); ok {
		token, err := f.Fence(ctx)
		if err != nil {
			return Permanent(fmt.Errorf("%w: %w: %w", ErrJournal, ErrFenced, err))
		}
		if ft, ok := r.rel.Target.(FencedTarget); ok {
			return ft.ApplyFenced(ctx, s, token)
		}
	}
	return r.rel.Target.Apply(ctx, s)
}

// applied notes that the target accepted s.
func (r *Rollout) applied(s State) {
	r.mu.Lock()
	r.current = s
	r.status.State = s
	r.status.Updated = time.Now()
	r.mu.Unlock()
}

// settle resolves an Apply whose outcome is unknown (it failed, but the
// target may have done the work) before the next transition computes
// anything from the current State: the target is observed (with retries)
// and what it reports is where the release stands; when it cannot be
// observed, or reports a State that is not valid, the last recorded intent
// is assumed to have taken effect. A make-before-break State or a rollback
// path built from a State the target has already left could move traffic
// onto capacity that is not ready.
func (r *Rollout) settle(ctx context.Context) {
	if !r.hasPending {
		return
	}
	r.hasPending = false
	var obs Observation
	err := r.retry(ctx, func(c context.Context) error {
		var e error
		obs, e = r.rel.Target.Observe(c)
		return e
	}, nil)
	switch {
	case err != nil || len(obs.State.Problems()) > 0:
		r.applied(r.pending)
	case obs.State != r.currentState():
		r.applied(obs.State)
	}
}

// retry runs op until it succeeds, fails permanently, or the retry budget
// or ctx runs out. Each attempt is bounded by ApplyTimeout.
func (r *Rollout) retry(ctx context.Context, op func(context.Context) error, notify func(attempt int, err error, willRetry bool)) error {
	var b *backoff.ExponentialBackOff
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, r.opts.ApplyTimeout)
		err := op(actx)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			if notify != nil {
				notify(attempt, err, false)
			}
			return errors.Join(err, context.Cause(ctx))
		}
		if IsPermanent(err) {
			if notify != nil {
				notify(attempt, err, false)
			}
			return err
		}
		if b == nil {
			b = backoff.NewExponentialBackOff(
				backoff.WithInitialInterval(r.opts.RetryInitial),
				backoff.WithMaxInterval(r.opts.RetryMax),
				backoff.WithMaxElapsedTime(r.opts.RetryBudget))
		}
		d := b.NextBackOff()
		if notify != nil {
			notify(attempt, err, d != backoff.Stop)
		}
		if d == backoff.Stop {
			return fmt.Errorf("gave up after %d attempts: %w", attempt, err)
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return errors.Join(err, context.Cause(ctx))
		case <-t.C:
		}
	}
}

// holdsIdle reports whether, going from cur to next, rev is a revision that
// gets no traffic in cur and that next removes or scales down.
func holdsIdle(cur, next State, rev Revision) bool {
	if cur.Canary != rev || cur.Share(rev) > 0 || !cur.Route.IsZero() {
		return false
	}
	removed := next.Canary != rev && next.Stable != rev
	return removed || next.Desired(rev) < cur.Desired(rev)
}
