package vclock

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A Manual clock advances only when waited on, and ends the run at End by
// calling Stop, which here cancels the context with a cause.
func TestManual(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	done := errors.New("run complete")
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	m := &Manual{T: start, End: start.Add(3 * time.Minute), Stop: func() { cancel(done) }}
	ctx = With(ctx, m)
	for i := 1; i <= 3; i++ {
		if !Wait(ctx, time.Minute) {
			t.Fatalf("wait %d ended early", i)
		}
		if got := Now(ctx); !got.Equal(start.Add(time.Duration(i) * time.Minute)) {
			t.Fatalf("after %d waits the time is %v", i, got)
		}
	}
	if Wait(ctx, time.Minute) {
		t.Fatal("waited past End")
	}
	if !errors.Is(context.Cause(ctx), done) || !Now(ctx).Equal(m.End) {
		t.Fatalf("cause %v at %v", context.Cause(ctx), Now(ctx))
	}
	if Wait(ctx, time.Minute) {
		t.Fatal("waited on an ended context")
	}
}

// Without a clock in the context, Now is the real time and Wait a real
// timer that the context can end.
func TestRealClock(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if Wait(ctx, time.Hour) {
		t.Fatal("waited on a cancelled context")
	}
	if d := time.Since(Now(ctx)); d < 0 || d > time.Minute {
		t.Fatalf("Now is %v away from the real time", d)
	}
}
