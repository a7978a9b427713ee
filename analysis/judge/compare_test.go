package judge

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/glidepath/glidepath/strategy"
)

// Data of Kayenta's classifier tests: the canary is about ten times the
// baseline.
var (
	highCanary   = []float64{20.0, 22.0, 21.0, 25.0, 30.0}
	highBaseline = []float64{1.0, 2.2, 1.1, 2.5, 3.0}
)

func TestClassifyHighLowPass(t *testing.T) {
	c := &Comparison{}
	cases := []struct {
		name             string
		m                Metric
		baseline, canary []float64
		want             Classification
	}{
		{"high either", Metric{Name: "m"}, highBaseline, highCanary, MetricHigh},
		{"high increase", Metric{Name: "m", Direction: Increase}, highBaseline, highCanary, MetricHigh},
		{"high ignored when only decrease fails", Metric{Name: "m", Direction: Decrease}, highBaseline, highCanary, MetricPass},
		{"high within allowed effect size", Metric{Name: "m", AllowedIncrease: 20}, highBaseline, highCanary, MetricPass},
		{"high beyond allowed effect size", Metric{Name: "m", AllowedIncrease: 1.2}, highBaseline, highCanary, MetricHigh},
		{"low either", Metric{Name: "m"}, highCanary, highBaseline, MetricLow},
		{"low ignored when only increase fails", Metric{Name: "m", Direction: Increase}, highCanary, highBaseline, MetricPass},
		{"low within allowed decrease", Metric{Name: "m", AllowedDecrease: 0.05}, highCanary, highBaseline, MetricPass},
		{"identical", Metric{Name: "m"}, []float64{1, 2, 3}, []float64{3, 2, 1}, MetricPass},
		{"all equal", Metric{Name: "m"}, []float64{4, 4}, []float64{4, 4, 4}, MetricPass},
		{"overlapping", Metric{Name: "m"}, []float64{1, 2, 3, 4, 5}, []float64{1.5, 2.5, 3.5, 4.5, 5.5}, MetricPass},
		{"no canary data", Metric{Name: "m"}, []float64{1}, nil, MetricNoData},
		{"no data required", Metric{Name: "m", MustHaveData: true}, nil, []float64{1}, MetricNoDataFail},
		{"NaN removed leaves nothing", Metric{Name: "m"}, []float64{1, 2}, []float64{math.NaN()}, MetricNoData},
		{"infinite value", Metric{Name: "m"}, []float64{1, 2}, []float64{math.Inf(1), 3}, MetricError},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.Classify(tc.m, tc.baseline, tc.canary)
			if r.Class != tc.want {
				t.Fatalf("class = %s, want %s (%s)", r.Class, tc.want, r.Reason)
			}
		})
	}
}

// TestClassifyKayentaRules checks the classifier rules of Kayenta's
// MannWhitneyClassifier and NetflixACAJudge one by one.
func TestClassifyKayentaRules(t *testing.T) {
	c := &Comparison{}
	cases := []struct {
		name             string
		m                Metric
		baseline, canary []float64
		class            Classification
		critical         bool
		ratio            float64
	}{
		{"critical without data fails the judgement", Metric{Name: "m", Critical: true}, []float64{1}, nil, MetricNoData, true, math.NaN()},
		{"critical that must have data: NoData, critical", Metric{Name: "m", Critical: true, MustHaveData: true}, nil, []float64{1}, MetricNoData, true, math.NaN()},
		{"must have data, not critical: NoDataFail", Metric{Name: "m", MustHaveData: true}, nil, []float64{1}, MetricNoDataFail, false, math.NaN()},
		{"critical High beyond criticalIncrease", Metric{Name: "m", Critical: true, CriticalIncrease: 5}, highBaseline, highCanary, MetricHigh, true, 118.0 / 9.8},
		{"critical High below criticalIncrease", Metric{Name: "m", Critical: true, CriticalIncrease: 15}, highBaseline, highCanary, MetricHigh, false, 118.0 / 9.8},
		{"critical Low beyond criticalDecrease", Metric{Name: "m", Critical: true, CriticalDecrease: 0.5}, highCanary, highBaseline, MetricLow, true, 9.8 / 118},
		{"critical Pass is not critical", Metric{Name: "m", Critical: true}, []float64{1, 2, 3}, []float64{1, 2, 3.1}, MetricPass, false, 6.1 / 6},
		{"baseline mean zero, canary higher: +Inf ratio, High despite an allowance", Metric{Name: "m", AllowedIncrease: 1.2},
			[]float64{0, 0, 0, 0, 0, 0}, []float64{3, 4, 5, 6, 7, 8}, MetricHigh, false, math.Inf(1)},
		{"both means zero: ratio 1", Metric{Name: "m"}, []float64{0, 0, 0}, []float64{-1, 0, 1}, MetricPass, false, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.Classify(tc.m, tc.baseline, tc.canary)
			if r.Class != tc.class || r.CriticalFailure != tc.critical {
				t.Fatalf("class = %s critical = %v, want %s %v (%s)", r.Class, r.CriticalFailure, tc.class, tc.critical, r.Reason)
			}
			if !(math.IsNaN(tc.ratio) && math.IsNaN(r.Ratio)) && math.Abs(r.Ratio-tc.ratio) > 1e-12 && r.Ratio != tc.ratio {
				t.Errorf("ratio = %v, want %v", r.Ratio, tc.ratio)
			}
		})
	}
	// Kayenta's classifier test data at its confidence level (98%): R
	// gives W = 25, estimate 20 and interval [17.5, 28.9].
	r := c.Classify(Metric{Name: "m"}, highBaseline, highCanary)
	if tt := r.Test; tt.W != 25 || tt.Estimate != 20 || math.Abs(tt.Lower-17.5) > 1e-12 || math.Abs(tt.Upper-28.9) > 1e-12 || tt.ConfLevel != 0.98 {
		t.Errorf("test = %+v", tt)
	}
}

func TestClassifyToleranceAndReport(t *testing.T) {
	// The canary is shifted by +1.05. R: wilcox.test(can, base, conf.int =
	// TRUE, conf.level = 0.98) gives W = 61, p = 0.001087801088, estimate
	// 1.05 and interval [0.25, 1.85]: it excludes 0 but not ±90% of the
	// estimate.
	base := []float64{10.0, 10.2, 10.4, 10.6, 10.8, 11.0, 11.2, 11.4}
	can := []float64{11.05, 11.25, 11.45, 11.65, 11.85, 12.05, 12.25, 12.45}
	m := Metric{Name: "latency"}
	strict := (&Comparison{Tolerance: 1e-9}).Classify(m, base, can)
	if strict.Class != MetricHigh {
		t.Fatalf("significance alone: %s (%s)", strict.Class, strict.Reason)
	}
	if tt := strict.Test; !tt.Exact || tt.W != 61 || math.Abs(tt.Estimate-1.05) > 1e-12 || math.Abs(tt.Lower-0.25) > 1e-12 ||
		math.Abs(tt.Upper-1.85) > 1e-12 || math.Abs(tt.PValue-0.001087801088) > 1e-12 {
		t.Errorf("test = %+v, want R's W=61 p=0.001087801088 estimate 1.05 CI [0.25, 1.85]", tt)
	}
	loose := (&Comparison{Tolerance: 0.9}).Classify(m, base, can)
	if loose.Class != MetricPass {
		t.Fatalf("tolerance 0.9: %s (%s)", loose.Class, loose.Reason)
	}
	if math.Abs(strict.Ratio-11.75/10.7) > 1e-12 {
		t.Errorf("ratio = %v, want %v", strict.Ratio, 11.75/10.7)
	}
	for _, want := range []string{"High", "W=61", "mean ratio 1.1", "98% CI", "p=0.001088"} {
		if !strings.Contains(strict.Reason, want) {
			t.Errorf("reason %q lacks %q", strict.Reason, want)
		}
	}
}

func TestNaNStrategies(t *testing.T) {
	c := &Comparison{}
	base := []float64{0, 0, 0, 0, 0, 0}
	can := []float64{math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN()}
	if r := c.Classify(Metric{Name: "errors", NaN: ReplaceNaN}, base, can); r.Class != MetricPass || r.NCanary != 6 {
		t.Errorf("replace: %s with %d canary values", r.Class, r.NCanary)
	}
	if r := c.Classify(Metric{Name: "errors", NaN: RemoveNaN}, base, can); r.Class != MetricNoData || r.NCanary != 0 {
		t.Errorf("remove: %s with %d canary values", r.Class, r.NCanary)
	}
}

func TestOutlierRemoval(t *testing.T) {
	var base, can []float64
	for i := range 100 {
		base = append(base, float64(10+i%3))
		can = append(can, float64(10+(i+1)%3))
	}
	can = append(can, 1000)
	// Q1 10, Q3 12: the Tukey fence at factor 3 is [4, 18] and P99 of the
	// 101 values is 12, so the spike goes.
	if got := removeOutliers(can, 3); len(got) != 100 || slices.Contains(got, 1000) {
		t.Errorf("kept %d values", len(got))
	}
	with := (&Comparison{OutlierFactor: 3}).Classify(Metric{Name: "m"}, base, can)
	if with.NCanary != 100 || with.Class != MetricPass {
		t.Errorf("with outlier removal: %s n=%d", with.Class, with.NCanary)
	}
	if without := (&Comparison{}).Classify(Metric{Name: "m"}, base, can); without.NCanary != 101 {
		t.Errorf("without: n=%d", without.NCanary)
	}
	// Kayenta's reduced sensitivity: a fence never cuts inside the 1st and
	// 99th percentiles, so in a small sample the largest values (here two
	// of eleven) are beyond P99's reach and stay.
	small := []float64{10, 11, 12, 10, 11, 12, 10, 11, 12, 1000, 1000}
	if got := removeOutliers(small, 3); len(got) != 11 {
		t.Errorf("small sample: kept %v", got)
	}
	// A factor of 1.5 is Tukey's test: with 200 values in [0, 1] and one at
	// 3, the fence [-0.75, 1.75] and P99 < 1 drop it.
	var u []float64
	for i := range 200 {
		u = append(u, float64(i)/199)
	}
	if got := removeOutliers(append(u, 3), 1.5); len(got) != 200 {
		t.Errorf("Tukey 1.5: kept %d", len(got))
	}
	// A zero interquartile range keeps everything.
	if got := removeOutliers([]float64{0, 0, 0, 0, 0, 9}, 3); len(got) != 6 {
		t.Errorf("zero IQR dropped values: %v", got)
	}
}

func TestScoreKayentaWeights(t *testing.T) {
	res := []MetricResult{
		{Name: "a1", Groups: []string{"A"}, Class: MetricPass},
		{Name: "a2", Groups: []string{"A"}, Class: MetricHigh},
		{Name: "b1", Groups: []string{"B"}, Class: MetricPass},
		{Name: "c1", Groups: []string{"C"}, Class: MetricNoData}, // counts as 100
		{Name: "d1", Groups: []string{"D"}, Class: MetricNoDataFail},
	}
	// A weighs 60; B, C and D share the remaining 40 (13.33 each); C has
	// no data and counts as 100, as in Kayenta; D scores 0. The summary
	// is rounded to two decimals: 30 + 26.666... = 56.67.
	score, groups := Score(res, map[string]float64{"A": 60})
	if score != 56.67 {
		t.Errorf("score = %v, want 56.67", score)
	}
	if groups["A"] != 50 || groups["B"] != 100 || groups["D"] != 0 {
		t.Errorf("groups = %v", groups)
	}
	if _, ok := groups["C"]; ok {
		t.Errorf("group without data scored: %v", groups)
	}
	// Without weights every group weighs the same.
	if s, _ := Score(res[:3], nil); math.Abs(s-75) > 1e-9 {
		t.Errorf("equal weights: %v, want 75", s)
	}
}

func samples(data map[string][2][]float64, errs map[string]error) SampleSource {
	return SampleFunc(func(_ context.Context, _ strategy.Input, metric string) ([]float64, []float64, error) {
		if err := errs[metric]; err != nil {
			return nil, nil, err
		}
		d := data[metric]
		return d[0], d[1], nil
	})
}

func TestJudgeOutcomes(t *testing.T) {
	same := [2][]float64{{1, 2, 3, 4, 5}, {1.1, 2.1, 2.9, 4.2, 5.1}}
	high := [2][]float64{highBaseline, highCanary}
	data := map[string][2][]float64{"ok1": same, "ok2": same, "ok3": same, "bad": high, "nodata": {{1}, nil}}
	ctx := context.Background()
	judge := func(c Comparison) Report {
		t.Helper()
		c.Source = samples(data, map[string]error{"down": errors.New("source down")})
		rep, err := c.Judge(ctx, strategy.Input{})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	names := func(ns ...string) []Metric {
		var ms []Metric
		for _, n := range ns {
			ms = append(ms, Metric{Name: n, Groups: []string{"all"}})
		}
		return ms
	}
	if rep := judge(Comparison{Metrics: names("ok1", "ok2", "ok3")}); rep.Outcome != strategy.Pass || rep.Score != 100 {
		t.Errorf("all pass: %s %v", rep.Outcome, rep.Score)
	}
	// 3 of 4 pass: 75 is marginal.
	if rep := judge(Comparison{Metrics: names("ok1", "ok2", "ok3", "bad")}); rep.Outcome != strategy.Inconclusive || rep.Score != 75 {
		t.Errorf("marginal: %s %v (%s)", rep.Outcome, rep.Score, rep.Reason)
	}
	if rep := judge(Comparison{Metrics: names("ok1", "bad")}); rep.Outcome != strategy.Fail || rep.Score != 50 {
		t.Errorf("fail: %s %v", rep.Outcome, rep.Score)
	}
	// Custom thresholds.
	if rep := judge(Comparison{Metrics: names("ok1", "bad"), PassScore: 50, MarginalScore: 40}); rep.Outcome != strategy.Pass {
		t.Errorf("pass at 50: %s", rep.Outcome)
	}
	// A critical metric fails the whole judgement whatever the score.
	ms := names("ok1", "ok2", "ok3", "bad")
	ms[3].Critical = true
	if rep := judge(Comparison{Metrics: ms, MarginalScore: 10, PassScore: 20}); rep.Outcome != strategy.Fail || rep.Score != 0 ||
		!strings.Contains(rep.Reason, "critical") {
		t.Errorf("critical: %s %v %q", rep.Outcome, rep.Score, rep.Reason)
	}
	// ... but only beyond its critical effect size.
	ms[3].CriticalIncrease = 50
	if rep := judge(Comparison{Metrics: ms, MarginalScore: 10, PassScore: 20}); rep.Outcome != strategy.Pass {
		t.Errorf("below critical increase: %s %q", rep.Outcome, rep.Reason)
	}
	// No data anywhere never passes: half or more of the metrics without
	// data fail the judgement with score 0, as in Kayenta.
	if rep := judge(Comparison{Metrics: names("nodata")}); rep.Outcome != strategy.Fail || rep.Score != 0 {
		t.Errorf("no data: %s %v", rep.Outcome, rep.Score)
	}
	if rep := judge(Comparison{Metrics: names("ok1", "nodata")}); rep.Outcome != strategy.Fail || !strings.Contains(rep.Reason, "1 of 2 metrics had no data") {
		t.Errorf("half without data: %s %q", rep.Outcome, rep.Reason)
	}
	// Below half, a metric without data neither helps nor hurts.
	if rep := judge(Comparison{Metrics: names("ok1", "ok2", "nodata")}); rep.Outcome != strategy.Pass || rep.Score != 100 {
		t.Errorf("one in three without data: %s %v %q", rep.Outcome, rep.Score, rep.Reason)
	}
	// A critical metric without data fails the judgement, as in Kayenta.
	ms = names("ok1", "ok2", "ok3", "nodata")
	ms[3].Critical = true
	if rep := judge(Comparison{Metrics: ms}); rep.Outcome != strategy.Fail || rep.Score != 0 || !strings.Contains(rep.Reason, "nodata NoData") {
		t.Errorf("critical without data: %s %v %q", rep.Outcome, rep.Score, rep.Reason)
	}
	// A metric that could not be read keeps a perfect score from passing.
	if rep := judge(Comparison{Metrics: names("ok1", "down")}); rep.Outcome != strategy.Inconclusive || !strings.Contains(rep.Reason, "source down") {
		t.Errorf("one error: %s %q", rep.Outcome, rep.Reason)
	}
	// Nothing readable is an error, not a verdict.
	c := Comparison{Metrics: names("down"), Source: samples(data, map[string]error{"down": errors.New("source down")})}
	if _, err := c.Judge(ctx, strategy.Input{}); err == nil {
		t.Error("all errors: no error")
	}
}

func TestVerdictMeasurements(t *testing.T) {
	c := &Comparison{Label: "aca", Source: samples(map[string][2][]float64{"latency": {highBaseline, highCanary}}, nil),
		Metrics: []Metric{{Name: "latency", Direction: Increase}}}
	v, err := c.Analyze(context.Background(), strategy.Input{})
	if err != nil {
		t.Fatal(err)
	}
	if v.Outcome != strategy.Fail || v.Analyzer != "aca" {
		t.Fatalf("verdict %v", v)
	}
	if len(v.Measurements) != 2 || v.Measurements[0].Name != "score" || v.Measurements[0].Value != "0.0" {
		t.Fatalf("measurements %+v", v.Measurements)
	}
	m := v.Measurements[1]
	if m.Name != "latency" || m.Outcome != strategy.Fail || m.Condition != "class=High" || !strings.Contains(m.Value, "p=0.007937") {
		t.Errorf("metric measurement %+v", m)
	}
}

func TestComparisonValidate(t *testing.T) {
	c := &Comparison{
		Metrics: []Metric{
			{Name: "a", Direction: 7, AllowedIncrease: 0.5, Groups: []string{"g"}},
			{Name: "a", NaN: 9, AllowedDecrease: 2},
			{},
		},
		GroupWeights:    map[string]float64{"g": 90, "nope": 20},
		PassScore:       50,
		MarginalScore:   60,
		ConfidenceLevel: 1.5,
		Tolerance:       -1,
		Count:           3,
	}
	err := c.Validate()
	if !errors.Is(err, strategy.ErrInvalidConfig) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"no sample source", "duplicate name", "unknown direction", "unknown NaN strategy",
		"allowed increase 0.5", "allowed decrease 2", "metric 2 has no name", `group "nope" has a weight but no metric`,
		"add up to 110", "marginal score 60 is above pass score 50", "confidence level 1.5", "tolerance -1", "count 3 needs an interval"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if _, err := c.Analyze(context.Background(), strategy.Input{}); !errors.Is(err, strategy.ErrInvalidConfig) {
		t.Errorf("Analyze with invalid config: %v", err)
	}
	ok := &Comparison{Source: samples(nil, nil), Metrics: []Metric{{Name: "x"}}}
	if err := ok.Validate(); err != nil {
		t.Errorf("minimal config: %v", err)
	}
}

func TestAnalyzeRepeats(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		src := SampleFunc(func(context.Context, strategy.Input, string) ([]float64, []float64, error) {
			n := calls.Add(1)
			if n >= 3 { // the third judgement sees a regression
				return highBaseline, highCanary, nil
			}
			return []float64{1, 2, 3}, []float64{1, 2, 3}, nil
		})
		c := &Comparison{Source: src, Metrics: []Metric{{Name: "m"}}, Interval: 5 * time.Minute, Count: 6}
		start := time.Now()
		v, err := c.Analyze(t.Context(), strategy.Input{})
		if err != nil {
			t.Fatal(err)
		}
		if v.Outcome != strategy.Fail || !strings.HasPrefix(v.Reason, "judgement 3 of 6") {
			t.Errorf("verdict %v", v)
		}
		if el := time.Since(start); el != 15*time.Minute {
			t.Errorf("took %v, want 15m (fail stops at once)", el)
		}
		if calls.Load() != 3 {
			t.Errorf("%d judgements, want 3", calls.Load())
		}
	})
}

func TestAnalyzeCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		c := &Comparison{Source: samples(nil, nil), Metrics: []Metric{{Name: "m"}}, Interval: time.Hour, Count: 2}
		time.AfterFunc(time.Minute, cancel)
		if _, err := c.Analyze(ctx, strategy.Input{}); !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v", err)
		}
	})
}

// Background comparison has a last word at the end of a release: its last
// judgement, or Inconclusive when it never judged.
func TestComparisonLastWord(t *testing.T) {
	same := map[string][2][]float64{"m": {{1, 2, 3}, {1, 2, 3}}}
	for _, tc := range []struct {
		name  string
		after time.Duration
		want  strategy.Outcome
	}{
		{"after a judgement", 90 * time.Minute, strategy.Pass},
		{"before any judgement", 30 * time.Minute, strategy.Inconclusive},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithCancelCause(t.Context())
				time.AfterFunc(tc.after, func() { cancel(strategy.ErrPlanComplete) })
				c := &Comparison{Source: samples(same, nil), Metrics: []Metric{{Name: "m"}}, Interval: time.Hour, Count: 3}
				v, err := c.Analyze(ctx, strategy.Input{Background: true})
				if err != nil {
					t.Fatal(err)
				}
				if v.Outcome != tc.want {
					t.Errorf("verdict %s: %s", v.Outcome, v.Reason)
				}
			})
		})
	}
}
