package sleep

import (
	"context"
	"time"
)

// For waits for d, or until ctx ends, whichever comes first. It reports
// true when d elapsed first and false when ctx ended first
// (the caller returns ctx.Err() or context.Cause(ctx), as its contract
// says). A d of zero or less does not wait: For reports whether ctx is
// live.
func For(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
