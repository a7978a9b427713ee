package strategy_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/strategytest"
)

// A release is a target, two revisions and a strategy. Here the strategy
// is a hand-written plan; packages canary, bluegreen and rolling build
// plans from a config. The scripted analysis fails at 20% of traffic, so
// the executor rolls back: traffic first leaves the canary, then the
// canary is removed.
func ExampleRun() {
	tgt := strategytest.NewTarget(strategy.State{Stable: "v1"})
	plan := strategy.StrategyFunc(func(stable, canary strategy.Revision) (strategy.Plan, error) {
		return strategy.Plan{Strategy: "by-hand", Steps: []strategy.Step{
			strategy.Apply(strategy.State{Stable: stable, Canary: canary, Weight: 20}),
			strategy.Analyze(strategytest.Script("error-rate", strategy.Fail)),
			strategy.Apply(strategy.State{Stable: stable, Canary: canary, Weight: 100}),
			strategy.Apply(strategy.State{Stable: canary}),
		}}, nil
	})
	res, err := strategy.Run(context.Background(), strategy.Release{
		Target: tgt, Stable: "v1", Canary: "v2", Strategy: plan,
	})
	fmt.Println("phase:", res.Phase)
	fmt.Println("analysis failed:", errors.Is(err, strategy.ErrAnalysisFailed))
	for _, s := range tgt.States() {
		fmt.Println("applied:", s)
	}
	// Output:
	// phase: RolledBack
	// analysis failed: true
	// applied: stable=v1 canary=v2 weight=0%
	// applied: stable=v1 canary=v2 weight=20%
	// applied: stable=v1 canary=v2 weight=0%
	// applied: stable=v1
}

// Start returns a handle for operator controls: here the release pauses
// until promoted, and a person promotes it.
func ExampleStart() {
	tgt := strategytest.NewTarget(strategy.State{Stable: "v1"})
	plan := strategy.StrategyFunc(func(stable, canary strategy.Revision) (strategy.Plan, error) {
		return strategy.Plan{Strategy: "by-hand", Steps: []strategy.Step{
			strategy.Apply(strategy.State{Stable: stable, Canary: canary, Weight: 10}),
			strategy.Pause(0).Named("approval"),
			strategy.Apply(strategy.State{Stable: canary}),
		}}, nil
	})
	// An observer says when the release pauses for a person.
	paused := make(chan struct{}, 1)
	watch := strategy.ObserverFunc(func(e strategy.Event) {
		if pc, ok := e.(strategy.PhaseChanged); ok && pc.To == strategy.PhasePaused {
			select {
			case paused <- struct{}{}:
			default:
			}
		}
	})
	r, err := strategy.Start(context.Background(), strategy.Release{Target: tgt, Stable: "v1", Canary: "v2", Strategy: plan, Observer: watch})
	if err != nil {
		panic(err)
	}
	<-paused
	st := r.Status()
	fmt.Printf("%s at step %d (%s): %s\n", st.Phase, st.Step, st.PauseReason, st.State)
	_ = r.Promote()
	res, err := r.Wait(context.Background())
	fmt.Println(res.Phase, err, tgt.State())
	// Output:
	// Paused at step 1 (PauseStep): stable=v1 canary=v2 weight=10%
	// Promoted <nil> stable=v2
}

// Validate reports every problem of a release at once, before anything is
// applied.
func ExampleValidate() {
	plan := strategy.StrategyFunc(func(stable, canary strategy.Revision) (strategy.Plan, error) {
		return strategy.Plan{Steps: []strategy.Step{
			strategy.Apply(strategy.State{Stable: stable, Canary: canary, Weight: 150}),
			strategy.Pause(-time.Minute),
			strategy.Analyze(),
		}}, nil
	})
	_, err := strategy.Validate(strategy.Release{Target: strategytest.NewTarget(strategy.State{Stable: "v1"}), Stable: "v1", Canary: "v2", Strategy: plan})
	fmt.Println(err)
	// Output:
	// invalid configuration: release v1->v2
	//   - final state: weight 150 is outside 0..100
	//   - step 0 (apply): weight 150 is outside 0..100
	//   - step 1 (pause): negative duration -1m0s
	//   - step 2 (analyze): no analyzers
}
