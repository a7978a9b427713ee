package strategy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// This file runs background analysis: analyzers that run alongside the
// steps and whose verdicts are queued for the decision core, and their
// last word before the final step.

// bgResult is a verdict reached by a background analyzer.
type bgResult struct {
	group, index int
	verdict      Verdict
}

// lastWord cancels background analysis with ErrPlanComplete before the
// final step and waits for its answers, which react then acts on like any
// other. An analyzer that has not answered within Options.AnalysisGrace
// gets no say, and the release does not promote on its silence: it is
// recorded as Inconclusive.
func (r *Rollout) lastWord(rs *runState, i int) {
	rs.lastWord = true
	rs.bgCancel(ErrPlanComplete)
	if r.waitBackground(rs, r.opts.AnalysisGrace) {
		return
	}
	rs.bgMu.Lock()
	defer rs.bgMu.Unlock()
	rs.bgClosed = true // a late answer is dropped
	for g, running := range rs.bgRunning {
		for k, on := range running {
			if !on {
				continue
			}
			a := r.plan.Background[g].Analyzers[k]
			v := normalize(a, Verdict{Outcome: Inconclusive,
				Reason: fmt.Sprintf("gave no last word within %v of the end of the plan", r.opts.AnalysisGrace)}, nil)
			r.report(rs, g, k, v)
		}
	}
}

// startBackground launches the background analyzers that attach at or
// before step i and are not running yet.
func (r *Rollout) startBackground(rs *runState, i int) {
	for g, b := range r.plan.Background {
		if rs.bgStarted[g] || b.From > i {
			continue
		}
		rs.bgStarted[g] = true
		for k := range b.Analyzers {
			r.launchBg(rs, g, k)
		}
	}
}

func (r *Rollout) launchBg(rs *runState, g, k int) {
	if rs.bgCtx.Err() != nil {
		return
	}
	b := r.plan.Background[g]
	a := b.Analyzers[k]
	in := Input{Release: r.name, Stable: r.rel.Stable, Canary: r.rel.Canary, State: r.currentState(), Step: b.From,
		Background: true, Current: r.currentState}
	ctx := rs.bgCtx
	rs.bgMu.Lock()
	rs.bgLive++
	rs.bgRunning[g][k] = true
	rs.bgMu.Unlock()
	go func() {
		v, err := analyzeSafe(ctx, a, in)
		rs.bgMu.Lock()
		defer func() {
			rs.bgLive--
			rs.bgRunning[g][k] = false
			rs.bgMu.Unlock()
			select {
			case rs.bgExit <- struct{}{}:
			default:
			}
		}()
		if rs.bgClosed || ctx.Err() != nil && (err != nil || context.Cause(ctx) != ErrPlanComplete) {
			// The release is rolling back, was promoted by hand or has
			// ended, or the analyzer had no last word: the answer no
			// longer matters.
			return
		}
		r.report(rs, g, k, normalize(a, v, err))
	}()
}

// report records and announces background analyzer k of group g's
// verdict, queues it for react and interrupts the running step when it
// needs a decision. rs.bgMu is held, so that nothing is reported once
// background analysis is closed.
func (r *Rollout) report(rs *runState, g, k int, v Verdict) {
	r.addVerdict(v)
	m := r.meta()
	r.emit(VerdictReached{EventMeta: m, Verdict: v, Background: true})
	// Every verdict is recorded when it arrives, before anything decides
	// on it: one that is then overridden (a PromoteFull) or cut short (a
	// rollback) is still in the release's history, and a Fail is still
	// decided after a crash.
	r.recordEnd(rs.bgCtx, Record{Kind: RecordVerdict, Step: m.Step, Verdict: &v})
	r.mu.Lock()
	r.bgEvents = append(r.bgEvents, bgResult{group: g, index: k, verdict: v})
	if v.Outcome != Pass && r.stepCancel != nil {
		r.stepCancel(errInterrupted)
	}
	r.mu.Unlock()
	r.signal()
}

// waitBackground waits until every background analyzer has returned, or
// grace has passed; it reports whether they all returned.
func (r *Rollout) waitBackground(rs *runState, grace time.Duration) bool {
	var t *time.Timer
	for {
		rs.bgMu.Lock()
		live := rs.bgLive
		rs.bgMu.Unlock()
		if live == 0 {
			if t != nil {
				t.Stop()
			}
			return true
		}
		if t == nil {
			t = time.NewTimer(grace)
		}
		select {
		case <-rs.bgExit:
		case <-t.C:
			return false
		}
	}
}

// nextBg takes the next background verdict to act on: the first Fail, or
// else the oldest.
func (r *Rollout) nextBg() (bgResult, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.bgEvents) == 0 {
		return bgResult{}, false
	}
	k := 0
	for j, ev := range r.bgEvents {
		if ev.verdict.Outcome == Fail {
			k = j
			break
		}
	}
	ev := r.bgEvents[k]
	r.bgEvents = slices.Delete(r.bgEvents, k, k+1)
	return ev, true
}

// requeueBg puts back a verdict that still needs a decision.
func (r *Rollout) requeueBg(ev bgResult) {
	r.mu.Lock()
	r.bgEvents = append(r.bgEvents, ev)
	r.mu.Unlock()
}

// stopBackground cancels background analysis whose answers no longer
// matter. It does not wait: an analyzer that ignores its context must not
// hold a rollback; closeBackground waits for them at the end.
func (r *Rollout) stopBackground(rs *runState) {
	rs.bgCancel(errBackgroundStopped)
}

// closeBackground stops background analysis at the end of the release and
// waits up to Options.AnalysisGrace for the analyzers to return. An
// analyzer still running then is left behind: its answer is dropped, and
// nothing is reported after the release has ended.
func (r *Rollout) closeBackground(rs *runState) {
	rs.bgCancel(errBackgroundStopped)
	if rs.bgExit != nil {
		r.waitBackground(rs, r.opts.AnalysisGrace)
	}
	rs.bgMu.Lock()
	rs.bgClosed = true
	rs.bgMu.Unlock()
}

// errBackgroundStopped cancels background analysis whose answer no longer
// matters (a rollback, an abort, a PromoteFull).
var errBackgroundStopped = errors.New("background analysis stopped")
