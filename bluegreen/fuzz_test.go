package bluegreen_test

import (
	"testing"
	"time"

	"github.com/glidepath/glidepath/bluegreen"
	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/strategytest"
)

// Whatever the configuration, Validate and Plan never panic and agree; an
// accepted plan is one the executor accepts, never gives traffic to the new
// revision below full capacity, and rolls back from any of its States to
// the rollback point.
func FuzzPlan(f *testing.F) {
	f.Add(4, 1, true, int64(0), int64(0), false, true, true)
	f.Add(0, 0, false, int64(time.Minute), int64(-1), true, false, false)
	f.Add(-1, 5, true, int64(-1), int64(30*time.Second), true, true, true)
	f.Add(3, 3, false, int64(time.Hour), int64(1), false, false, true)
	f.Fuzz(func(t *testing.T, n, preview int, manual bool, delay, scaleDown int64, keep, pre, post bool) {
		cfg := bluegreen.Config{Replicas: n, CanaryReplicas: preview, ManualPromotion: manual,
			AutoPromotionDelay: time.Duration(delay), ScaleDownDelay: time.Duration(scaleDown), KeepAborted: keep}
		if pre {
			cfg.PrePromotion = []strategy.Analyzer{strategytest.Script("pre")}
		}
		if post {
			cfg.PostPromotion = []strategy.Analyzer{strategytest.Script("post")}
		}
		p, accepted, err := strategytest.CheckStrategy(cfg, "v1", "v2")
		if err != nil {
			t.Fatal(err)
		}
		if !accepted {
			return
		}
		for _, s := range p.Steps {
			if s.Kind != strategy.StepApply {
				continue
			}
			if s.State.Share("v2") > 0 && s.State.Desired("v2") < n {
				t.Fatalf("%s sends traffic to the new revision below its full %d instances", s.State, n)
			}
			if path := p.Rollback(s.State); len(path) == 0 || path[len(path)-1] != p.Stable {
				t.Fatalf("rollback from %s is %v, want it to end on %s", s.State, path, p.Stable)
			}
		}
	})
}
