package analysistest_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/glidepath/glidepath/analysis"
	"github.com/glidepath/glidepath/analysis/analysistest"
	"github.com/glidepath/glidepath/strategy"
)

// A scripted source: an error, an empty result, then good values. The
// check waits for data (MinSamples) and tolerates the error.
func ExampleScript() {
	src := analysistest.Script(
		analysistest.Err(errors.New("connection refused")),
		analysistest.Empty(),
		analysistest.Value([]float64{0.999}),
	)
	check := &analysis.Check{
		Label:            "success-rate",
		Source:           src,
		Query:            `rate{rev="{{release.canary}}"}`,
		SuccessCondition: "result[0] >= 0.99",
		MinSamples:       1,
		Interval:         time.Millisecond,
		Count:            2,
	}
	v, err := check.Analyze(context.Background(), strategy.Input{Canary: "v2"})
	fmt.Println(v.Outcome, err, src.Calls(), src.Queries()[0].Text)
	for _, m := range v.Measurements {
		fmt.Printf("%q %q %q\n", m.Value, m.Outcome, m.Error)
	}
	// Output:
	// Pass <nil> 4 rate{rev="v2"}
	// "" "" "connection refused"
	// "[]" "" ""
	// "[0.999]" "Pass" ""
	// "[0.999]" "Pass" ""
}

// A source computed per call.
func ExampleFunc() {
	src := analysistest.Func(func(_ context.Context, call int, _ analysis.Query) (any, error) {
		return float64(call) * 0.1, nil
	})
	v, _ := src.Measure(context.Background(), analysis.Query{})
	w, _ := src.Measure(context.Background(), analysis.Query{})
	fmt.Println(v, w)
	// Output: 0 0.1
}
