package strategy

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Release is everything the executor needs to run one release.
type Release struct {
	// Name identifies the release in events, journals and status; it
	// defaults to "<stable>-><canary>".
	Name string
	// Target is what is released to. Required.
	Target Target
	// Stable is the known-good revision; Canary the one being released.
	// Both are required and must differ.
	Stable, Canary Revision
	// Strategy builds the plan. Required.
	Strategy Strategy
	// Background analyzers run alongside the plan from their From step, in
	// addition to any the strategy attaches.
	Background []Background
	// Observer receives every event; nil discards them.
	Observer Observer
	// Options tune deadlines, retries and policies; the zero value is
	// usable (see each field).
	Options Options
	// Resume, when set, continues a release recorded in a journal instead
	// of starting a new one (see the rollback package, which builds it).
	Resume *Checkpoint
}

// Policy says what the executor does when something goes wrong: a Fail
// verdict (Options.OnFail), a missed progress deadline
// (Options.OnDeadline) or a cancelled context (Options.OnCancel). The
// zero value rolls the release back at once, for every trigger. Each
// field names one choice; Options.Validate rejects a choice that does not
// apply to its trigger.
type Policy struct {
	// Pause holds the release where it is instead of rolling back, and
	// waits for Promote (continue) or Abort (roll back). For releases
	// that carry migrations, where rolling back is worse than waiting.
	// OnFail and OnDeadline only: a cancelled release cannot wait.
	Pause bool `json:"pause,omitempty" yaml:"pause,omitempty"`
	// Leave stops driving the target and leaves it as the journal
	// records it, for a process that will resume the release (the
	// release ends in PhaseStopped with [ErrStopped]). OnCancel only.
	Leave bool `json:"leave,omitempty" yaml:"leave,omitempty"`
	// Allowed is how many Fail verdicts are tolerated before the policy
	// acts; a tolerated failure re-runs the failed analysis. 0 acts on
	// the first. OnFail only (Flagger's analysis threshold is Allowed+1).
	Allowed int `json:"allowed,omitempty" yaml:"allowed,omitempty"`
}

// problems lists the choices p makes that do not apply to trigger, named
// by its Options field.
func (p Policy) problems(field string) []string {
	var out []string
	if p.Allowed < 0 {
		out = append(out, fmt.Sprintf("options: %s.Allowed is negative (%d)", field, p.Allowed))
	}
	if p.Allowed != 0 && field != "OnFail" {
		out = append(out, fmt.Sprintf("options: %s.Allowed applies to OnFail only", field))
	}
	if p.Leave && field != "OnCancel" {
		out = append(out, fmt.Sprintf("options: %s.Leave applies to OnCancel only", field))
	}
	if p.Pause && field == "OnCancel" {
		out = append(out, "options: OnCancel.Pause: a cancelled release cannot wait for a person (use Leave to resume it later)")
	}
	return out
}

// Options tune the executor. Every zero value has a documented default.
type Options struct {
	// ProgressDeadline bounds each wait for readiness (default 10m).
	// Missing it rolls back (or pauses, with OnDeadline.Pause).
	ProgressDeadline time.Duration `json:"-" yaml:"progressDeadline,omitempty"`
	// PollInterval is how often the target is observed while waiting for
	// readiness (default 1s).
	PollInterval time.Duration `json:"-" yaml:"pollInterval,omitempty"`
	// RetryInitial and RetryMax bound the exponential backoff between
	// Apply attempts (defaults 100ms and 10s); RetryBudget is the total
	// time spent retrying one Apply before giving up (default 1m).
	RetryInitial time.Duration `json:"-" yaml:"retryInitial,omitempty"`
	RetryMax     time.Duration `json:"-" yaml:"retryMax,omitempty"`
	RetryBudget  time.Duration `json:"-" yaml:"retryBudget,omitempty"`
	// OnFail is what a Fail verdict does: roll back at once (the zero
	// value), pause for a person (Pause), and after how many tolerated
	// failures (Allowed).
	OnFail Policy `json:"onFail,omitzero" yaml:"onFail,omitempty"`
	// OnDeadline is what a missed progress deadline does: roll back (the
	// zero value) or pause for a person (Pause).
	OnDeadline Policy `json:"onDeadline,omitzero" yaml:"onDeadline,omitempty"`
	// OnCancel is what cancelling the release's context does: roll back
	// on a fresh context bounded by RollbackTimeout (the zero value), or
	// stop and leave the target as recorded for a later resume (Leave).
	OnCancel Policy `json:"onCancel,omitzero" yaml:"onCancel,omitempty"`
	// RollbackTimeout bounds the whole rollback, which runs on a fresh
	// context so that a cancelled parent cannot prevent it (default 5m).
	RollbackTimeout time.Duration `json:"-" yaml:"rollbackTimeout,omitempty"`
	// ApplyTimeout bounds one Apply or Observe call, so a hung target is
	// retried rather than waited on for ever (default 30s).
	ApplyTimeout time.Duration `json:"-" yaml:"applyTimeout,omitempty"`
	// Journal, when set, records every step before it is applied and its
	// outcome after. A write error stops the release before the next Apply.
	Journal Journal `json:"-" yaml:"-"`
	// MaxVerdicts bounds the verdicts kept in Status (default 16).
	MaxVerdicts int `json:"maxVerdicts,omitempty" yaml:"maxVerdicts,omitempty"`
	// AllowEmptyTarget lets a release start on a target that serves no
	// revision yet (a first release). By default a release is refused,
	// before anything is applied, unless the target serves exactly
	// Release.Stable.
	AllowEmptyTarget bool `json:"allowEmptyTarget,omitempty" yaml:"allowEmptyTarget,omitempty"`
	// AdoptServing lets a release start whatever the target serves,
	// deliberately adopting a serving state other than Release.Stable
	// (the rollback point is still Release.Stable). Never the default: a
	// stale or mistyped stable revision would otherwise move production
	// traffic back to it.
	AdoptServing bool `json:"adoptServing,omitempty" yaml:"adoptServing,omitempty"`
	// AnalysisGrace is how long the executor waits for an analyzer to
	// return once its context is cancelled (default 30s): an inline
	// analyzer past its step's Timeout, background analysis giving its
	// last word, or background analysis stopped at the end of the
	// release. An analyzer still running then is left behind and its
	// answer ignored; one that gave no verdict counts as Inconclusive.
	// An Abort, a rollback or a cancelled context never wait for it.
	AnalysisGrace time.Duration `json:"-" yaml:"analysisGrace,omitempty"`
}

func (o Options) withDefaults() Options {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.ProgressDeadline, 10*time.Minute)
	def(&o.PollInterval, time.Second)
	def(&o.RetryInitial, 100*time.Millisecond)
	def(&o.RetryMax, 10*time.Second)
	def(&o.RetryBudget, time.Minute)
	def(&o.RollbackTimeout, 5*time.Minute)
	def(&o.ApplyTimeout, 30*time.Second)
	def(&o.AnalysisGrace, 30*time.Second)
	if o.MaxVerdicts <= 0 {
		o.MaxVerdicts = 16
	}
	return o
}

func (o Options) problems() []string {
	var p []string
	neg := func(name string, d time.Duration) {
		if d < 0 {
			p = append(p, fmt.Sprintf("options: %s is negative (%v)", name, d))
		}
	}
	neg("ProgressDeadline", o.ProgressDeadline)
	neg("PollInterval", o.PollInterval)
	neg("RetryInitial", o.RetryInitial)
	neg("RetryMax", o.RetryMax)
	neg("RetryBudget", o.RetryBudget)
	neg("RollbackTimeout", o.RollbackTimeout)
	neg("ApplyTimeout", o.ApplyTimeout)
	neg("AnalysisGrace", o.AnalysisGrace)
	p = append(p, o.OnFail.problems("OnFail")...)
	p = append(p, o.OnDeadline.problems("OnDeadline")...)
	p = append(p, o.OnCancel.problems("OnCancel")...)
	return p
}

// Phase is where a release stands.
type Phase string

// Phases of a release. Promoted, RolledBack, Degraded and Stopped are final.
const (
	PhasePending     Phase = "Pending"
	PhaseProgressing Phase = "Progressing"
	PhasePaused      Phase = "Paused"
	PhaseRollingBack Phase = "RollingBack"
	PhasePromoted    Phase = "Promoted"
	PhaseRolledBack  Phase = "RolledBack"
	// PhaseDegraded: the rollback could not be applied even after retries.
	// Never silent: it comes with an event, an error and a Status reason.
	PhaseDegraded Phase = "Degraded"
	// PhaseStopped: the context was cancelled with OnCancel.Leave, or the
	// journal failed; the target is as the journal last recorded it.
	PhaseStopped Phase = "Stopped"
)

// Final reports whether p ends a release.
func (p Phase) Final() bool {
	switch p {
	case PhasePromoted, PhaseRolledBack, PhaseDegraded, PhaseStopped:
		return true
	}
	return false
}

// PauseReason says why a release is paused.
type PauseReason string

// Reasons for a pause. The values are what Status, events and journals
// record.
const (
	PausedForStep         PauseReason = "PauseStep"        // a pause step waiting for Promote
	PausedForInconclusive PauseReason = "Inconclusive"     // analysis was inconclusive
	PausedForUser         PauseReason = "User"             // Rollout.Pause
	PausedForFailure      PauseReason = "AnalysisFailed"   // a Fail under Options.OnFail{Pause: true}
	PausedForDeadline     PauseReason = "ProgressDeadline" // deadline missed under Options.OnDeadline{Pause: true}
)

// Status is a snapshot of a running or finished release.
type Status struct {
	// Release is the release's name.
	Release string `json:"release"`
	// Phase is where the release stands.
	Phase Phase `json:"phase"`
	// PauseReason is set while paused.
	PauseReason PauseReason `json:"pauseReason,omitempty"`
	// PausedUntil is when a timed pause step ends by itself; it is zero
	// for every pause that waits for Promote (a pause step without a
	// duration, a hold for a person). A user Pause keeps a timed pause
	// step from ending: it then waits for Unpause or Promote.
	PausedUntil time.Time `json:"pausedUntil,omitzero"`
	// Reason explains the phase in a sentence (why paused, why rolled back).
	Reason string `json:"reason,omitempty"`
	// Step is the index of the current step; Steps the plan's length.
	Step  int `json:"step"`
	Steps int `json:"steps"`
	// State is the last State applied to the target.
	State State `json:"state"`
	// Verdicts are the most recent verdicts, oldest first (bounded).
	Verdicts []Verdict `json:"verdicts,omitempty"`
	// Started is when the release began; Updated when Status last changed.
	Started time.Time `json:"started"`
	Updated time.Time `json:"updated"`
}

// StepResult records how one step went.
type StepResult struct {
	// Index is the step's index in the plan.
	Index int `json:"index"`
	// Kind, Name and State describe the step.
	Kind  StepKind `json:"kind"`
	Name  string   `json:"name,omitempty"`
	State State    `json:"state,omitzero"`
	// Started and Finished time the step.
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// Verdicts are an analysis step's verdicts.
	Verdicts []Verdict `json:"verdicts,omitempty"`
	// Error says why the step did not complete, if it did not.
	Error string `json:"error,omitempty"`
}

// Duration is Finished - Started.
func (s StepResult) Duration() time.Duration { return s.Finished.Sub(s.Started) }

// Result is how a release ended, or, while it runs, how it stands. It is
// the one value glidepath keeps of a release's outcome: [Run] and
// [Rollout.Wait] return it, [ReleaseFinished] carries it, and the rollback
// package embeds it in a target's history entries (which the dora
// package computes delivery metrics from) and in the progress it replays
// from a journal.
//
// Its JSON form names every field once (stable, canary, phase, …).
// Decoding also accepts the spellings of earlier versions of glidepath:
// "stableRevision" and "canaryRevision" for stable and canary, and
// "outcome" for phase; a field given both ways takes the current one.
// Only Stable, Canary and Phase have earlier spellings.
type Result struct {
	// Release is the release's name; Strategy its plan's strategy.
	Release  string `json:"release"`
	Strategy string `json:"strategy"`
	// Stable and Canary are the release's revisions.
	Stable Revision `json:"stable"`
	Canary Revision `json:"canary"`
	// Phase is the final phase (while a release runs, the last one).
	Phase Phase `json:"phase"`
	// Reason explains it in a sentence.
	Reason string `json:"reason,omitempty"`
	// Final is the last State applied.
	Final State `json:"final"`
	// Steps has one entry per step run, in order (a step re-run after a
	// tolerated failure or a Promote appears again). Only the executor
	// fills it; a journal does not record steps this finely.
	Steps []StepResult `json:"steps,omitempty"`
	// Verdicts are every verdict reached, background ones included.
	Verdicts []Verdict `json:"verdicts,omitempty"`
	// RollbackStarted and RollbackFinished time the rollback, when one ran.
	RollbackStarted  time.Time `json:"rollbackStarted,omitzero"`
	RollbackFinished time.Time `json:"rollbackFinished,omitzero"`
	// FailedAt is when the verdict, deadline or abort that ended the
	// release forward was reached.
	FailedAt time.Time `json:"failedAt,omitzero"`
	// Started and Finished time the whole release.
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// Err is the error Run returned, as text.
	Err string `json:"error,omitempty"`
	// JournalErr is set when the journal could not record how the release
	// ended (the target itself is as Phase says); a resume from that
	// journal finds the release unfinished and re-runs its last step,
	// which applies nothing new.
	JournalErr string `json:"journalError,omitempty"`
}

// TimeToRestore is RollbackFinished - FailedAt for a release that failed
// and was rolled back, else 0.
func (r Result) TimeToRestore() time.Duration {
	if r.RollbackFinished.IsZero() || r.FailedAt.IsZero() {
		return 0
	}
	return r.RollbackFinished.Sub(r.FailedAt)
}

// UnmarshalJSON decodes r from its JSON form or from the form of an
// earlier version of glidepath (see [Result]).
//
// A type that embeds Result inherits this method, which would decode only
// Result's fields: such a type needs an UnmarshalJSON of its own (as the
// rollback package's Entry and Progress have).
func (r *Result) UnmarshalJSON(data []byte) error {
	type plain Result // Result's fields without this method
	var v struct {
		plain
		OldStable Revision `json:"stableRevision"`
		OldCanary Revision `json:"canaryRevision"`
		OldPhase  Phase    `json:"outcome"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	*r = Result(v.plain)
	if r.Stable == "" {
		r.Stable = v.OldStable
	}
	if r.Canary == "" {
		r.Canary = v.OldCanary
	}
	if r.Phase == "" {
		r.Phase = v.OldPhase
	}
	return nil
}

// Checkpoint is where a recorded release stands; a resumed release starts
// from it. The rollback package builds it from a journal.
type Checkpoint struct {
	// Fingerprint is the recorded plan's fingerprint; the rebuilt plan
	// must match it.
	Fingerprint string
	// Step is the index of the step to run next; the step is re-run from
	// its beginning (an Apply is idempotent).
	Step int
	// State is the last State that may have been applied (intended or
	// confirmed), for information: the executor observes the target to
	// learn where it stands, then re-runs Step (Apply is idempotent).
	State State
	// Failures is the count of Fail verdicts recorded so far. When it is
	// more than Options.OnFail.Allowed (and neither Rollback nor
	// Promote is set), the process stopped before it acted on the Fail
	// that exceeded the allowance, or a person had promoted past it under
	// OnFail.Pause: the resumed release applies the failure policy
	// before anything else, as it would have before the crash. It rolls
	// back, or, under OnFail.Pause, pauses for a person again
	// (a Promote is not journaled, so a resume cannot tell that one was
	// given and asks again rather than continue unasked).
	Failures int
	// Rollback starts the resumed release by rolling back (a rollback
	// had started, or an Abort was recorded).
	Rollback bool
	// Promote continues as if PromoteFull had been called (a recorded
	// PromoteFull whose final apply may not have happened).
	Promote bool
}

// Journal is the narrow seam through which the executor records progress.
// Record is called before each Apply (an intent) and after each step and
// phase change; an error stops the release before it applies anything
// unrecorded. Implementations must be safe for concurrent use.
type Journal interface {
	Record(ctx context.Context, rec Record) error
}

// RecordKind says what a [Record] records.
type RecordKind string

// Kinds of journal record.
const (
	RecordStarted  RecordKind = "started"  // Plan fingerprint, strategy, revisions
	RecordIntent   RecordKind = "intent"   // State is about to be applied
	RecordApplied  RecordKind = "applied"  // State was accepted by the target
	RecordStep     RecordKind = "step"     // Step finished; Step is the next step to run
	RecordVerdict  RecordKind = "verdict"  // a verdict was reached
	RecordPhase    RecordKind = "phase"    // the phase changed
	RecordFinished RecordKind = "finished" // the release ended in Phase
	// RecordAbort records an Abort accepted by Rollout.Abort, written
	// before Abort returns nil; a resumed release rolls back.
	RecordAbort RecordKind = "abort"
)

// Record is one journal entry. It is plain serializable data.
type Record struct {
	// Kind says what the record records.
	Kind RecordKind `json:"kind"`
	// Release is the release's name; At when the record was made.
	Release string    `json:"release"`
	At      time.Time `json:"at"`
	// Strategy, Fingerprint, Stable and Canary describe the release
	// (RecordStarted).
	Strategy    string   `json:"strategy,omitempty"`
	Fingerprint string   `json:"fingerprint,omitempty"`
	Stable      Revision `json:"stableRevision,omitempty"`
	Canary      Revision `json:"canaryRevision,omitempty"`
	// Step is the step index the record belongs to (for RecordStep: the
	// next step to run).
	Step int `json:"step"`
	// State is the State intended or applied (RecordIntent, RecordApplied).
	State *State `json:"state,omitempty"`
	// Verdict is the verdict reached (RecordVerdict).
	Verdict *Verdict `json:"verdict,omitempty"`
	// Phase and Reason are the new phase and why (RecordPhase,
	// RecordFinished).
	Phase  Phase  `json:"phase,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Failures counts the Fail verdicts tolerated so far (RecordStep).
	Failures int `json:"failures,omitempty"`
	// Rollback marks intents and applies that belong to a rollback.
	Rollback bool `json:"rollback,omitempty"`
	// Promote marks a PromoteFull in progress.
	Promote bool `json:"promote,omitempty"`
}
