package rollback

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/glidepath/glidepath/strategy"
)

// Store keeps everything glidepath must not forget about a target: its
// lease, the journal of each release, the release in progress and the
// history of finished releases. [MemStore] keeps it in memory (tests,
// single-process tools); [FileStore] keeps it in a directory (the
// embedded default). Implementations must be safe for concurrent use, and
// for use by several processes when they are shared between processes.
type Store interface {
	// Acquire takes target's lease for owner until now+ttl. It fails with
	// a [*LeaseHeldError] while anyone (the same owner included) holds an
	// unexpired lease. Every successful Acquire returns a fencing token
	// larger than any issued before for the target.
	Acquire(ctx context.Context, target, owner string, ttl time.Duration) (Lease, error)
	// Renew extends l to now+ttl. It fails with [ErrLeaseLost] when the
	// lease was taken over or released since.
	Renew(ctx context.Context, l Lease, ttl time.Duration) (Lease, error)
	// Release gives l up. It fails with [ErrLeaseLost] when l is no longer
	// the target's lease.
	Release(ctx context.Context, l Lease) error
	// Append durably adds rec to the named journal of l's target, fenced
	// by l: it fails with [ErrLeaseLost] unless l is the target's current,
	// unexpired lease. When Append returns nil the record survives a crash.
	Append(ctx context.Context, l Lease, journal string, rec strategy.Record) error
	// Journal returns the records of target's named journal, in order. A
	// journal that was never written is empty. A torn final record is left
	// out and reported with a [*CorruptError] matching [ErrTornRecord]
	// together with the records before it; any other damage returns a
	// [*CorruptError] matching [ErrCorrupt].
	Journal(ctx context.Context, target, journal string) ([]strategy.Record, error)
	// Load returns target's record (the zero record, named, when none).
	Load(ctx context.Context, target string) (TargetRecord, error)
	// Update atomically replaces target's record with what fn makes of
	// it. With a non-nil fence, it fails with [ErrLeaseLost] unless the
	// fence is the target's current, unexpired lease. An error from fn
	// aborts the update and is returned.
	Update(ctx context.Context, target string, fence *Lease, fn func(*TargetRecord) error) error
}

// Lease is a time-bounded claim on a target: while it lasts, no other
// rollout of the target may start, and only its holder may write the
// target's journals.
type Lease struct {
	// Target is the leased target.
	Target string `json:"target"`
	// Owner identifies the holder (a host and process, a service name).
	Owner string `json:"owner"`
	// Token is the fencing token: it grows with every acquisition, so a
	// holder that lost its lease cannot write over its successor.
	Token uint64 `json:"token"`
	// Expires is when the lease lapses unless renewed.
	Expires time.Time `json:"expires"`
}

// held reports whether the lease is held by someone at now.
func (l Lease) held(now time.Time) bool { return l.Owner != "" && now.Before(l.Expires) }

// acquire computes the lease that replaces cur when owner asks for it.
func acquire(cur Lease, target, owner string, ttl time.Duration, now time.Time) (Lease, error) {
	if cur.held(now) {
		return Lease{}, &LeaseHeldError{Target: target, Owner: cur.Owner, Expires: cur.Expires}
	}
	return Lease{Target: target, Owner: owner, Token: cur.Token + 1, Expires: now.Add(ttl)}, nil
}

// fence checks that l is still the lease stored as cur.
func fence(cur, l Lease, now time.Time, needLive bool) error {
	if cur.Token != l.Token || cur.Owner != l.Owner || cur.Owner == "" {
		if cur.Owner == "" {
			return fmt.Errorf("%w: target %q: lease %d of %q was released", ErrLeaseLost, l.Target, l.Token, l.Owner)
		}
		return fmt.Errorf("%w: target %q: lease %d of %q was taken over by %q (token %d)", ErrLeaseLost, l.Target, l.Token, l.Owner, cur.Owner, cur.Token)
	}
	if needLive && !now.Before(cur.Expires) {
		return fmt.Errorf("%w: target %q: lease %d of %q expired at %s", ErrLeaseLost, l.Target, l.Token, l.Owner, cur.Expires.Format(time.RFC3339Nano))
	}
	return nil
}

// TargetRecord is what a [Store] keeps about one target besides its lease
// and journals.
type TargetRecord struct {
	// Target names the target.
	Target string `json:"target"`
	// Seq numbers the target's journals; it grows with every release.
	Seq uint64 `json:"seq"`
	// Active is the release in progress or unfinished, if any.
	Active *Active `json:"active,omitempty"`
	// History holds the most recent finished releases, oldest first.
	History []Entry `json:"history,omitempty"`
	// RolledBack lists revisions that were rolled back or undone on the
	// target, oldest first (bounded).
	RolledBack []strategy.Revision `json:"rolledBack,omitempty"`
	// CommitTimes maps revisions to the time of their commit, for lead
	// time (see [Manager.SetCommitTime]).
	CommitTimes map[strategy.Revision]time.Time `json:"commitTimes,omitempty"`
}

// Active describes a release that has started and not yet finished.
type Active struct {
	// Journal names the release's journal in the store.
	Journal string `json:"journal"`
	// Release is the release's name.
	Release string `json:"release"`
	// Stable and Canary are its revisions.
	Stable strategy.Revision `json:"stable"`
	Canary strategy.Revision `json:"canary"`
	// Owner is the owner that last ran it.
	Owner string `json:"owner"`
	// Started is when it first started.
	Started time.Time `json:"started"`
	// Undo marks a release made by [Manager.Undo].
	Undo bool `json:"undo,omitempty"`
	// Plan is the plan of an immediate undo, which glidepath builds
	// itself; a resume runs it again. Nil for other releases.
	Plan *strategy.Plan `json:"plan,omitempty"`
	// Recorded is what the store keeps of the release's plan: its
	// stable State (a rollback needs nothing else) and its steps, so that
	// a resume with a different plan can say what changed. Nil for a
	// release recorded by an earlier version of glidepath.
	Recorded *RecordedPlan `json:"recorded,omitempty"`
	// Resumed counts how many times the release was resumed.
	Resumed int `json:"resumed,omitempty"`
}

// Entry is one finished release in a target's history: its
// [strategy.Result] as the journal recorded it, and what the store knows
// about it besides. It carries what delivery metrics need (the dora
// package computes them from a history): deployment frequency (Started,
// Finished, Phase), lead time (CommitTime), change failure rate (Phase,
// Undo) and time to restore (FailedAt, RollbackStarted,
// RollbackFinished).
//
// In an Entry, the Result's Phase is Promoted or RolledBack or, for an
// abandoned release, Degraded or Stopped; its Reason explains the outcome
// (for a rollback, why it started); its Verdicts are the verdicts that
// decided the outcome: for a rollback the Fail verdicts that caused it,
// for a promotion the last verdict of each analyzer; its Final is the
// last State recorded. Its Steps, Err and JournalErr are empty: a
// journal does not record them.
//
// Its JSON form is the Result's fields and the Entry's own, side by side.
// Entries written by earlier versions of glidepath (with "outcome" for
// phase) decode too.
type Entry struct {
	// Result is how the release ended, as its journal recorded it.
	strategy.Result
	// Target is the released target.
	Target string `json:"target"`
	// Journal names the release's journal in the store.
	Journal string `json:"journal"`
	// Undo marks a release made by [Manager.Undo]: Stable is the revision
	// it took away, Canary the one it returned to. Its Strategy is
	// "undo" when the undo was immediate.
	Undo bool `json:"undo,omitempty"`
	// Resumed counts how many times the release was resumed after its
	// process stopped.
	Resumed int `json:"resumed,omitempty"`
	// CommitTime is when Canary was committed, when known.
	CommitTime time.Time `json:"commitTime,omitzero"`
}

// UnmarshalJSON decodes e from its JSON form or from the form of an
// earlier version of glidepath.
func (e *Entry) UnmarshalJSON(data []byte) error {
	type plain Entry
	var v struct {
		plain
		// UnmarshalJSON hides the method promoted from strategy.Result,
		// which would decode the Result's fields only.
		UnmarshalJSON struct{} `json:"-"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	if v.Stable == "" || v.Canary == "" || v.Phase == "" {
		// Perhaps in the spelling of an earlier version, which only
		// Result's own method reads (it fills just these fields).
		if err := json.Unmarshal(data, &v.Result); err != nil {
			return err
		}
	}
	*e = Entry(v.plain)
	return nil
}

// LeadTime is Finished - CommitTime for a promoted release with a known
// commit time, else 0.
func (e Entry) LeadTime() time.Duration {
	if e.Phase != strategy.PhasePromoted || e.CommitTime.IsZero() {
		return 0
	}
	return e.Finished.Sub(e.CommitTime)
}
