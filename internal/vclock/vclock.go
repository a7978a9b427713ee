package vclock

import (
	"context"
	"github.com/glidepath/glidepath/internal/sleep"
	"time"
)

// Clock is a source of time that the judges wait on.
type Clock interface {
	// Now is the current time.
	Now() time.Time
	// Wait waits for d and reports true, or reports false when ctx ended
	// first (a virtual clock may end ctx itself, at the end of a
	// simulated release).
	Wait(ctx context.Context, d time.Duration) bool
}

type key struct{}

// With returns ctx carrying c.
func With(ctx context.Context, c Clock) context.Context { return context.WithValue(ctx, key{}, c) }

// Now returns the time of ctx's clock, or the real time.
func Now(ctx context.Context) time.Time {
	if c, ok := ctx.Value(key{}).(Clock); ok {
		return c.Now()
	}
	return time.Now()
}

// Wait waits for d on ctx's clock, or on the real clock; false when ctx
// ended first.
func Wait(ctx context.Context, d time.Duration) bool {
	if c, ok := ctx.Value(key{}).(Clock); ok {
		return c.Wait(ctx, d)
	}
	return sleep.For(ctx, d)
}

// Manual is a virtual clock that advances only when waited on: Wait moves
// it forward by d at once. When the time would pass End (if set), Wait
// instead calls Stop (which should cancel the context, for example with a
// cause saying the release is complete) and reports false. It is not safe
// for concurrent use.
type Manual struct {
	// T is the current time.
	T time.Time
	// End, when not zero, is when the simulated run ends.
	End time.Time
	// Stop is called once when a Wait would pass End.
	Stop func()
}

// Now returns T.
func (m *Manual) Now() time.Time { return m.T }

// Wait advances T by d, or calls Stop and reports false at End.
func (m *Manual) Wait(ctx context.Context, d time.Duration) bool {
	if ctx.Err() != nil {
		return false
	}
	if !m.End.IsZero() && m.T.Add(d).After(m.End) {
		m.T = m.End
		if m.Stop != nil {
			m.Stop()
		}
		return false
	}
	m.T = m.T.Add(d)
	return true
}
