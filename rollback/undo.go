package rollback

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/glidepath/glidepath/strategy"
)

// Undo returns target to its previous good revision: the most recent
// revision it served before the current one that was not itself rolled
// back or undone. The current revision is then marked rolled back, so
// releasing it again needs [AllowRolledBack].
//
// Within the rollback window (see Manager.Window) the undo is immediate:
// a two-step plan run by the executor, so that journaling and the
// capacity-before-traffic rule apply: bring the previous revision's
// capacity up beside the current one and move all traffic to it once it
// is ready, then retire the current revision. No steps or analysis are
// replayed, and rel.Strategy and rel.Background are not used. Outside the
// window the undo is an ordinary release from the current revision to the
// previous one, planned by rel.Strategy (required then).
//
// rel supplies the Target, Options, Observer and, outside the window, the
// Strategy and Background; Undo sets Stable and Canary (which must be
// empty) and, when empty, Name. The target must be observed serving the
// current revision alone, else the undo is refused with [ErrDiverged].
// A target with an unfinished release is refused with [ErrPending]: a
// half-done release is undone by [Manager.Resume] with Mode RollBack,
// which needs no plan.
func (m *Manager) Undo(ctx context.Context, target string, rel strategy.Release) (*strategy.Rollout, error) {
	if err := m.check(target); err != nil {
		return nil, err
	}
	var probs []string
	if rel.Target == nil {
		probs = append(probs, "no target")
	}
	if rel.Stable != "" || rel.Canary != "" {
		probs = append(probs, "Stable and Canary are set: Undo chooses them from the history")
	}
	if rel.Resume != nil {
		probs = append(probs, "Resume is set")
	}
	if err := strategy.Invalid("undo on "+target, probs...); err != nil {
		return nil, err
	}
	lease, err := m.Store.Acquire(ctx, target, m.Owner, m.ttl())
	if err != nil {
		return nil, fmt.Errorf("rollback: undo on %q: %w", target, err)
	}
	rel, a, err := m.prepareUndo(ctx, target, rel)
	if err != nil {
		m.release(ctx, lease)
		return nil, err
	}
	return m.launch(ctx, lease, target, rel, a)
}

func (m *Manager) prepareUndo(ctx context.Context, target string, rel strategy.Release) (strategy.Release, *Active, error) {
	tr, err := m.Store.Load(ctx, target)
	if err != nil {
		return rel, nil, err
	}
	if tr.Active != nil {
		return rel, nil, pendingError(target, tr.Active)
	}
	cur, prev, dist, err := previousGood(tr)
	if err != nil {
		return rel, nil, fmt.Errorf("rollback: undo on %q: %w", target, err)
	}
	obs, err := rel.Target.Observe(ctx)
	if err != nil {
		return rel, nil, fmt.Errorf("rollback: undo on %q: observing the target: %w", target, err)
	}
	if obs.State.Stable != cur || obs.State.Canary != "" {
		return rel, nil, fmt.Errorf("rollback: %w: undo on %q: history says %s is serving, the target serves %s",
			ErrDiverged, target, cur, obs.State)
	}
	rel.Stable, rel.Canary = cur, prev
	if rel.Name == "" {
		rel.Name = fmt.Sprintf("undo %s->%s", cur, prev)
	}
	a := &Active{Release: rel.Name, Stable: cur, Canary: prev, Owner: m.Owner, Started: time.Now(), Undo: true}
	if m.Window > 0 && dist < m.Window {
		plan := undoPlan(obs.State, prev)
		a.Plan = &plan
		rel.Strategy = fixedPlan(plan)
		rel.Background = nil
	} else if rel.Strategy == nil {
		return rel, nil, strategy.Invalid("undo on "+target,
			undoWindowProblem(prev, dist, m.Window))
	}
	plan, err := strategy.Validate(rel)
	if err != nil {
		return rel, nil, err
	}
	a.Recorded = recordPlan(plan)
	return rel, a, nil
}

// previousGood finds the revision target serves (cur) and the most recent
// earlier one that was not rolled back (prev), with prev's distance: 1 for
// the revision right before cur, counting every distinct revision served.
func previousGood(tr TargetRecord) (cur, prev strategy.Revision, dist int, err error) {
	var line []strategy.Revision
	push := func(r strategy.Revision) {
		if r != "" && (len(line) == 0 || line[len(line)-1] != r) {
			line = append(line, r)
		}
	}
	for _, e := range tr.History {
		if e.Phase == strategy.PhasePromoted {
			push(e.Stable)
			push(e.Canary)
		}
	}
	if len(line) == 0 {
		return "", "", 0, fmt.Errorf("%w: no promoted release in the history", ErrNoPreviousRevision)
	}
	cur = line[len(line)-1]
	seen := map[strategy.Revision]bool{cur: true}
	for i := len(line) - 2; i >= 0; i-- {
		r := line[i]
		if seen[r] {
			continue
		}
		seen[r] = true
		dist++
		if !slices.Contains(tr.RolledBack, r) {
			return cur, r, dist, nil
		}
	}
	return cur, "", 0, fmt.Errorf("%w: every revision before %s in the history was rolled back", ErrNoPreviousRevision, cur)
}

// undoPlan is the immediate undo from `from` (serving one revision) to
// prev: prev's capacity beside the current revision's, all traffic to prev
// (the executor waits for prev's capacity before moving it), then the
// current revision retired.
func undoPlan(from strategy.State, prev strategy.Revision) strategy.Plan {
	n := from.Replicas.Stable
	both := strategy.State{Stable: from.Stable, Canary: prev, Weight: 100, Replicas: strategy.Replicas{Stable: n, Canary: n}}
	final := strategy.State{Stable: prev, Replicas: strategy.Replicas{Stable: n}}
	return strategy.Plan{
		Strategy: "undo",
		Stable:   from,
		Final:    final,
		Steps: []strategy.Step{
			strategy.Apply(both).Named("restore " + string(prev)),
			strategy.Apply(final).Named("retire " + string(from.Stable)),
		},
	}
}

// History returns target's finished releases, oldest first (at most
// Manager.Keep of them).
func (m *Manager) History(ctx context.Context, target string) ([]Entry, error) {
	if err := m.check(target); err != nil {
		return nil, err
	}
	tr, err := m.Store.Load(ctx, target)
	if err != nil {
		return nil, err
	}
	for i := range tr.History {
		if ct, ok := tr.CommitTimes[tr.History[i].Canary]; ok && tr.History[i].CommitTime.IsZero() {
			tr.History[i].CommitTime = ct
		}
	}
	return tr.History, nil
}

// SetCommitTime records when rev was committed, so that history entries
// releasing it carry the time (for lead time). It may be called before or
// after the release.
func (m *Manager) SetCommitTime(ctx context.Context, target string, rev strategy.Revision, at time.Time) error {
	if err := m.check(target); err != nil {
		return err
	}
	if rev == "" || at.IsZero() {
		return strategy.Invalid("commit time", "empty revision or zero time")
	}
	return m.Store.Update(ctx, target, nil, func(tr *TargetRecord) error {
		if tr.CommitTimes == nil {
			tr.CommitTimes = map[strategy.Revision]time.Time{}
		}
		tr.CommitTimes[rev] = at
		for i := range tr.History {
			if tr.History[i].Canary == rev {
				tr.History[i].CommitTime = at
			}
		}
		return nil
	})
}

// undoWindowProblem says why an undo needs a Strategy.
func undoWindowProblem(prev strategy.Revision, dist, window int) string {
	back := fmt.Sprintf("%s is %d revisions back", prev, dist)
	if dist == 1 {
		back = fmt.Sprintf("%s is the previous revision", prev)
	}
	if window <= 0 {
		return back + " and the rollback window is off (Window 0): the undo needs a Strategy"
	}
	return fmt.Sprintf("%s, outside the rollback window of %d: the undo needs a Strategy", back, window)
}
