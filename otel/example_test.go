package otel_test

import (
	"context"
	"fmt"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/glidepath/glidepath/canary"
	gpotel "github.com/glidepath/glidepath/otel"
	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/strategytest"
)

// Trace a release: give the Observer to the release and read the spans
// from any OpenTelemetry exporter (here the SDK's in-memory one).
func Example() {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer func() { _ = tp.Shutdown(context.Background()) }()

	res, _ := strategy.Run(context.Background(), strategy.Release{
		Name: "checkout", Target: strategytest.NewTarget(strategy.State{Stable: "v1"}), Stable: "v1", Canary: "v2",
		Strategy: canary.Config{Steps: []canary.Step{
			canary.SetWeight(20),
			canary.Analysis(strategytest.Script("error-rate", strategy.Fail)),
		}},
		Observer: gpotel.New(gpotel.Options{TracerProvider: tp}),
	})
	fmt.Println(res.Phase)
	fmt.Print(render(exp.GetSpans(), false)) // the tree, without durations
	// Output:
	// RolledBack
	// glidepath.release RolledBack ERROR
	//   * glidepath.phase_changed glidepath.to=Progressing
	//   * glidepath.phase_changed glidepath.to=RollingBack
	//   * glidepath.phase_changed glidepath.to=RolledBack
	//   * exception
	//   glidepath.step deploy canary: apply stable=v1 canary=v2 weight=0%
	//     glidepath.apply stable=v1 canary=v2 weight=0%
	//   glidepath.step deploy canary: wait until ready
	//   glidepath.step setWeight 20: apply stable=v1 canary=v2 weight=20%
	//     glidepath.apply stable=v1 canary=v2 weight=20%
	//   glidepath.step analyze [error-rate] ERROR
	//     * exception
	//     glidepath.analysis error-rate ERROR
	//       * glidepath.verdict glidepath.outcome=Fail
	//   glidepath.rollback
	//     glidepath.apply stable=v1 canary=v2 weight=0%
	//     glidepath.apply stable=v1
}
