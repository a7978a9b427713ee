package bluegreen_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/glidepath/glidepath/bluegreen"
	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/strategytest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	oldRev strategy.Revision = "v1"
	newRev strategy.Revision = "v2"
)

func st(stable, canary strategy.Revision, weight, rs, rc int) strategy.State {
	return strategy.State{Stable: stable, Canary: canary, Weight: weight, Replicas: strategy.Replicas{Stable: rs, Canary: rc}}
}

var (
	live4  = st(oldRev, "", 0, 4, 0)
	final4 = st(newRev, "", 0, 4, 0)
)

func TestValidateNamesEveryProblem(t *testing.T) {
	c := &bluegreen.Config{
		Replicas: 3, CanaryReplicas: 5, ManualPromotion: true, AutoPromotionDelay: time.Minute,
		ProgressDeadline: -time.Second, PrePromotion: []strategy.Analyzer{nil}, PostPromotion: []strategy.Analyzer{strategytest.Script("ok"), nil},
	}
	err := c.Validate()
	if !errors.Is(err, strategy.ErrInvalidConfig) {
		t.Fatalf("Validate = %v, want ErrInvalidConfig", err)
	}
	for _, want := range []string{"CanaryReplicas (5) exceeds Replicas (3)", "has no effect with ManualPromotion",
		"ProgressDeadline is negative", "PrePromotion analyzer 0 is nil", "PostPromotion analyzer 1 is nil"} {
		if !strategytest.HasProblem(err, want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	neg := &bluegreen.Config{Replicas: -1, CanaryReplicas: -2, AutoPromotionDelay: -time.Second}
	err = neg.Validate()
	for _, want := range []string{"Replicas is negative (-1)", "CanaryReplicas is negative (-2)", "AutoPromotionDelay is negative"} {
		if !strategytest.HasProblem(err, want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if _, perr := neg.Plan(oldRev, newRev); !errors.Is(perr, strategy.ErrInvalidConfig) {
		t.Errorf("Plan of an invalid config = %v, want ErrInvalidConfig", perr)
	}
	if err := (&bluegreen.Config{}).Validate(); err != nil {
		t.Errorf("zero Config is invalid: %v", err)
	}
	if err := (&bluegreen.Config{Replicas: 4, CanaryReplicas: 4, AutoPromotionDelay: time.Second}).Validate(); err != nil {
		t.Errorf("valid config rejected: %v", err)
	}
}

type planStep struct {
	name  string
	kind  strategy.StepKind
	state strategy.State
	d     time.Duration
}

func describe(p strategy.Plan) []planStep {
	var out []planStep
	for _, s := range p.Steps {
		ps := planStep{name: s.Name, kind: s.Kind}
		switch s.Kind {
		case strategy.StepApply:
			ps.state = s.State
		case strategy.StepPause:
			ps.d = s.Duration
		case strategy.StepWaitReady:
			ps.d = s.Timeout
		}
		out = append(out, ps)
	}
	return out
}

func TestPlanSequence(t *testing.T) {
	pre, post := strategytest.Script("pre"), strategytest.Script("post")
	apply := func(name string, s strategy.State) planStep {
		return planStep{name: name, kind: strategy.StepApply, state: s}
	}
	wait := func(name string, d time.Duration) planStep {
		return planStep{name: name, kind: strategy.StepWaitReady, d: d}
	}
	pause := func(name string, d time.Duration) planStep {
		return planStep{name: name, kind: strategy.StepPause, d: d}
	}
	analyze := func(name string) planStep { return planStep{name: name, kind: strategy.StepAnalyze} }
	tests := []struct {
		name string
		cfg  bluegreen.Config
		want []planStep
	}{
		{"defaults", bluegreen.Config{Replicas: 4}, []planStep{
			apply("canary", st(oldRev, newRev, 0, 4, 4)), wait("canary-ready", 0),
			apply("switch", st(oldRev, newRev, 100, 4, 4)),
			pause("scale-down-delay", 30*time.Second),
			apply("finish", final4)}},
		{"everything", bluegreen.Config{Replicas: 4, CanaryReplicas: 1, PrePromotion: []strategy.Analyzer{pre},
			PostPromotion: []strategy.Analyzer{post}, ManualPromotion: true, ScaleDownDelay: time.Minute, ProgressDeadline: 5 * time.Minute}, []planStep{
			apply("canary", st(oldRev, newRev, 0, 4, 1)), wait("canary-ready", 5*time.Minute),
			analyze("pre-promotion"),
			pause("promotion-gate", 0),
			apply("scale-up", st(oldRev, newRev, 0, 4, 4)), wait("scale-up-ready", 5*time.Minute),
			apply("switch", st(oldRev, newRev, 100, 4, 4)),
			analyze("post-promotion"),
			pause("scale-down-delay", time.Minute),
			apply("finish", final4)}},
		{"auto promotion delay, no scale-down delay", bluegreen.Config{Replicas: 2, AutoPromotionDelay: 45 * time.Second, ScaleDownDelay: -1}, []planStep{
			apply("canary", st(oldRev, newRev, 0, 2, 2)), wait("canary-ready", 0),
			pause("promotion-gate", 45*time.Second),
			apply("switch", st(oldRev, newRev, 100, 2, 2)),
			apply("finish", st(newRev, "", 0, 2, 0))}},
		{"no instances", bluegreen.Config{}, []planStep{
			apply("canary", st(oldRev, newRev, 0, 0, 0)), wait("canary-ready", 0),
			apply("switch", st(oldRev, newRev, 100, 0, 0)),
			pause("scale-down-delay", 30*time.Second),
			apply("finish", st(newRev, "", 0, 0, 0))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := tt.cfg.Plan(oldRev, newRev)
			if err != nil {
				t.Fatal(err)
			}
			if got := describe(p); !slices.Equal(got, tt.want) {
				t.Errorf("steps:\n got %v\nwant %v", got, tt.want)
			}
			if p.Strategy != "bluegreen" || p.Final != tt.want[len(tt.want)-1].state {
				t.Errorf("strategy %q final %v", p.Strategy, p.Final)
			}
			if p.Stable != st(oldRev, "", 0, tt.cfg.Replicas, 0) {
				t.Errorf("stable %v", p.Stable)
			}
			if err := p.Validate(nil); err != nil {
				t.Errorf("plan problems: %v", err)
			}
		})
	}
}

func TestRollbackPaths(t *testing.T) {
	p, err := (&bluegreen.Config{Replicas: 4, CanaryReplicas: 2}).Plan(oldRev, newRev)
	if err != nil {
		t.Fatal(err)
	}
	keep, err := (&bluegreen.Config{Replicas: 4, CanaryReplicas: 2, KeepAborted: true}).Plan(oldRev, newRev)
	if err != nil {
		t.Fatal(err)
	}
	keep0, err := (&bluegreen.Config{KeepAborted: true}).Plan(oldRev, newRev)
	if err != nil {
		t.Fatal(err)
	}
	named := st(oldRev, newRev, 0, 0, 0)
	tests := []struct {
		name       string
		plan       strategy.Plan
		from       strategy.State
		want       []strategy.State
		wantStable strategy.State
	}{
		{"keep without instances: the revision stays named", keep0, st(oldRev, newRev, 100, 0, 0), []strategy.State{named}, named},
		{"keep without instances: nothing started", keep0, st(oldRev, "", 0, 0, 0), []strategy.State{st(oldRev, "", 0, 0, 0)}, named},
		{"before anything", p, live4, []strategy.State{live4}, live4},
		{"preview", p, st(oldRev, newRev, 0, 4, 2), []strategy.State{live4}, live4},
		{"switched: one apply", p, st(oldRev, newRev, 100, 4, 4), []strategy.State{live4}, live4},
		{"after finish: capacity first", p, final4, []strategy.State{st(oldRev, newRev, 100, 4, 4), live4}, live4},
		{"keep: preview stays", keep, st(oldRev, newRev, 0, 4, 2), []strategy.State{st(oldRev, newRev, 0, 4, 2)}, st(oldRev, newRev, 0, 4, 2)},
		{"keep: switched goes back to preview scale", keep, st(oldRev, newRev, 100, 4, 4), []strategy.State{st(oldRev, newRev, 0, 4, 2)}, st(oldRev, newRev, 0, 4, 2)},
		{"keep: nothing started", keep, live4, []strategy.State{live4}, st(oldRev, newRev, 0, 4, 2)},
		{"keep: after finish", keep, final4, []strategy.State{st(oldRev, newRev, 100, 4, 4), st(oldRev, newRev, 0, 4, 2)}, st(oldRev, newRev, 0, 4, 2)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.plan.Rollback(tt.from); !slices.Equal(got, tt.want) {
				t.Errorf("Rollback(%v) =\n %v\nwant %v", tt.from, got, tt.want)
			}
			if tt.plan.Stable != tt.wantStable {
				t.Errorf("Plan.Stable = %v, want %v", tt.plan.Stable, tt.wantStable)
			}
		})
	}
}

// events collects the names of started steps.
type events struct{ ch chan string }

func newEvents() *events { return &events{ch: make(chan string, 1024)} }

func (e *events) OnEvent(ev strategy.Event) {
	if s, ok := ev.(strategy.StepStarted); ok {
		select {
		case e.ch <- s.Step.Name:
		default:
		}
	}
}

// awaitStep reads started steps until name starts, then lets the bubble
// settle so that the step is under way. Gates met on the way are promoted.
func (e *events) awaitStep(t *testing.T, r *strategy.Rollout, name string) {
	t.Helper()
	for {
		select {
		case got := <-e.ch:
			if got == name {
				synctest.Wait()
				return
			}
			if got == bluegreen.StepGate {
				synctest.Wait()
				if err := r.Promote(); err != nil {
					t.Fatal(err)
				}
			}
		case <-t.Context().Done():
			t.Fatalf("step %q never started", name)
		}
	}
}

// servedUnready is stricter than strategytest.CheckCapacityBeforeTraffic: it lists every
// applied State in which a revision that receives any traffic (not only one
// whose share rose) did not have all the instances that State asks of it
// ready when it was applied.
func servedUnready(hist []strategytest.Applied) []string {
	var out []string
	for i, h := range hist {
		for _, rev := range []strategy.Revision{h.State.Stable, h.State.Canary} {
			if rev == "" || h.State.Share(rev) == 0 {
				continue
			}
			if got, need := h.ReadyBefore.ReadyCount(rev), h.State.Needs(rev); got < need {
				out = append(out, fmt.Sprintf("apply %d (%s): %s serves %d%% of traffic with %d of %d instances ready",
					i, h.State, rev, h.State.Share(rev), got, need))
			}
		}
	}
	return out
}

func checkServedReady(t *testing.T, hist []strategytest.Applied) {
	t.Helper()
	for _, v := range servedUnready(hist) {
		t.Error(v)
	}
}

func newTarget() *strategytest.Target {
	tgt := strategytest.NewTarget(live4)
	tgt.ReadyAfter = 20 * time.Second
	return tgt
}

func TestCleanPromotion(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tgt := newTarget()
		pre, post := strategytest.Script("pre", strategy.Pass), strategytest.Script("post", strategy.Pass)
		start := time.Now()
		res, err := strategy.Run(t.Context(), strategy.Release{Target: tgt, Stable: oldRev, Canary: newRev,
			Strategy: &bluegreen.Config{Replicas: 4, CanaryReplicas: 2, PrePromotion: []strategy.Analyzer{pre}, PostPromotion: []strategy.Analyzer{post}}})
		if err != nil || res.Phase != strategy.PhasePromoted {
			t.Fatalf("Run = %v, %v", res.Phase, err)
		}
		hist := tgt.History()
		want := []strategy.State{st(oldRev, newRev, 0, 4, 2), st(oldRev, newRev, 0, 4, 4), st(oldRev, newRev, 100, 4, 4), final4}
		if got := tgt.States(); !slices.Equal(got, want) {
			t.Fatalf("history %v\nwant %v", got, want)
		}
		// Analysis saw the preview (pre) and the switched State (post).
		if in := pre.Inputs(); len(in) != 1 || in[0].State != want[0] {
			t.Errorf("pre-promotion inputs %v", in)
		}
		if in := post.Inputs(); len(in) != 1 || in[0].State != want[2] {
			t.Errorf("post-promotion inputs %v", in)
		}
		// Each wait took the instances' start-up time, and the old
		// revision was kept for the default scale-down delay.
		at := func(i int) time.Duration { return hist[i].At.Sub(start) }
		if at(1) != 20*time.Second || at(2) != 40*time.Second || at(3) != 70*time.Second {
			t.Errorf("applies at %v %v %v, want 20s 40s 70s", at(1), at(2), at(3))
		}
		if err := strategytest.CheckCapacityBeforeTraffic(live4, hist); err != nil {
			t.Error(err)
		}
		checkServedReady(t, hist)
	})
}

func TestPrePromotionFailKeepsLiveTraffic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tgt := newTarget()
		post := strategytest.Script("post")
		res, err := strategy.Run(t.Context(), strategy.Release{Target: tgt, Stable: oldRev, Canary: newRev,
			Strategy: &bluegreen.Config{Replicas: 4, PrePromotion: []strategy.Analyzer{strategytest.Script("pre", strategy.Fail)},
				PostPromotion: []strategy.Analyzer{post}}})
		if !errors.Is(err, strategy.ErrAnalysisFailed) || res.Phase != strategy.PhaseRolledBack {
			t.Fatalf("Run = %v, %v", res.Phase, err)
		}
		for i, h := range tgt.History() {
			if h.State.Share(oldRev) != 100 {
				t.Errorf("apply %d (%s) took traffic from the live revision", i, h.State)
			}
		}
		if got := tgt.States(); !slices.Equal(got, []strategy.State{st(oldRev, newRev, 0, 4, 4), live4}) {
			t.Errorf("history %v", got)
		}
		if post.Calls() != 0 {
			t.Errorf("post-promotion analysis ran %d times", post.Calls())
		}
	})
}

func TestPostPromotionFailSwitchesBackInOneApply(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tgt := newTarget()
		post := &strategytest.Analyzer{ID: "post", Answers: []strategytest.Answer{{Outcome: strategy.Fail, After: 2 * time.Minute}}}
		res, err := strategy.Run(t.Context(), strategy.Release{Target: tgt, Stable: oldRev, Canary: newRev,
			Strategy: &bluegreen.Config{Replicas: 4, CanaryReplicas: 1, PostPromotion: []strategy.Analyzer{post}}})
		if !errors.Is(err, strategy.ErrAnalysisFailed) || res.Phase != strategy.PhaseRolledBack {
			t.Fatalf("Run = %v, %v", res.Phase, err)
		}
		switched := st(oldRev, newRev, 100, 4, 4)
		hist := tgt.History()
		k := slices.IndexFunc(hist, func(h strategytest.Applied) bool { return h.State == switched })
		if k < 0 {
			t.Fatalf("never switched: %v", tgt.States())
		}
		if in := post.Inputs(); len(in) != 1 || in[0].State != switched {
			t.Fatalf("post-promotion analysis did not judge the switched State: %v", in)
		}
		var verdictAt time.Time
		for _, v := range res.Verdicts {
			if v.Analyzer == "post" && v.Outcome == strategy.Fail {
				verdictAt = v.At
			}
		}
		after := hist[k+1:]
		if len(after) != 1 || after[0].State != live4 {
			t.Fatalf("after the switch: %v, want exactly one Apply of %v", after, live4)
		}
		if after[0].At.Before(verdictAt) || after[0].At.Sub(verdictAt) != 0 {
			t.Errorf("switch-back at %v, verdict at %v: the switch back should be immediate", after[0].At, verdictAt)
		}
		if !after[0].At.Equal(hist[k].At.Add(2 * time.Minute)) {
			t.Errorf("switch-back %v after the switch, want 2m", after[0].At.Sub(hist[k].At))
		}
		// The old revision was serving at full capacity when it took the
		// traffic back.
		if got := after[0].ReadyBefore.ReadyCount(oldRev); got != 4 {
			t.Errorf("old revision had %d ready instances at the switch-back", got)
		}
		if err := strategytest.CheckCapacityBeforeTraffic(live4, hist); err != nil {
			t.Error(err)
		}
		checkServedReady(t, hist)
	})
}

func TestManualGateWaitsForPromote(t *testing.T) {
	for _, preview := range []int{0, 1} {
		t.Run(fmt.Sprintf("preview=%d", preview), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tgt := newTarget()
				ev := newEvents()
				r, err := strategy.Start(t.Context(), strategy.Release{Target: tgt, Stable: oldRev, Canary: newRev, Observer: ev,
					Strategy: &bluegreen.Config{Replicas: 4, CanaryReplicas: preview, ManualPromotion: true, ScaleDownDelay: -1}})
				if err != nil {
					t.Fatal(err)
				}
				ev.awaitStep(t, r, bluegreen.StepGate)
				// A day later it is still waiting, with no traffic on the
				// new revision and only its preview scale running.
				timer := time.NewTimer(24 * time.Hour)
				<-timer.C
				synctest.Wait()
				s := r.Status()
				if s.Phase != strategy.PhasePaused || s.PauseReason != strategy.PausedForStep || r.Plan().Steps[s.Step].Name != bluegreen.StepGate {
					t.Fatalf("status %+v, want paused at the gate", s)
				}
				pv := 4
				if preview > 0 {
					pv = preview
				}
				if got := tgt.State(); got != st(oldRev, newRev, 0, 4, pv) {
					t.Fatalf("target %v while waiting for promotion, want the preview scale %d", got, pv)
				}
				promoted := time.Now()
				if err := r.Promote(); err != nil {
					t.Fatal(err)
				}
				res, err := r.Wait(t.Context())
				if err != nil || res.Phase != strategy.PhasePromoted || tgt.State() != final4 {
					t.Fatalf("after Promote: %v %v %v", res.Phase, err, tgt.State())
				}
				// After Promote the new revision is brought to full
				// capacity, and waited for, before it takes the traffic.
				want := []strategy.State{st(oldRev, newRev, 0, 4, pv), st(oldRev, newRev, 100, 4, 4), final4}
				if preview > 0 {
					want = []strategy.State{st(oldRev, newRev, 0, 4, pv), st(oldRev, newRev, 0, 4, 4), st(oldRev, newRev, 100, 4, 4), final4}
				}
				if got := tgt.States(); !slices.Equal(got, want) {
					t.Fatalf("history %v\nwant %v", got, want)
				}
				hist := tgt.History()
				if preview > 0 {
					if d := hist[2].At.Sub(promoted); d != 20*time.Second {
						t.Errorf("switched %v after Promote, want the 20s the new instances take to start", d)
					}
				}
				checkServedReady(t, hist)
			})
		})
	}
}

func TestAutoPromotionDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tgt := newTarget()
		_, err := strategy.Run(t.Context(), strategy.Release{Target: tgt, Stable: oldRev, Canary: newRev,
			Strategy: &bluegreen.Config{Replicas: 4, AutoPromotionDelay: 5 * time.Minute, ScaleDownDelay: time.Minute}})
		if err != nil {
			t.Fatal(err)
		}
		h := tgt.History()
		if len(h) != 3 {
			t.Fatalf("history %v", tgt.States())
		}
		// ready after 20s, then the 5m gate; then the 1m scale-down delay.
		if d := h[1].At.Sub(h[0].At); d != 20*time.Second+5*time.Minute {
			t.Errorf("switch %v after the preview, want 5m20s", d)
		}
		if d := h[2].At.Sub(h[1].At); d != time.Minute {
			t.Errorf("old revision removed %v after the switch, want 1m", d)
		}
	})
}

func TestAbortDuringEveryPhase(t *testing.T) {
	phases := []string{bluegreen.StepCanaryReady, bluegreen.StepPrePromotion, bluegreen.StepScaleUpReady,
		bluegreen.StepGate, bluegreen.StepPostPromotion, bluegreen.StepScaleDown}
	for _, phase := range phases {
		t.Run(phase, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tgt := newTarget()
				ev := newEvents()
				slow := func(name string) *strategytest.Analyzer {
					return &strategytest.Analyzer{ID: name, Answers: []strategytest.Answer{{Outcome: strategy.Pass, After: time.Hour}}}
				}
				r, err := strategy.Start(t.Context(), strategy.Release{Target: tgt, Stable: oldRev, Canary: newRev, Observer: ev,
					Strategy: &bluegreen.Config{Replicas: 4, CanaryReplicas: 2, ManualPromotion: true,
						PrePromotion: []strategy.Analyzer{slow("pre")}, PostPromotion: []strategy.Analyzer{slow("post")}}})
				if err != nil {
					t.Fatal(err)
				}
				ev.awaitStep(t, r, phase)
				if phase == bluegreen.StepGate {
					// Promote is the only way on; abort instead.
					if s := r.Status(); s.Phase != strategy.PhasePaused {
						t.Fatalf("gate not paused: %+v", s)
					}
				}
				before := len(tgt.History())
				if err := r.Abort(); err != nil {
					t.Fatal(err)
				}
				res, err := r.Wait(t.Context())
				if !errors.Is(err, strategy.ErrAborted) || res.Phase != strategy.PhaseRolledBack {
					t.Fatalf("Wait = %v, %v", res.Phase, err)
				}
				if got := tgt.State(); got != live4 {
					t.Fatalf("target ends on %v, want %v", got, live4)
				}
				// The old revision never stopped running at full
				// capacity, so the way back is one Apply.
				if n := len(tgt.History()) - before; n != 1 {
					t.Errorf("%d applies after Abort, want 1: %v", n, tgt.States()[before:])
				}
				hist := tgt.History()
				if err := strategytest.CheckCapacityBeforeTraffic(live4, hist); err != nil {
					t.Error(err)
				}
				checkServedReady(t, hist)
			})
		})
	}
}

func TestAbortedRevisionKept(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tgt := newTarget()
		_, err := strategy.Run(t.Context(), strategy.Release{Target: tgt, Stable: oldRev, Canary: newRev,
			Strategy: &bluegreen.Config{Replicas: 4, CanaryReplicas: 2, KeepAborted: true,
				PostPromotion: []strategy.Analyzer{strategytest.Script("post", strategy.Fail)}}})
		if !errors.Is(err, strategy.ErrAnalysisFailed) {
			t.Fatal(err)
		}
		states := tgt.States()
		if got := states[len(states)-1]; got != st(oldRev, newRev, 0, 4, 2) {
			t.Errorf("ends on %v, want the failed revision kept at preview scale with no traffic", got)
		}
		if states[len(states)-2] != st(oldRev, newRev, 100, 4, 4) {
			t.Errorf("history %v", states)
		}
	})
}

// A release that fails after the old revision was removed (here: resumed
// from a journal that recorded the final State, and told to roll back)
// starts the old revision again before moving traffic onto it.
func TestRollbackAfterFinishRestoresCapacityFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tgt := strategytest.NewTarget(final4)
		tgt.ReadyAfter = 20 * time.Second
		res, err := strategy.Run(t.Context(), strategy.Release{Target: tgt, Stable: oldRev, Canary: newRev,
			Strategy: &bluegreen.Config{Replicas: 4},
			Resume:   &strategy.Checkpoint{Step: 4, State: final4, Rollback: true}})
		if !errors.Is(err, strategy.ErrAborted) || res.Phase != strategy.PhaseRolledBack {
			t.Fatalf("Run = %v %v", res.Phase, err)
		}
		hist := tgt.History()
		want := []strategy.State{st(oldRev, newRev, 100, 4, 4), live4}
		if got := tgt.States(); !slices.Equal(got, want) {
			t.Fatalf("history %v, want %v", got, want)
		}
		if d := hist[1].At.Sub(hist[0].At); d != 20*time.Second {
			t.Errorf("traffic moved back %v after the old revision was started, want 20s", d)
		}
		if err := strategytest.CheckCapacityBeforeTraffic(final4, hist); err != nil {
			t.Error(err)
		}
		checkServedReady(t, hist)
	})
}

// TestNeverTrafficOnUnreadyCapacity runs every path through the plan with
// slow-starting instances and checks each applied State against the
// readiness the target reported just before it.
func TestNeverTrafficOnUnreadyCapacity(t *testing.T) {
	post := func(o strategy.Outcome) []strategy.Analyzer {
		return []strategy.Analyzer{&strategytest.Analyzer{ID: "post", Answers: []strategytest.Answer{{Outcome: o, After: time.Minute}}}}
	}
	cases := []struct {
		name string
		cfg  bluegreen.Config
		ok   bool
	}{
		{"full preview", bluegreen.Config{Replicas: 5}, true},
		{"small preview", bluegreen.Config{Replicas: 5, CanaryReplicas: 1}, true},
		{"post fail", bluegreen.Config{Replicas: 5, CanaryReplicas: 2, PostPromotion: post(strategy.Fail)}, false},
		{"post pass", bluegreen.Config{Replicas: 5, CanaryReplicas: 3, PostPromotion: post(strategy.Pass), ScaleDownDelay: -1}, true},
		{"pre fail", bluegreen.Config{Replicas: 5, CanaryReplicas: 3, PrePromotion: []strategy.Analyzer{strategytest.Script("pre", strategy.Fail)}}, false},
		{"no instances", bluegreen.Config{}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				initial := st(oldRev, "", 0, tc.cfg.Replicas, 0)
				tgt := strategytest.NewTarget(initial)
				tgt.ReadyAfter = 45 * time.Second
				res, err := strategy.Run(t.Context(), strategy.Release{Target: tgt, Stable: oldRev, Canary: newRev, Strategy: &tc.cfg})
				if (err == nil) != tc.ok {
					t.Fatalf("Run = %v %v", res.Phase, err)
				}
				hist := tgt.History()
				if len(hist) < 2 {
					t.Fatalf("history too short to mean anything: %v", tgt.States())
				}
				if err := strategytest.CheckCapacityBeforeTraffic(initial, hist); err != nil {
					t.Error(err)
				}
				checkServedReady(t, hist)
			})
		})
	}
}

// servedUnready must catch a State that sends traffic to a revision whose
// instances are still starting.
func TestServedUnreadyCatchesViolations(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tgt := strategytest.NewTarget(live4)
		tgt.ReadyAfter = time.Minute
		ctx := t.Context()
		if err := tgt.Apply(ctx, st(oldRev, newRev, 0, 4, 4)); err != nil {
			t.Fatal(err)
		}
		if err := tgt.Apply(ctx, st(oldRev, newRev, 100, 4, 4)); err != nil {
			t.Fatal(err)
		}
		got := servedUnready(tgt.History())
		if len(got) != 1 || !strings.Contains(got[0], "v2 serves 100% of traffic with 0 of 4 instances ready") {
			t.Errorf("violations %q", got)
		}
	})
}

// PromoteFull during pre-promotion analysis of a small preview still
// scales the new revision to full capacity before it takes the traffic.
func TestPromoteFullFromSmallPreview(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tgt := newTarget()
		ev := newEvents()
		slow := &strategytest.Analyzer{ID: "pre", Answers: []strategytest.Answer{{Outcome: strategy.Pass, After: time.Hour}}}
		r, err := strategy.Start(t.Context(), strategy.Release{Target: tgt, Stable: oldRev, Canary: newRev, Observer: ev,
			Strategy: &bluegreen.Config{Replicas: 4, CanaryReplicas: 1, PrePromotion: []strategy.Analyzer{slow}}})
		if err != nil {
			t.Fatal(err)
		}
		ev.awaitStep(t, r, bluegreen.StepPrePromotion)
		if err := r.PromoteFull(); err != nil {
			t.Fatal(err)
		}
		res, err := r.Wait(t.Context())
		if err != nil || res.Phase != strategy.PhasePromoted || tgt.State() != final4 {
			t.Fatalf("PromoteFull: %v %v %v", res.Phase, err, tgt.State())
		}
		hist := tgt.History()
		if err := strategytest.CheckCapacityBeforeTraffic(live4, hist); err != nil {
			t.Error(err)
		}
		checkServedReady(t, hist)
	})
}

func TestAbortScaleDownDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		live := strategy.State{Stable: oldRev, Replicas: strategy.Replicas{Stable: 4}}
		tgt := strategytest.NewTarget(live)
		cfg := &bluegreen.Config{Replicas: 4, AbortScaleDownDelay: 40 * time.Second,
			PostPromotion: []strategy.Analyzer{strategytest.Script("errors", strategy.Fail)}}
		res, err := strategy.Run(t.Context(), strategy.Release{Target: tgt, Stable: oldRev, Canary: newRev, Strategy: cfg})
		if !errors.Is(err, strategy.ErrAnalysisFailed) || tgt.State() != live {
			t.Fatalf("%s %v %s", res.Phase, err, tgt.State())
		}
		h := tgt.History()
		n := len(h)
		back := strategy.State{Stable: oldRev, Canary: newRev, Replicas: strategy.Replicas{Stable: 4, Canary: 4}}
		if h[n-2].State != back || h[n-1].At.Sub(h[n-2].At) != 40*time.Second {
			t.Fatalf("want traffic back at once and the failed revision removed 40s later; got %s then %s after %v",
				h[n-2].State, h[n-1].State, h[n-1].At.Sub(h[n-2].At))
		}
		if err := strategytest.CheckCapacityBeforeTraffic(live, h); err != nil {
			t.Fatal(err)
		}
	})
	if err := (&bluegreen.Config{KeepAborted: true, AbortScaleDownDelay: time.Second}).Validate(); err == nil {
		t.Fatal("KeepAborted with a delay was accepted")
	}
}

// A preview that fails before any user saw it is kept for the abort
// scale-down delay too.
func TestAbortScaleDownDelayBeforeTheSwitch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		live := strategy.State{Stable: oldRev, Replicas: strategy.Replicas{Stable: 4}}
		tgt := strategytest.NewTarget(live)
		cfg := &bluegreen.Config{Replicas: 4, CanaryReplicas: 2, AbortScaleDownDelay: 40 * time.Second,
			PrePromotion: []strategy.Analyzer{strategytest.Script("smoke", strategy.Fail)}}
		res, err := strategy.Run(t.Context(), strategy.Release{Target: tgt, Stable: oldRev, Canary: newRev, Strategy: cfg})
		if !errors.Is(err, strategy.ErrAnalysisFailed) || tgt.State() != live {
			t.Fatalf("%s %v %s", res.Phase, err, tgt.State())
		}
		h := tgt.History()
		n := len(h)
		if h[n-1].At.Sub(res.FailedAt) != 40*time.Second {
			t.Fatalf("the failed preview was removed %v after the verdict, want 40s", h[n-1].At.Sub(res.FailedAt))
		}
		for _, a := range h {
			if a.State.Share(newRev) > 0 {
				t.Fatalf("the preview got traffic: %s", a.State)
			}
		}
	})
}
