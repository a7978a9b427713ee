package rollback

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/glidepath/glidepath/strategy"
)

// Defaults of [Manager]'s zero fields.
const (
	DefaultLeaseTTL = 30 * time.Second
	DefaultKeep     = 100
	// maxRolledBack bounds TargetRecord.RolledBack.
	maxRolledBack = 256
)

// Manager runs releases durably: one at a time per target, each recorded
// in a [Store] so that a release whose process died can be resumed (or
// rolled back) by another, and each kept in the target's history so that
// a bad release can be undone with one call.
//
// Set the fields before the first call and do not change them after; a
// Manager is then safe for concurrent use. Processes that share a Store
// need distinct Owners only to tell their leases apart in errors: the
// lease itself, not the owner's name, decides who may write.
type Manager struct {
	// Store keeps leases, journals and history. Required.
	Store Store
	// Owner names this process in leases ("host-1/pid-4242"). Required.
	Owner string
	// LeaseTTL is how long a lease lasts without renewal (default
	// DefaultLeaseTTL). A running release renews it every LeaseTTL/3; a
	// process that dies holds its targets for at most LeaseTTL. A release
	// whose renewal finds the lease taken over stops at once, fenced.
	LeaseTTL time.Duration
	// Keep is how many finished releases each target's history keeps
	// (default DefaultKeep).
	Keep int
	// Window is the rollback window: an undo to one of the Window most
	// recent revisions of the target (the current one counts) is
	// immediate, with no steps or analysis replayed. The zero value
	// disables it, so every undo goes through the strategy. This is the
	// rule of Argo Rollouts' spec.rollbackWindow.revisions: with
	// revisions 1..5 (5 current) and a window of 3, undoing to 4 or 3 is
	// fast-tracked.
	Window int
}

// Validate reports every problem with the Manager's configuration.
func (m *Manager) Validate() error {
	if m == nil {
		return strategy.Invalid("rollback manager", "nil Manager")
	}
	var p []string
	if m.Store == nil {
		p = append(p, "no Store")
	}
	if m.Owner == "" {
		p = append(p, "no Owner")
	}
	if m.LeaseTTL < 0 {
		p = append(p, fmt.Sprintf("LeaseTTL is negative (%v)", m.LeaseTTL))
	}
	if m.Keep < 0 {
		p = append(p, fmt.Sprintf("Keep is negative (%d)", m.Keep))
	}
	if m.Window < 0 {
		p = append(p, fmt.Sprintf("Window is negative (%d)", m.Window))
	}
	return strategy.Invalid("rollback manager", p...)
}

func (m *Manager) check(target string) error {
	if err := m.Validate(); err != nil {
		return err
	}
	if target == "" {
		return strategy.Invalid("rollback", "empty target name")
	}
	return nil
}

func (m *Manager) ttl() time.Duration {
	if m.LeaseTTL > 0 {
		return m.LeaseTTL
	}
	return DefaultLeaseTTL
}

func (m *Manager) keep() int {
	if m.Keep > 0 {
		return m.Keep
	}
	return DefaultKeep
}

// StartOption adjusts one [Manager.Start].
type StartOption func(*startConfig)

type startConfig struct {
	allowRolledBack bool
	adopt           bool
}

// AdoptStable lets Start release from a Stable revision that differs from
// the one the target's history says it serves (it was changed outside
// glidepath, and the release adopts what it serves now). Without it such a
// Start is refused with [ErrStableMismatch].
func AdoptStable() StartOption { return func(c *startConfig) { c.adopt = true } }

// serving returns the revision a target's history says it serves, or ""
// when the history is empty or its last entry left the target mixed.
func serving(tr TargetRecord) strategy.Revision {
	if len(tr.History) == 0 {
		return ""
	}
	e := tr.History[len(tr.History)-1]
	if e.Final.Stable != "" && e.Final.Canary == "" {
		return e.Final.Stable
	}
	switch e.Phase {
	case strategy.PhasePromoted:
		return e.Canary
	case strategy.PhaseRolledBack:
		return e.Stable
	}
	return ""
}

// AllowRolledBack lets Start release a revision that was rolled back or
// undone on the target before, which is otherwise refused with
// [ErrRolledBackBefore].
func AllowRolledBack() StartOption { return func(c *startConfig) { c.allowRolledBack = true } }

// Start begins a release of rel on target (the name under which the
// target's lease, journals and history are kept). It takes the target's
// lease (failing with a [*LeaseHeldError] when another rollout holds it),
// refuses when the target has an unfinished release ([ErrPending]), when
// rel.Stable is not the revision the target's history says it serves
// ([ErrStableMismatch], unless [AdoptStable]; an empty history accepts any
// Stable), or when
// rel.Canary was rolled back there before ([ErrRolledBackBefore], unless
// [AllowRolledBack]), records the release as active, and starts it with a
// journal that writes every step to the Store before it is applied. The
// lease is renewed while the release runs. When the release ends, its
// history entry is written and the lease released before the Rollout's
// Wait returns. A release that stops unfinished (Stopped, Degraded) stays
// active for [Manager.Resume].
//
// To retry a rolled-back release, call Start again with [AllowRolledBack]:
// the returned Rollout's own Retry refuses, because its journal and lease
// belonged to the first run.
//
// rel.Options.Journal, when set, also receives every record, after the
// Store has it.
func (m *Manager) Start(ctx context.Context, target string, rel strategy.Release, opts ...StartOption) (*strategy.Rollout, error) {
	var cfg startConfig
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	if err := m.check(target); err != nil {
		return nil, err
	}
	if rel.Resume != nil {
		return nil, strategy.Invalid("release", "Resume is set: continue a recorded release with Manager.Resume")
	}
	plan, err := strategy.Validate(rel)
	if err != nil {
		return nil, err
	}
	lease, err := m.Store.Acquire(ctx, target, m.Owner, m.ttl())
	if err != nil {
		return nil, fmt.Errorf("starting a release on %q: %w", target, err)
	}
	tr, err := m.Store.Load(ctx, target)
	if err == nil && tr.Active != nil {
		err = pendingError(target, tr.Active)
	}
	if cur := serving(tr); err == nil && !cfg.adopt && cur != "" && cur != rel.Stable {
		err = fmt.Errorf("rollback: %w: the release's Stable is %s, but the history of %q says it serves %s; correct Stable, or pass rollback.AdoptStable() to release from %s anyway",
			ErrStableMismatch, rel.Stable, target, cur, rel.Stable)
	}
	if err == nil && !cfg.allowRolledBack && slices.Contains(tr.RolledBack, rel.Canary) {
		err = fmt.Errorf("rollback: %w: %s on %q; pass rollback.AllowRolledBack() to release it anyway", ErrRolledBackBefore, rel.Canary, target)
	}
	if err != nil {
		m.release(ctx, lease)
		return nil, err
	}
	a := &Active{Release: releaseName(rel), Stable: rel.Stable, Canary: rel.Canary, Owner: m.Owner, Started: time.Now(),
		Recorded: recordPlan(plan)}
	return m.launch(ctx, lease, target, rel, a)
}

func pendingError(target string, a *Active) error {
	return fmt.Errorf("rollback: %w: %s (%s -> %s, journal %s) on %q, last run by %q; resume it first (Manager.Resume with rollback.RollBack returns the target to its stable State and needs no plan), or abandon it",
		ErrPending, a.Release, a.Stable, a.Canary, a.Journal, target, a.Owner)
}

func releaseName(rel strategy.Release) string {
	if rel.Name != "" {
		return rel.Name
	}
	return string(rel.Stable) + "->" + string(rel.Canary)
}

func (m *Manager) release(ctx context.Context, l Lease) {
	_ = m.Store.Release(context.WithoutCancel(ctx), l)
}

// launch records the release as active (a new one when a is set, a resume
// of the active one otherwise) and starts it under lease, which it owns
// from then on.
func (m *Manager) launch(ctx context.Context, lease Lease, target string, rel strategy.Release, a *Active) (*strategy.Rollout, error) {
	var name string
	err := m.Store.Update(ctx, target, &lease, func(tr *TargetRecord) error {
		if a == nil {
			if tr.Active == nil {
				return fmt.Errorf("%w: the release of %q ended meanwhile", ErrNothingToResume, target)
			}
			tr.Active.Resumed++
			tr.Active.Owner = m.Owner
			name = tr.Active.Journal
			return nil
		}
		if tr.Active != nil {
			return pendingError(target, tr.Active)
		}
		tr.Seq++
		a.Journal = fmt.Sprintf("%06d", tr.Seq)
		tr.Active = a
		name = a.Journal
		return nil
	})
	if err != nil {
		m.release(ctx, lease)
		return nil, fmt.Errorf("rollback: recording the release on %q: %w", target, err)
	}
	j := &managedJournal{m: m, target: target, lease: lease, journal: Journal{Store: m.Store, Lease: lease, Name: name},
		user: rel.Options.Journal}
	// A renewal that finds the lease lost ends the release at once (see
	// startRenewal), rather than at its next journal write or fence.
	rctx, lost := context.WithCancelCause(ctx)
	j.renew = m.startRenewal(ctx, lease, lost)
	rel.Options.Journal = j
	ro, err := strategy.Start(rctx, rel)
	if err != nil {
		j.renew.stop()
		lost(nil)
		if a != nil {
			_ = m.Store.Update(context.WithoutCancel(ctx), target, &lease, func(tr *TargetRecord) error {
				if tr.Active != nil && tr.Active.Journal == name {
					tr.Active = nil
				}
				return nil
			})
		}
		m.release(ctx, lease)
		return nil, err
	}
	go func() {
		<-ro.Done()
		lost(nil) // the release's context is no longer needed
	}()
	return ro, nil
}

// managedJournal journals a release started by a Manager and, when the
// release records its end, settles it: writes its history entry, clears it
// from the target and releases the lease, all before Rollout.Wait returns.
type managedJournal struct {
	m       *Manager
	target  string
	lease   Lease
	journal Journal
	user    strategy.Journal
	renew   *renewal
	once    sync.Once
}

func (j *managedJournal) Record(ctx context.Context, rec strategy.Record) error {
	err := j.journal.Record(ctx, rec)
	if errors.Is(err, ErrLeaseLost) {
		if rerr := j.renew.err(); rerr != nil {
			err = fmt.Errorf("%w (renewing the lease failed: %w)", err, rerr)
		}
	}
	if err == nil && j.user != nil {
		err = j.user.Record(ctx, rec)
	}
	if rec.Kind == strategy.RecordFinished {
		j.once.Do(func() {
			ctx := context.WithoutCancel(ctx)
			j.renew.stop()
			_, _ = j.m.settle(ctx, j.target, j.lease, "")
			j.m.release(ctx, j.lease)
		})
	}
	return err
}

// Fence implements [strategy.Fencer] for a managed release: see
// [Journal.Fence].
func (j *managedJournal) Fence(ctx context.Context) (uint64, error) {
	tok, err := j.journal.Fence(ctx)
	if err != nil {
		if rerr := j.renew.err(); rerr != nil {
			err = fmt.Errorf("%w (renewing the lease failed: %w)", err, rerr)
		}
	}
	return tok, err
}

// renewal renews a lease every TTL/3 until stopped.
type renewal struct {
	stopc chan struct{}
	done  chan struct{}
	once  sync.Once

	mu      sync.Mutex
	lastErr error // of the last renewal; nil once one succeeds
}

func (r *renewal) err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastErr
}

// startRenewal renews l every TTL/3 until stopped. A renewal that fails
// for any reason but a lost lease (the store is unreachable) is retried
// at the next tick. One that finds the lease lost (another
// process took the target over) stops renewing and cancels the release
// through lost, with a cause matching [strategy.ErrFenced] and
// [ErrLeaseLost]: the executor stops where it is (a pause or an analysis
// ends at once) without applying anything, and records nothing more (the
// store refuses it). The new holder owns the release from then on.
func (m *Manager) startRenewal(ctx context.Context, l Lease, lost context.CancelCauseFunc) *renewal {
	r := &renewal{stopc: make(chan struct{}), done: make(chan struct{})}
	ctx = context.WithoutCancel(ctx) // a cancelled release still rolls back under its lease
	ttl := m.ttl()
	go func() {
		defer close(r.done)
		t := time.NewTicker(max(ttl/3, time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-r.stopc:
				return
			case <-t.C:
				nl, err := m.Store.Renew(ctx, l, ttl)
				if err == nil {
					l = nl
				}
				r.mu.Lock()
				r.lastErr = err
				r.mu.Unlock()
				if errors.Is(err, ErrLeaseLost) {
					lost(fmt.Errorf("%w: renewing the lease: %w", strategy.ErrFenced, err))
					return
				}
			}
		}
	}()
	return r
}

func (r *renewal) stop() {
	r.once.Do(func() { close(r.stopc) })
	<-r.done
}

// settle writes the history entry of target's active release and clears
// it, when its journal says it ended (or, with a non-empty abandon reason,
// whatever it says). It reports the entry and whether it settled.
func (m *Manager) settle(ctx context.Context, target string, lease Lease, abandon string) (Entry, error) {
	tr, err := m.Store.Load(ctx, target)
	if err != nil {
		return Entry{}, err
	}
	a := tr.Active
	if a == nil {
		return Entry{}, fmt.Errorf("%w: target %q has no unfinished release", ErrNothingToResume, target)
	}
	recs, err := m.Store.Journal(ctx, target, a.Journal)
	if err != nil && !errors.Is(err, ErrTornRecord) && abandon == "" {
		return Entry{}, err
	}
	p := Replay(recs)
	if p.Pending() && abandon == "" {
		return Entry{}, fmt.Errorf("%w: release %s on %q has not ended (%s)", ErrPending, a.Release, target, p.Phase)
	}
	e := p.entry(target, a)
	if abandon != "" {
		if !e.Phase.Final() {
			e.Phase = strategy.PhaseStopped
		}
		e.Reason = "abandoned: " + abandon
		if e.Finished.IsZero() || e.Finished.Before(time.Now()) {
			e.Finished = time.Now()
		}
	}
	if p.Finished.IsZero() || abandon != "" {
		// Complete the journal: it ended (or is given up) without saying so.
		end := strategy.Record{Kind: strategy.RecordFinished, Release: e.Release, At: time.Now(),
			Step: p.Checkpoint.Step, Phase: e.Phase, Reason: e.Reason}
		if err := m.Store.Append(ctx, lease, a.Journal, end); err != nil && abandon == "" {
			return Entry{}, err
		}
	}
	keep := m.keep()
	err = m.Store.Update(ctx, target, &lease, func(tr *TargetRecord) error {
		if tr.Active == nil || tr.Active.Journal != a.Journal {
			return fmt.Errorf("%w: the active release of %q changed meanwhile", ErrLeaseLost, target)
		}
		addEntry(tr, e, keep)
		tr.Active = nil
		return nil
	})
	return e, err
}

// addEntry appends e to tr's history and records what it rolled back.
func addEntry(tr *TargetRecord, e Entry, keep int) {
	if ct, ok := tr.CommitTimes[e.Canary]; ok && e.CommitTime.IsZero() {
		e.CommitTime = ct
	}
	tr.History = append(tr.History, e)
	if n := len(tr.History) - keep; n > 0 {
		tr.History = slices.Delete(tr.History, 0, n)
	}
	var bad strategy.Revision
	switch {
	case e.Undo && e.Phase == strategy.PhasePromoted:
		bad = e.Stable // undone
	case !e.Undo && (e.Phase == strategy.PhaseRolledBack || e.Phase == strategy.PhaseDegraded):
		bad = e.Canary
	}
	if bad != "" {
		tr.RolledBack = slices.DeleteFunc(tr.RolledBack, func(r strategy.Revision) bool { return r == bad })
		tr.RolledBack = append(tr.RolledBack, bad)
		if n := len(tr.RolledBack) - maxRolledBack; n > 0 {
			tr.RolledBack = slices.Delete(tr.RolledBack, 0, n)
		}
	}
	// Forget commit times older than the history when there are many.
	if len(tr.CommitTimes) > 2*keep && len(tr.History) > 0 {
		oldest := tr.History[0].Started
		for rev, t := range tr.CommitTimes {
			if t.Before(oldest) {
				delete(tr.CommitTimes, rev)
			}
		}
	}
}
