package judge

import (
	"math"
	"testing"

	"pgregory.net/rapid"

	"github.com/glidepath/glidepath/strategy"
)

// Whatever the samples, RankSum returns a valid test or an error, never a
// panic: a p-value in [0, 1], W between 0 and nx·ny, and an interval that
// holds the estimate.
func TestRankSumProperties(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		// Small integers give many ties; wide floats give none.
		gen := rapid.OneOf(
			rapid.Float64Range(-1e6, 1e6),
			rapid.Map(rapid.IntRange(-3, 3), func(i int) float64 { return float64(i) }),
		)
		nx, ny := rapid.IntRange(1, 80).Draw(rt, "nx"), rapid.IntRange(1, 80).Draw(rt, "ny")
		x := rapid.SliceOfN(gen, nx, nx).Draw(rt, "x")
		y := rapid.SliceOfN(gen, ny, ny).Draw(rt, "y")
		alt := Alternative(rapid.IntRange(0, 2).Draw(rt, "alt"))
		conf := rapid.Float64Range(0.5, 0.999).Draw(rt, "conf")
		r, err := RankSum(x, y, alt, conf)
		if err != nil {
			return
		}
		if !(r.PValue >= 0 && r.PValue <= 1) {
			rt.Fatalf("p-value %v", r.PValue)
		}
		if r.W < 0 || r.W > float64(len(x)*len(y)) {
			rt.Fatalf("W %v outside [0, %d]", r.W, len(x)*len(y))
		}
		const slack = 2 * rootTol
		if math.IsNaN(r.Estimate) || r.Lower > r.Estimate+slack || r.Upper < r.Estimate-slack {
			rt.Fatalf("estimate %v outside [%v, %v]", r.Estimate, r.Lower, r.Upper)
		}
	})
}

// The comparison judge classifies any observations without panicking, and
// the sequential test accepts any valid counts.
func TestJudgesTakeAnyInput(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		gen := rapid.OneOf(rapid.Float64(), rapid.Just(math.NaN()), rapid.Just(math.Inf(1)), rapid.Just(0.0))
		base := rapid.SliceOfN(gen, 0, 30).Draw(rt, "baseline")
		can := rapid.SliceOfN(gen, 0, 30).Draw(rt, "canary")
		c := &Comparison{OutlierFactor: rapid.SampledFrom([]float64{0, 1.5, 3}).Draw(rt, "outliers")}
		m := Metric{Name: "m", Direction: Direction(rapid.IntRange(0, 2).Draw(rt, "dir")), NaN: NaNStrategy(rapid.IntRange(0, 1).Draw(rt, "nan"))}
		r := c.Classify(m, base, can)
		switch r.Class {
		case MetricPass, MetricHigh, MetricLow, MetricNoData, MetricNoDataFail, MetricError:
		default:
			rt.Fatalf("class %q", r.Class)
		}

		test, err := (&Sequential{}).NewTest()
		if err != nil {
			rt.Fatal(err)
		}
		for range rapid.IntRange(1, 20).Draw(rt, "intervals") {
			n := rapid.Float64Range(0, 1e9).Draw(rt, "n")
			d, err := test.Observe(
				Counts{Trials: n, Failures: rapid.Float64Range(0, n).Draw(rt, "fb")},
				Counts{Trials: n / 9, Failures: rapid.Float64Range(0, n/9).Draw(rt, "fc")})
			if err != nil {
				rt.Fatal(err)
			}
			if d.Outcome != "" && d.Outcome != strategy.Pass && d.Outcome != strategy.Fail {
				rt.Fatalf("outcome %q", d.Outcome)
			}
			if math.IsNaN(d.FailEvidence) || math.IsNaN(d.PassEvidence) {
				rt.Fatalf("NaN evidence: %+v", d)
			}
		}
	})
}

// The latency test accepts any valid histograms, whatever their bounds and
// counts, and its evidence is never NaN.
func TestLatencyTestTakesAnyInput(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		nb := rapid.IntRange(1, 8).Draw(rt, "buckets")
		bounds := make([]float64, nb)
		b := rapid.Float64Range(1e-6, 10).Draw(rt, "first bound")
		for i := range bounds {
			bounds[i] = b
			b *= rapid.Float64Range(1.001, 3).Draw(rt, "spacing")
		}
		if rapid.Bool().Draw(rt, "+Inf") {
			bounds = append(bounds, math.Inf(1))
		}
		hist := func(label string) Histogram {
			h := NewHistogram(bounds...)
			h.Count = rapid.Float64Range(0, 1e7).Draw(rt, label+" count")
			c := 0.0
			for i := range h.Counts {
				c = rapid.Float64Range(c, h.Count).Draw(rt, label+" bucket")
				h.Counts[i] = c
			}
			return h
		}
		s := &SequentialLatency{
			Tolerance:  rapid.Float64Range(0, 1).Draw(rt, "tolerance"),
			MinSamples: rapid.Float64Range(0, 1000).Draw(rt, "min samples"),
		}
		s.Regression = (1 + s.Tolerance) * rapid.Float64Range(1.01, 4).Draw(rt, "regression")
		test, err := s.NewTest()
		if err != nil {
			rt.Fatal(err)
		}
		for range rapid.IntRange(1, 20).Draw(rt, "intervals") {
			d, err := test.Observe(hist("baseline"), hist("canary"))
			if err != nil {
				rt.Fatal(err)
			}
			if d.Outcome != "" && d.Outcome != strategy.Pass && d.Outcome != strategy.Fail {
				rt.Fatalf("outcome %q", d.Outcome)
			}
			if math.IsNaN(d.FailEvidence) || math.IsNaN(d.PassEvidence) || d.FailEvidence < 0 || d.PassEvidence < 0 {
				rt.Fatalf("evidence: %+v", d)
			}
		}
	})
}
