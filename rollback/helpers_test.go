package rollback_test

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/glidepath/glidepath/rollback"
	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/strategytest"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		helperProcess(mode)
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

var (
	v1State = strategy.State{Stable: "v1", Replicas: strategy.Replicas{Stable: 4}}
)

// canaryPlan is a small canary: 25% with analysis, 100%, promote.
func canaryPlan(a strategy.Analyzer) strategy.Strategy {
	return strategy.StrategyFunc(func(stable, canary strategy.Revision) (strategy.Plan, error) {
		st := strategy.State{Stable: stable, Replicas: strategy.Replicas{Stable: 4}}
		return strategy.Plan{
			Strategy: "test-canary",
			Stable:   st,
			Steps: []strategy.Step{
				strategy.Apply(strategy.State{Stable: stable, Canary: canary, Weight: 25, Replicas: strategy.Replicas{Stable: 4, Canary: 1}}),
				strategy.Pause(time.Minute),
				strategy.Analyze(a),
				strategy.Apply(strategy.State{Stable: stable, Canary: canary, Weight: 100, Replicas: strategy.Replicas{Stable: 4, Canary: 4}}),
				strategy.Apply(strategy.State{Stable: canary, Replicas: strategy.Replicas{Stable: 4}}),
			},
		}, nil
	})
}

func stateOf(rev strategy.Revision) strategy.State {
	return strategy.State{Stable: rev, Replicas: strategy.Replicas{Stable: 4}}
}

func newManager(store rollback.Store, owner string) *rollback.Manager {
	return &rollback.Manager{Store: store, Owner: owner, LeaseTTL: 30 * time.Second}
}

// release runs a release of stable->canary through m and waits for it.
func release(t *testing.T, m *rollback.Manager, tgt strategy.Target, stable, canary strategy.Revision, outcome strategy.Outcome) (strategy.Result, error) {
	t.Helper()
	ro, err := m.Start(t.Context(), "svc", strategy.Release{Target: tgt, Stable: stable, Canary: canary,
		Strategy: canaryPlan(strategytest.Script("checks", outcome))})
	if err != nil {
		return strategy.Result{}, err
	}
	return ro.Wait(t.Context())
}

// subsequence reports the first applied State that is not the next
// recorded intent (in order), or -1.
func subsequence(intents, applied []strategy.State) int {
	j := 0
	for i, s := range applied {
		k := slices.Index(intents[j:], s)
		if k < 0 {
			return i
		}
		j += k + 1
	}
	return -1
}

func journalOf(t *testing.T, s rollback.Store, target string, e rollback.Entry) []strategy.Record {
	t.Helper()
	recs, err := s.Journal(context.WithoutCancel(t.Context()), target, e.Journal)
	if err != nil {
		t.Fatalf("journal %s: %v", e.Journal, err)
	}
	return recs
}
