package rollback_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/glidepath/glidepath/rollback"
	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/strategytest"
)

// halfThenAll is a two-step plan: half the traffic, then all of it.
var halfThenAll = strategy.StrategyFunc(func(stable, canary strategy.Revision) (strategy.Plan, error) {
	return strategy.Plan{Strategy: "half-then-all", Steps: []strategy.Step{
		strategy.Apply(strategy.State{Stable: stable, Canary: canary, Weight: 50, Replicas: strategy.Replicas{Stable: 3, Canary: 3}}),
		strategy.Apply(strategy.State{Stable: canary, Replicas: strategy.Replicas{Stable: 3}}),
	}}, nil
})

func ExampleManager_Start() {
	ctx := context.Background()
	m := &rollback.Manager{Store: rollback.NewMemStore(), Owner: "deployer-1"}
	tgt := strategytest.NewTarget(strategy.State{Stable: "v1", Replicas: strategy.Replicas{Stable: 3}})

	ro, err := m.Start(ctx, "checkout", strategy.Release{Target: tgt, Stable: "v1", Canary: "v2", Strategy: halfThenAll})
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := ro.Wait(ctx)
	fmt.Println(res.Phase, err, tgt.State())

	hist, _ := m.History(ctx, "checkout")
	for _, e := range hist {
		fmt.Printf("%s: %s -> %s by %s, %s\n", e.Journal, e.Stable, e.Canary, e.Strategy, e.Phase)
	}
	// Output:
	// Promoted <nil> stable=v2 replicas=3/0
	// 000001: v1 -> v2 by half-then-all, Promoted
}

func ExampleManager_Undo() {
	ctx := context.Background()
	// Undo to either of the two revisions before the current one is immediate.
	m := &rollback.Manager{Store: rollback.NewMemStore(), Owner: "deployer-1", Window: 3}
	tgt := strategytest.NewTarget(strategy.State{Stable: "v1", Replicas: strategy.Replicas{Stable: 3}})
	for _, canary := range []strategy.Revision{"v2", "v3"} {
		ro, err := m.Start(ctx, "checkout", strategy.Release{Target: tgt, Stable: tgt.State().Stable, Canary: canary, Strategy: halfThenAll})
		if err != nil {
			fmt.Println(err)
			return
		}
		ro.Wait(ctx)
	}

	// v3 turns out bad after its release: back to v2, capacity first.
	before := len(tgt.States())
	ro, err := m.Undo(ctx, "checkout", strategy.Release{Target: tgt})
	if err != nil {
		fmt.Println(err)
		return
	}
	res, _ := ro.Wait(ctx)
	fmt.Println(res.Strategy, res.Phase)
	for _, s := range tgt.States()[before:] {
		fmt.Println(" ", s)
	}

	// Releasing v3 again needs rollback.AllowRolledBack().
	_, err = m.Start(ctx, "checkout", strategy.Release{Target: tgt, Stable: "v2", Canary: "v3", Strategy: halfThenAll})
	fmt.Println(errors.Is(err, rollback.ErrRolledBackBefore))
	// Output:
	// undo Promoted
	//   stable=v3 canary=v2 weight=0% replicas=3/3
	//   stable=v3 canary=v2 weight=100% replicas=3/3
	//   stable=v2 replicas=3/0
	// true
}

func ExampleManager_Resume() {
	ctx := context.Background()
	store := rollback.NewMemStore()
	tgt := strategytest.NewTarget(strategy.State{Stable: "v1", Replicas: strategy.Replicas{Stable: 3}})
	withApproval := strategy.StrategyFunc(func(stable, canary strategy.Revision) (strategy.Plan, error) {
		return strategy.Plan{Strategy: "approval", Steps: []strategy.Step{
			strategy.Apply(strategy.State{Stable: stable, Canary: canary, Weight: 20, Replicas: strategy.Replicas{Stable: 3, Canary: 1}}),
			strategy.Pause(0).Named("approval"),
			strategy.Apply(strategy.State{Stable: canary, Replicas: strategy.Replicas{Stable: 3}}),
		}}, nil
	})
	paused := make(chan struct{}, 1)
	onPause := strategy.ObserverFunc(func(e strategy.Event) {
		if pc, ok := e.(strategy.PhaseChanged); ok && pc.To == strategy.PhasePaused {
			paused <- struct{}{}
		}
	})

	// The first process starts the release and stops while it waits for
	// approval, leaving the target as recorded.
	first := &rollback.Manager{Store: store, Owner: "host-a"}
	runCtx, stop := context.WithCancel(ctx)
	ro, _ := first.Start(runCtx, "checkout", strategy.Release{Target: tgt, Stable: "v1", Canary: "v2",
		Strategy: withApproval, Observer: onPause, Options: strategy.Options{OnCancel: strategy.Policy{Leave: true}}})
	<-paused
	stop()
	res, _ := ro.Wait(ctx)
	fmt.Println("first process:", res.Phase, tgt.State())

	// Another process picks it up from the journal.
	second := &rollback.Manager{Store: store, Owner: "host-b"}
	p, _ := second.Pending(ctx, "checkout")
	fmt.Println("pending:", p.Active.Release, "at step", p.Progress.Checkpoint.Step)
	ro, err := second.Resume(ctx, "checkout", strategy.Release{Target: tgt, Strategy: withApproval, Observer: onPause},
		rollback.ResumeOptions{Mode: rollback.Continue})
	if err != nil {
		fmt.Println(err)
		return
	}
	<-paused
	ro.Promote() // approved
	res, _ = ro.Wait(ctx)
	fmt.Println("second process:", res.Phase, tgt.State())
	hist, _ := second.History(ctx, "checkout")
	fmt.Println("resumed", hist[0].Resumed, "time(s)")
	// Output:
	// first process: Stopped stable=v1 canary=v2 weight=20% replicas=3/1
	// pending: v1->v2 at step 1
	// second process: Promoted stable=v2 replicas=3/0
	// resumed 1 time(s)
}

func ExampleOpenFileStore() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "glidepath-example")
	defer os.RemoveAll(dir)
	store, err := rollback.OpenFileStore(dir, rollback.FileOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	m := &rollback.Manager{Store: store, Owner: "deployer-1"}
	tgt := strategytest.NewTarget(strategy.State{Stable: "v1", Replicas: strategy.Replicas{Stable: 3}})
	ro, _ := m.Start(ctx, "checkout", strategy.Release{Target: tgt, Stable: "v1", Canary: "v2", Strategy: halfThenAll})
	ro.Wait(ctx)

	// Every step was recorded, checksummed and synced before it was applied.
	recs, err := store.Journal(ctx, "checkout", "000001")
	for _, r := range recs {
		switch {
		case r.State != nil:
			fmt.Println(r.Kind, *r.State)
		case r.Kind == strategy.RecordStep:
			fmt.Println(r.Kind, "next", r.Step)
		case r.Phase != "":
			fmt.Println(r.Kind, r.Phase)
		default:
			fmt.Println(r.Kind, r.Strategy, r.Fingerprint != "")
		}
	}
	fmt.Println(err, rollback.Replay(recs).Phase)
	// Output:
	// started half-then-all true
	// intent stable=v1 canary=v2 weight=0% replicas=3/3
	// applied stable=v1 canary=v2 weight=0% replicas=3/3
	// intent stable=v1 canary=v2 weight=50% replicas=3/3
	// applied stable=v1 canary=v2 weight=50% replicas=3/3
	// step next 1
	// intent stable=v2 replicas=3/0
	// applied stable=v2 replicas=3/0
	// step next 2
	// phase Promoted
	// finished Promoted
	// <nil> Promoted
}

func ExampleRollBackAfter() {
	ctx := context.Background()
	m := &rollback.Manager{Store: rollback.NewMemStore(), Owner: "deployer-1"}
	tgt := strategytest.NewTarget(strategy.State{Stable: "v1"})
	checks := strategytest.Script("error-rate", strategy.Fail)
	plan := strategy.StrategyFunc(func(stable, canary strategy.Revision) (strategy.Plan, error) {
		return strategy.Plan{Strategy: "checked", Steps: []strategy.Step{
			strategy.Apply(strategy.State{Stable: stable, Canary: canary, Weight: 10}),
			strategy.Analyze(checks),
			strategy.Apply(strategy.State{Stable: canary}),
		}}, nil
	})
	ro, _ := m.Start(ctx, "checkout", strategy.Release{Target: tgt, Stable: "v1", Canary: "v2", Strategy: plan,
		Options: strategy.Options{OnFail: rollback.RollBackAfter(3)}})
	res, err := ro.Wait(ctx)
	fmt.Println(res.Phase, checks.Calls(), "analyses,", errors.Is(err, strategy.ErrAnalysisFailed))
	// Output:
	// RolledBack 3 analyses, true
}
