package strategy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Rollout is the handle of a running release, returned by [Start]. Its
// methods are safe for concurrent use.
type Rollout struct {
	rel  Release
	plan Plan
	opts Options
	name string
	obs  Observer

	done chan struct{}
	wake chan struct{} // capacity 1: "look at the flags"

	mu          sync.Mutex
	status      Status
	result      Result
	err         error
	current     State // last State applied (or observed at start)
	stepCancel  context.CancelCauseFunc
	promote     bool // leave the current pause
	promoteFull bool
	userPause   bool
	abort       bool
	bgEvents    []bgResult
	retried     bool // Retry has started the release again
}

// errInterrupted is the cancel cause of a step cut short by a control call
// or a background verdict; the executor then reads the flags.
var errInterrupted = errors.New("interrupted")

// Start validates the release, builds its plan and starts executing it in
// the background. Invalid releases are rejected with an error matching
// [ErrInvalidConfig] that names every problem; nothing is applied then.
// Cancelling ctx rolls the release back (see Options.OnCancel).
//
// Before the first Apply the executor observes the target and refuses
// the release ([ErrServingMismatch], nothing applied) unless the target
// serves exactly rel.Stable; see Options.AllowEmptyTarget and
// Options.AdoptServing.
//
// ONE DRIVER PER TARGET: Start does not stop two releases of the same
// target in one process from running at once, and neither can anything
// in this package stop two processes. Drive a shared target through
// rollback.Manager, which takes the target's lease (in this process and
// across processes), journals every step, and fences every Apply with the
// lease's token (see [Fencer] and [FencedTarget]). An in-process guard
// here would give false comfort: a Target has no identity the executor
// can trust (two values, wrappers or clients may drive one backend), and
// it would not cover a second process at all.
func Start(ctx context.Context, rel Release) (*Rollout, error) {
	r, err := prepare(rel)
	if err != nil {
		return nil, err
	}
	go r.run(ctx)
	return r, nil
}

// Run is [Start] followed by [Rollout.Wait]: it executes the release and
// returns how it ended. The error is nil only when the release was promoted.
//
// Run gives no handle for Promote or Abort, so a release that pauses for a
// person — a pause step without a duration, an Inconclusive verdict, a
// Fail under OnFail.Pause, a missed deadline under OnDeadline.Pause —
// stays paused until ctx ends, and is then rolled back (or left, per
// Options.OnCancel). Use Start when a person may have to decide.
func Run(ctx context.Context, rel Release) (Result, error) {
	r, err := Start(ctx, rel)
	if err != nil {
		return Result{}, err
	}
	return r.Wait(context.WithoutCancel(ctx))
}

// Validate checks rel and the plan its strategy builds, without applying
// anything, and returns the plan. The error names every problem.
func Validate(rel Release) (Plan, error) {
	r, err := prepare(rel)
	if err != nil {
		return Plan{}, err
	}
	return r.plan, nil
}

func prepare(rel Release) (*Rollout, error) {
	var probs []string
	if rel.Target == nil {
		probs = append(probs, "no target")
	} else if isNil(rel.Target) {
		probs = append(probs, fmt.Sprintf("the target is a nil %T", rel.Target))
	}
	if rel.Stable == "" {
		probs = append(probs, "no stable revision")
	}
	if rel.Canary == "" {
		probs = append(probs, "no canary revision")
	}
	if rel.Stable != "" && rel.Stable == rel.Canary {
		probs = append(probs, fmt.Sprintf("stable and canary are the same revision %q", rel.Stable))
	}
	if rel.Strategy == nil {
		probs = append(probs, "no strategy")
	}
	probs = append(probs, rel.Options.problems()...)
	var plan Plan
	if rel.Strategy != nil && rel.Stable != "" && rel.Canary != "" {
		var err error
		plan, err = rel.Strategy.Plan(rel.Stable, rel.Canary)
		if err != nil {
			for _, q := range problemsOf(err) {
				probs = append(probs, "strategy: "+q)
			}
		} else {
			plan = plan.withDefaults(rel.Stable)
			probs = append(probs, plan.problems(rel.Target)...)
			if plan.Stable.Stable != rel.Stable {
				probs = append(probs, fmt.Sprintf("the plan's stable State is on revision %q, but the release's stable revision is %q", plan.Stable.Stable, rel.Stable))
			}
		}
	}
	if d, t := plan.RollbackDelay, rel.Options.withDefaults().RollbackTimeout; d > 0 && d >= t {
		probs = append(probs, fmt.Sprintf("the strategy's rollback delay %v is not shorter than Options.RollbackTimeout %v", d, t))
	}
	for i, b := range rel.Background {
		if b.From < 0 || (len(plan.Steps) > 0 && b.From >= len(plan.Steps)) {
			probs = append(probs, fmt.Sprintf("release background analysis %d starts at step %d, outside the plan", i, b.From))
		}
		if len(b.Analyzers) == 0 {
			probs = append(probs, fmt.Sprintf("release background analysis %d has no analyzers", i))
		}
		for j, a := range b.Analyzers {
			probs = append(probs, analyzerProblems(fmt.Sprintf("release background analysis %d: analyzer %d", i, j), a)...)
		}
	}
	name := rel.Name
	if name == "" {
		name = string(rel.Stable) + "->" + string(rel.Canary)
	}
	if err := invalid("release "+name, probs); err != nil {
		return nil, err
	}
	plan.Background = append(slices.Clip(plan.Background), rel.Background...)
	// The fingerprint the executor records covers the release's own
	// background analysis too, so a resume compares against the same.
	if rel.Resume != nil {
		var rp []string
		if rel.Resume.Step < 0 || rel.Resume.Step > len(plan.Steps) {
			rp = append(rp, fmt.Sprintf("resume: step %d is outside the plan", rel.Resume.Step))
		}
		if rel.Resume.Fingerprint != "" && len(plan.Steps) > 0 && rel.Resume.Fingerprint != plan.Fingerprint() {
			rp = append(rp, fmt.Sprintf("resume: the plan changed since it was recorded (fingerprint %s, now %s)", rel.Resume.Fingerprint, plan.Fingerprint()))
		}
		if err := invalid("release "+name, rp); err != nil {
			return nil, err
		}
	}
	r := &Rollout{
		rel:  rel,
		plan: plan,
		opts: rel.Options.withDefaults(),
		name: name,
		obs:  rel.Observer,
		done: make(chan struct{}),
		wake: make(chan struct{}, 1),
	}
	r.status = Status{Release: name, Phase: PhasePending, Steps: len(plan.Steps)}
	r.result = Result{Release: name, Strategy: plan.Strategy, Stable: rel.Stable, Canary: rel.Canary}
	return r, nil
}

// Plan returns the plan the release runs.
func (r *Rollout) Plan() Plan { return r.plan }

// Name returns the release's name.
func (r *Rollout) Name() string { return r.name }

// Status returns a snapshot of the release.
func (r *Rollout) Status() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.status
	s.Verdicts = slices.Clone(s.Verdicts)
	return s
}

// Done is closed when the release has ended.
func (r *Rollout) Done() <-chan struct{} { return r.done }

// Wait blocks until the release ends (or ctx is done) and returns its
// result. The error is nil only for a promoted release; otherwise it
// matches one of the sentinels (ErrAnalysisFailed, ErrAborted, ...) and is
// usually a [*StepError].
func (r *Rollout) Wait(ctx context.Context) (Result, error) {
	select {
	case <-r.done:
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.result, r.err
}

// Promote leaves the current pause: a pause step, a pause for inconclusive
// analysis, a pause after a Fail (OnFail.Pause), after a missed
// deadline (OnDeadline.Pause), or a user pause. It returns [ErrNotRunning]
// after the release ended, and an error matching [ErrNotPaused] when the
// release is not paused or a Promote of this pause is already pending (a
// second Promote is refused, not counted twice).
func (r *Rollout) Promote() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.status.Phase.Final() {
		return ErrNotRunning
	}
	if r.status.Phase != PhasePaused {
		return fmt.Errorf("promote: release %s is %s: %w", r.name, r.status.Phase, ErrNotPaused)
	}
	if r.promote {
		return fmt.Errorf("promote: release %s: a Promote of this pause is already pending: %w", r.name, ErrNotPaused)
	}
	r.promote = true
	r.userPause = false
	r.signal()
	return nil
}

// PromoteFull skips every remaining step and analysis and applies the
// plan's final State (moving capacity before traffic, as always).
func (r *Rollout) PromoteFull() error {
	return r.control(func() bool { was := r.promoteFull; r.promoteFull = true; return !was })
}

// Pause holds the release before its next step; a running pause step does
// not end while the hold lasts. Background analysis keeps running, so a
// Fail still rolls back. Unpause (or Promote) releases the hold.
func (r *Rollout) Pause() error {
	return r.control(func() bool { r.userPause = true; return false })
}

// Unpause releases a hold placed by Pause. (Continuing a release after a
// crash is a different thing: see Release.Resume and rollback.Manager.)
func (r *Rollout) Unpause() error {
	return r.control(func() bool { r.userPause = false; return false })
}

// Abort stops the release and rolls it back to the stable State. Wait then
// returns an error matching [ErrAborted]. An Abort that returns nil is
// always acted on, even when it arrives as the last step completes.
//
// When the release records to a journal, the Abort is recorded (a
// [RecordAbort]) before Abort returns, so that a release resumed after a
// crash rolls back too. An Abort whose record cannot be written is still
// acted on (the journal's error is kept in Result.JournalErr): refusing it
// would leave the release where it is.
func (r *Rollout) Abort() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.status.Phase.Final() || r.status.Phase == PhaseRollingBack {
		return ErrNotRunning
	}
	if !r.abort {
		// Recorded under r.mu, so that the release cannot end promoted
		// between the record and the flag.
		if err := r.record(context.Background(), Record{Kind: RecordAbort, Step: r.status.Step, Reason: "aborted by a user"}); err != nil && r.result.JournalErr == "" {
			r.result.JournalErr = err.Error()
		}
		r.abort = true
		if r.stepCancel != nil {
			r.stepCancel(errInterrupted)
		}
	}
	r.signal()
	return nil
}

// Retry starts the same release again from its first step. It is allowed
// once, after the release has been rolled back (after a failure or an
// abort), and not for a release that records to a journal: the journal and
// its lease belonged to the first run, so start such a release again
// through the code that attached the journal.
func (r *Rollout) Retry(ctx context.Context) (*Rollout, error) {
	r.mu.Lock()
	phase, retried := r.status.Phase, r.retried
	if phase == PhaseRolledBack && !retried {
		r.retried = true
	}
	r.mu.Unlock()
	if phase != PhaseRolledBack {
		return nil, fmt.Errorf("retry: release %s is %s; only a rolled-back release can be retried", r.name, phase)
	}
	if retried {
		// Two retries would run two rollouts of the same target at once.
		return nil, fmt.Errorf("retry: release %s was already retried; retry the new rollout instead", r.name)
	}
	if r.rel.Options.Journal != nil {
		// The journal (and any lease behind it) belonged to the first
		// run; whoever attached it starts the release again.
		r.mu.Lock()
		r.retried = false
		r.mu.Unlock()
		return nil, fmt.Errorf("retry: release %s records to a journal that belonged to its first run; start it again through the code that attached the journal (rollback.Manager.Start with AllowRolledBack)", r.name)
	}
	rel := r.rel
	rel.Resume = nil
	next, err := Start(ctx, rel)
	if err != nil {
		r.mu.Lock()
		r.retried = false
		r.mu.Unlock()
	}
	return next, err
}

// control applies a control call while the release can still act on it;
// set changes the flags and reports whether the running step must be
// interrupted.
func (r *Rollout) control(set func() (interrupt bool)) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.status.Phase.Final() || r.status.Phase == PhaseRollingBack {
		return ErrNotRunning
	}
	if set() && r.stepCancel != nil {
		r.stepCancel(errInterrupted)
	}
	r.signal()
	return nil
}

// signal wakes the executor; callers hold r.mu or not, either is fine.
func (r *Rollout) signal() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *Rollout) emit(e Event) {
	if r.obs != nil {
		r.notify(e)
	}
}

func (r *Rollout) meta() EventMeta {
	r.mu.Lock()
	step := r.status.Step
	r.mu.Unlock()
	return EventMeta{Release: r.name, Time: time.Now(), Step: step}
}

func (r *Rollout) setPhase(to Phase, pr PauseReason, reason string) {
	r.mu.Lock()
	ev := r.setPhaseLocked(to, pr, reason)
	r.mu.Unlock()
	r.emitPhase(ev)
}

// setPhaseLocked changes the phase under r.mu and returns the event to
// emit (with emitPhase, once r.mu is released); its To is empty when the
// change is not announced.
func (r *Rollout) setPhaseLocked(to Phase, pr PauseReason, reason string) PhaseChanged {
	from := r.status.Phase
	if to == PhasePaused && from != PhasePaused {
		// Promote is only accepted while paused, so a flag still set
		// here was meant for a pause that has already ended.
		r.promote = false
	}
	now := time.Now()
	r.status.PausedUntil = time.Time{}
	r.status.Phase = to
	r.status.PauseReason = pr
	r.status.Reason = reason
	r.status.Updated = now
	if from == to && to != PhasePaused {
		return PhaseChanged{}
	}
	return PhaseChanged{EventMeta: EventMeta{Release: r.name, Time: now, Step: r.status.Step}, From: from, To: to, PauseReason: pr, Reason: reason}
}

func (r *Rollout) emitPhase(ev PhaseChanged) {
	if ev.To != "" {
		r.emit(ev)
	}
}

func (r *Rollout) currentState() State {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.current
}

func (r *Rollout) addVerdict(v Verdict) {
	r.mu.Lock()
	r.result.Verdicts = append(r.result.Verdicts, v)
	r.status.Verdicts = append(r.status.Verdicts, v)
	if n := len(r.status.Verdicts) - r.opts.MaxVerdicts; n > 0 {
		r.status.Verdicts = slices.Delete(r.status.Verdicts, 0, n)
	}
	r.mu.Unlock()
}
