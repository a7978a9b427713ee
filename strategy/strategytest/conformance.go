package strategytest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/glidepath/glidepath/strategy"
)

// Conformance tells [TestTarget] what the target under test can do.
type Conformance struct {
	// New returns a fresh target serving Initial. Required.
	New func() strategy.Target
	// Initial is the State New's targets serve; a State naming Initial's
	// stable revision plus Canary is applied during the checks. Required.
	Initial strategy.State
	// Canary is a second revision the target can serve. Required.
	Canary strategy.Revision
	// Replicas, when true, makes the checks use replica counts.
	Replicas bool
	// ReadyWithin bounds how long readiness may take after an Apply
	// (default 30s). The suite polls Observe every 100ms until then.
	ReadyWithin time.Duration
}

// TestTarget runs a conformance suite against a custom strategy.Target, in
// the spirit of testing/fstest.TestFS. It checks that:
//
//   - Observe reports the initial State, with the stable revision ready;
//   - Apply then Observe reflects the applied State, and it becomes ready;
//   - Apply is idempotent: applying the same State again changes nothing;
//   - rolling back by applying the initial State restores it;
//   - header routes are accepted when the target claims the capability;
//   - a [strategy.FencedTarget] refuses a write whose token is older than
//     one it accepted, with a Permanent error matching strategy.ErrFenced,
//     and leaves the target as it was (skipped for other targets);
//   - a cancelled context is honoured: Apply and Observe return promptly
//     with an error instead of blocking.
//
// Call it from a test of the target's package. It runs no subtests, so it
// may be called inside a testing/synctest bubble (for in-memory targets).
func TestTarget(t *testing.T, c Conformance) {
	t.Helper()
	if err := CheckTarget(t.Context(), c); err != nil {
		t.Error(err)
	}
}

// CheckTarget runs the checks of [TestTarget] and returns one error naming
// every failed check, or nil.
func CheckTarget(ctx context.Context, c Conformance) error {
	if c.New == nil || c.Initial.Stable == "" || c.Canary == "" {
		return errors.New("strategytest: Conformance needs New, Initial.Stable and Canary")
	}
	within := c.ReadyWithin
	if within <= 0 {
		within = 30 * time.Second
	}
	canary := strategy.State{Stable: c.Initial.Stable, Canary: c.Canary, Weight: 20}
	if c.Replicas {
		canary.Replicas = strategy.Replicas{Stable: max(c.Initial.Replicas.Stable, 1), Canary: 1}
	}
	waitReady := func(ctx context.Context, tgt strategy.Target, want strategy.State) (strategy.Observation, error) {
		deadline := time.Now().Add(within)
		var last strategy.Observation
		for {
			obs, err := tgt.Observe(ctx)
			if err == nil {
				last = obs
				if obs.State == want && obs.Satisfies(want) {
					return obs, nil
				}
			}
			if time.Now().After(deadline) {
				return last, fmt.Errorf("after %v, Observe reports %s ready %+v (err %v); want %s ready", within, last.State, last.Ready, err, want)
			}
			timer := time.NewTimer(100 * time.Millisecond)
			select {
			case <-ctx.Done():
				timer.Stop()
				return last, ctx.Err()
			case <-timer.C:
			}
		}
	}
	checks := []struct {
		name string
		run  func(tgt strategy.Target) error
	}{
		{"ObserveInitial", func(tgt strategy.Target) error {
			obs, err := waitReady(ctx, tgt, c.Initial)
			if err != nil {
				return err
			}
			if obs.ReadyCount(c.Initial.Stable) < 1 {
				return fmt.Errorf("initial stable revision %s reports no ready capacity", c.Initial.Stable)
			}
			return nil
		}},
		{"ApplyThenObserve", func(tgt strategy.Target) error {
			if err := tgt.Apply(ctx, canary); err != nil {
				return fmt.Errorf("Apply(%s): %w", canary, err)
			}
			_, err := waitReady(ctx, tgt, canary)
			return err
		}},
		{"ApplyIsIdempotent", func(tgt strategy.Target) error {
			for i := range 3 {
				if err := tgt.Apply(ctx, canary); err != nil {
					return fmt.Errorf("Apply #%d of the same State: %w", i+1, err)
				}
			}
			_, err := waitReady(ctx, tgt, canary)
			return err
		}},
		{"RollBackToInitial", func(tgt strategy.Target) error {
			if err := tgt.Apply(ctx, canary); err != nil {
				return fmt.Errorf("Apply(%s): %w", canary, err)
			}
			if _, err := waitReady(ctx, tgt, canary); err != nil {
				return err
			}
			if err := tgt.Apply(ctx, c.Initial); err != nil {
				return fmt.Errorf("Apply(initial %s): %w", c.Initial, err)
			}
			_, err := waitReady(ctx, tgt, c.Initial)
			return err
		}},
		{"HeaderRouting", func(tgt strategy.Target) error {
			if !strategy.CanRouteHeaders(tgt) {
				return nil
			}
			routed := canary
			routed.Route = strategy.HeaderRoute{Header: "X-Canary", Exact: "always"}
			if err := tgt.Apply(ctx, routed); err != nil {
				return fmt.Errorf("Apply(%s) on a target that claims header routing: %w", routed, err)
			}
			_, err := waitReady(ctx, tgt, routed)
			return err
		}},
		{"Fencing", func(tgt strategy.Target) error {
			ft, ok := tgt.(strategy.FencedTarget)
			if !ok {
				return nil // optional capability
			}
			if err := ft.ApplyFenced(ctx, canary, 7); err != nil {
				return fmt.Errorf("ApplyFenced(%s, token 7): %w", canary, err)
			}
			if _, err := waitReady(ctx, tgt, canary); err != nil {
				return err
			}
			err := ft.ApplyFenced(ctx, c.Initial, 6)
			if !errors.Is(err, strategy.ErrFenced) || !strategy.IsPermanent(err) {
				return fmt.Errorf("ApplyFenced with a token older than one accepted returned %v, want a Permanent error matching ErrFenced", err)
			}
			if obs, err := tgt.Observe(ctx); err == nil && obs.State != canary {
				return fmt.Errorf("a refused stale write changed the target to %s", obs.State)
			}
			if err := ft.ApplyFenced(ctx, canary, 7); err != nil {
				return fmt.Errorf("ApplyFenced with the same token again: %w", err)
			}
			if err := ft.ApplyFenced(ctx, c.Initial, 8); err != nil {
				return fmt.Errorf("ApplyFenced with a newer token: %w", err)
			}
			_, err = waitReady(ctx, tgt, c.Initial)
			return err
		}},
		{"CancelledContext", func(tgt strategy.Target) error {
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			done := make(chan error, 2)
			go func() { done <- tgt.Apply(cctx, canary) }()
			go func() {
				_, err := tgt.Observe(cctx)
				done <- err
			}()
			timer := time.NewTimer(within)
			defer timer.Stop()
			var errs []error
			for range 2 {
				select {
				case err := <-done:
					if err == nil {
						errs = append(errs, errors.New("a call with a cancelled context returned no error"))
					}
				case <-timer.C:
					return fmt.Errorf("a call with a cancelled context still blocks after %v", within)
				}
			}
			return errors.Join(errs...)
		}},
	}
	var errs []error
	for _, chk := range checks {
		if err := chk.run(c.New()); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", chk.name, err))
		}
	}
	return errors.Join(errs...)
}
