package strategy

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"time"
)

// Event is a typed notification of something the executor did. Use a type
// switch on the concrete types below.
type Event interface {
	// Meta returns the fields every event carries.
	Meta() EventMeta
}

// EventMeta is carried by every event.
type EventMeta struct {
	// Release is the release's name.
	Release string
	// Time is when the event happened.
	Time time.Time
	// Step is the index of the current step (-1 before the first).
	Step int
}

// Meta returns m; embedding EventMeta makes a struct an [Event].
func (m EventMeta) Meta() EventMeta { return m }

// Observer receives events. OnEvent is called synchronously from the
// executor's goroutines (possibly several at once for background analysis);
// it must be quick and safe for concurrent use.
type Observer interface {
	OnEvent(Event)
}

// ObserverFunc adapts a function to [Observer].
type ObserverFunc func(Event)

// OnEvent calls f.
func (f ObserverFunc) OnEvent(e Event) { f(e) }

// Observers fans events out to several observers, in order.
func Observers(obs ...Observer) Observer {
	return ObserverFunc(func(e Event) {
		for _, o := range obs {
			if o != nil {
				o.OnEvent(e)
			}
		}
	})
}

// ReleaseStarted is emitted once a release is validated and planned.
type ReleaseStarted struct {
	EventMeta
	// Strategy names the plan's strategy.
	Strategy string
	// Stable and Canary are the release's revisions.
	Stable, Canary Revision
	// Steps is the plan's length.
	Steps int
	// Resumed is true for a release resumed from a Checkpoint.
	Resumed bool
}

// StepStarted is emitted when a step begins.
type StepStarted struct {
	EventMeta
	// Step is the step beginning.
	Step Step
}

// StepFinished is emitted when a step ends, with its error if it failed.
type StepFinished struct {
	EventMeta
	// Step is the step that ended.
	Step Step
	// Duration is how long it ran.
	Duration time.Duration
	// Err is why it failed; nil when it completed.
	Err error
}

// StateApplied is emitted when the target accepted a State.
type StateApplied struct {
	EventMeta
	// State is the State the target accepted.
	State State
	// Attempts counts the Apply calls it took.
	Attempts int
	// Rollback is true during a rollback.
	Rollback bool
}

// ApplyFailed is emitted for each failed Apply attempt.
type ApplyFailed struct {
	EventMeta
	// State is the State that was refused.
	State State
	// Attempt numbers the attempt, from 1.
	Attempt int
	// Err is the target's error.
	Err error
	// WillRetry is false when the executor gives up (permanent error,
	// retry budget spent, context done).
	WillRetry bool
}

// WaitingForReady is emitted when the executor starts waiting for capacity,
// before moving traffic or in a wait-ready step.
type WaitingForReady struct {
	EventMeta
	// Desired is the State whose capacity is awaited.
	Desired State
	// Observed is what the target reported when the wait began.
	Observed Observation
	// Deadline is when the wait gives up.
	Deadline time.Time
}

// VerdictReached is emitted for every verdict (and every analyzer error,
// which is reported as an Inconclusive verdict carrying the error).
type VerdictReached struct {
	EventMeta
	// Verdict is the verdict reached.
	Verdict Verdict
	// Background is true for background analysis.
	Background bool
}

// PhaseChanged is emitted on every phase transition.
type PhaseChanged struct {
	EventMeta
	// From and To are the phases before and after.
	From, To Phase
	// PauseReason is set when To is PhasePaused.
	PauseReason PauseReason
	// Reason explains the change in a sentence.
	Reason string
}

// RollbackStarted is emitted when a rollback begins.
type RollbackStarted struct {
	EventMeta
	// From is the State the rollback starts from.
	From State
	// To is the State it ends on.
	To State
	// Cause is why the release is rolled back (a *StepError).
	Cause error
}

// RollbackFinished is emitted when the stable State is restored.
type RollbackFinished struct {
	EventMeta
	// State is the State restored.
	State State
	// Duration is from the start of the rollback to the stable State.
	Duration time.Duration
	// FailedAt is when the verdict, deadline, abort or cancellation that
	// caused the rollback was reached: time to restore is Time - FailedAt.
	FailedAt time.Time
	// Cause is the error that caused the rollback (a *StepError).
	Cause error
}

// ReleaseDegraded is emitted when a rollback could not be applied.
type ReleaseDegraded struct {
	EventMeta
	// Last is the last State applied.
	Last State
	// Err says what could not be applied (matches ErrDegraded).
	Err error
}

// ReleaseFinished is emitted last, with the result. It is the one event
// every started release emits: a release stopped before it began (its
// journal refused the start record) emits ReleaseFinished without a
// ReleaseStarted.
type ReleaseFinished struct {
	EventMeta
	// Result is how the release ended.
	Result Result
	// Err is the error Run and Wait return (nil when promoted).
	Err error
}

// SlogObserver returns an Observer that logs every event with logger: info
// for progress, warn for failures and rollbacks, error for degraded releases.
// A verdict's record carries the numbers it was judged on
// ([Measurement].Values) in a group "values", one group per measurement:
// values.error-rate.value=0.02, values.failures@v2.e_fail=4.5.
func SlogObserver(logger *slog.Logger) Observer {
	return ObserverFunc(func(e Event) {
		m := e.Meta()
		level := slog.LevelInfo
		msg := ""
		attrs := []slog.Attr{slog.String("release", m.Release), slog.Int("step", m.Step)}
		switch ev := e.(type) {
		case ReleaseStarted:
			msg = "release started"
			attrs = append(attrs, slog.String("strategy", ev.Strategy), slog.String("stable", string(ev.Stable)),
				slog.String("canary", string(ev.Canary)), slog.Int("steps", ev.Steps), slog.Bool("resumed", ev.Resumed))
		case StepStarted:
			msg = "step started"
			attrs = append(attrs, slog.String("desc", ev.Step.String()))
		case StepFinished:
			msg = "step finished"
			attrs = append(attrs, slog.String("desc", ev.Step.String()), slog.Duration("duration", ev.Duration))
			if ev.Err != nil {
				level = slog.LevelWarn
				attrs = append(attrs, slog.String("error", ev.Err.Error()))
			}
		case StateApplied:
			msg = "state applied"
			attrs = append(attrs, slog.String("state", ev.State.String()), slog.Int("attempts", ev.Attempts), slog.Bool("rollback", ev.Rollback))
		case ApplyFailed:
			msg = "apply failed"
			level = slog.LevelWarn
			attrs = append(attrs, slog.String("state", ev.State.String()), slog.Int("attempt", ev.Attempt),
				slog.String("error", ev.Err.Error()), slog.Bool("willRetry", ev.WillRetry))
		case WaitingForReady:
			msg = "waiting for ready capacity"
			attrs = append(attrs, slog.String("desired", ev.Desired.String()), slog.Time("deadline", ev.Deadline))
		case VerdictReached:
			msg = "verdict"
			if ev.Verdict.Outcome != Pass {
				level = slog.LevelWarn
			}
			attrs = append(attrs, slog.String("analyzer", ev.Verdict.Analyzer), slog.String("outcome", string(ev.Verdict.Outcome)),
				slog.String("reason", ev.Verdict.Reason), slog.Bool("background", ev.Background))
			if vs := valueAttrs(ev.Verdict.Measurements); len(vs) > 0 {
				attrs = append(attrs, slog.Attr{Key: "values", Value: slog.GroupValue(vs...)})
			}
		case PhaseChanged:
			msg = "phase changed"
			attrs = append(attrs, slog.String("from", string(ev.From)), slog.String("to", string(ev.To)), slog.String("reason", ev.Reason))
			if ev.PauseReason != "" {
				attrs = append(attrs, slog.String("pauseReason", string(ev.PauseReason)))
			}
		case RollbackStarted:
			msg = "rollback started"
			level = slog.LevelWarn
			attrs = append(attrs, slog.String("from", ev.From.String()), slog.String("to", ev.To.String()))
			if ev.Cause != nil {
				attrs = append(attrs, slog.String("cause", ev.Cause.Error()))
			}
		case RollbackFinished:
			msg = "rollback finished"
			level = slog.LevelWarn
			attrs = append(attrs, slog.String("state", ev.State.String()), slog.Duration("duration", ev.Duration))
		case ReleaseDegraded:
			msg = "release degraded"
			level = slog.LevelError
			attrs = append(attrs, slog.String("last", ev.Last.String()), slog.String("error", ev.Err.Error()))
		case ReleaseFinished:
			msg = "release finished"
			attrs = append(attrs, slog.String("phase", string(ev.Result.Phase)), slog.String("reason", ev.Result.Reason))
			if ev.Err != nil {
				level = slog.LevelWarn
				if ev.Result.Phase == PhaseDegraded {
					level = slog.LevelError
				}
				attrs = append(attrs, slog.String("error", ev.Err.Error()))
			}
		default:
			msg = "event"
		}
		logger.LogAttrs(context.Background(), level, msg, attrs...)
	})
}

// valueAttrs are the numbers behind a verdict (Measurement.Values), one
// group per measurement name, keyed "name" or, for a measurement about a
// revision, "name@revision"; the last measurement of each wins, and the
// numbers are in name order.
func valueAttrs(ms []Measurement) []slog.Attr {
	var out []slog.Attr
	at := map[string]int{}
	for _, m := range ms {
		if len(m.Values) == 0 {
			continue
		}
		key := m.Name
		if m.Revision != "" {
			key += "@" + string(m.Revision)
		}
		nums := make([]slog.Attr, 0, len(m.Values))
		for _, k := range slices.Sorted(maps.Keys(m.Values)) {
			nums = append(nums, slog.Float64(k, m.Values[k]))
		}
		g := slog.Attr{Key: key, Value: slog.GroupValue(nums...)}
		if i, ok := at[key]; ok {
			out[i] = g
			continue
		}
		at[key] = len(out)
		out = append(out, g)
	}
	return out
}
