package kubernetes_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/strategytest"
)

// TestConformance runs glidepath's target conformance suite against both
// targets on the real cluster. Each check gets a fresh workload that serves
// two ready replicas of v1.
func TestConformance(t *testing.T) {
	c := newCluster(t)
	initial := strategy.State{Stable: "v1", Replicas: strategy.Replicas{Stable: 2}}
	n := 0
	fresh := func(mk func(name string) strategy.Target) func() strategy.Target {
		return func() strategy.Target {
			n++
			tgt := mk(fmt.Sprintf("app%d", n))
			if err := tgt.Apply(t.Context(), initial); err != nil {
				t.Fatalf("applying the initial State: %v", err)
			}
			return tgt
		}
	}
	t.Run("GatewayTarget", func(t *testing.T) {
		strategytest.TestTarget(t, strategytest.Conformance{
			New:     fresh(func(name string) strategy.Target { return c.gateway(t, name) }),
			Initial: initial, Canary: "v2", Replicas: true, ReadyWithin: 90 * time.Second,
		})
	})
	t.Run("ServiceTarget", func(t *testing.T) {
		strategytest.TestTarget(t, strategytest.Conformance{
			New:     fresh(func(name string) strategy.Target { return c.service(t, name) }),
			Initial: initial, Canary: "v2", Replicas: true, ReadyWithin: 90 * time.Second,
		})
	})
}
