package strategy

import (
	"context"
	"errors"
	"fmt"
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
	outInterrupted
	outCancelled
)

type stepOut struct {
	kind    stepKind
	err     error
	verdict Verdict
}

// executor state that only the run goroutine touches.
type runState struct {
	failures  int
	bgCtx     context.Context
	bgCancel  context.CancelCauseFunc
	bgWG      sync.WaitGroup
	bgStarted []bool
}

func (r *Rollout) run(ctx context.Context) {
	defer close(r.done)
	now := time.Now()
	r.mu.Lock()
	r.status.Started, r.status.Updated = now, now
	r.result.Started = now
	r.mu.Unlock()

	var rs runState
	rs.bgCtx, rs.bgCancel = context.WithCancelCause(ctx)
	rs.bgStarted = make([]bool, len(r.plan.Background))
	err := r.drive(ctx, &rs)
	r.stopBackground(&rs)
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
			return r.rollback(ctx, rs, i, ErrAborted, errors.New("resumed a release that was rolling back"))
		}
		if cp.Promote {
			_, err := r.promoteFullNow(ctx, rs, i)
			return err
		}
	}
	last := len(r.plan.Steps) - 1
	for i < len(r.plan.Steps) {
		r.setStep(i)
		if i == last && len(r.plan.Background) > 0 {
			// Before the final step, background analysis gets its last
			// word: it is cancelled with ErrPlanComplete, and a verdict it
			// returns then is acted on like any other.
			r.startBackground(rs, i)
			rs.bgCancel(ErrPlanComplete)
			rs.bgWG.Wait()
		} else {
			r.startBackground(rs, i)
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
	r.setPhase(PhasePromoted, "", "every step completed")
	r.recordEnd(ctx, Record{Kind: RecordPhase, Step: len(r.plan.Steps), Phase: PhasePromoted})
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
		obs, e = r.rel.Target.Observe(c)
		return e
	}, nil)
	if err != nil {
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
		act, v := r.hold(ctx, PauseInconclusive, out.verdict.String())
		if act == actPromote {
			return flowNext, nil // a person judged the inconclusive step
		}
		return r.dispatch(ctx, rs, i, act, v)
	case outDeadline:
		if r.opts.PauseOnDeadline {
			act, v := r.hold(ctx, PauseDeadline, out.err.Error())
			if act == actPromote {
				return flowRun, nil // wait again
			}
			return r.dispatch(ctx, rs, i, act, v)
		}
		return flowEnd, r.rollback(ctx, rs, i, ErrDeadlineExceeded, out.err)
	case outTarget:
		return flowEnd, r.rollback(ctx, rs, i, ErrTarget, out.err)
	case outJournal:
		r.stopBackground(rs)
		r.setPhase(PhaseStopped, "", "the journal could not record the next step; nothing unrecorded was applied")
		return flowEnd, r.stepError(i, ErrJournal, out.err)
	}
	return flowEnd, fmt.Errorf("glidepath: unknown step outcome %d", out.kind)
}

// dispatch performs the actions common to every pause and check point.
func (r *Rollout) dispatch(ctx context.Context, rs *runState, i int, act action, v Verdict) (flow, error) {
	switch act {
	case actAbort:
		return flowEnd, r.rollback(ctx, rs, i, ErrAborted, nil)
	case actPromoteFull:
		return r.promoteFullNow(ctx, rs, i)
	case actCancel:
		return flowEnd, r.cancelled(ctx, rs, i)
	case actBgFail:
		return r.onFail(ctx, rs, i, v, true)
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
		for _, ev := range r.takeBg() {
			r.recordEnd(ctx, Record{Kind: RecordVerdict, Step: i, Verdict: &ev.verdict})
			switch ev.verdict.Outcome {
			case Fail:
				f, err := r.onFail(ctx, rs, i, ev.verdict, true)
				if f != flowRun {
					return f, err
				}
				r.launchBg(rs, ev.group, ev.index)
			case Inconclusive:
				act, v := r.hold(ctx, PauseInconclusive, ev.verdict.String())
				if act != actPromote {
					return r.dispatch(ctx, rs, i, act, v)
				}
				r.launchBg(rs, ev.group, ev.index)
			}
		}
		if paused {
			act, v := r.hold(ctx, PauseUser, "paused by a user")
			if act != actPromote {
				f, err := r.dispatch(ctx, rs, i, act, v)
				if f != flowRun {
					return f, err
				}
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
		act, v2 := r.hold(ctx, PauseFailed, v.String())
		if act == actPromote {
			if background {
				return flowRun, nil
			}
			return flowNext, nil
		}
		return r.dispatch(ctx, rs, i, act, v2)
	}
	r.mu.Lock()
	r.result.FailedAt = v.At
	r.mu.Unlock()
	return flowEnd, r.rollback(ctx, rs, i, ErrAnalysisFailed, cause)
}

// hold pauses the release until something ends the pause, and says what.
func (r *Rollout) hold(ctx context.Context, reason PauseReason, why string) (action, Verdict) {
	r.setPhase(PhasePaused, reason, why)
	r.recordEnd(ctx, Record{Kind: RecordPhase, Step: r.Status().Step, Phase: PhasePaused, Reason: why})
	for {
		r.mu.Lock()
		switch {
		case r.abort:
			r.mu.Unlock()
			return actAbort, Verdict{}
		case r.promoteFull:
			r.mu.Unlock()
			return actPromoteFull, Verdict{}
		case r.promote, reason == PauseUser && !r.userPause:
			r.promote = false
			r.mu.Unlock()
			r.setPhase(PhaseProgressing, "", "")
			return actPromote, Verdict{}
		}
		var fail *bgResult
		for k, ev := range r.bgEvents {
			if ev.verdict.Outcome == Fail {
				fail = &r.bgEvents[k]
				break
			}
		}
		if fail != nil && !r.opts.OnFail.Pause {
			v := fail.verdict
			r.bgEvents = nil
			r.mu.Unlock()
			return actBgFail, v
		}
		r.mu.Unlock()
		select {
		case <-ctx.Done():
			return actCancel, Verdict{}
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
	if r.opts.OnCancel == LeaveAsRecorded {
		r.stopBackground(rs)
		r.setPhase(PhaseStopped, "", "context cancelled; target left as recorded for a later resume")
		return r.stepError(i, ErrStopped, context.Cause(ctx))
	}
	return r.rollback(ctx, rs, i, ErrCancelled, context.Cause(ctx))
}

// promoteFull applies the plan's final State, skipping everything left.
func (r *Rollout) promoteFullNow(ctx context.Context, rs *runState, i int) (flow, error) {
	r.stopBackground(rs)
	r.promoting = true
	r.setPhase(PhaseProgressing, "", "promoting fully")
	err := r.transition(ctx, r.plan.Final, false, i)
	r.promoting = false
	if err != nil {
		return r.handle(ctx, rs, i, classify(ctx, err))
	}
	r.setStep(len(r.plan.Steps))
	r.setPhase(PhasePromoted, "", "promoted fully, remaining steps skipped")
	r.recordEnd(ctx, Record{Kind: RecordPhase, Step: len(r.plan.Steps), Phase: PhasePromoted, Promote: true})
	return flowEnd, nil
}

// classify maps an error from transition/wait to a step outcome.
func classify(ctx context.Context, err error) stepOut {
	switch {
	case err == nil:
		return stepOut{kind: outOK}
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
	sctx, cancel := context.WithCancelCause(ctx)
	r.mu.Lock()
	r.stepCancel = cancel
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.stepCancel = nil
		r.mu.Unlock()
		cancel(nil)
	}()
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
		return r.pauseStep(ctx, sctx, step.Duration), nil
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

// stepErr classifies err from work done under sctx (a child of ctx).
func (r *Rollout) stepErr(ctx, sctx context.Context, err error) stepOut {
	if err == nil {
		return stepOut{kind: outOK}
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

func (r *Rollout) pauseStep(ctx, sctx context.Context, d time.Duration) stepOut {
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
			return stepOut{kind: outOK}
		}
		if fired && !r.userPause {
			r.mu.Unlock()
			return stepOut{kind: outOK}
		}
		r.mu.Unlock()
		select {
		case <-sctx.Done():
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
	verdicts := make([]Verdict, len(analyzers))
	var wg sync.WaitGroup
	for k, a := range analyzers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := a.Analyze(actx, in)
			if err != nil && actx.Err() != nil && sctx.Err() == nil {
				err = fmt.Errorf("%w (%w)", context.Cause(actx), err)
			}
			verdicts[k] = normalize(a, v, err)
		}()
	}
	wg.Wait()
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
	rs.bgWG.Add(1)
	go func() {
		defer rs.bgWG.Done()
		v, err := a.Analyze(ctx, in)
		if ctx.Err() != nil && (err != nil || context.Cause(ctx) != ErrPlanComplete) {
			// The release is rolling back or was promoted by hand, or
			// the analyzer had no last word: the answer no longer matters.
			return
		}
		v = normalize(a, v, err)
		r.addVerdict(v)
		r.emit(VerdictReached{EventMeta: r.meta(), Verdict: v, Background: true})
		r.mu.Lock()
		r.bgEvents = append(r.bgEvents, bgResult{group: g, index: k, verdict: v})
		if v.Outcome != Pass && r.stepCancel != nil {
			r.stepCancel(errInterrupted)
		}
		r.mu.Unlock()
		r.signal()
	}()
}

func (r *Rollout) takeBg() []bgResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	evs := r.bgEvents
	r.bgEvents = nil
	return evs
}

func (r *Rollout) stopBackground(rs *runState) {
	rs.bgCancel(errBackgroundStopped)
	rs.bgWG.Wait()
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
	r.stopBackground(rs)
	started := time.Now()
	r.mu.Lock()
	if r.result.FailedAt.IsZero() {
		r.result.FailedAt = started
	}
	r.result.RollbackStarted = started
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), r.opts.RollbackTimeout)
	defer cancel()
	from := r.currentState()
	r.setPhase(PhaseRollingBack, "", stepErr.Error())
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
		if k == len(path)-1 && k > 0 && r.plan.RollbackDelay > 0 {
			// Keep the failed revision, without traffic, for a while.
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
	err := r.retry(ctx, func(c context.Context) error {
		attempts++
		return r.rel.Target.Apply(c, s)
	}, func(attempt int, err error, will bool) {
		r.emit(ApplyFailed{EventMeta: r.meta(), State: s, Attempt: attempt, Err: err, WillRetry: will})
	})
	if err != nil {
		return fmt.Errorf("applying %s: %w", s, err)
	}
	r.mu.Lock()
	r.current = s
	r.status.State = s
	r.status.Updated = time.Now()
	r.mu.Unlock()
	r.emit(StateApplied{EventMeta: r.meta(), State: s, Attempts: attempts, Rollback: rollback})
	return r.record(ctx, Record{Kind: RecordApplied, Step: i, State: &s, Rollback: rollback})
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
