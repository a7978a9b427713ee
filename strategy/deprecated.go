package strategy

import "time"

// This file keeps, for one release, the former names of identifiers
// renamed before 1.0 (see the changelog in README.md). Each is an alias
// of, or forwards to, its new name.

// FailurePolicy is the former name of [Policy] as Options.OnFail.
//
// Deprecated: use Policy (FailuresAllowed is now Policy.Allowed).
type FailurePolicy = Policy

// CancelPolicy is the former name of [Policy] as Options.OnCancel.
//
// Deprecated: use Policy.
type CancelPolicy = Policy

// Former OnCancel values.
var (
	// Deprecated: use Policy{}, the zero value.
	RollbackOnCancel = Policy{}
	// Deprecated: use Policy{Leave: true}.
	LeaveAsRecorded = Policy{Leave: true}
)

// Former names of the pause reasons.
const (
	// Deprecated: use PausedForStep.
	PauseStep = PausedForStep
	// Deprecated: use PausedForInconclusive.
	PauseInconclusive = PausedForInconclusive
	// Deprecated: use PausedForUser.
	PauseUser = PausedForUser
	// Deprecated: use PausedForFailure.
	PauseFailed = PausedForFailure
	// Deprecated: use PausedForDeadline.
	PauseDeadline = PausedForDeadline
)

// Problems lists what is wrong with s, or nil.
//
// Deprecated: use Validate, which returns the problems as a [*ConfigError].
func (s State) Problems() []string { return s.problems() }

// Problems lists everything wrong with the plan for target t, or nil.
//
// Deprecated: use Validate, which returns the problems as a [*ConfigError].
func (p Plan) Problems(t Target) []string { return p.problems(t) }

// Check returns an error when v is malformed.
//
// Deprecated: use Validate, which returns a [*ConfigError].
func (v IntOrPercent) Check() error { return v.check() }

// Within returns a copy of s bounded by timeout.
//
// Deprecated: use WithTimeout.
func (s Step) Within(timeout time.Duration) Step { return s.WithTimeout(timeout) }

// Resume is the former name of [Rollout.Unpause].
//
// Deprecated: use Unpause; "resume" now means continuing a recorded
// release after a crash (Release.Resume, rollback.Manager.Resume).
func (r *Rollout) Resume() error { return r.Unpause() }
