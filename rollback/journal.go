package rollback

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/glidepath/glidepath/strategy"
)

// Journal is a [strategy.Journal] backed by a [Store]: every record is
// appended durably to one journal of the lease's target, fenced by the
// lease, before the executor goes on. Set it as
// strategy.Options.Journal; [Manager] does this for you.
type Journal struct {
	// Store keeps the records.
	Store Store
	// Lease fences every write: a Journal whose lease was lost cannot
	// write, so its release stops before applying anything else.
	Lease Lease
	// Name names the journal within the target.
	Name string
}

var (
	_ strategy.Journal = (*Journal)(nil)
	_ strategy.Fencer  = (*Journal)(nil)
)

// Record appends rec.
func (j *Journal) Record(ctx context.Context, rec strategy.Record) error {
	return j.Store.Append(ctx, j.Lease, j.Name, rec)
}

// Fence implements [strategy.Fencer]: it proves that the lease is still the
// target's by a fenced write (an [Store.Update] of the target's record,
// changing nothing, fenced by the lease), which the store orders against
// every other holder's writes, and returns the lease's fencing token. Once
// another process has taken the lease over, Fence fails with an error
// matching both [ErrLeaseLost] and [strategy.ErrFenced].
//
// A [strategy.FencedTarget] given the token refuses it once it has seen a
// newer one, which closes the gap between Fence and Apply. A target that
// cannot enforce tokens keeps that gap: a holder frozen after its Fence
// succeeded and before its Apply took effect (a SIGSTOP, a long GC pause, a
// VM migration) can still apply that one State after its successor took
// over; its next Fence, and every journal write, then fail. The gap lasts
// one Apply in a process that is not frozen.
func (j *Journal) Fence(ctx context.Context) (uint64, error) {
	err := j.Store.Update(ctx, j.Lease.Target, &j.Lease, func(*TargetRecord) error { return nil })
	if errors.Is(err, ErrLeaseLost) {
		return 0, fmt.Errorf("%w: %w", strategy.ErrFenced, err)
	}
	if err != nil {
		return 0, err
	}
	return j.Lease.Token, nil
}

// Progress is what a journal says about its release: how it stands, as a
// [strategy.Result], and how to resume it. Build it with [Replay].
//
// In a Progress, the Result's Release, Strategy, Stable and Canary are
// from the first started record; Phase is the last phase recorded
// (Progressing when none was) and Reason its reason; Started is when the
// release first started; Finished is when the last run of the release
// recorded its end, zero while that run recorded none; FailedAt,
// RollbackStarted and RollbackFinished time the failure and rollback,
// when there was one; Verdicts are every verdict recorded, in order;
// Final is the last State recorded (intended or applied). Its Steps, Err
// and JournalErr are empty: a journal does not record them.
type Progress struct {
	// Result is how the release stands, as its journal recorded it.
	strategy.Result
	// Fingerprint is the plan's fingerprint, from the first started
	// record.
	Fingerprint string `json:"fingerprint,omitempty"`
	// Checkpoint is where a resumed release starts.
	Checkpoint strategy.Checkpoint `json:"checkpoint"`
	// Cause is the reason the release first started rolling back (a
	// resumed rollback records a reason of its own later).
	Cause string `json:"cause,omitempty"`
	// Starts counts the started records: 1 + the number of resumes.
	Starts int `json:"starts"`
	// Updated is the time of the last record.
	Updated time.Time `json:"updated"`
	// Intents and Applied list the States recorded as about to be applied
	// and as applied, in order.
	Intents []strategy.State `json:"intents,omitempty"`
	Applied []strategy.State `json:"applied,omitempty"`
	// Records is how many records were replayed.
	Records int `json:"records"`
}

// UnmarshalJSON decodes p from its JSON form.
func (p *Progress) UnmarshalJSON(data []byte) error {
	type plain Progress
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
	*p = Progress(v.plain)
	return nil
}

// Pending reports whether the release still needs a process to drive it:
// it neither reached Promoted nor RolledBack. A release that stopped
// (context cancelled under OnCancel.Leave, journal failure) or degraded
// (its rollback could not be applied) is pending.
func (p Progress) Pending() bool {
	return p.Phase != strategy.PhasePromoted && p.Phase != strategy.PhaseRolledBack
}

// Replay folds a journal's records into the release's [Progress]. It is
// a pure function of the records. A started record whose fingerprint
// differs from the first one's marks a rollback from the record (see
// [Manager.Resume]): the Checkpoint then rolls back.
func Replay(recs []strategy.Record) Progress {
	p := Progress{Result: strategy.Result{Phase: strategy.PhasePending}, Records: len(recs)}
	cp := &p.Checkpoint
	var lastVerdict *strategy.Verdict
	for i := range recs {
		r := &recs[i]
		p.Updated = r.At
		switch r.Kind {
		case strategy.RecordStarted:
			p.Starts++
			if p.Starts == 1 {
				p.Release, p.Strategy, p.Fingerprint = r.Release, r.Strategy, r.Fingerprint
				p.Stable, p.Canary = r.Stable, r.Canary
				p.Started = r.At
				cp.Fingerprint = r.Fingerprint
			} else if r.Fingerprint != "" && p.Fingerprint != "" && r.Fingerprint != p.Fingerprint {
				// A resume runs a plan other than the recorded one only to
				// roll back from the record (see Manager.Resume): the
				// release stays a rollback even if that run stopped before
				// recording one.
				cp.Rollback = true
			}
			p.Finished = time.Time{}
			if !p.Phase.Final() || p.Phase == strategy.PhaseStopped || p.Phase == strategy.PhaseDegraded {
				p.Phase = strategy.PhaseProgressing
			}
		case strategy.RecordIntent:
			if r.State != nil {
				cp.State = *r.State
				p.Final = *r.State
				p.Intents = append(p.Intents, *r.State)
			}
			if r.Rollback {
				cp.Rollback = true
			} else if r.Promote {
				cp.Promote = true
			}
		case strategy.RecordApplied:
			if r.State != nil {
				cp.State = *r.State
				p.Final = *r.State
				p.Applied = append(p.Applied, *r.State)
			}
		case strategy.RecordStep:
			cp.Step = r.Step
			cp.Failures = r.Failures
		case strategy.RecordAbort:
			// An accepted Abort is honoured by a resume.
			cp.Rollback = true
		case strategy.RecordVerdict:
			if r.Verdict != nil {
				p.Verdicts = append(p.Verdicts, *r.Verdict)
				lastVerdict = r.Verdict
				// A Fail tolerated since the last step record is not in
				// that record's count yet; counting every Fail verdict
				// since (several analyzers of one step may fail together)
				// errs towards rolling back sooner, never later.
				if r.Verdict.Outcome == strategy.Fail {
					cp.Failures++
				}
			}
		case strategy.RecordPhase:
			p.Phase, p.Reason = r.Phase, r.Reason
			switch r.Phase {
			case strategy.PhaseRollingBack:
				cp.Rollback = true
				if p.RollbackStarted.IsZero() {
					p.RollbackStarted = r.At
					p.Cause = r.Reason
					p.FailedAt = r.At
					if lastVerdict != nil && lastVerdict.Outcome == strategy.Fail && !lastVerdict.At.IsZero() {
						p.FailedAt = lastVerdict.At
					}
				}
			case strategy.PhaseRolledBack:
				p.RollbackFinished = r.At
			}
		case strategy.RecordFinished:
			p.Finished = r.At
			if r.Phase != "" {
				p.Phase = r.Phase
			}
			if r.Reason != "" {
				p.Reason = r.Reason
			}
			if r.Phase == strategy.PhaseDegraded {
				cp.Rollback = true
			}
		}
	}
	return p
}

// deciding picks the verdicts that decided a release: for a rollback the
// Fail verdicts (the last few), otherwise the last verdict of each
// analyzer.
func (p Progress) deciding() []strategy.Verdict {
	const most = 8
	var out []strategy.Verdict
	if p.Phase != strategy.PhasePromoted {
		for _, v := range p.Verdicts {
			if v.Outcome == strategy.Fail {
				out = append(out, v)
			}
		}
		if len(out) > most {
			out = out[len(out)-most:]
		}
		return out
	}
	seen := map[string]int{}
	for _, v := range p.Verdicts {
		if k, ok := seen[v.Analyzer]; ok {
			out[k] = v
			continue
		}
		seen[v.Analyzer] = len(out)
		out = append(out, v)
	}
	return slices.Clip(out)
}

// entry builds the history entry of a finished release.
func (p Progress) entry(target string, a *Active) Entry {
	res := p.Result
	res.Finished = p.Updated
	res.Verdicts = p.deciding()
	res.Final = p.Checkpoint.State
	res.Steps, res.Err, res.JournalErr = nil, "", ""
	e := Entry{Result: res, Target: target, Resumed: max(p.Starts-1, 0)}
	if p.Cause != "" && p.Phase != strategy.PhasePromoted {
		e.Reason = p.Cause
	}
	if a != nil {
		e.Journal, e.Undo = a.Journal, a.Undo
		if e.Release == "" {
			e.Release, e.Stable, e.Canary = a.Release, a.Stable, a.Canary
		}
		if e.Started.IsZero() || (!a.Started.IsZero() && a.Started.Before(e.Started)) {
			e.Started = a.Started
		}
		e.Resumed = max(e.Resumed, a.Resumed)
	}
	return e
}
