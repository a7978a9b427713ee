package rollback

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/glidepath/glidepath/strategy"
)

// ResumeMode says how [Manager.Resume] continues a release.
type ResumeMode int

const (
	// Continue runs the release on from the recorded step (re-running
	// that step: Apply is idempotent). A release recorded as rolling back
	// (or degraded) rolls back whatever the mode.
	Continue ResumeMode = iota
	// RollBack rolls the release back to its stable State.
	RollBack
)

// ResumeOptions tune [Manager.Resume]. The zero value continues the
// release and fails at once if the dead process's lease has not expired.
type ResumeOptions struct {
	// Mode is Continue (the default) or RollBack.
	Mode ResumeMode
	// WaitForLease waits (honouring ctx) for the lease of the process that
	// ran the release to expire, then takes it over, instead of failing
	// with [ErrLeaseHeld].
	WaitForLease bool
}

// Resume picks up target's unfinished release: one whose process died,
// that stopped (LeaveAsRecorded, a journal failure) or that degraded. It
// takes over the target's lease (after it expires), reads the journal,
// rebuilds the plan from rel and checks its fingerprint against the
// recorded one ([ErrPlanChanged]), and starts the release from the
// recorded [strategy.Checkpoint]: the executor observes the target and
// runs on from the recorded step, or rolls back (per opts.Mode, and always
// when the journal says the release was rolling back).
//
// rel must describe the same release: its Target, its Strategy (the
// analyzers must have the same names), and its Options. Empty Name, Stable
// and Canary are filled in from the record; differing ones are refused.
// The Strategy of an immediate undo is ignored: its recorded plan is used.
//
// A journal whose final record is torn is resumed as if that record had
// not been written (see [ErrTornRecord]); any other damage refuses the
// resume with a [*CorruptError]. When the journal shows the release had
// already ended, Resume writes its history entry and returns
// [ErrNothingToResume].
func (m *Manager) Resume(ctx context.Context, target string, rel strategy.Release, opts ResumeOptions) (*strategy.Rollout, error) {
	if err := m.check(target); err != nil {
		return nil, err
	}
	if opts.Mode != Continue && opts.Mode != RollBack {
		return nil, strategy.Invalid("resume options", fmt.Sprintf("unknown Mode %d", opts.Mode))
	}
	if rel.Resume != nil {
		return nil, strategy.Invalid("release", "Resume is set: Manager.Resume builds the checkpoint from the journal")
	}
	lease, err := m.acquire(ctx, target, opts.WaitForLease)
	if err != nil {
		return nil, fmt.Errorf("rollback: resuming on %q: %w", target, err)
	}
	return m.resumeUnder(ctx, lease, target, rel, opts)
}

// resumeUnder resumes target's release under lease, which it owns from
// then on.
func (m *Manager) resumeUnder(ctx context.Context, lease Lease, target string, rel strategy.Release, opts ResumeOptions) (*strategy.Rollout, error) {
	rel, err := m.prepareResume(ctx, lease, target, rel, opts)
	if err != nil {
		m.release(ctx, lease)
		return nil, err
	}
	return m.launch(ctx, lease, target, rel, nil)
}

func (m *Manager) prepareResume(ctx context.Context, lease Lease, target string, rel strategy.Release, opts ResumeOptions) (strategy.Release, error) {
	tr, err := m.Store.Load(ctx, target)
	if err != nil {
		return rel, err
	}
	a := tr.Active
	if a == nil {
		return rel, fmt.Errorf("rollback: %w: target %q has no unfinished release", ErrNothingToResume, target)
	}
	recs, err := m.Store.Journal(ctx, target, a.Journal)
	if err != nil && !errors.Is(err, ErrTornRecord) {
		return rel, fmt.Errorf("rollback: resuming %s on %q: %w", a.Release, target, err)
	}
	p := Replay(recs)
	if !p.Pending() {
		if _, err := m.settle(ctx, target, lease, ""); err != nil {
			return rel, err
		}
		return rel, fmt.Errorf("rollback: %w: release %s on %q had already ended %s; its history entry is recorded",
			ErrNothingToResume, a.Release, target, p.Phase)
	}
	var probs []string
	fill := func(what string, got *strategy.Revision, want strategy.Revision) {
		if *got == "" {
			*got = want
		} else if *got != want {
			probs = append(probs, fmt.Sprintf("%s revision %q differs from the recorded %q", what, *got, want))
		}
	}
	fill("stable", &rel.Stable, a.Stable)
	fill("canary", &rel.Canary, a.Canary)
	if rel.Name == "" {
		rel.Name = a.Release
	} else if rel.Name != a.Release {
		probs = append(probs, fmt.Sprintf("name %q differs from the recorded %q", rel.Name, a.Release))
	}
	if a.Plan != nil {
		rel.Strategy = fixedPlan(*a.Plan)
		rel.Background = nil
	}
	if err := strategy.Invalid("resume of "+a.Release+" on "+target, probs...); err != nil {
		return rel, err
	}
	plan, err := strategy.Validate(rel)
	if err != nil {
		return rel, err
	}
	cp := p.Checkpoint
	if p.Fingerprint != "" && plan.Fingerprint() != p.Fingerprint {
		return rel, fmt.Errorf("rollback: %w: release %s on %q was recorded with plan %s, the release given now plans %s",
			ErrPlanChanged, a.Release, target, p.Fingerprint, plan.Fingerprint())
	}
	if cp.Step > len(plan.Steps) {
		return rel, fmt.Errorf("rollback: %w: journal of %s records step %d of a %d-step plan", ErrCorrupt, a.Release, cp.Step, len(plan.Steps))
	}
	// The fingerprint was checked above against the plan the executor
	// runs. The executor's own check compares it with the plan before
	// Release.Background is appended, which differs when there is any, so
	// it is left to this check then.
	if len(rel.Background) > 0 {
		cp.Fingerprint = ""
	}
	if opts.Mode == RollBack {
		cp.RollBack = true
	}
	rel.Resume = &cp
	return rel, nil
}

// acquire takes target's lease, waiting for a held lease to expire when
// wait is set.
func (m *Manager) acquire(ctx context.Context, target string, wait bool) (Lease, error) {
	for {
		l, err := m.Store.Acquire(ctx, target, m.Owner, m.ttl())
		var held *LeaseHeldError
		if !wait || !errors.As(err, &held) {
			return l, err
		}
		d := max(time.Until(held.Expires), time.Millisecond)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return Lease{}, errors.Join(err, context.Cause(ctx))
		case <-t.C:
		}
	}
}

// fixedPlan is a Strategy that always returns plan.
func fixedPlan(plan strategy.Plan) strategy.Strategy {
	return strategy.StrategyFunc(func(strategy.Revision, strategy.Revision) (strategy.Plan, error) {
		p := plan
		p.Steps = slices.Clone(plan.Steps)
		return p, nil
	})
}

// PendingRelease describes a target's unfinished release.
type PendingRelease struct {
	// Active is the store's record of the release.
	Active Active
	// Progress is what its journal says.
	Progress Progress
	// Torn, when set, reports a torn final record, which a resume treats
	// as not written.
	Torn *CorruptError
}

// Pending returns target's unfinished release, or nil when there is none.
// A journal damaged other than by a torn final record is an error (a
// [*CorruptError] naming the file and offset).
func (m *Manager) Pending(ctx context.Context, target string) (*PendingRelease, error) {
	if err := m.check(target); err != nil {
		return nil, err
	}
	tr, err := m.Store.Load(ctx, target)
	if err != nil || tr.Active == nil {
		return nil, err
	}
	recs, err := m.Store.Journal(ctx, target, tr.Active.Journal)
	out := &PendingRelease{Active: *tr.Active}
	if err != nil {
		var ce *CorruptError
		if !errors.Is(err, ErrTornRecord) || !errors.As(err, &ce) {
			return nil, err
		}
		out.Torn = ce
	}
	out.Progress = Replay(recs)
	return out, nil
}

// Abandon gives up target's unfinished release without driving the target
// any further: for a degraded release that a person has repaired by hand,
// or a journal that cannot be read. Its history entry records the outcome
// the journal last recorded (Stopped when it recorded none) and reason.
// It takes the target's lease, so it fails while a process runs the
// release.
func (m *Manager) Abandon(ctx context.Context, target, reason string) (Entry, error) {
	if err := m.check(target); err != nil {
		return Entry{}, err
	}
	if reason == "" {
		return Entry{}, strategy.Invalid("abandon", "no reason given")
	}
	lease, err := m.Store.Acquire(ctx, target, m.Owner, m.ttl())
	if err != nil {
		return Entry{}, fmt.Errorf("rollback: abandoning the release on %q: %w", target, err)
	}
	defer m.release(ctx, lease)
	return m.settle(ctx, target, lease, reason)
}
