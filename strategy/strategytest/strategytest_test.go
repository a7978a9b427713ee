package strategytest_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/strategytest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var initial = strategy.State{Stable: "v1", Replicas: strategy.Replicas{Stable: 3}}

func TestConformanceOfFakeTarget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		strategytest.TestTarget(t, strategytest.Conformance{
			New: func() strategy.Target {
				tgt := strategytest.NewTarget(initial)
				tgt.ReadyAfter = 5 * time.Second
				tgt.HeaderRouting = true
				return tgt
			},
			Initial:  initial,
			Canary:   "v2",
			Replicas: true,
		})
	})
}

func TestReadiness(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tgt := strategytest.NewTarget(initial)
		tgt.ReadyAfter = 10 * time.Second
		s := strategy.State{Stable: "v1", Canary: "v2", Replicas: strategy.Replicas{Stable: 3, Canary: 2}}
		if err := tgt.Apply(t.Context(), s); err != nil {
			t.Fatal(err)
		}
		obs, _ := tgt.Observe(t.Context())
		if obs.Ready != (strategy.Replicas{Stable: 3, Canary: 0}) {
			t.Fatalf("right after apply: ready %+v", obs.Ready)
		}
		time.Sleep(10 * time.Second) // fake time inside the bubble
		obs, _ = tgt.Observe(t.Context())
		if obs.Ready != (strategy.Replicas{Stable: 3, Canary: 2}) || !obs.Satisfies(s) {
			t.Fatalf("after the delay: ready %+v", obs.Ready)
		}
		tgt.NeverReady = []strategy.Revision{"v2"}
		obs, _ = tgt.Observe(t.Context())
		if obs.Ready.Canary != 0 {
			t.Fatalf("NeverReady revision reports %d ready", obs.Ready.Canary)
		}
	})
}

func TestFaults(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		boom := errors.New("boom")
		tgt := strategytest.NewTarget(initial)
		tgt.Faults = []strategytest.Fault{
			{Op: strategytest.OpApply, After: 1, Times: 2, Err: boom},
			{Op: strategytest.OpObserve, After: 0, For: time.Minute},
		}
		var errs []error
		for range 4 {
			errs = append(errs, tgt.Apply(t.Context(), initial))
		}
		if errs[0] != nil || !errors.Is(errs[1], boom) || !errors.Is(errs[2], boom) || errs[3] != nil {
			t.Fatalf("apply errors %v, want nil, boom, boom, nil", errs)
		}
		if _, err := tgt.Observe(t.Context()); !errors.Is(err, strategytest.ErrInjected) {
			t.Fatalf("observe during the fault window: %v", err)
		}
		time.Sleep(time.Minute)
		if _, err := tgt.Observe(t.Context()); err != nil {
			t.Fatalf("observe after the fault window: %v", err)
		}
		if got := len(tgt.History()); got != 2 {
			t.Fatalf("history has %d entries, want the 2 successful applies", got)
		}
	})
}

func TestHangAndPermanent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tgt := strategytest.NewTarget(initial)
		tgt.Faults = []strategytest.Fault{{Op: strategytest.OpApply, Times: 1, Hang: true}, {Op: strategytest.OpApply, After: 1, Permanent: true}}
		ctx, cancel := context.WithTimeout(t.Context(), time.Hour)
		defer cancel()
		start := time.Now()
		if err := tgt.Apply(ctx, initial); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != time.Hour {
			t.Fatalf("hang: %v after %v", err, time.Since(start))
		}
		if err := tgt.Apply(t.Context(), initial); !strategy.IsPermanent(err) {
			t.Fatalf("permanent fault not marked: %v", err)
		}
	})
}

func TestCheckCapacityBeforeTraffic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tgt := strategytest.NewTarget(initial)
		tgt.ReadyAfter = time.Minute
		// Moving traffic onto a canary whose instances are still starting
		// must be reported.
		bad := strategy.State{Stable: "v1", Canary: "v2", Weight: 50, Replicas: strategy.Replicas{Stable: 3, Canary: 2}}
		if err := tgt.Apply(t.Context(), bad); err != nil {
			t.Fatal(err)
		}
		if err := strategytest.CheckCapacityBeforeTraffic(initial, tgt.History()); err == nil {
			t.Fatal("CheckCapacityBeforeTraffic accepted traffic on unready capacity")
		}
		good := strategytest.NewTarget(initial)
		good.ReadyAfter = time.Minute
		up := bad
		up.Weight = 0
		_ = good.Apply(t.Context(), up)
		time.Sleep(time.Minute)
		_ = good.Apply(t.Context(), bad)
		if err := strategytest.CheckCapacityBeforeTraffic(initial, good.History()); err != nil {
			t.Fatalf("CheckCapacityBeforeTraffic rejected a capacity-first history: %v", err)
		}
	})
}

func TestScriptedAnalyzer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		boom := errors.New("source down")
		a := &strategytest.Analyzer{ID: "s", Answers: []strategytest.Answer{
			{Outcome: strategy.Pass}, {Err: boom}, {Outcome: strategy.Fail, After: time.Minute},
		}}
		v, err := a.Analyze(t.Context(), strategy.Input{})
		if err != nil || v.Outcome != strategy.Pass {
			t.Fatalf("1: %v %v", v, err)
		}
		if _, err := a.Analyze(t.Context(), strategy.Input{}); !errors.Is(err, boom) {
			t.Fatalf("2: %v", err)
		}
		start := time.Now()
		v, _ = a.Analyze(t.Context(), strategy.Input{})
		if v.Outcome != strategy.Fail || time.Since(start) != time.Minute {
			t.Fatalf("3: %v after %v", v, time.Since(start))
		}
		v, _ = a.Analyze(t.Context(), strategy.Input{}) // the last answer repeats
		if v.Outcome != strategy.Fail || a.Calls() != 4 {
			t.Fatalf("4: %v, calls %d", v, a.Calls())
		}
	})
}

// forgetful is a broken target: it ignores Apply, and Observe with a
// cancelled context blocks until stop is closed.
type forgetful struct {
	*strategytest.Target
	stop chan struct{}
}

func (f *forgetful) Apply(ctx context.Context, s strategy.State) error { return nil }
func (f *forgetful) Observe(ctx context.Context) (strategy.Observation, error) {
	if ctx.Err() != nil {
		<-f.stop
	}
	return f.Target.Observe(context.WithoutCancel(ctx))
}

func TestConformanceCatchesBrokenTargets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		stop := make(chan struct{})
		err := strategytest.CheckTarget(t.Context(), strategytest.Conformance{
			New:         func() strategy.Target { return &forgetful{Target: strategytest.NewTarget(initial), stop: stop} },
			Initial:     initial,
			Canary:      "v2",
			ReadyWithin: time.Minute,
		})
		close(stop)
		if err == nil {
			t.Fatal("the suite passed a target that ignores Apply")
		}
		for _, want := range []string{"ApplyThenObserve", "ApplyIsIdempotent", "CancelledContext"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("the suite did not report %s: %v", want, err)
			}
		}
	})
}

// brokenStrategy validates one thing and plans another, and its rollback
// ends nowhere.
type brokenStrategy struct{ calls *int }

func (b brokenStrategy) Validate() error {
	return strategy.Invalid("broken", "always invalid")
}
func (b brokenStrategy) Plan(stable, canary strategy.Revision) (strategy.Plan, error) {
	*b.calls++
	return strategy.Plan{
		Steps:    []strategy.Step{strategy.Apply(strategy.State{Stable: stable, Canary: canary, Weight: *b.calls})},
		Rollback: func(strategy.State) []strategy.State { return nil },
	}, nil
}

func TestCheckStrategyCatchesBrokenStrategies(t *testing.T) {
	calls := 0
	_, _, err := strategytest.CheckStrategy(brokenStrategy{&calls}, "v1", "v2")
	if err == nil {
		t.Fatal("CheckStrategy passed a broken strategy")
	}
	for _, want := range []string{"Validate = ", "not pure", "the rollback from"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("not reported: %q in\n%v", want, err)
		}
	}
	good := strategy.StrategyFunc(func(stable, canary strategy.Revision) (strategy.Plan, error) {
		return strategy.Plan{Steps: []strategy.Step{strategy.Apply(strategy.State{Stable: canary})}}, nil
	})
	if _, ok, err := strategytest.CheckStrategy(good, "v1", "v2"); !ok || err != nil {
		t.Fatalf("a good strategy: accepted %v, %v", ok, err)
	}
}

func TestFaultAfterPrevious(t *testing.T) {
	tgt := strategytest.NewTarget(strategy.State{Stable: "v1"})
	tgt.Faults = []strategytest.Fault{
		{Op: strategytest.OpApply, After: 1, Times: 1, Applied: true},
		{Op: strategytest.OpObserve, AfterPrevious: true, Times: 1},
	}
	ctx := t.Context()
	s := strategy.State{Stable: "v1", Canary: "v2", Weight: 10}
	for i := range 3 {
		if _, err := tgt.Observe(ctx); err != nil {
			t.Fatalf("observe %d before the lost reply: %v", i, err)
		}
	}
	if err := tgt.Apply(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := tgt.Apply(ctx, s); err == nil {
		t.Fatal("the second Apply should lose its reply")
	}
	if _, err := tgt.Observe(ctx); err == nil {
		t.Fatal("the Observe after the lost reply should fail")
	}
	if obs, err := tgt.Observe(ctx); err != nil || obs.State != s {
		t.Fatalf("then observe works again: %v %v", obs.State, err)
	}
}

// unfenced claims the fencing capability but ignores the token.
type unfenced struct{ *strategytest.Target }

func (u unfenced) ApplyFenced(ctx context.Context, s strategy.State, _ uint64) error {
	return u.Apply(ctx, s)
}

// The conformance suite catches a target that claims fencing but lets a
// stale holder write.
func TestConformanceCatchesIgnoredFencingToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		err := strategytest.CheckTarget(t.Context(), strategytest.Conformance{
			New:     func() strategy.Target { return unfenced{strategytest.NewTarget(initial)} },
			Initial: initial, Canary: "v2", Replicas: true,
		})
		if err == nil || !strings.Contains(err.Error(), "Fencing") {
			t.Fatalf("a target that ignores fencing tokens passed: %v", err)
		}
	})
}
