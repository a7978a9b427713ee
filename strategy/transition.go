package strategy

import (
	"context"
	"errors"
	"fmt"
	"github.com/glidepath/glidepath/internal/sleep"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// This file moves the target from one State to the next: capacity before
// traffic, retries, fencing, readiness waits, and settling an Apply whose
// reply was lost.

// transition applies `to`, moving capacity before traffic: when `to` raises
// a revision's share of traffic (or routes headers to it) and that
// revision's capacity is not ready, it first applies `to` with the old
// traffic, waits for the capacity (bounded by the progress deadline), and
// only then applies `to`.
func (r *Rollout) transition(ctx context.Context, rs *runState, to State, rollback bool, i int) error {
	r.settle(ctx, rs)
	from := r.currentState()
	if from == to {
		return nil
	}
	var gains [2]Revision
	n := 0
	for _, rev := range [2]Revision{to.Stable, to.Canary} {
		if rev == "" {
			continue
		}
		routed := rev == to.Canary && !to.Route.IsZero() && (from.Route != to.Route || from.Canary != rev)
		if to.Share(rev) > from.Share(rev) || routed {
			gains[n] = rev
			n++
		}
	}
	if n > 0 {
		var obs Observation
		err := r.retry(ctx, func(c context.Context) error {
			var e error
			obs, e = r.observe(c)
			return e
		}, nil)
		if err != nil {
			return fmt.Errorf("observing the target before moving traffic: %w", err)
		}
		if !readyFor(obs, to, gains[:n]) {
			if mid, ok := capacityFirst(from, to, gains[:n]); ok && mid != from {
				if err := r.applyRetry(ctx, rs, mid, rollback, i); err != nil {
					return err
				}
			} else if !ok && from != (State{}) {
				// `to` puts traffic on a revision that `from` neither runs
				// nor has a free slot for, so no State can add its
				// capacity under the old traffic. Refuse rather than
				// move traffic onto capacity that is not ready.
				return Permanent(fmt.Errorf("cannot move traffic from %s to %s: no intermediate State can make %v ready first", from, to, gains[:n]))
			}
			if from == (State{}) {
				// A fresh target serves nothing yet: deploy, then wait.
				if err := r.applyRetry(ctx, rs, to, rollback, i); err != nil {
					return err
				}
			}
			if err := r.waitFor(ctx, to, gains[:n], r.opts.ProgressDeadline); err != nil {
				return err
			}
		}
	}
	cur := r.currentState()
	if cur == to {
		return nil
	}
	if rollback {
		// On the way down, traffic leaves a revision before its capacity
		// does: on a weighted router, instances removed in the same Apply
		// that lowers their weight would still get traffic until the
		// router catches up.
		if mid, ok := trafficFirst(cur, to); ok && mid != cur {
			if err := r.applyRetry(ctx, rs, mid, rollback, i); err != nil {
				return err
			}
		}
	}
	return r.applyRetry(ctx, rs, to, rollback, i)
}

// trafficFirst is `to` with the capacity that `from` gives every revision
// whose traffic `to` lowers but does not end, and whose capacity it also
// lowers (break before unmake): the revision must not serve its remaining
// share on instances that are going away. ok is false when no revision
// loses both at once.
func trafficFirst(from, to State) (State, bool) {
	mid, changed := to, false
	for _, rev := range [2]Revision{from.Stable, from.Canary} {
		if rev == "" || from.Share(rev) <= to.Share(rev) || from.Desired(rev) <= to.Desired(rev) || !receives(to, rev) {
			// A revision that keeps no traffic may go in the same Apply
			// (a blue-green switch back, the last step of a rollback).
			continue
		}
		switch {
		case mid.Stable == rev:
			mid.Replicas.Stable = from.Desired(rev)
		case mid.Canary == rev:
			mid.Replicas.Canary = from.Desired(rev)
		}
		changed = true
	}
	return mid, changed
}

// capacityFirst is the State that adds the capacity `to` wants for the
// revisions gaining traffic while keeping from's traffic and every other
// revision's capacity (make before break). ok is false when a gaining
// revision has no slot in from to be added to.
func capacityFirst(from, to State, gains []Revision) (State, bool) {
	mid := from
	for _, rev := range gains {
		need := to.Desired(rev)
		switch {
		case from.Stable == rev:
			mid.Replicas.Stable = max(mid.Replicas.Stable, need)
		case from.Canary == rev:
			mid.Replicas.Canary = max(mid.Replicas.Canary, need)
		case mid.Canary == "" && mid.Stable != "":
			mid.Canary, mid.Weight = rev, 0
			mid.Replicas.Canary = need
		default:
			return from, false
		}
	}
	return mid, true
}

// grownRevisions lists the revisions to which `to` gives more instances
// than `from` did.
func grownRevisions(from, to State) []Revision {
	var out []Revision
	for _, rev := range [2]Revision{to.Stable, to.Canary} {
		if rev != "" && to.Desired(rev) > from.Desired(rev) {
			out = append(out, rev)
		}
	}
	return out
}

func readyFor(obs Observation, to State, revs []Revision) bool {
	for _, rev := range revs {
		if obs.ReadyCount(rev) < to.Needs(rev) {
			return false
		}
	}
	return true
}

// waitFor polls the target until revs (all of desired's when nil) are
// ready at desired's capacity, or the timeout passes.
func (r *Rollout) waitFor(ctx context.Context, desired State, revs []Revision, timeout time.Duration) error {
	check := func(o Observation) bool {
		if revs == nil {
			return o.Satisfies(desired)
		}
		return readyFor(o, desired, revs)
	}
	deadline := time.Now().Add(timeout)
	announced := false
	var last Observation
	var lastErr error
	for {
		octx, cancel := context.WithTimeout(ctx, r.opts.ApplyTimeout)
		obs, err := r.observe(octx)
		cancel()
		if err == nil {
			last = obs
			if check(obs) {
				return nil
			}
		} else {
			lastErr = err
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
		}
		if !announced {
			announced = true
			r.emit(WaitingForReady{EventMeta: r.meta(), Desired: desired, Observed: last, Deadline: deadline})
		}
		left := time.Until(deadline)
		if left <= 0 {
			msg := fmt.Sprintf("%v: %s not ready after %v (observed %s, ready %d/%d)", ErrDeadlineExceeded, desired, timeout,
				last.State, last.Ready.Stable, last.Ready.Canary)
			if lastErr != nil {
				msg += fmt.Sprintf("; last observe error: %v", lastErr)
			}
			return fmt.Errorf("%w", &deadlineError{msg: msg})
		}
		t := time.NewTimer(min(r.opts.PollInterval, left))
		select {
		case <-ctx.Done():
			t.Stop()
			return context.Cause(ctx)
		case <-t.C:
		}
	}
}

type deadlineError struct{ msg string }

func (e *deadlineError) Error() string { return e.msg }

func (e *deadlineError) Unwrap() error { return ErrDeadlineExceeded }

// applyRetry records the intent, applies s with retries, and records the
// outcome.
func (r *Rollout) applyRetry(ctx context.Context, rs *runState, s State, rollback bool, i int) error {
	// The record must be written even while the step context is being
	// interrupted: an intent that is not recorded must not be applied.
	if err := r.record(ctx, Record{Kind: RecordIntent, Step: i, State: &s, Rollback: rollback, Promote: rs.dec.full}); err != nil {
		return err
	}
	attempts := 0
	// Until Apply returns nil, s may or may not have been applied (a
	// reply lost to a timeout or a cancellation).
	rs.pending, rs.hasPending = s, true
	err := r.retry(ctx, func(c context.Context) error {
		attempts++
		return r.applyOnce(c, s)
	}, func(attempt int, err error, will bool) {
		r.emit(ApplyFailed{EventMeta: r.meta(), State: s, Attempt: attempt, Err: err, WillRetry: will})
	})
	if err != nil {
		return fmt.Errorf("applying %s: %w", s, err)
	}
	rs.hasPending = false
	r.applied(s)
	r.emit(StateApplied{EventMeta: r.meta(), State: s, Attempts: attempts, Rollback: rollback})
	err = r.record(ctx, Record{Kind: RecordApplied, Step: i, State: &s, Rollback: rollback})
	if err != nil && rollback {
		// The State is applied; a rollback goes on, and the intent of
		// its next State (if any) stops it if the journal still fails.
		r.journalErr(err)
		return nil
	}
	return err
}

// applyOnce is one Apply attempt. When the journal is a [Fencer], the
// lease is proved by a fenced write before the attempt, and the attempt is
// not made when that fails: a driver that lost its lease must not move the
// target. When the target is a [FencedTarget], it gets the token with the
// State and can refuse a stale holder itself.
func (r *Rollout) applyOnce(ctx context.Context, s State) error {
	if f, ok := r.opts.Journal.(Fencer); ok {
		var token uint64
		err := journalSafe(func() error {
			var e error
			token, e = f.Fence(ctx)
			return e
		})
		if err != nil {
			return Permanent(fmt.Errorf("%w: %w: %w", ErrJournal, ErrFenced, err))
		}
		if ft, ok := r.rel.Target.(FencedTarget); ok {
			return guardApply(func() error { return ft.ApplyFenced(ctx, s, token) })
		}
	}
	return guardApply(func() error { return r.rel.Target.Apply(ctx, s) })
}

// applied notes that the target accepted s.
func (r *Rollout) applied(s State) {
	r.mu.Lock()
	r.current = s
	r.status.State = s
	r.status.Updated = time.Now()
	r.mu.Unlock()
}

// settle resolves an Apply whose outcome is unknown (it failed, but the
// target may have done the work) before the next transition computes
// anything from the current State: the target is observed (with retries)
// and what it reports is where the release stands; when it cannot be
// observed, or reports a State that is not valid, the last recorded intent
// is assumed to have taken effect. A make-before-break State or a rollback
// path built from a State the target has already left could move traffic
// onto capacity that is not ready.
func (r *Rollout) settle(ctx context.Context, rs *runState) {
	if !rs.hasPending {
		return
	}
	rs.hasPending = false
	var obs Observation
	err := r.retry(ctx, func(c context.Context) error {
		var e error
		obs, e = r.observe(c)
		return e
	}, nil)
	switch {
	case err != nil || len(obs.State.problems()) > 0:
		r.applied(rs.pending)
	case obs.State != r.currentState():
		r.applied(obs.State)
	}
}

// retry runs op until it succeeds, fails permanently, or the retry budget
// or ctx runs out. Each attempt is bounded by ApplyTimeout.
func (r *Rollout) retry(ctx context.Context, op func(context.Context) error, notify func(attempt int, err error, willRetry bool)) error {
	var b *backoff.ExponentialBackOff
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, r.opts.ApplyTimeout)
		err := op(actx)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			if notify != nil {
				notify(attempt, err, false)
			}
			return errors.Join(err, context.Cause(ctx))
		}
		if IsPermanent(err) {
			if notify != nil {
				notify(attempt, err, false)
			}
			return err
		}
		if b == nil {
			b = backoff.NewExponentialBackOff(
				backoff.WithInitialInterval(r.opts.RetryInitial),
				backoff.WithMaxInterval(r.opts.RetryMax),
				backoff.WithMaxElapsedTime(r.opts.RetryBudget))
		}
		d := b.NextBackOff()
		if notify != nil {
			notify(attempt, err, d != backoff.Stop)
		}
		if d == backoff.Stop {
			return fmt.Errorf("gave up after %d attempts: %w", attempt, err)
		}
		if !sleep.For(ctx, d) {
			return errors.Join(err, context.Cause(ctx))
		}
	}
}

// receives reports whether rev gets traffic in s (by weight or by header
// route).
func receives(s State, rev Revision) bool {
	return s.Share(rev) > 0 || (rev != "" && rev == s.Canary && !s.Route.IsZero())
}
