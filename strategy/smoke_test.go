package strategy_test

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/strategytest"
)

func simplePlan(a strategy.Analyzer) strategy.Strategy {
	return planOf(strategy.Apply(at(25, 1)), strategy.Pause(time.Minute), strategy.Analyze(a), strategy.Apply(at(100, 4)), strategy.Apply(final4))
}

func TestSmoke(t *testing.T) {
	for _, outcome := range []strategy.Outcome{strategy.Pass, strategy.Fail} {
		t.Run(string(outcome), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tgt := strategytest.NewTarget(strategy.State{Stable: "v1", Replicas: strategy.Replicas{Stable: 4}})
				tgt.ReadyAfter = 10 * time.Second
				res, err := strategy.Run(t.Context(), strategy.Release{
					Target: tgt, Stable: "v1", Canary: "v2",
					Strategy: simplePlan(strategytest.Script("a", outcome)),
				})
				if outcome == strategy.Pass {
					if err != nil || res.Phase != strategy.PhasePromoted {
						t.Fatalf("got %v %v", res.Phase, err)
					}
					if got := tgt.State(); got != (strategy.State{Stable: "v2", Replicas: strategy.Replicas{Stable: 4}}) {
						t.Fatalf("final %v", got)
					}
				} else {
					if !errors.Is(err, strategy.ErrAnalysisFailed) || res.Phase != strategy.PhaseRolledBack {
						t.Fatalf("got %v %v", res.Phase, err)
					}
					if got := tgt.State(); got != (strategy.State{Stable: "v1", Replicas: strategy.Replicas{Stable: 4}}) {
						t.Fatalf("final %v", got)
					}
				}
				if err := strategytest.CheckCapacityBeforeTraffic(strategy.State{Stable: "v1", Replicas: strategy.Replicas{Stable: 4}}, tgt.History()); err != nil {
					t.Fatal(err)
				}
				for _, h := range tgt.History() {
					t.Logf("%v %s", h.At.Format(time.TimeOnly), h.State)
				}
			})
		})
	}
}
