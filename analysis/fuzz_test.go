package analysis_test

import (
	"context"
	"math"
	"testing"

	"github.com/glidepath/glidepath/analysis"
	"github.com/glidepath/glidepath/analysis/analysistest"
	"github.com/glidepath/glidepath/strategy"
)

// FuzzCondition: any condition text either fails validation or judges any
// result shape without panicking, and the verdict is one of the three
// outcomes.
func FuzzCondition(f *testing.F) {
	for _, c := range []string{"result[0] >= 0.99", "isNaN(result)", "default(result, 0) <= 10", "all(result, {# < 0.5})",
		"asInt(result) == 3", "asFloat(result) > 1", "result[1][0] > 1", "len(result) > 0 && result[0] > 0.05", "isNil(result) || result > 1",
		"1/0 > 1", "result ?? 1", "{{x}}", ""} {
		f.Add(c, uint8(0))
	}
	values := []any{nil, 0.5, math.NaN(), math.Inf(-1), []float64{}, []float64{0.1, math.NaN()}, [][]float64{{1}, {}}, "0.9", "x", true, int64(7)}
	f.Fuzz(func(t *testing.T, cond string, which uint8) {
		c := &analysis.Check{Label: "m", Source: analysistest.Values(values[int(which)%len(values)]), SuccessCondition: cond, ConsecutiveErrorLimit: new(0)}
		if c.Validate() != nil {
			return
		}
		v, err := c.Analyze(context.Background(), strategy.Input{})
		if err != nil {
			t.Fatalf("%q: %v", cond, err)
		}
		switch v.Outcome {
		case strategy.Pass, strategy.Fail, strategy.Inconclusive:
		default:
			t.Fatalf("%q: outcome %q", cond, v.Outcome)
		}
	})
}
