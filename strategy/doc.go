// Package strategy is the core of glidepath: the vocabulary every release
// is described in, and the one executor that runs every plan.
//
// # Vocabulary
//
// A [Target] is anything that can be released to. It is declarative: Apply
// tells it the desired [State] (stable revision, canary revision, traffic
// weight, replica counts, an optional header route) and Observe reports the
// State it serves and how much of each revision is ready ([Observation]).
//
// A [Strategy] (package canary, bluegreen or rolling) is a pure planner: it
// turns a stable and a canary (the new) [Revision] into a [Plan], an ordered list
// of [Step]s — apply a State, wait until ready, pause, analyse — plus
// [Background] analyzers that run alongside from a given step.
//
// An [Analyzer] judges a release and returns a [Verdict]: Pass, Fail or
// Inconclusive, with a reason and the measurements behind it. An error from
// an analyzer is never a Pass: the executor reports it as Inconclusive.
//
// # The executor
//
// [Start] validates a [Release] (every problem named in one
// [*ConfigError], which matches [ErrInvalidConfig]) and runs its plan in
// the background, returning a
// [*Rollout] handle with Promote, PromoteFull, Pause, Unpause, Abort, Retry,
// Status and Wait. [Run] is Start followed by Wait.
//
// The executor owns every side effect:
//
//   - Apply is retried with exponential backoff within Options.RetryBudget;
//     errors marked [Permanent] are not retried.
//   - Traffic never moves onto capacity that is not ready: when a State
//     raises a revision's share, the executor first applies the capacity
//     under the old traffic, waits for readiness (bounded by the progress
//     deadline), then moves the traffic. The same rule governs rollback:
//     capacity first, then traffic, then the canary is removed.
//   - A Fail verdict rolls back at once (or pauses, or is tolerated a given
//     number of times: Options.OnFail, a [Policy]); Inconclusive pauses
//     for a person; a missed progress deadline rolls back (or pauses:
//     Options.OnDeadline).
//   - Cancelling the release's context rolls back on a fresh context
//     bounded by Options.RollbackTimeout, unless the caller chose
//     Options.OnCancel = Policy{Leave: true} to resume later.
//   - A rollback that cannot be applied even after retries leaves the
//     release [PhaseDegraded], with an event, an error matching
//     [ErrDegraded] and a Status reason.
//   - Every transition is a typed [Event] delivered to an [Observer];
//     [SlogObserver] logs them.
//   - Every step is recorded through a [Journal] before it is applied and
//     after it completes, so a release can be resumed from a [Checkpoint]
//     (package rollback provides durable journals). Every verdict and
//     every accepted Abort is recorded too, and a resumed release decides
//     a recorded Fail or Abort as it would have before the crash.
//   - Nothing is applied unless the target serves Release.Stable
//     ([ErrServingMismatch]; see Options.AllowEmptyTarget and
//     Options.AdoptServing), and, when the Journal is a [Fencer], unless
//     the lease is proved by a fenced write just before each Apply attempt
//     ([FencedTarget] targets get the token and refuse a stale holder).
//   - On the way down traffic leaves a revision before its capacity does.
//   - A panic in a Target, Analyzer, Observer or Journal is recovered
//     ([PanicError]) and handled like the failure it stands for.
//
// What happens next is decided in one place: a pure function of the run's
// state, the policy and one event (a control call, a step outcome, a
// verdict, a deadline, a journal failure, a cancellation); the rest of the
// executor only applies, observes, waits, analyses and journals.
// ARCHITECTURE.md has the table of where each event is handled.
package strategy
