package strategy_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
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
// history had exactly i entries, or by the intent of the same State just
// before it (a retried Apply whose first attempt took effect).
func checkRecordedBeforeApplied(history []strategytest.Applied, base int, recs []journaled) error {
	for i := base; i < len(history); i++ {
		first := i
		for first > base && history[first-1].State == history[i].State {
			first--
		}
		found := false
		for _, r := range recs {
			if r.rec.Kind == strategy.RecordIntent && r.histLen >= first && r.histLen <= i && *r.rec.State == history[i].State {
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
// faults, journal failures and operator actions, runs each release on the
// fake target in fake time (one synctest bubble per case, so that rapid
// counts its time budget in real time), and checks the safety invariants
// after every run.
func TestPropertyInvariants(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		sc := drawScenario(rt)
		var logs []string
		var logMu sync.Mutex // the operator's reaction logs from the executor's goroutine
		var failure error
		synctest.Test(t, func(*testing.T) {
			failure = sc.run(func(format string, args ...any) {
				logMu.Lock()
				logs = append(logs, fmt.Sprintf(format, args...))
				logMu.Unlock()
			})
		})
		if failure != nil {
			for _, l := range logs {
				rt.Log(l)
			}
			rt.Fatal(failure)
		}
	})
}

// scenario is one random release: everything drawn, nothing started.
type scenario struct {
	stable, final strategy.State
	steps         []strategy.Step
	background    []strategy.Background
	rollback      func(from strategy.State) []strategy.State
	rollbackDelay time.Duration
	readyAfter    time.Duration
	neverReady    bool
	faults        []strategytest.Fault
	failForGood   bool
	opts          strategy.Options
	journalFailAt int
	controls      []control
	// onApplyFailed is a control made the moment the first Apply attempt
	// fails (-1: none): an interrupt in the middle of a retry.
	onApplyFailed op
}

func drawScenario(rt *rapid.T) *scenario {
	const n = 4 // stable replicas
	sc := &scenario{
		stable: strategy.State{Stable: "v1", Replicas: strategy.Replicas{Stable: n}},
		final:  strategy.State{Stable: "v2", Replicas: strategy.Replicas{Stable: n}},
	}

	// A random plan.
	var steps []strategy.Step
	answers := func(label string) *strategytest.Analyzer {
		k := rapid.IntRange(1, 3).Draw(rt, label+"-len")
		a := &strategytest.Analyzer{ID: label}
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
		strategy.Apply(sc.final))
	if rapid.Bool().Draw(rt, "background") {
		b := answers("bg")
		sc.background = append(sc.background, strategy.Background{From: rapid.IntRange(0, len(steps)-1).Draw(rt, "bg-from"), Analyzers: []strategy.Analyzer{b}})
	}

	// Random faults.
	sc.readyAfter = time.Duration(rapid.IntRange(0, 30).Draw(rt, "ready-after")) * time.Second
	sc.neverReady = rapid.IntRange(0, 9).Draw(rt, "never-ready") == 0
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
			sc.failForGood = true // fails every apply from then on
		}
		sc.faults = append(sc.faults, f)
	}

	sc.opts = strategy.Options{
		ProgressDeadline: 2 * time.Minute,
		ApplyTimeout:     10 * time.Second,
		RetryBudget:      time.Minute,
		OnFail: strategy.Policy{
			Pause:   rapid.IntRange(0, 3).Draw(rt, "pause-on-fail") == 0,
			Allowed: rapid.IntRange(0, 1).Draw(rt, "failures-allowed"),
		},
		OnDeadline: strategy.Policy{Pause: rapid.IntRange(0, 3).Draw(rt, "pause-on-deadline") == 0},
	}
	if rapid.IntRange(0, 3).Draw(rt, "leave-on-cancel") == 0 {
		sc.opts.OnCancel = strategy.Policy{Leave: true}
	}
	for k := range rapid.IntRange(0, 4).Draw(rt, "controls") {
		sc.controls = append(sc.controls, control{
			at: time.Duration(rapid.IntRange(0, 600).Draw(rt, fmt.Sprintf("c%d-at", k))) * time.Second,
			op: op(rapid.IntRange(0, 5).Draw(rt, fmt.Sprintf("c%d-op", k))),
		})
	}

	// Drawn after the rest, so that older failure files keep their meaning.
	for k := range sc.faults {
		if sc.faults[k].Op == strategytest.OpApply {
			// The target did the work but the reply was lost.
			sc.faults[k].Applied = rapid.IntRange(0, 2).Draw(rt, fmt.Sprintf("f%d-applied", k)) == 0
		}
	}
	sc.rollbackDelay = time.Duration(rapid.SampledFrom([]int{0, 0, 10, 90}).Draw(rt, "rollback-delay")) * time.Second
	instanceless := rapid.IntRange(0, 3).Draw(rt, "instanceless") == 0
	for i := range steps {
		if steps[i].Kind == strategy.StepApply && steps[i].State.Canary != "" && rapid.IntRange(0, 4).Draw(rt, fmt.Sprintf("route%d", i)) == 0 {
			steps[i].State.Route = strategy.HeaderRoute{Header: "X-Canary", Exact: "1"}
		}
	}
	switch rapid.IntRange(0, 2).Draw(rt, "rollback-path") {
	case 1: // straight back, in one State
		sc.rollback = func(strategy.State) []strategy.State { return []strategy.State{sc.stable} }
	case 2: // traffic back, then the canary removed in halves
		sc.rollback = func(from strategy.State) []strategy.State {
			c := from.Desired("v2")
			return []strategy.State{
				{Stable: "v1", Canary: "v2", Replicas: strategy.Replicas{Stable: n, Canary: c}},
				{Stable: "v1", Canary: "v2", Replicas: strategy.Replicas{Stable: n, Canary: c / 2}},
				sc.stable,
			}
		}
	}
	if rapid.IntRange(0, 4).Draw(rt, "journal-fails") == 0 {
		sc.journalFailAt = rapid.IntRange(1, 40).Draw(rt, "journal-fail-at")
	}
	if instanceless {
		// A target without instances: no replica counts anywhere.
		sc.stable.Replicas, sc.final.Replicas = strategy.Replicas{}, strategy.Replicas{}
		for i := range steps {
			steps[i].State.Replicas = strategy.Replicas{}
		}
		if sc.rollback != nil {
			sc.rollback = func(strategy.State) []strategy.State {
				return []strategy.State{{Stable: "v1", Canary: "v2"}, sc.stable}
			}
		}
	}
	// Drawn last, so that older failure files keep their meaning: the
	// schedules that the uniform draws above reach only rarely. An Apply
	// whose reply is lost (it takes effect, then fails or hangs), the
	// next Observe after it failing, and a control call made the moment
	// an Apply attempt fails.
	if rapid.IntRange(0, 2).Draw(rt, "lost-reply") == 0 {
		sc.faults = append(sc.faults,
			strategytest.Fault{Op: strategytest.OpApply, After: rapid.IntRange(0, 6).Draw(rt, "lost-after"),
				Times: rapid.IntRange(1, 2).Draw(rt, "lost-times"), Applied: true, Hang: rapid.Bool().Draw(rt, "lost-hang")},
			strategytest.Fault{Op: strategytest.OpObserve, AfterPrevious: true, Times: rapid.IntRange(1, 2).Draw(rt, "observe-fails")})
	}
	sc.onApplyFailed = op(rapid.IntRange(-1, int(opCancel)).Draw(rt, "on-apply-failed"))
	if !instanceless && rapid.IntRange(0, 3).Draw(rt, "batch-rollback") == 0 {
		// Back in batches, as a rolling strategy does: half the canary's
		// traffic and half its instances in one State, then the rest.
		sc.rollback = func(from strategy.State) []strategy.State {
			w, c := from.Share("v2"), from.Desired("v2")
			if from.Stable != "v1" || from.Canary != "v2" {
				return []strategy.State{sc.stable}
			}
			return []strategy.State{
				{Stable: "v1", Canary: "v2", Weight: w, Replicas: strategy.Replicas{Stable: n, Canary: c}},
				{Stable: "v1", Canary: "v2", Weight: w / 2, Replicas: strategy.Replicas{Stable: n, Canary: c / 2}},
				sc.stable,
			}
		}
	}
	sc.steps = steps
	return sc
}

// run executes the scenario inside a synctest bubble and returns the first
// broken invariant.
func (sc *scenario) run(logf func(string, ...any)) error {
	stable, final, steps := sc.stable, sc.final, sc.steps
	plan := strategy.Plan{Strategy: "random", Stable: stable, Final: final, Steps: steps, Rollback: sc.rollback, RollbackDelay: sc.rollbackDelay}
	tgt := strategytest.NewTarget(stable)
	tgt.ReadyAfter = sc.readyAfter
	tgt.HeaderRouting = true
	if sc.neverReady {
		tgt.NeverReady = []strategy.Revision{"v2"}
	}
	tgt.Faults = slices.Clone(sc.faults)
	opts := sc.opts
	journal := &recordingJournal{tgt: tgt, failAt: sc.journalFailAt}
	opts.Journal = journal
	ev := &events{}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// The operator: a control call the moment an Apply attempt fails,
	// scripted controls, then whatever it takes to finish (Promote out of
	// pauses, and finally Abort).
	overridden := false // a successful Promote/PromoteFull: a person decided
	cancelled := false
	aborted := false // an Abort was accepted
	start := time.Now()
	var handle atomic.Pointer[strategy.Rollout]
	var reactAborted, reactOverridden, reactCancelled atomic.Bool // what the reaction did
	reacted := false                                              // only the run goroutine reads or writes it, until the release ends
	react := strategy.ObserverFunc(func(e strategy.Event) {
		if _, ok := e.(strategy.ApplyFailed); !ok || sc.onApplyFailed < 0 || reacted {
			return
		}
		r := handle.Load()
		if r == nil {
			return
		}
		reacted = true
		var err error
		switch sc.onApplyFailed {
		case opPromote:
			err = r.Promote()
		case opPromoteFull:
			err = r.PromoteFull()
		case opAbort:
			err = r.Abort()
			reactAborted.Store(err == nil)
		case opPause:
			err = r.Pause()
		case opResume:
			err = r.Unpause()
		case opCancel:
			cancel()
			reactCancelled.Store(true)
		}
		if err == nil && (sc.onApplyFailed == opPromote || sc.onApplyFailed == opPromoteFull) {
			reactOverridden.Store(true)
		}
		logf("t=%v on a failed Apply, %s: %v", time.Since(start), opNames[sc.onApplyFailed], err)
	})
	r, err := strategy.Start(ctx, strategy.Release{
		Name: "prop", Target: tgt, Stable: "v1", Canary: "v2",
		Strategy:   strategy.StrategyFunc(func(_, _ strategy.Revision) (strategy.Plan, error) { return plan, nil }),
		Background: sc.background,
		Options:    opts,
		Observer:   strategy.Observers(ev, react),
	})
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	handle.Store(r)

	for _, c := range sc.controls {
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
			aborted = aborted || err == nil
		case opPause:
			err = r.Pause()
		case opResume:
			err = r.Unpause()
		case opCancel:
			cancel()
			cancelled = true
		}
		if err == nil && (c.op == opPromote || c.op == opPromoteFull) {
			overridden = true
		}
		logf("t=%v %s: %v (phase %s)", time.Since(start), opNames[c.op], err, r.Status().Phase)
	}
	for round := 0; ; round++ {
		select {
		case <-r.Done():
		case <-time.After(10 * time.Minute):
			if round < 3 {
				if r.Promote() == nil {
					overridden = true
				}
			} else if r.Abort() == nil {
				aborted = true
			}
			continue
		}
		break
	}
	res, err := r.Wait(context.Background())
	aborted = aborted || reactAborted.Load()
	overridden = overridden || reactOverridden.Load()
	cancelled = cancelled || reactCancelled.Load()
	history := tgt.History()
	for _, h := range history {
		logf("%v %s", h.At.Sub(start), h.State)
	}
	logf("result %s: %v", res.Phase, err)
	journalFailed := sc.journalFailAt > 0 && len(journal.all()) >= sc.journalFailAt-1

	// Invariant: the release ended in a final phase, and the error is nil
	// exactly when it was promoted.
	if !res.Phase.Final() {
		return fmt.Errorf("release ended in non-final phase %s", res.Phase)
	}
	if (err == nil) != (res.Phase == strategy.PhasePromoted) {
		return fmt.Errorf("phase %s with error %v", res.Phase, err)
	}
	if st := r.Status(); st.Phase != res.Phase {
		return fmt.Errorf("status says %s, result %s", st.Phase, res.Phase)
	}
	// An Abort that was accepted is acted on.
	if aborted && res.Phase == strategy.PhasePromoted {
		return errors.New("an accepted Abort ended promoted")
	}
	// Invariant 1: failed, aborted or cancelled releases end on the stable
	// State; promoted ones on the final State.
	got := tgt.State()
	switch res.Phase {
	case strategy.PhasePromoted:
		if got != final {
			return fmt.Errorf("promoted but target is on %s", got)
		}
	case strategy.PhaseRolledBack:
		if got != stable {
			return fmt.Errorf("rolled back but target is on %s", got)
		}
		if res.RollbackFinished.IsZero() || res.RollbackFinished.Before(res.RollbackStarted) {
			return fmt.Errorf("rolled back at %v, started %v", res.RollbackFinished, res.RollbackStarted)
		}
	case strategy.PhaseDegraded:
		if !sc.failForGood && len(tgt.Faults) == 0 && !journalFailed {
			return fmt.Errorf("degraded without a fault that could cause it: %v", err)
		}
		if !errors.Is(err, strategy.ErrDegraded) {
			return fmt.Errorf("degraded with error %v", err)
		}
	case strategy.PhaseStopped:
		switch {
		case cancelled && opts.OnCancel.Leave:
		case journalFailed && errors.Is(err, strategy.ErrJournal):
		case errors.Is(err, strategy.ErrTarget):
		case cancelled && errors.Is(err, strategy.ErrCancelled) && len(history) == 0:
			// Cancelled before anything was applied: nothing to undo.
		default:
			return fmt.Errorf("stopped without an OnCancel.Leave cancellation or a journal failure: %v", err)
		}
	}
	// Invariant 2: traffic never moved onto capacity that was not ready.
	if err := strategytest.CheckCapacityBeforeTraffic(stable, history); err != nil {
		return err
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
				return fmt.Errorf("promoted without running analysis step %d", i)
			}
			for _, v := range sr.Verdicts {
				if v.Outcome != strategy.Pass {
					return fmt.Errorf("promoted although step %d ended with %s", i, v)
				}
			}
		}
		for _, v := range res.Verdicts {
			if v.Outcome == strategy.Fail && opts.OnFail.Allowed == 0 && !opts.OnFail.Pause {
				return fmt.Errorf("promoted despite a Fail verdict %s", v)
			}
		}
	}
	// Invariant 8: on the way down, traffic leaves a revision before its
	// capacity does (every Apply of the rollback).
	if k := firstRollbackApply(journal.all()); k >= 0 && k < len(history) {
		prev := stable
		if k > 0 {
			prev = history[k-1].State
		}
		if err := strategytest.CheckTrafficBeforeCapacity(prev, history[k:]); err != nil {
			return err
		}
	}
	// Invariant 4: every apply was recorded before it happened.
	if err := checkRecordedBeforeApplied(history, 0, journal.all()); err != nil {
		return err
	}
	// Result.Steps run in plan order: a step may run again, never an
	// earlier one.
	for k := 1; k < len(res.Steps); k++ {
		if res.Steps[k].Index < res.Steps[k-1].Index {
			return fmt.Errorf("step %d ran after step %d", res.Steps[k].Index, res.Steps[k-1].Index)
		}
	}
	return checkEvents(ev.snapshot(), res)
}

// checkEvents checks that the events tell the same story as the result:
// phase changes chain from Pending to the final phase, steps start and
// finish in pairs, and ReleaseFinished comes last, once.
func checkEvents(all []strategy.Event, res strategy.Result) error {
	if len(all) == 0 {
		return errors.New("no events")
	}
	if _, ok := all[len(all)-1].(strategy.ReleaseFinished); !ok {
		return fmt.Errorf("last event is %T, not ReleaseFinished", all[len(all)-1])
	}
	phase := strategy.PhasePending
	inStep := false
	rollbackFinished := 0
	for k, e := range all {
		switch e := e.(type) {
		case strategy.PhaseChanged:
			if e.From != phase {
				return fmt.Errorf("event %d: phase change from %s, but the phase was %s", k, e.From, phase)
			}
			phase = e.To
		case strategy.StepStarted:
			if inStep {
				return fmt.Errorf("event %d: a step started before the previous one finished", k)
			}
			inStep = true
		case strategy.StepFinished:
			if !inStep {
				return fmt.Errorf("event %d: a step finished that had not started", k)
			}
			inStep = false
		case strategy.RollbackFinished:
			rollbackFinished++
		case strategy.ReleaseFinished:
			if k != len(all)-1 {
				return fmt.Errorf("event %d: ReleaseFinished before the end", k)
			}
			if e.Result.Phase != res.Phase {
				return fmt.Errorf("ReleaseFinished says %s, the result %s", e.Result.Phase, res.Phase)
			}
		}
	}
	if phase != res.Phase {
		return fmt.Errorf("the phase events end on %s, the result on %s", phase, res.Phase)
	}
	if (rollbackFinished == 1) != (res.Phase == strategy.PhaseRolledBack) || rollbackFinished > 1 {
		return fmt.Errorf("%d RollbackFinished events for a release that ended %s", rollbackFinished, res.Phase)
	}
	return nil
}

// firstRollbackApply is the index in the target's history of the first
// Apply of the rollback (-1 when there was none): the history's length
// when the first rollback intent was recorded.
func firstRollbackApply(recs []journaled) int {
	for _, r := range recs {
		if r.rec.Kind == strategy.RecordIntent && r.rec.Rollback {
			return r.histLen
		}
	}
	return -1
}
