package glidepath_test

import (
	"strings"
	"testing"

	"github.com/glidepath/glidepath"
	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/strategytest"
)

// On a target that cannot split traffic by weight, the reasons say which
// shares the canary really gets.
func TestRecommendNamesInstanceShares(t *testing.T) {
	rec, err := glidepath.Recommend(glidepath.Change{Risk: glidepath.RiskHigh, Replicas: 4,
		Analyzers: []strategy.Analyzer{strategytest.Script("errors", strategy.Pass)}})
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(rec.Reasons, "\n")
	if !strings.Contains(all, "so the canary actually gets 20, 25, 50, 75% of traffic") {
		t.Fatalf("reasons do not name the real shares:\n%s", all)
	}
}
