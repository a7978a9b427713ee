package judge_test

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/glidepath/glidepath/analysis/judge"
	"github.com/glidepath/glidepath/strategy"
)

// R's help-page example for wilcox.test: W = 35, p-value = 0.1272 for the
// one-sided alternative "greater".
func ExampleRankSum() {
	x := []float64{0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46}
	y := []float64{1.15, 0.88, 0.90, 0.74, 1.21}
	r, err := judge.RankSum(x, y, judge.Greater, 0.95)
	if err != nil {
		panic(err)
	}
	fmt.Printf("W = %g, p-value = %.4f, exact = %v\n", r.W, r.PValue, r.Exact)
	fmt.Printf("shift %.3f, 95%% interval [%.2f, %v)\n", r.Estimate, r.Lower, r.Upper)
	// Output:
	// W = 35, p-value = 0.1272, exact = true
	// shift 0.305, 95% interval [-0.08, +Inf)
}

func ExampleComparison() {
	// Per-minute p50 latency (ms) and error counts of each revision.
	data := map[string][2][]float64{
		"latency": {{101, 99, 103, 98, 100, 102, 97, 101}, {131, 128, 135, 127, 133, 129, 130, 134}},
		"errors":  {{0, 1, 0, 0, 2, 0, 1, 0}, {1, 0, 0, 1, 0, 0, 2, 0}},
	}
	src := judge.SampleFunc(func(_ context.Context, _ strategy.Input, metric string) ([]float64, []float64, error) {
		d := data[metric]
		return d[0], d[1], nil
	})
	aca := &judge.Comparison{
		Source: src,
		Metrics: []judge.Metric{
			{Name: "latency", Direction: judge.Increase, AllowedIncrease: 1.1},
			{Name: "errors", Direction: judge.Increase, NaN: judge.ReplaceNaN},
		},
	}
	v, err := aca.Analyze(context.Background(), strategy.Input{})
	if err != nil {
		panic(err)
	}
	fmt.Println(v.Outcome, "-", v.Reason)
	for _, m := range v.Measurements[1:] {
		fmt.Println(m.Name, m.Condition)
	}
	// Output:
	// Fail - score 50.0 below marginal 75: latency High
	// latency class=High
	// errors class=Pass
}

// Without a history (SetHistory) the test cannot know how bursty failures
// are, so it starts from a conservative dispersion that the intervals of
// the release lower as they accumulate.
func ExampleRateTest() {
	test, err := (&judge.Sequential{}).NewTest() // Alpha 0.01, Regression 2
	if err != nil {
		panic(err)
	}
	// Each minute: the baseline serves 5,400 requests with 0.5% failing,
	// the canary 600 with 1% failing.
	for minute := 1; ; minute++ {
		d, err := test.Observe(judge.Counts{Trials: 5400, Failures: 27}, judge.Counts{Trials: 600, Failures: 6})
		if err != nil {
			panic(err)
		}
		if d.Decided() {
			fmt.Printf("minute %d: %s, failure rate %.1fx the baseline's\n", minute, d.Outcome, d.Ratio)
			break
		}
	}
	// Output:
	// minute 6: Fail, failure rate 2.0x the baseline's
}

func ExampleSequential() {
	// Cumulative counters that grow with each reading: the canary fails
	// 3% of its requests, the baseline 0.5%.
	var reads float64
	src := judge.CountFunc(func(context.Context, strategy.Input) (judge.Counts, judge.Counts, error) {
		n := reads
		reads++
		return judge.Counts{Trials: 9000 * n, Failures: 45 * n}, judge.Counts{Trials: 1000 * n, Failures: 30 * n}, nil
	})
	seq := &judge.Sequential{Source: src, Interval: time.Millisecond}
	v, err := seq.Analyze(context.Background(), strategy.Input{})
	if err != nil {
		panic(err)
	}
	fmt.Println(v.Outcome)
	fmt.Println(v.Measurements[2].Name, v.Measurements[2].Value)
	// Output:
	// Fail
	// rate ratio 6
}

func ExampleLatencyTest() {
	test, err := (&judge.SequentialLatency{}).NewTest() // Alpha 0.01, Regression 1.2
	if err != nil {
		panic(err)
	}
	// Latency histograms (seconds) of one minute each: the baseline serves
	// 900 requests, half of them within 100 ms; the canary serves 100, of
	// which only 35 are within 100 ms.
	bounds := []float64{0.05, 0.1, 0.12, 0.25, 0.5}
	baseline := judge.Histogram{Bounds: bounds, Counts: []float64{90, 450, 560, 850, 890}, Count: 900}
	canary := judge.Histogram{Bounds: bounds, Counts: []float64{5, 35, 50, 90, 98}, Count: 100}
	for minute := 1; ; minute++ {
		d, err := test.Observe(baseline, canary)
		if err != nil {
			panic(err)
		}
		if d.Decided() {
			fmt.Printf("minute %d: %s, %.0f%% of the canary's requests slower than %g s, %.0f%% of the baseline's\n",
				minute, d.Outcome, 100*d.CanaryAbove, d.Threshold, 100*d.BaselineAbove)
			break
		}
	}
	// Without a history (LatencyTest.SetHistory) the test cannot know how
	// much latency varies from minute to minute, so it starts from a
	// conservative assumption (slow minutes) that the baseline's intervals
	// lower as they accumulate.

	// Output:
	// minute 7: Fail, 65% of the canary's requests slower than 0.1 s, 50% of the baseline's
}

func ExampleSequentialLatency() {
	// Cumulative latency histograms that grow with each reading, as
	// Prometheus exports them: the canary's requests are slower.
	bounds := []float64{0.05, 0.1, 0.12, 0.25, math.Inf(1)}
	var reads float64
	src := judge.LatencyFunc(func(context.Context, strategy.Input) (judge.Histogram, judge.Histogram, error) {
		n := reads
		reads++
		b := judge.Histogram{Bounds: bounds, Counts: []float64{900 * n, 4500 * n, 5600 * n, 8500 * n, 9000 * n}, Count: 9000 * n}
		c := judge.Histogram{Bounds: bounds, Counts: []float64{50 * n, 300 * n, 450 * n, 900 * n, 1000 * n}, Count: 1000 * n}
		return b, c, nil
	})
	seq := &judge.SequentialLatency{Source: src, Interval: time.Millisecond}
	v, err := seq.Analyze(context.Background(), strategy.Input{})
	if err != nil {
		panic(err)
	}
	fmt.Println(v.Outcome)
	for _, m := range v.Measurements[:3] {
		fmt.Println(m.Name, m.Value)
	}
	// Output:
	// Fail
	// threshold 0.1
	// canary above 0.7 of 4000
	// baseline above 0.5 of 36000
}

func ExampleHistogram() {
	h := judge.NewHistogram(0.1, 0.25, 0.5)
	for _, seconds := range []float64{0.08, 0.12, 0.3, 0.09, 0.7} {
		h.Observe(seconds)
	}
	fmt.Println(h.Counts, h.Count)
	fmt.Println("slower than 0.25 s:", h.Above(1))
	// Output:
	// [2 3 4] 5
	// slower than 0.25 s: 2
}

// The baseline's history tells the test how bursty failures are before
// the canary has served a request. One minute in which the canary fails 20
// of its 600 requests against the baseline's 30 of 5,400 (six times the
// baseline's rate) fails it when the history shows steady failures (27 a
// minute); when it shows bursts (0 or 60 a minute, 30 on average) the
// minute is weighed as the burst it may well be. Without a history the
// test assumes failures may be that bursty until the release shows
// otherwise.
func ExampleRateTest_SetHistory() {
	steady := make([]judge.Counts, 20)
	bursty := make([]judge.Counts, 20)
	for minute := range 20 {
		steady[minute] = judge.Counts{Trials: 5400, Failures: 27}
		bursty[minute] = judge.Counts{Trials: 5400, Failures: float64(60 * (minute % 2))}
	}
	for _, h := range []struct {
		name string
		c    []judge.Counts
	}{{"none", nil}, {"steady", steady}, {"bursty", bursty}} {
		test, err := (&judge.Sequential{}).NewTest()
		if err != nil {
			panic(err)
		}
		if err := test.SetHistory(h.c); err != nil {
			panic(err)
		}
		d, err := test.Observe(judge.Counts{Trials: 5400, Failures: 30}, judge.Counts{Trials: 600, Failures: 20})
		if err != nil {
			panic(err)
		}
		fmt.Printf("history %s: dispersion %.1f, evidence of a regression %.3g, %q\n", h.name, d.Dispersion, d.FailEvidence, d.Outcome)
	}
	// Output:
	// history none: dispersion 189.9, evidence of a regression 1.05, ""
	// history steady: dispersion 1.0, evidence of a regression 1.01e+06, "Fail"
	// history bursty: dispersion 107.2, evidence of a regression 1.1, ""
}

// A source of in-process counters cannot read the past, so a judge reading
// it starts a release without a history. A Recorder started with the
// process remembers the baseline's readings, and the judge reads them as
// it reads Prometheus' past.
func ExampleRecorder() {
	var requests, failures float64 // the service's counters, by revision in a real one
	served := judge.CountFunc(func(context.Context, strategy.Input) (judge.Counts, judge.Counts, error) {
		return judge.Counts{Trials: requests, Failures: failures}, judge.Counts{}, nil
	})
	rec := &judge.Recorder{CountSource: served, Input: strategy.Input{Stable: "v1", Canary: "v2"}}
	if err := rec.Validate(); err != nil {
		panic(err)
	}
	// In a service: go rec.Run(ctx), for the life of the process, and
	// judge.Sequential{Source: rec} for every release of v1's successor.
	// Here, three readings taken by hand:
	ctx := context.Background()
	for range 3 {
		requests, failures = requests+1000, failures+5
		rec.Record(ctx)
	}
	b, _, err := rec.CountsAt(ctx, strategy.Input{Stable: "v1", Canary: "v2"}, time.Now())
	fmt.Printf("v1 at the last reading: %g requests, %g failed, err %v\n", b.Trials, b.Failures, err)
	var s judge.Sequential
	s.Source = rec
	_, isHistory := s.Source.(judge.CountHistory)
	fmt.Println("the judge can read the past:", isHistory)
	// Output:
	// v1 at the last reading: 3000 requests, 15 failed, err <nil>
	// the judge can read the past: true
}
