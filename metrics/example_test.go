package metrics_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/glidepath/glidepath/canary"
	"github.com/glidepath/glidepath/metrics"
	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/strategytest"
)

// Register a Collector on your registry and give it to each release as its
// observer, with the name of the target the release goes to.
func Example() {
	c, err := metrics.New(metrics.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)

	target := strategytest.NewTarget(strategy.State{Stable: "v1"})
	cfg := canary.Config{Steps: []canary.Step{
		canary.SetWeight(25),
		canary.Analysis(strategytest.Script("error-rate", strategy.Pass)),
		canary.SetWeight(50),
		canary.Analysis(strategytest.Script("latency", strategy.Fail)),
	}}
	res, err := strategy.Run(context.Background(), strategy.Release{
		Target: target, Stable: "v1", Canary: "v2", Strategy: cfg,
		Observer: c.ForTarget("checkout"),
	})
	fmt.Println(res.Phase, metrics.Cause(err))

	// What a scrape would show, less the histograms.
	text, err := testutil.GatherAndFormat(reg, expfmt.TypeTextPlain,
		"glidepath_releases_finished_total", "glidepath_analysis_verdicts_total", "glidepath_rollbacks_total")
	if err != nil {
		fmt.Println(err)
		return
	}
	for line := range strings.Lines(string(text)) {
		if !strings.HasPrefix(line, "#") {
			fmt.Print(line)
		}
	}
	// Output:
	// RolledBack analysis_failed
	// glidepath_analysis_verdicts_total{analyzer="error-rate",outcome="Pass",target="checkout"} 1
	// glidepath_analysis_verdicts_total{analyzer="latency",outcome="Fail",target="checkout"} 1
	// glidepath_releases_finished_total{outcome="RolledBack",strategy="canary",target="checkout"} 1
	// glidepath_rollbacks_total{cause="analysis_failed",target="checkout"} 1
}
