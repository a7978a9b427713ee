package rollback

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Sentinel errors, matched with errors.Is.
var (
	// ErrLeaseHeld marks a rollout refused because another rollout of the
	// same target holds its lease. The error is a [*LeaseHeldError] naming
	// the owner and when the lease expires.
	ErrLeaseHeld = errors.New("target is leased by another rollout")
	// ErrLeaseLost marks a write refused because the writer no longer
	// holds the target's lease: it expired, or another process took it
	// over (its fencing token is newer).
	ErrLeaseLost = errors.New("lease lost")
	// ErrCorrupt marks a journal whose content fails its checks (a
	// flipped byte, a bad length, a record that does not decode). It is
	// never repaired: a person must look at it. The error is a
	// [*CorruptError] naming the file and offset.
	ErrCorrupt = errors.New("journal corrupt")
	// ErrTornRecord marks a journal whose final record is incomplete: a
	// process died while writing it. The record is treated as not written
	// (the Apply it announced never ran, because an Apply only follows a
	// complete, synced record) and is cut off by the next write. The error
	// is a [*CorruptError] with Torn set.
	ErrTornRecord = errors.New("journal ends with a torn record")
	// ErrPending marks a release refused because the target has an
	// unfinished release (its process died, it was stopped, or it is
	// degraded): resume it (or abandon it) first.
	ErrPending = errors.New("target has an unfinished release")
	// ErrNothingToResume is returned by Resume when the target has no
	// unfinished release, or when the recorded release had already ended.
	ErrNothingToResume = errors.New("nothing to resume")
	// ErrRolledBackBefore marks a release of a revision that was rolled
	// back (or undone) on the target before. Pass [AllowRolledBack] to
	// release it anyway.
	ErrRolledBackBefore = errors.New("revision was rolled back before")
	// ErrStableMismatch marks a release whose Stable revision is not the
	// one the target's history says it serves (a stale or mistyped
	// revision would otherwise move traffic back to it). Pass
	// [AdoptStable] to release from it anyway.
	ErrStableMismatch = errors.New("release's stable revision is not the one the target serves")
	// ErrPlanChanged marks a resume whose rebuilt plan differs from the
	// one recorded in the journal. The error is a [*PlanChangedError]
	// saying which steps and fields differ. A resume in RollBack mode
	// does not need the plan and is not refused.
	ErrPlanChanged = errors.New("plan changed since it was recorded")
	// ErrNoPreviousRevision marks an undo with no good revision to return
	// to in the target's history.
	ErrNoPreviousRevision = errors.New("no previous good revision")
	// ErrDiverged marks an undo refused because the target does not serve
	// the revision its history says it serves (it was changed outside
	// glidepath, or a release is half applied).
	ErrDiverged = errors.New("target diverged from its history")
)

// LeaseHeldError is returned when a target's lease is held by someone else.
// It matches [ErrLeaseHeld].
type LeaseHeldError struct {
	// Target is the leased target.
	Target string
	// Owner holds the lease until Expires.
	Owner string
	// Expires is when the lease lapses unless its holder renews it.
	Expires time.Time
}

// Error names the target, the holder and the lease's expiry.
func (e *LeaseHeldError) Error() string {
	return fmt.Sprintf("rollback: target %q is leased by %q until %s", e.Target, e.Owner, e.Expires.Format(time.RFC3339Nano))
}

// Is reports whether target is ErrLeaseHeld.
func (e *LeaseHeldError) Is(target error) bool { return target == ErrLeaseHeld }

// CorruptError reports a journal that fails its checks. It matches
// [ErrTornRecord] when Torn is set and [ErrCorrupt] otherwise.
type CorruptError struct {
	// Path is the journal's file (or, for an in-memory store, its name).
	Path string
	// Offset is the byte offset of the record that fails in a journal
	// file (for an in-memory store, the record's index).
	Offset int64
	// Torn says the record is the final one and is incomplete.
	Torn bool
	// Reason says what failed.
	Reason string
}

// Error names the journal, the offset and what failed there.
func (e *CorruptError) Error() string {
	what := "corrupt record"
	if e.Torn {
		what = "torn final record"
	}
	return fmt.Sprintf("rollback: journal %s: %s at offset %d: %s", e.Path, what, e.Offset, e.Reason)
}

// Is reports whether target is ErrTornRecord (Torn) or ErrCorrupt.
func (e *CorruptError) Is(target error) bool {
	if e.Torn {
		return target == ErrTornRecord
	}
	return target == ErrCorrupt
}

// PlanChangedError is returned by [Manager.Resume] when the plan rebuilt
// from the release given differs from the one the release was started
// with. It matches [ErrPlanChanged].
type PlanChangedError struct {
	// Target and Release name the resumed release.
	Target  string
	Release string
	// Recorded and Now are the fingerprints of the recorded plan and of
	// the plan rebuilt now.
	Recorded, Now string
	// Differences says what differs, one line per step or field
	// ("step 0 (canary 40%): weight 40 → 50"). It is empty when the
	// release was recorded without its plan (by an earlier version of
	// glidepath), and the fingerprints are all there is to compare.
	Differences []string
}

// maxShownDifferences bounds the differences an error message lists.
const maxShownDifferences = 8

// Error names the release and what differs (or, when that was not
// recorded, both fingerprints), and the ways out.
func (e *PlanChangedError) Error() string {
	what := fmt.Sprintf("recorded with plan %s, the release given now plans %s", e.Recorded, e.Now)
	if len(e.Differences) > 0 {
		shown := e.Differences
		more := ""
		if len(shown) > maxShownDifferences {
			more = fmt.Sprintf("; and %d more", len(shown)-maxShownDifferences)
			shown = shown[:maxShownDifferences]
		}
		what = fmt.Sprintf("the release given now differs: %s%s (plan %s, now %s)", strings.Join(shown, "; "), more, e.Recorded, e.Now)
	}
	return fmt.Sprintf("rollback: %v: release %s on %q: %s; resume with the plan it was started with, or with Mode RollBack to return the target to its stable State",
		ErrPlanChanged, e.Release, e.Target, what)
}

// Is reports whether target is ErrPlanChanged.
func (e *PlanChangedError) Is(target error) bool { return target == ErrPlanChanged }
