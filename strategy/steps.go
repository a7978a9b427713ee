package strategy

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// This file runs one step of a plan (apply, wait, pause, analyse) and
// turns how it went into an event for the decision core.

// leaseLost reports whether the release's context was cancelled because
// its lease was lost (a cause matching ErrFenced, as rollback.Manager sets
// when a renewal finds another driver holding the target).
func leaseLost(ctx context.Context) bool {
	return ctx.Err() != nil && errors.Is(context.Cause(ctx), ErrFenced)
}

// classify maps an error from transition/wait to a step outcome.
func classify(ctx context.Context, err error) event {
	switch {
	case err == nil:
		return event{kind: evStepDone}
	case errors.Is(err, ErrFenced):
		return event{kind: evFenced, err: err}
	case errors.Is(err, ErrJournal):
		return event{kind: evJournal, err: err}
	case leaseLost(ctx):
		return event{kind: evFenced, err: context.Cause(ctx)}
	case ctx.Err() != nil:
		return event{kind: evCancelled, err: err}
	case errors.Is(err, errInterrupted):
		return event{kind: evInterrupted, err: err}
	case errors.Is(err, ErrDeadlineExceeded):
		return event{kind: evDeadline, err: err}
	default:
		return event{kind: evTarget, err: err}
	}
}

// runStep runs step i under a context that control calls can interrupt.
func (r *Rollout) runStep(ctx context.Context, rs *runState, i int) event {
	sctx, cancel := r.interruptible(ctx)
	defer r.endInterruptible(cancel)
	// A control call that arrived before the step context existed.
	r.mu.Lock()
	if r.abort || r.promoteFull || len(r.bgEvents) > 0 && hasNonPass(r.bgEvents) {
		r.mu.Unlock()
		return event{kind: evInterrupted}
	}
	r.mu.Unlock()

	started := r.stepStarted(i)
	out, verdicts := r.execStep(ctx, sctx, rs, i)
	r.stepDone(i, started, out, verdicts)
	return out
}

func (r *Rollout) stepStarted(i int) time.Time {
	started := time.Now()
	r.emit(StepStarted{EventMeta: r.meta(), Step: r.plan.Steps[i]})
	return started
}

// execStep does the work of step i.
func (r *Rollout) execStep(ctx, sctx context.Context, rs *runState, i int) (event, []Verdict) {
	step := &r.plan.Steps[i]
	switch step.Kind {
	case StepApply:
		return r.stepErr(ctx, sctx, r.transition(sctx, rs, step.State, false, i)), nil
	case StepWaitReady:
		timeout := step.Timeout
		if timeout == 0 {
			timeout = r.opts.ProgressDeadline
		}
		return r.stepErr(ctx, sctx, r.waitFor(sctx, r.currentState(), nil, timeout)), nil
	case StepPause:
		return r.pauseStep(ctx, sctx, rs, i, step.Duration), nil
	case StepAnalyze:
		return r.analyze(ctx, sctx, i, step.Analyzers)
	}
	return event{kind: evTarget, err: fmt.Errorf("unknown step kind %q", step.Kind)}, nil
}

// stepDone records the result of step i and announces it.
func (r *Rollout) stepDone(i int, started time.Time, out event, verdicts []Verdict) {
	step := &r.plan.Steps[i]
	finished := time.Now()
	sr := StepResult{Index: i, Kind: step.Kind, Name: step.Name, State: step.State, Started: started, Finished: finished, Verdicts: verdicts}
	if out.err != nil {
		sr.Error = out.err.Error()
	} else if out.kind == evStepFail || out.kind == evStepInconclusive {
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
func (r *Rollout) stepErr(ctx, sctx context.Context, err error) event {
	if err == nil {
		return event{kind: evStepDone}
	}
	if errors.Is(err, ErrFenced) {
		return event{kind: evFenced, err: err}
	}
	if errors.Is(err, ErrJournal) {
		return event{kind: evJournal, err: err}
	}
	if leaseLost(ctx) {
		return event{kind: evFenced, err: context.Cause(ctx)}
	}
	if ctx.Err() != nil {
		return event{kind: evCancelled, err: err}
	}
	if sctx.Err() != nil && context.Cause(sctx) == errInterrupted {
		return event{kind: evInterrupted, err: err}
	}
	return classify(ctx, err)
}

func (r *Rollout) pauseStep(ctx, sctx context.Context, rs *runState, i int, d time.Duration) event {
	// A timed pause interrupted by a verdict or a hold resumes with the
	// time it had left, not from the start.
	timed := d > 0
	if rs.pausedStep == i+1 && timed {
		d = max(d-rs.pausedFor, 0)
	}
	began := time.Now()
	why := "paused until promoted"
	if timed {
		why = "paused for " + d.String()
	}
	var until time.Time
	if timed {
		until = began.Add(d)
	}
	r.pauseFor(why, until)
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
	if timed {
		t := time.NewTimer(d)
		defer t.Stop()
		timer = t.C
	}
	for {
		r.mu.Lock()
		if r.promote {
			r.mu.Unlock()
			if r.takePromote() {
				rs.pausedStep = 0
				return event{kind: evStepDone}
			}
			continue
		}
		if fired && !r.userPause {
			r.mu.Unlock()
			rs.pausedStep = 0
			return event{kind: evStepDone}
		}
		r.mu.Unlock()
		select {
		case <-sctx.Done():
			if rs.pausedStep != i+1 {
				rs.pausedStep, rs.pausedFor = i+1, 0
			}
			rs.pausedFor += time.Since(began)
			return r.stepErr(ctx, sctx, context.Cause(sctx))
		case <-r.wake:
		case <-timer:
			fired = true
			timer = nil
		}
	}
}

// analyze runs analyzers concurrently; the worst verdict decides.
func (r *Rollout) analyze(ctx, sctx context.Context, i int, analyzers []Analyzer) (event, []Verdict) {
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
			v, err := analyzeSafe(actx, a, in)
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
			return event{kind: evJournal, err: err}, verdicts
		}
		if v.Outcome.Worse(verdicts[worst].Outcome) {
			worst = k
		}
	}
	switch verdicts[worst].Outcome {
	case Pass:
		return event{kind: evStepDone}, verdicts
	case Fail:
		return event{kind: evStepFail, verdict: verdicts[worst]}, verdicts
	default:
		return event{kind: evStepInconclusive, verdict: verdicts[worst]}, verdicts
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

// pauseFor enters a pause step's pause; until is when a timed pause ends
// (zero for one that waits for Promote). Kept out of pauseStep so that its
// stack frame, parked for as long as the pause lasts, stays small.
//
//go:noinline
func (r *Rollout) pauseFor(why string, until time.Time) {
	r.mu.Lock()
	ev := r.setPhaseLocked(PhasePaused, PausedForStep, why)
	r.status.PausedUntil = until
	r.mu.Unlock()
	r.emitPhase(ev)
}

// takePromote takes a pending Promote together with the phase change, so
// that a second Promote is refused rather than kept for the next pause.
//
//go:noinline
func (r *Rollout) takePromote() bool {
	r.mu.Lock()
	if !r.promote {
		r.mu.Unlock()
		return false
	}
	r.promote = false
	ev := r.setPhaseLocked(PhaseProgressing, "", "")
	r.mu.Unlock()
	r.emitPhase(ev)
	return true
}
