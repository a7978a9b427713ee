package strategy

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors, matched with errors.Is. The executor wraps them in a
// [*StepError] that names the step and carries the last cause.
var (
	// ErrInvalidConfig marks a release or strategy configuration that was
	// rejected before anything was applied.
	ErrInvalidConfig = errors.New("invalid configuration")
	// ErrAborted marks a release stopped by Rollout.Abort.
	ErrAborted = errors.New("release aborted")
	// ErrAnalysisFailed marks a release rolled back (or paused) on a Fail verdict.
	ErrAnalysisFailed = errors.New("analysis failed")
	// ErrDeadlineExceeded marks a target that did not become ready within
	// the progress deadline.
	ErrDeadlineExceeded = errors.New("progress deadline exceeded")
	// ErrCancelled marks a release whose context was cancelled.
	ErrCancelled = errors.New("release cancelled")
	// ErrTarget marks a target that refused an Apply after every retry.
	ErrTarget = errors.New("target error")
	// ErrDegraded marks a release whose rollback could not be applied: the
	// target is on neither the stable State nor the plan. It needs a person.
	ErrDegraded = errors.New("release degraded: rollback could not be applied")
	// ErrJournal marks a journal that could not record a step; the release
	// stops before applying anything unrecorded.
	ErrJournal = errors.New("journal write failed")
	// ErrStopped marks a release that stopped driving the target on
	// cancellation, leaving it as recorded (Options.OnCancel with Leave).
	ErrStopped = errors.New("release stopped, target left as recorded")
	// ErrNotRunning is returned by Rollout controls after the release ended.
	ErrNotRunning = errors.New("release is not running")
	// ErrNotPaused is returned by Rollout.Promote when the release is not
	// paused, or a Promote of the current pause is already pending.
	ErrNotPaused = errors.New("release is not paused")
	// ErrServingMismatch marks a release refused before its first Apply
	// because the target does not serve Release.Stable (see
	// Options.AdoptServing and Options.AllowEmptyTarget).
	ErrServingMismatch = errors.New("the target does not serve the release's stable revision")
	// ErrFenced is returned by a [FencedTarget] that refuses a write whose
	// fencing token is older than one it has already accepted, and by the
	// executor when a [Fencer] says the lease was lost before an Apply.
	ErrFenced = errors.New("fenced: a newer lease holder drives the target")
	// ErrPlanComplete is the cause (context.Cause) with which background
	// analysis is cancelled when every step but the final one has run.
	// An analyzer that returns a verdict, rather than an error, once its
	// context is cancelled with this cause has its last word acted on
	// before the release is promoted: a background check that never saw
	// data can say Inconclusive, and the release pauses instead of
	// promoting.
	ErrPlanComplete = errors.New("plan complete")
)

// StepError carries the step at which a release stopped and the last cause.
// Its Unwrap returns both the sentinel (Kind) and the cause, so errors.Is
// matches either.
type StepError struct {
	// Step is the index of the step in the plan; -1 when no step applies.
	Step int
	// StepKind and StepName describe the step.
	StepKind StepKind
	StepName string
	// Kind is the sentinel (ErrAnalysisFailed, ErrAborted, ...).
	Kind error
	// Err is the last cause (a target error, the failing verdict's reason).
	Err error
}

// Error names the sentinel, the step and the cause.
func (e *StepError) Error() string {
	where := "before the first step"
	if e.Step >= 0 {
		where = fmt.Sprintf("at step %d (%s", e.Step, e.StepKind)
		if e.StepName != "" {
			where += " " + e.StepName
		}
		where += ")"
	}
	if e.Err == nil {
		return fmt.Sprintf("%v %s", e.Kind, where)
	}
	cause := e.Err.Error()
	if e.Kind != nil {
		// A cause that already starts with the sentinel's text (a
		// journal error, say) is not repeated.
		cause = strings.TrimPrefix(cause, e.Kind.Error()+": ")
	}
	return fmt.Sprintf("%v %s: %s", e.Kind, where, cause)
}

// Unwrap returns the sentinel and the cause.
func (e *StepError) Unwrap() []error {
	var out []error
	if e.Kind != nil {
		out = append(out, e.Kind)
	}
	if e.Err != nil {
		out = append(out, e.Err)
	}
	return out
}

type permanentError struct{ err error }

func (p permanentError) Error() string { return p.err.Error() }
func (p permanentError) Unwrap() error { return p.err }

// Permanent marks err as not worth retrying. A Target returns it from Apply
// (or Observe) for errors that retries cannot fix; the executor stops
// retrying at once.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err (or an error it wraps) was marked with
// [Permanent].
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// ConfigError is the error every Validate in glidepath returns: what was
// checked and every problem found, so that bad input is rejected once, with
// all its problems, before anything is applied. It matches
// [ErrInvalidConfig] with errors.Is. Code that validates its parts folds
// their problems into its own with errors.As:
//
//	var ce *strategy.ConfigError
//	if errors.As(part.Validate(), &ce) {
//		problems = append(problems, ce.Problems...)
//	}
type ConfigError struct {
	// What names the thing checked ("canary config", "release checkout").
	What string
	// Problems lists every problem found, one sentence each.
	Problems []string
}

// Error names what was checked and lists the problems, one a line.
func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString(ErrInvalidConfig.Error())
	if e.What != "" {
		b.WriteString(": ")
		b.WriteString(e.What)
	}
	for _, p := range e.Problems {
		b.WriteString("\n  - ")
		b.WriteString(p)
	}
	return b.String()
}

// Is reports whether target is [ErrInvalidConfig].
func (e *ConfigError) Is(target error) bool { return target == ErrInvalidConfig }

// Invalid returns a [*ConfigError] for what with problems, or nil when
// there are none, so a Validate method can end with
// `return strategy.Invalid("my config", problems...)`.
func Invalid(what string, problems ...string) error {
	if len(problems) == 0 {
		return nil
	}
	return &ConfigError{What: what, Problems: problems}
}

// invalid is [Invalid] for a slice.
func invalid(what string, problems []string) error { return Invalid(what, problems...) }

// problemsOf lists the problems err names: those of the [*ConfigError] it
// holds, or its text when it holds none.
func problemsOf(err error) []string {
	var ce *ConfigError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ce):
		return ce.Problems
	}
	return []string{err.Error()}
}
