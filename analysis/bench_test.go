package analysis_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/glidepath/glidepath/analysis"
	"github.com/glidepath/glidepath/analysis/analysistest"
	"github.com/glidepath/glidepath/strategy"
)

// BenchmarkCheck measures one whole check run: rendering a templated
// query, one measurement from a fake source and both conditions.
func BenchmarkCheck(b *testing.B) {
	c := &analysis.Check{
		Label:            "success-rate",
		Source:           analysis.SourceFunc(func(context.Context, analysis.Query) (any, error) { return []float64{0.995, 0.98}, nil }),
		Query:            `sum(rate(http_requests_total{rev="{{release.canary}}",code!~"5.."}[{{args.w}}])) / sum(rate(http_requests_total{rev="{{release.canary}}"}[{{args.w}}]))`,
		Args:             []analysis.Arg{{Name: "w", Value: "5m"}},
		SuccessCondition: "all(result, {# >= 0.97})",
		FailureCondition: "result[0] < 0.9",
	}
	if err := c.Validate(); err != nil {
		b.Fatal(err)
	}
	in := input()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		v, err := c.Analyze(ctx, in)
		if err != nil || v.Outcome != strategy.Pass {
			b.Fatal(v, err)
		}
	}
}

// BenchmarkGroup measures a group of ten single-measurement checks.
func BenchmarkGroup(b *testing.B) {
	g := &analysis.Group{Label: "g"}
	for i := range 10 {
		g.Analyzers = append(g.Analyzers, &analysis.Check{Label: fmt.Sprint("c", i), Source: analysistest.Values(1.0), SuccessCondition: "result > 0.5"})
	}
	in := input()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		v, err := g.Analyze(ctx, in)
		if err != nil || v.Outcome != strategy.Pass {
			b.Fatal(v, err)
		}
	}
}
