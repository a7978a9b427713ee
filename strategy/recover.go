package strategy

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
)

// This file keeps user code that panics (a Target, an Analyzer, an
// Observer, a Journal) from killing the process and leaving the target at
// a canary weight: each call into user code recovers, and the panic
// becomes what the executor already knows how to handle.

// PanicError is the error a recovered panic in user code becomes: an
// Apply of unknown outcome, a failed Observe, an analyzer error (an
// Inconclusive verdict), a journal error.
type PanicError struct {
	// Where names the call that panicked ("Target.Apply", ...).
	Where string
	// Value is what was passed to panic.
	Value any
	// Stack is the goroutine's stack at the panic.
	Stack []byte
}

// Error names the call and the panic value, with the stack.
func (e *PanicError) Error() string {
	return fmt.Sprintf("%s panicked: %v\n%s", e.Where, e.Value, e.Stack)
}

func recovered(where string, p any) error {
	return &PanicError{Where: where, Value: p, Stack: debug.Stack()}
}

// observe calls Target.Observe, recovering a panic as an error.
func (r *Rollout) observe(ctx context.Context) (obs Observation, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = recovered("Target.Observe", p)
		}
	}()
	return r.rel.Target.Observe(ctx)
}

// guardApply runs one Apply attempt, recovering a panic as a Permanent
// error: the outcome is unknown (the target may have done the work), which
// the executor handles like a lost reply; retrying code that panicked is
// not worth it.
func guardApply(apply func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = Permanent(recovered("Target.Apply", p))
		}
	}()
	return apply()
}

// analyzeSafe calls a.Analyze, recovering a panic as an error (which
// normalize turns into an Inconclusive verdict carrying the panic and its
// stack).
func analyzeSafe(ctx context.Context, a Analyzer, in Input) (v Verdict, err error) {
	defer func() {
		if p := recover(); p != nil {
			v, err = Verdict{}, recovered("Analyzer.Analyze", p)
		}
	}()
	return a.Analyze(ctx, in)
}

// journalSafe calls op on the journal, recovering a panic as an error.
func journalSafe(op func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = recovered("Journal", p)
		}
	}()
	return op()
}

// notify hands e to the observer; a panicking observer is logged and
// never stops the release.
func (r *Rollout) notify(e Event) {
	defer func() {
		if p := recover(); p != nil {
			slog.Default().Error("glidepath: an Observer panicked; the release goes on",
				slog.String("release", r.name), slog.String("event", fmt.Sprintf("%T", e)),
				slog.Any("panic", p), slog.String("stack", string(debug.Stack())))
		}
	}()
	r.obs.OnEvent(e)
}
