package dora

import (
	"fmt"
	"slices"
	"time"

	"github.com/glidepath/glidepath/rollback"
	"github.com/glidepath/glidepath/strategy"
)

// problems lists what is wrong with r as a release the metrics count: it
// needs an outcome (Phase) and a Finished time, and its times in order.
func problems(r rollback.Entry) []string {
	var p []string
	if r.Phase == "" {
		p = append(p, "no phase")
	}
	if r.Finished.IsZero() {
		p = append(p, "no finish time")
	}
	if !r.Started.IsZero() && !r.Finished.IsZero() && r.Finished.Before(r.Started) {
		p = append(p, fmt.Sprintf("finished (%s) before it started (%s)", stamp(r.Finished), stamp(r.Started)))
	}
	if !r.FailedAt.IsZero() && !r.RollbackFinished.IsZero() && r.RollbackFinished.Before(r.FailedAt) {
		p = append(p, fmt.Sprintf("restored (%s) before it failed (%s)", stamp(r.RollbackFinished), stamp(r.FailedAt)))
	}
	return p
}

func stamp(t time.Time) string { return t.Format(time.RFC3339) }

// Window is the half-open interval [From, To) over which metrics are
// computed. Both ends are required and To must be after From.
type Window struct {
	// From is the first instant in the window; To the first after it.
	From, To time.Time
}

// Contains reports whether From <= t < To.
func (w Window) Contains(t time.Time) bool { return !t.Before(w.From) && t.Before(w.To) }

// Days is the window's length in days of 24 hours.
func (w Window) Days() float64 { return w.To.Sub(w.From).Hours() / 24 }

// Validate reports every problem with w at once, in an error matching
// [strategy.ErrInvalidConfig], or returns nil.
func (w Window) Validate() error {
	return strategy.Invalid("dora window", windowProblems(w)...)
}

// Metrics are the four key metrics over one [Window]; see the package
// documentation for each one's exact definition.
type Metrics struct {
	// Window is the window the metrics cover.
	Window Window

	// Deployments counts the changes promoted in the window; PerDay is
	// Deployments divided by the window's length in days.
	Deployments int
	PerDay      float64

	// LeadTime is the median lead time of the deployments with a
	// positive one; LeadTimes counts them (0: LeadTime is meaningless).
	LeadTime  time.Duration
	LeadTimes int

	// Changes counts the changes that finished in the window, promoted
	// or failed; Failures those that failed (rolled back, degraded, or
	// promoted and later undone). FailureRate is Failures / Changes, 0
	// when there were no changes.
	Changes     int
	Failures    int
	FailureRate float64

	// TimeToRestore is the median time to restore of the failures that
	// began in the window and were restored (then or later); Restores
	// counts them (0: TimeToRestore is meaningless).
	TimeToRestore time.Duration
	Restores      int

	// Undos counts the undos promoted in the window; Unfinished the
	// changes that ended in the window neither promoted nor failed
	// (Stopped: abandoned, or left for a resume that never came).
	Undos      int
	Unfinished int
}

// Compute returns the four key metrics of history over w. history may
// hold several targets and any order; an undo after w still marks a
// deployment inside it failed, and times its restore. It returns an error
// matching [strategy.ErrInvalidConfig] naming every invalid release and
// window problem, and computes nothing then.
//
// history is what [rollback.Manager.History] returns, or entries built by
// hand for histories kept elsewhere. Of each entry, Compute reads:
//
//   - Target: undos are matched to the releases they undo on the same
//     target;
//   - Release, its name, for error messages;
//   - Canary, the revision released (for an undo, the revision returned
//     to), and Stable, the revision it replaced (for an undo, the one it
//     took away);
//   - Phase: Promoted, RolledBack, Degraded or Stopped. Required;
//   - Undo, set on a release that returned the target to an earlier
//     revision because the current one was bad ([rollback.Manager.Undo]);
//   - Started and Finished; Finished is required, and is when a promoted
//     release counts as deployed;
//   - CommitTime, when Canary was committed, when known: the start of its
//     lead time;
//   - FailedAt, when the failure that rolled the release back was
//     detected, and RollbackFinished, when the stable State was restored
//     (zero when the release was not rolled back, or its rollback could
//     not be applied).
func Compute(history []rollback.Entry, w Window) (Metrics, error) {
	var p []string
	for _, q := range windowProblems(w) {
		p = append(p, "window: "+q)
	}
	for i, r := range history {
		for _, q := range problems(r) {
			p = append(p, fmt.Sprintf("release %d (%s): %s", i, r.Release, q))
		}
	}
	if err := strategy.Invalid("dora history", p...); err != nil {
		return Metrics{}, err
	}

	m := Metrics{Window: w}
	undone := undoneBy(history)
	var leads, restores []time.Duration
	for i, r := range history {
		if r.Undo {
			if r.Phase == strategy.PhasePromoted && w.Contains(r.Finished) {
				m.Undos++
			}
			continue
		}
		// A restore belongs to the window in which its failure began.
		undo, isUndone := undone[i]
		if isUndone && w.Contains(r.Finished) {
			// Restored by the undo: from the deployment that caused
			// the failure to the restoration.
			restores = append(restores, undo.Finished.Sub(r.Finished))
		}
		if r.Phase == strategy.PhaseRolledBack && !r.FailedAt.IsZero() && !r.RollbackFinished.IsZero() && w.Contains(r.FailedAt) {
			restores = append(restores, r.RollbackFinished.Sub(r.FailedAt))
		}
		if !w.Contains(r.Finished) {
			continue
		}
		switch r.Phase {
		case strategy.PhasePromoted:
			m.Deployments++
			m.Changes++
			if isUndone {
				m.Failures++
			}
			if !r.CommitTime.IsZero() {
				if lt := r.Finished.Sub(r.CommitTime); lt > 0 {
					leads = append(leads, lt)
				}
			}
		case strategy.PhaseRolledBack, strategy.PhaseDegraded:
			m.Changes++
			m.Failures++
		default:
			m.Unfinished++
		}
	}
	m.PerDay = float64(m.Deployments) / w.Days()
	m.LeadTime, m.LeadTimes = median(leads), len(leads)
	m.TimeToRestore, m.Restores = median(restores), len(restores)
	if m.Changes > 0 {
		m.FailureRate = float64(m.Failures) / float64(m.Changes)
	}
	return m, nil
}

func windowProblems(w Window) []string {
	var p []string
	if w.From.IsZero() {
		p = append(p, "From is zero")
	}
	if w.To.IsZero() {
		p = append(p, "To is zero")
	}
	if !w.From.IsZero() && !w.To.IsZero() && !w.To.After(w.From) {
		p = append(p, fmt.Sprintf("To (%s) is not after From (%s)", stamp(w.To), stamp(w.From)))
	}
	return p
}

// undoneBy maps the index of each promoted change that a promoted undo
// took away to that undo: the latest promoted change that released the
// undo's Stable revision (the one it took away) on the same target,
// finished no later than the undo started.
func undoneBy(history []rollback.Entry) map[int]rollback.Entry {
	type key struct {
		target string
		rev    strategy.Revision
	}
	releases := map[key][]int{} // promoted changes by target and revision
	for i, r := range history {
		if !r.Undo && r.Phase == strategy.PhasePromoted {
			k := key{r.Target, r.Canary}
			releases[k] = append(releases[k], i)
		}
	}
	out := map[int]rollback.Entry{}
	for _, u := range history {
		if !u.Undo || u.Phase != strategy.PhasePromoted {
			continue
		}
		start := u.Started
		if start.IsZero() {
			start = u.Finished
		}
		best := -1
		for _, i := range releases[key{u.Target, u.Stable}] {
			if f := history[i].Finished; !f.After(start) && (best < 0 || f.After(history[best].Finished)) {
				best = i
			}
		}
		if best < 0 {
			continue
		}
		if prev, ok := out[best]; !ok || u.Finished.Before(prev.Finished) {
			out[best] = u // the first undo restores it
		}
	}
	return out
}

// median is the middle value of ds, or the mean of the two middle values
// when there is an even number (the 0.5 percentile, interpolated); 0 for
// none.
func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return s[n/2-1] + (s[n/2]-s[n/2-1])/2
}
