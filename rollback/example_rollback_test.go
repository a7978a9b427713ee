package rollback_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/glidepath/glidepath/rollback"
	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/strategytest"
)

// A release stopped at 40% whose configuration changed since: continuing
// is refused with what changed, and rolling back needs no plan.
func ExampleManager_Resume_rollBack() {
	ctx := context.Background()
	store := rollback.NewMemStore()
	tgt := strategytest.NewTarget(strategy.State{Stable: "v1", Replicas: strategy.Replicas{Stable: 3}})
	canary := func(weight int) strategy.Strategy {
		return strategy.StrategyFunc(func(stable, canary strategy.Revision) (strategy.Plan, error) {
			return strategy.Plan{Strategy: "canary", Stable: strategy.State{Stable: stable, Replicas: strategy.Replicas{Stable: 3}}, Steps: []strategy.Step{
				strategy.Apply(strategy.State{Stable: stable, Canary: canary, Weight: weight, Replicas: strategy.Replicas{Stable: 3, Canary: 2}}).
					Named(fmt.Sprintf("canary %d%%", weight)),
				strategy.Pause(0).Named("approval"),
				strategy.Apply(strategy.State{Stable: canary, Replicas: strategy.Replicas{Stable: 3}}),
			}}, nil
		})
	}
	paused := make(chan struct{}, 1)
	onPause := strategy.ObserverFunc(func(e strategy.Event) {
		if pc, ok := e.(strategy.PhaseChanged); ok && pc.To == strategy.PhasePaused {
			paused <- struct{}{}
		}
	})

	// The release stops at 40%, waiting for approval.
	first := &rollback.Manager{Store: store, Owner: "host-a"}
	runCtx, stop := context.WithCancel(ctx)
	ro, _ := first.Start(runCtx, "checkout", strategy.Release{Target: tgt, Stable: "v1", Canary: "v2",
		Strategy: canary(40), Observer: onPause, Options: strategy.Options{OnCancel: strategy.Policy{Leave: true}}})
	<-paused
	stop()
	ro.Wait(ctx)
	fmt.Println("stopped at:", tgt.State())

	// The configuration now says 50%: continuing is refused, naming the step.
	second := &rollback.Manager{Store: store, Owner: "host-b"}
	_, err := second.Resume(ctx, "checkout", strategy.Release{Target: tgt, Strategy: canary(50)}, rollback.ResumeOptions{})
	var pc *rollback.PlanChangedError
	if errors.As(err, &pc) && errors.Is(err, rollback.ErrPlanChanged) {
		fmt.Println("refused:", pc.Differences[0])
	}

	// Rolling back needs only the target: the stable State was recorded.
	ro, err = second.Resume(ctx, "checkout", strategy.Release{Target: tgt}, rollback.ResumeOptions{Mode: rollback.RollBack})
	if err != nil {
		fmt.Println(err)
		return
	}
	res, _ := ro.Wait(ctx)
	hist, _ := second.History(ctx, "checkout")
	fmt.Println(res.Phase, tgt.State(), "history:", hist[0].Phase)
	// Output:
	// stopped at: stable=v1 canary=v2 weight=40% replicas=3/2
	// refused: step 0 (canary 40%): name canary 40% → canary 50%, weight 40 → 50
	// RolledBack stable=v1 replicas=3/0 history: RolledBack
}
