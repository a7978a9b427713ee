package strategy

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// This file is the rollback: the one way back to the stable State,
// started only by the run loop when the decision core says doRollBack.

// rollback returns the target to the plan's stable State, on a fresh
// context bounded by RollbackTimeout, and returns the error that ends the
// release: a *StepError of kind, or of ErrDegraded when the rollback could
// not be applied.
func (r *Rollout) rollback(parent context.Context, rs *runState, i int, kind, cause error) error {
	stepErr := r.stepError(i, kind, cause)
	started := time.Now()
	r.mu.Lock()
	if r.result.FailedAt.IsZero() {
		r.result.FailedAt = started
	}
	r.result.RollbackStarted = started
	r.mu.Unlock()
	r.setPhase(PhaseRollingBack, "", stepErr.Error())
	r.stopBackground(rs)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), r.opts.RollbackTimeout)
	defer cancel()
	r.settle(ctx, rs)
	from := r.currentState()
	path := r.rollbackPath(from)
	to := r.plan.Stable
	if len(path) > 0 {
		to = path[len(path)-1]
	}
	r.emit(RollbackStarted{EventMeta: r.meta(), From: from, To: to, Cause: stepErr})
	if err := r.record(ctx, Record{Kind: RecordPhase, Step: i, Phase: PhaseRollingBack, Reason: stepErr.Error(), Rollback: true}); err != nil {
		return r.degrade(i, stepErr, err)
	}
	for k, s := range path {
		if cur := r.currentState(); k == len(path)-1 && r.plan.RollbackDelay > 0 && holdsIdle(cur, s, r.rel.Canary) {
			// The failed revision no longer gets traffic and the last
			// State removes it: keep it up for a while first.
			t := time.NewTimer(r.plan.RollbackDelay)
			select {
			case <-t.C:
			case <-parent.Done():
				t.Stop()
			case <-ctx.Done():
				t.Stop()
			}
		}
		prev := r.currentState()
		if err := r.transition(ctx, rs, s, true, i); err != nil {
			return r.degrade(i, stepErr, err)
		}
		// A path State that adds instances (a strategy's batch-by-batch
		// rollback) is waited for before the next one removes others.
		if k < len(path)-1 {
			if grown := grownRevisions(prev, s); len(grown) > 0 {
				if err := r.waitFor(ctx, s, grown, r.opts.ProgressDeadline); err != nil {
					return r.degrade(i, stepErr, err)
				}
			}
		}
	}
	finished := time.Now()
	r.mu.Lock()
	r.result.RollbackFinished = finished
	r.mu.Unlock()
	r.setPhase(PhaseRolledBack, "", stepErr.Error())
	r.recordEnd(ctx, Record{Kind: RecordPhase, Step: i, Phase: PhaseRolledBack, Reason: stepErr.Error(), Rollback: true})
	r.mu.Lock()
	failedAt := r.result.FailedAt
	r.mu.Unlock()
	r.emit(RollbackFinished{EventMeta: r.meta(), State: r.currentState(), Duration: finished.Sub(started), FailedAt: failedAt, Cause: stepErr})
	return stepErr
}

func (r *Rollout) degrade(i int, stepErr *StepError, err error) error {
	last := r.currentState()
	if errors.Is(err, ErrFenced) {
		// A newer lease holder drives the target: this driver stops and
		// leaves the rollback to it.
		r.setPhase(PhaseStopped, "", fmt.Sprintf("another driver holds the target's lease; rollback left to it after %v", stepErr))
		return r.stepError(i, ErrFenced, errors.Join(stepErr, err))
	}
	reason := fmt.Sprintf("rollback could not be applied (%v) after %v; target left at %s", err, stepErr, last)
	r.setPhase(PhaseDegraded, "", reason)
	derr := r.stepError(i, ErrDegraded, errors.Join(stepErr, err))
	r.emit(ReleaseDegraded{EventMeta: r.meta(), Last: last, Err: derr})
	return derr
}

// rollbackPath is the sequence of States that brings the target from
// `from` back to the stable State: restore the stable capacity and move
// traffic back (transition waits for the capacity before the traffic
// moves), then remove the canary.
func (r *Rollout) rollbackPath(from State) []State {
	stable := r.plan.Stable
	if r.plan.Rollback != nil {
		return r.plan.Rollback(from)
	}
	if from == stable || (from.Stable == "" && from.Canary == "") {
		return []State{stable}
	}
	c := from
	var path []State
	if c.Stable != stable.Stable {
		// The stable slot holds another revision (a promoted canary, or a
		// partly applied final State). Express the same traffic with the
		// stable revision back in its slot first.
		x := c.Stable
		if x == "" {
			x = c.Canary
		}
		c = State{Stable: stable.Stable, Canary: x, Weight: from.Share(x),
			Replicas: Replicas{Stable: from.Desired(stable.Stable), Canary: from.Desired(x)}}
		path = append(path, c)
	}
	back := c
	back.Weight = 0
	back.Route = HeaderRoute{}
	back.Replicas.Stable = max(c.Replicas.Stable, stable.Replicas.Stable)
	path = append(path, back, stable)
	out := path[:0]
	prev := from
	for _, s := range path {
		if s != prev {
			out = append(out, s)
			prev = s
		}
	}
	return out
}

// holdsIdle reports whether, going from cur to next, rev is a revision that
// gets no traffic in cur and that next removes or scales down.
func holdsIdle(cur, next State, rev Revision) bool {
	if cur.Canary != rev || cur.Share(rev) > 0 || !cur.Route.IsZero() {
		return false
	}
	removed := next.Canary != rev && next.Stable != rev
	return removed || next.Desired(rev) < cur.Desired(rev)
}
