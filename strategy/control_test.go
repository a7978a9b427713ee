package strategy_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/strategytest"
)

// gatedTarget holds the Apply of one State until the gate opens, whatever
// its context says: a slow target that finishes what it started.
type gatedTarget struct {
	*strategytest.Target
	at      strategy.State
	gate    chan struct{}
	entered chan struct{}
	once    sync.Once
}

func gated(tgt *strategytest.Target, at strategy.State) *gatedTarget {
	return &gatedTarget{Target: tgt, at: at, gate: make(chan struct{}), entered: make(chan struct{})}
}

func (g *gatedTarget) Apply(ctx context.Context, s strategy.State) error {
	if s == g.at {
		g.once.Do(func() { close(g.entered) })
		<-g.gate
		return g.Target.Apply(context.WithoutCancel(ctx), s)
	}
	return g.Target.Apply(ctx, s)
}

// stubborn is an analyzer that ignores its context: it returns only when
// the test lets it go.
type stubborn struct {
	name    string
	outcome strategy.Outcome
	release chan struct{}
	calls   int
	mu      sync.Mutex
}

func newStubborn(name string, o strategy.Outcome) *stubborn {
	return &stubborn{name: name, outcome: o, release: make(chan struct{})}
}

func (s *stubborn) Name() string { return s.name }
func (s *stubborn) Analyze(context.Context, strategy.Input) (strategy.Verdict, error) {
	s.mu.Lock()
	s.calls++
	s.mu.Unlock()
	<-s.release
	return strategy.Verdict{Outcome: s.outcome, Reason: "answered at last"}, nil
}

func TestAbortDuringFinalApplyRollsBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tgt := gated(strategytest.NewTarget(stable4), final4)
		r, _ := strategy.Start(t.Context(), release(tgt, planOf(strategy.Apply(at(20, 1)), strategy.Apply(at(100, 4))), strategy.Options{}))
		<-tgt.entered
		if err := r.Abort(); err != nil {
			t.Fatal(err)
		}
		close(tgt.gate)
		res, err := r.Wait(t.Context())
		if !errors.Is(err, strategy.ErrAborted) || res.Phase != strategy.PhaseRolledBack || tgt.State() != stable4 {
			t.Fatalf("an accepted Abort was not acted on: %s %v, target %s", res.Phase, err, tgt.State())
		}
		if err := strategytest.CheckCapacityBeforeTraffic(stable4, tgt.History()); err != nil {
			t.Fatal(err)
		}
	})
}

func TestAbortDuringPromoteFull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tgt := strategytest.NewTarget(stable4)
		tgt.ReadyAfter = 5 * time.Minute
		r, _ := strategy.Start(t.Context(), release(tgt, planOf(strategy.Apply(at(0, 1)), strategy.Pause(0), strategy.Apply(at(100, 4))), strategy.Options{}))
		time.Sleep(6 * time.Minute)
		waitPhase(t, r, strategy.PhasePaused)
		if err := r.PromoteFull(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute) // the final State's capacity is on its way
		synctest.Wait()
		if err := r.Abort(); err != nil {
			t.Fatal(err)
		}
		res, err := r.Wait(t.Context())
		if !errors.Is(err, strategy.ErrAborted) || res.Phase != strategy.PhaseRolledBack || tgt.State() != stable4 {
			t.Fatalf("an Abort during PromoteFull was not acted on: %s %v, target %s", res.Phase, err, tgt.State())
		}
		if err := strategytest.CheckCapacityBeforeTraffic(stable4, tgt.History()); err != nil {
			t.Fatal(err)
		}
	})
}

func TestResumedPromoteFullEndsFinal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tgt := strategytest.NewTarget(at(50, 2))
		tgt.NeverReady = []strategy.Revision{"v2"}
		rel := release(tgt, planOf(strategy.Apply(at(50, 2)), strategy.Pause(0), strategy.Apply(at(100, 4))),
			strategy.Options{ProgressDeadline: time.Minute, OnDeadline: strategy.Policy{Pause: true}})
		rel.Resume = &strategy.Checkpoint{Step: 1, State: at(50, 2), Promote: true}
		r, err := strategy.Start(t.Context(), rel)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Minute)
		waitPhase(t, r, strategy.PhasePaused)
		tgt.NeverReady = nil
		if err := r.Promote(); err != nil { // try again
			t.Fatal(err)
		}
		res, err := r.Wait(t.Context())
		if err != nil || res.Phase != strategy.PhasePromoted || tgt.State() != final4 {
			t.Fatalf("%s %v, target %s", res.Phase, err, tgt.State())
		}
	})
}

func TestRetryOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tgt := strategytest.NewTarget(stable4)
		r, _ := strategy.Start(t.Context(), release(tgt, planOf(strategy.Apply(at(20, 1)), strategy.Pause(0), strategy.Apply(at(100, 4))), strategy.Options{}))
		synctest.Wait()
		_ = r.Abort()
		_, _ = r.Wait(t.Context())
		r2, err := r.Retry(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if r3, err := r.Retry(t.Context()); err == nil {
			_ = r3.Abort()
			_, _ = r3.Wait(t.Context())
			t.Fatal("a second Retry of the same release started another rollout of the same target")
		}
		_ = r2.Abort()
		_, _ = r2.Wait(t.Context())
	})
}

func TestPauseDuringRollbackIsRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tgt := strategytest.NewTarget(stable4)
		tgt.ReadyAfter = time.Minute
		rel := release(tgt, planOf(strategy.Apply(strategy.State{Stable: "v1", Canary: "v2", Weight: 50, Replicas: strategy.Replicas{Stable: 2, Canary: 2}}),
			strategy.Analyze(strategytest.Script("bad", strategy.Fail))), strategy.Options{})
		r, _ := strategy.Start(t.Context(), rel)
		time.Sleep(90 * time.Second) // the rollback waits for the stable capacity
		waitPhase(t, r, strategy.PhaseRollingBack)
		if err := r.Pause(); !errors.Is(err, strategy.ErrNotRunning) {
			t.Fatalf("Pause during a rollback: %v", err)
		}
		if _, err := r.Wait(t.Context()); !errors.Is(err, strategy.ErrAnalysisFailed) {
			t.Fatal(err)
		}
	})
}

// A tolerated background Fail that arrives while the release is paused is
// journaled, and its analyzer starts again.
func TestBackgroundFailDuringHold(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tgt := strategytest.NewTarget(stable4)
		j := &recordingJournal{tgt: tgt}
		bg := &strategytest.Analyzer{ID: "bg", Answers: []strategytest.Answer{{Outcome: strategy.Fail, After: 5 * time.Minute}, {Block: true}}}
		inl := strategytest.Script("thin", strategy.Inconclusive, strategy.Pass)
		rel := release(tgt, planOf(strategy.Apply(at(20, 1)), strategy.Analyze(inl), strategy.Apply(at(100, 4))),
			strategy.Options{Journal: j, OnFail: strategy.Policy{Allowed: 1}})
		rel.Background = []strategy.Background{{From: 0, Analyzers: []strategy.Analyzer{bg}}}
		r, _ := strategy.Start(t.Context(), rel)
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		if bg.Calls() != 2 {
			t.Fatalf("the background analyzer ran %d times; a tolerated Fail must start it again", bg.Calls())
		}
		found := false
		for _, rec := range j.all() {
			if rec.rec.Kind == strategy.RecordVerdict && rec.rec.Verdict.Analyzer == "bg" && rec.rec.Verdict.Outcome == strategy.Fail {
				found = true
			}
		}
		if !found {
			t.Fatal("the background Fail was not journaled")
		}
		if st := r.Status(); st.Phase == strategy.PhasePaused {
			_ = r.Promote()
		}
		res, err := r.Wait(t.Context())
		if err != nil || res.Phase != strategy.PhasePromoted {
			t.Fatalf("%s %v", res.Phase, err)
		}
	})
}

// Two background verdicts queued during a hold: an Inconclusive is not
// dropped because a Fail was handled first.
func TestBackgroundInconclusiveNotDroppedDuringHold(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tgt := strategytest.NewTarget(stable4)
		failing := &strategytest.Analyzer{ID: "failing", Answers: []strategytest.Answer{{Outcome: strategy.Fail, After: 5 * time.Minute}, {Block: true}}}
		unsure := &strategytest.Analyzer{ID: "unsure", Answers: []strategytest.Answer{{Outcome: strategy.Inconclusive, After: 4 * time.Minute}, {Block: true}}}
		rel := release(tgt, planOf(strategy.Apply(at(20, 1)), strategy.Pause(0), strategy.Apply(at(100, 4))),
			strategy.Options{OnFail: strategy.Policy{Allowed: 1}})
		rel.Background = []strategy.Background{{From: 0, Analyzers: []strategy.Analyzer{failing, unsure}}}
		r, _ := strategy.Start(t.Context(), rel)
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		// The Inconclusive (4m) interrupted the pause step and waits for a
		// person; the tolerated Fail (5m) did not make it go away, and
		// restarted its analyzer.
		st := r.Status()
		if st.Phase != strategy.PhasePaused || st.PauseReason != strategy.PausedForInconclusive {
			t.Fatalf("the Inconclusive background verdict was dropped: %+v", st)
		}
		if failing.Calls() != 2 {
			t.Fatalf("the failing analyzer ran %d times after a tolerated Fail", failing.Calls())
		}
		_ = r.Abort()
		_, _ = r.Wait(t.Context())
	})
}

func TestAbortWithInlineAnalyzerIgnoringContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tgt := strategytest.NewTarget(stable4)
		a := newStubborn("stubborn", strategy.Pass)
		defer close(a.release)
		r, _ := strategy.Start(t.Context(), release(tgt, planOf(strategy.Apply(at(20, 1)), strategy.Analyze(a), strategy.Apply(at(100, 4))), strategy.Options{}))
		time.Sleep(time.Minute)
		synctest.Wait()
		if err := r.Abort(); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
		defer cancel()
		res, err := r.Wait(ctx)
		if !errors.Is(err, strategy.ErrAborted) || tgt.State() != stable4 {
			t.Fatalf("an analyzer that ignores its context held the abort: %s %v, target %s", res.Phase, err, tgt.State())
		}
	})
}

func TestStepTimeoutWithAnalyzerIgnoringContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tgt := strategytest.NewTarget(stable4)
		a := newStubborn("stubborn", strategy.Pass)
		defer close(a.release)
		r, _ := strategy.Start(t.Context(), release(tgt, planOf(strategy.Apply(at(20, 1)), strategy.Analyze(a).WithTimeout(5*time.Minute), strategy.Apply(at(100, 4))), strategy.Options{}))
		time.Sleep(10 * time.Minute)
		waitPhase(t, r, strategy.PhasePaused)
		if st := r.Status(); st.PauseReason != strategy.PausedForInconclusive || !strings.Contains(st.Reason, "stubborn") {
			t.Fatalf("status %+v", st)
		}
		_ = r.Abort()
		if _, err := r.Wait(t.Context()); !errors.Is(err, strategy.ErrAborted) {
			t.Fatal(err)
		}
	})
}

func TestRollbackWithBackgroundAnalyzerIgnoringContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tgt := strategytest.NewTarget(stable4)
		bg := newStubborn("deaf", strategy.Pass)
		defer close(bg.release)
		ev := &events{}
		rel := release(tgt, planOf(strategy.Apply(at(20, 1)), strategy.Analyze(strategytest.Script("bad", strategy.Fail)), strategy.Apply(at(100, 4))), strategy.Options{})
		rel.Background = []strategy.Background{{From: 0, Analyzers: []strategy.Analyzer{bg}}}
		rel.Observer = ev
		r, _ := strategy.Start(t.Context(), rel)
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
		defer cancel()
		res, err := r.Wait(ctx)
		if !errors.Is(err, strategy.ErrAnalysisFailed) || res.Phase != strategy.PhaseRolledBack || tgt.State() != stable4 {
			t.Fatalf("a background analyzer that ignores its context held the rollback: %s %v, target %s", res.Phase, err, tgt.State())
		}
		if d := res.RollbackStarted.Sub(res.FailedAt); d != 0 {
			t.Fatalf("the rollback started %v after the failure", d)
		}
	})
}

func TestLastWordFromAnalyzerIgnoringContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tgt := strategytest.NewTarget(stable4)
		bg := newStubborn("deaf", strategy.Pass)
		defer close(bg.release)
		rel := release(tgt, planOf(strategy.Apply(at(50, 2)), strategy.Pause(time.Minute), strategy.Apply(at(100, 4))), strategy.Options{})
		rel.Background = []strategy.Background{{From: 0, Analyzers: []strategy.Analyzer{bg}}}
		r, _ := strategy.Start(t.Context(), rel)
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		// No last word: the release must not promote on silence; it
		// waits for a person.
		st := r.Status()
		if st.Phase != strategy.PhasePaused || st.PauseReason != strategy.PausedForInconclusive || !strings.Contains(st.Reason, "deaf") {
			t.Fatalf("status %+v, target %s", st, tgt.State())
		}
		_ = r.Abort()
		if _, err := r.Wait(t.Context()); !errors.Is(err, strategy.ErrAborted) || tgt.State() != stable4 {
			t.Fatal(err)
		}
	})
}

// An Apply whose reply is lost took effect although it returned an error:
// the rollback must start from where the target really is, and still
// restore capacity before moving traffic.
func TestRollbackAfterApplyWithLostReply(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tgt := strategytest.NewTarget(stable4)
		tgt.ReadyAfter = 20 * time.Second
		shrunk := strategy.State{Stable: "v1", Canary: "v2", Weight: 75, Replicas: strategy.Replicas{Stable: 1, Canary: 3}}
		// The second Apply (shrunk) takes effect, then reports failure for good.
		tgt.Faults = []strategytest.Fault{{Op: strategytest.OpApply, After: 1, Times: 1, Permanent: true, Applied: true}}
		res, err := strategy.Run(t.Context(), release(tgt, planOf(strategy.Apply(at(0, 3)), strategy.WaitReady(0), strategy.Apply(shrunk),
			strategy.Apply(at(100, 4))), strategy.Options{}))
		if !errors.Is(err, strategy.ErrTarget) || res.Phase != strategy.PhaseRolledBack || tgt.State() != stable4 {
			t.Fatalf("%s %v, target %s", res.Phase, err, tgt.State())
		}
		if err := strategytest.CheckCapacityBeforeTraffic(stable4, tgt.History()); err != nil {
			t.Fatal(err)
		}
	})
}

// failingJournal fails every record that matches.
type failingJournal struct {
	recordingJournal
	fail func(strategy.Record) bool
}

func (j *failingJournal) Record(ctx context.Context, rec strategy.Record) error {
	if j.fail(rec) {
		return errors.New("disk full")
	}
	return j.recordingJournal.Record(ctx, rec)
}

func TestRollbackCompletedDespiteLostAppliedRecord(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tgt := strategytest.NewTarget(stable4)
		j := &failingJournal{recordingJournal: recordingJournal{tgt: tgt}, fail: func(rec strategy.Record) bool {
			return rec.Kind == strategy.RecordApplied && rec.Rollback && *rec.State == stable4
		}}
		res, err := strategy.Run(t.Context(), release(tgt, planOf(strategy.Apply(at(20, 1)), strategy.Analyze(strategytest.Script("bad", strategy.Fail)),
			strategy.Apply(at(100, 4))), strategy.Options{Journal: j}))
		if tgt.State() != stable4 {
			t.Fatalf("target on %s", tgt.State())
		}
		if res.Phase != strategy.PhaseRolledBack || !errors.Is(err, strategy.ErrAnalysisFailed) || errors.Is(err, strategy.ErrDegraded) {
			t.Fatalf("the target is back on the stable State but the release says %s: %v", res.Phase, err)
		}
		if !strings.Contains(res.JournalErr, "disk full") {
			t.Fatalf("the lost record is not reported: %q", res.JournalErr)
		}
	})
}

// When the target cannot say whether a failed Apply took effect, the
// rollback must not report the stable State restored without applying it.
func TestRollbackAfterUnknownApplyOutcome(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tgt := strategytest.NewTarget(stable4)
		tgt.Faults = []strategytest.Fault{
			{Op: strategytest.OpApply, Applied: true}, // every Apply takes effect, and fails
			{Op: strategytest.OpObserve, After: 1},    // and the target cannot be observed after the start
		}
		res, err := strategy.Run(t.Context(), release(tgt, planOf(strategy.Apply(at(0, 1)), strategy.Apply(at(100, 4))), strategy.Options{}))
		if res.Phase == strategy.PhaseRolledBack && tgt.State() != stable4 {
			t.Fatalf("rolled back, says the result, but the target is on %s", tgt.State())
		}
		if !errors.Is(err, strategy.ErrDegraded) || tgt.State() != stable4 {
			t.Fatalf("%s %v, target %s", res.Phase, err, tgt.State())
		}
	})
}
