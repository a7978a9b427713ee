package strategy_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/strategytest"
	"pgregory.net/rapid"
)

// recordingJournal keeps every record with the length of the target's
// history at the moment it was written, so a test can prove that each
// apply was recorded before it happened.
type recordingJournal struct {
	mu      sync.Mutex
	tgt     *strategytest.Target
	records []journaled
	failAt  int // fail the Nth record (1-based); 0 never
}

type journaled struct {
	rec     strategy.Record
	histLen int
}

func (j *recordingJournal) Record(_ context.Context, rec strategy.Record) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.failAt > 0 && len(j.records)+1 >= j.failAt {
		return errors.New("disk full")
	}
	n := 0
	if j.tgt != nil {
		n = len(j.tgt.History())
	}
	j.records = append(j.records, journaled{rec: rec, histLen: n})
	return nil
}

func (j *recordingJournal) all() []journaled {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]journaled(nil), j.records...)
}

// checkRecordedBeforeApplied verifies that the history entry at index i
// (counting from base) was announced by an intent recorded when the
// history had exactly i entries.
func checkRecordedBeforeApplied(history []strategytest.Applied, base int, recs []journaled) error {
	for i := base; i < len(history); i++ {
		found := false
		for _, r := range recs {
			if r.rec.Kind == strategy.RecordIntent && r.histLen == i && *r.rec.State == history[i].State {
				found = true
				break
			}
		}
		if !found {
			return fmt.Errorf("apply %d (%s) was not recorded as an intent before it happened", i, history[i].State)
		}
	}
	return nil
}

type op int

const (
	opPromote op = iota
	opPromoteFull
	opAbort
	opPause
	opResume
	opCancel
)

var opNames = []string{"promote", "promote-full", "abort", "pause", "resume", "cancel"}

type control struct {
	at time.Duration
	op op
}

// TestPropertyInvariants generates random plans, verdict sequences, target
// faults and operator actions, runs each release on the fake target in fake
// time, and checks the safety invariants after every run.
func TestPropertyInvariants(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// rapid asks a *testing.T for its deadline, which panics inside a
		// bubble; the wrapper hides that.
		rapid.Check(bubbleT{t}, func(rt *rapid.T) {
			runProperty(rt)
		})
	})
}

type bubbleT struct{ *testing.T }

func runProperty(rt *rapid.T) {
	const n = 4 // stable replicas
	stable := strategy.State{Stable: "v1", Replicas: strategy.Replicas{Stable: n}}
	final := strategy.State{Stable: "v2", Replicas: strategy.Replicas{Stable: n}}

	// A random plan.
	var steps []strategy.Step
	var analyzers []*strategytest.Analyzer
	answers := func(label string) *strategytest.Analyzer {
		k := rapid.IntRange(1, 3).Draw(rt, label+"-len")
		a := &strategytest.Analyzer{Label: label}
		for j := range k {
			ans := strategytest.Answer{After: time.Duration(rapid.IntRange(0, 120).Draw(rt, fmt.Sprintf("%s-after%d", label, j))) * time.Second}
			switch rapid.IntRange(0, 5).Draw(rt, fmt.Sprintf("%s-kind%d", label, j)) {
			case 0, 1, 2:
				ans.Outcome = strategy.Pass
			case 3:
				ans.Outcome = strategy.Fail
			case 4:
				ans.Outcome = strategy.Inconclusive
			case 5:
				ans.Err = errors.New("metric source down")
			}
			a.Answers = append(a.Answers, ans)
		}
		analyzers = append(analyzers, a)
		return a
	}
	nsteps := rapid.IntRange(1, 6).Draw(rt, "steps")
	for i := range nsteps {
		switch rapid.IntRange(0, 3).Draw(rt, fmt.Sprintf("step%d", i)) {
		case 0:
			w := rapid.IntRange(0, 100).Draw(rt, fmt.Sprintf("weight%d", i))
			c := rapid.IntRange(0, n).Draw(rt, fmt.Sprintf("canary%d", i))
			steps = append(steps, strategy.Apply(strategy.State{Stable: "v1", Canary: "v2", Weight: w, Replicas: strategy.Replicas{Stable: n, Canary: c}}))
		case 1:
			d := time.Duration(rapid.IntRange(0, 300).Draw(rt, fmt.Sprintf("pause%d", i))) * time.Second
			steps = append(steps, strategy.Pause(d))
		case 2:
			steps = append(steps, strategy.Analyze(answers(fmt.Sprintf("a%d", i))))
		case 3:
			steps = append(steps, strategy.WaitReady(0))
		}
	}
	steps = append(steps,
		strategy.Apply(strategy.State{Stable: "v1", Canary: "v2", Weight: 100, Replicas: strategy.Replicas{Stable: n, Canary: n}}),
		strategy.Apply(final))
	plan := strategy.Plan{Strategy: "random", Stable: stable, Final: final, Steps: steps}
	var background []strategy.Background
	if rapid.Bool().Draw(rt, "background") {
		b := answers("bg")
		background = append(background, strategy.Background{From: rapid.IntRange(0, len(steps)-1).Draw(rt, "bg-from"), Analyzers: []strategy.Analyzer{b}})
	}

	// Random faults.
	tgt := strategytest.NewTarget(stable)
	tgt.ReadyAfter = time.Duration(rapid.IntRange(0, 30).Draw(rt, "ready-after")) * time.Second
	if rapid.IntRange(0, 9).Draw(rt, "never-ready") == 0 {
		tgt.NeverReady = []strategy.Revision{"v2"}
	}
	failForGood := false
	for k := range rapid.IntRange(0, 2).Draw(rt, "faults") {
		f := strategytest.Fault{Op: strategytest.OpApply, After: rapid.IntRange(0, 8).Draw(rt, fmt.Sprintf("f%d-after", k))}
		switch rapid.IntRange(0, 4).Draw(rt, fmt.Sprintf("f%d-kind", k)) {
		case 0:
			f.Times = rapid.IntRange(1, 3).Draw(rt, fmt.Sprintf("f%d-times", k))
		case 1:
			f.For = time.Duration(rapid.IntRange(1, 120).Draw(rt, fmt.Sprintf("f%d-for", k))) * time.Second
		case 2:
			f.Times, f.Hang = 1, true
		case 3:
			f.Op = strategytest.OpObserve
			f.Times = rapid.IntRange(1, 5).Draw(rt, fmt.Sprintf("f%d-times", k))
		case 4:
			failForGood = true // fails every apply from then on
		}
		tgt.Faults = append(tgt.Faults, f)
	}

	opts := strategy.Options{
		ProgressDeadline: 2 * time.Minute,
		ApplyTimeout:     10 * time.Second,
		RetryBudget:      time.Minute,
		OnFail: strategy.FailurePolicy{
			Pause:           rapid.IntRange(0, 3).Draw(rt, "pause-on-fail") == 0,
			FailuresAllowed: rapid.IntRange(0, 1).Draw(rt, "failures-allowed"),
		},
		PauseOnDeadline: rapid.IntRange(0, 3).Draw(rt, "pause-on-deadline") == 0,
	}
	if rapid.IntRange(0, 3).Draw(rt, "leave-on-cancel") == 0 {
		opts.OnCancel = strategy.LeaveAsRecorded
	}
	journal := &recordingJournal{tgt: tgt}
	opts.Journal = journal

	var controls []control
	for k := range rapid.IntRange(0, 4).Draw(rt, "controls") {
		controls = append(controls, control{
			at: time.Duration(rapid.IntRange(0, 600).Draw(rt, fmt.Sprintf("c%d-at", k))) * time.Second,
			op: op(rapid.IntRange(0, 5).Draw(rt, fmt.Sprintf("c%d-op", k))),
		})
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r, err := strategy.Start(ctx, strategy.Release{
		Name: "prop", Target: tgt, Stable: "v1", Canary: "v2",
		Strategy:   strategy.StrategyFunc(func(_, _ strategy.Revision) (strategy.Plan, error) { return plan, nil }),
		Background: background,
		Options:    opts,
	})
	if err != nil {
		rt.Fatalf("start: %v", err)
	}

	// The operator: scripted controls, then whatever it takes to finish
	// (Promote out of pauses, and finally Abort).
	overridden := false // a successful Promote/PromoteFull: a person decided
	cancelled := false
	start := time.Now()
	for _, c := range controls {
		wait := c.at - time.Since(start)
		if wait > 0 {
			select {
			case <-r.Done():
			case <-time.After(wait):
			}
		}
		var err error
		switch c.op {
		case opPromote:
			err = r.Promote()
		case opPromoteFull:
			err = r.PromoteFull()
		case opAbort:
			err = r.Abort()
		case opPause:
			err = r.Pause()
		case opResume:
			err = r.Resume()
		case opCancel:
			cancel()
			cancelled = true
		}
		if err == nil && (c.op == opPromote || c.op == opPromoteFull) {
			overridden = true
		}
		rt.Logf("t=%v %s: %v (phase %s)", time.Since(start), opNames[c.op], err, r.Status().Phase)
	}
	for round := 0; ; round++ {
		select {
		case <-r.Done():
		case <-time.After(10 * time.Minute):
			if round < 3 {
				if r.Promote() == nil {
					overridden = true
				}
			} else {
				_ = r.Abort()
			}
			continue
		}
		break
	}
	res, err := r.Wait(context.Background())
	history := tgt.History()
	for _, h := range history {
		rt.Logf("%v %s", h.At.Sub(start), h.State)
	}
	rt.Logf("result %s: %v", res.Phase, err)

	// Invariant: the release ended in a final phase, and the error is nil
	// exactly when it was promoted.
	if !res.Phase.Final() {
		rt.Fatalf("release ended in non-final phase %s", res.Phase)
	}
	if (err == nil) != (res.Phase == strategy.PhasePromoted) {
		rt.Fatalf("phase %s with error %v", res.Phase, err)
	}
	// Invariant 1: failed, aborted or cancelled releases end on the stable
	// State; promoted ones on the final State.
	got := tgt.State()
	switch res.Phase {
	case strategy.PhasePromoted:
		if got != final {
			rt.Fatalf("promoted but target is on %s", got)
		}
	case strategy.PhaseRolledBack:
		if got != stable {
			rt.Fatalf("rolled back but target is on %s", got)
		}
	case strategy.PhaseDegraded:
		if !failForGood && len(tgt.Faults) == 0 {
			rt.Fatalf("degraded without a fault that could cause it: %v", err)
		}
		if !errors.Is(err, strategy.ErrDegraded) {
			rt.Fatalf("degraded with error %v", err)
		}
	case strategy.PhaseStopped:
		if !cancelled || opts.OnCancel != strategy.LeaveAsRecorded {
			if !errors.Is(err, strategy.ErrTarget) {
				rt.Fatalf("stopped without LeaveAsRecorded cancellation: %v", err)
			}
		}
	}
	// Invariant 2: traffic never moved onto capacity that was not ready.
	if err := strategytest.CheckTraffic(stable, history); err != nil {
		rt.Fatal(err)
	}
	// Invariant 3: nothing passes on analysis that returned no data, only
	// errors, or a Fail — unless a person promoted past it.
	if res.Phase == strategy.PhasePromoted && !overridden {
		last := map[int]strategy.StepResult{}
		for _, s := range res.Steps {
			last[s.Index] = s
		}
		for i, s := range steps {
			if s.Kind != strategy.StepAnalyze {
				continue
			}
			sr, ok := last[i]
			if !ok {
				rt.Fatalf("promoted without running analysis step %d", i)
			}
			for _, v := range sr.Verdicts {
				if v.Outcome != strategy.Pass {
					rt.Fatalf("promoted although step %d ended with %s", i, v)
				}
			}
		}
		for _, v := range res.Verdicts {
			if v.Outcome == strategy.Fail && opts.OnFail.FailuresAllowed == 0 && !opts.OnFail.Pause {
				rt.Fatalf("promoted despite a Fail verdict %s", v)
			}
		}
	}
	// Invariant 4: every apply was recorded before it happened.
	if err := checkRecordedBeforeApplied(history, 0, journal.all()); err != nil {
		rt.Fatal(err)
	}
	// No analyzer or executor goroutine outlives the release: checked by
	// the synctest bubble, which fails on goroutines left blocked.
}
