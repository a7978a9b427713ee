package metrics_test

import (
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/glidepath/glidepath/analysis"
	"github.com/glidepath/glidepath/analysis/analysistest"
	"github.com/glidepath/glidepath/metrics"
	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/strategytest"
)

func verdict(release, analyzer string, ms ...strategy.Measurement) strategy.VerdictReached {
	return strategy.VerdictReached{EventMeta: strategy.EventMeta{Release: release},
		Verdict: strategy.Verdict{Analyzer: analyzer, Outcome: strategy.Pass, Measurements: ms}}
}

// The last measured value of each analyzer and the judges' evidence are
// exported per running release, and removed when the release finishes.
func TestAnalysisValuesAndEvidence(t *testing.T) {
	c, reg := newRegistered(t, metrics.Options{})
	obs := c.ForTarget("checkout")
	obs.OnEvent(verdict("r1", "error-rate",
		strategy.Measurement{Name: "error-rate", Values: map[string]float64{"value": 0.5}}))
	// A later measurement replaces the value; one without numbers (an
	// error) leaves it.
	obs.OnEvent(verdict("r1", "error-rate",
		strategy.Measurement{Name: "error-rate", Values: map[string]float64{"value": 0.02}},
		strategy.Measurement{Name: "error-rate", Error: "source down"}))
	obs.OnEvent(verdict("r1", "judge",
		strategy.Measurement{Name: "failures", Revision: "v2", Values: map[string]float64{"rate": 0.03, "trials": 200, "failures": 6, "e_fail": 4.5, "e_pass": 0.25}},
		strategy.Measurement{Name: "failures", Revision: "v1", Values: map[string]float64{"rate": 0.01, "trials": 400, "failures": 4}}))
	want := `
# HELP glidepath_analysis_evidence Last evidence a judge reported (statistic: e_fail, e_pass, llr, rate, trials, failures, ...), per running release, analyzer, measurement and revision.
# TYPE glidepath_analysis_evidence gauge
glidepath_analysis_evidence{analyzer="judge",measurement="failures",release="r1",revision="v1",statistic="failures",target="checkout"} 4
glidepath_analysis_evidence{analyzer="judge",measurement="failures",release="r1",revision="v1",statistic="rate",target="checkout"} 0.01
glidepath_analysis_evidence{analyzer="judge",measurement="failures",release="r1",revision="v1",statistic="trials",target="checkout"} 400
glidepath_analysis_evidence{analyzer="judge",measurement="failures",release="r1",revision="v2",statistic="e_fail",target="checkout"} 4.5
glidepath_analysis_evidence{analyzer="judge",measurement="failures",release="r1",revision="v2",statistic="e_pass",target="checkout"} 0.25
glidepath_analysis_evidence{analyzer="judge",measurement="failures",release="r1",revision="v2",statistic="failures",target="checkout"} 6
glidepath_analysis_evidence{analyzer="judge",measurement="failures",release="r1",revision="v2",statistic="rate",target="checkout"} 0.03
glidepath_analysis_evidence{analyzer="judge",measurement="failures",release="r1",revision="v2",statistic="trials",target="checkout"} 200
# HELP glidepath_analysis_value Last value an analyzer measured, per running release, analyzer, measurement and revision ("" when it is about none); in the unit of its query.
# TYPE glidepath_analysis_value gauge
glidepath_analysis_value{analyzer="error-rate",measurement="error-rate",release="r1",revision="",target="checkout"} 0.02
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "glidepath_analysis_value", "glidepath_analysis_evidence"); err != nil {
		t.Error(err)
	}
	// Another release's series are its own, and outlive r1's.
	obs.OnEvent(verdict("r2", "error-rate", strategy.Measurement{Name: "error-rate", Values: map[string]float64{"value": 0.9}}))
	obs.OnEvent(strategy.ReleaseFinished{EventMeta: strategy.EventMeta{Release: "r1"}, Result: strategy.Result{Release: "r1", Phase: strategy.PhasePromoted}})
	if n := testutil.CollectAndCount(c, "glidepath_analysis_evidence"); n != 0 {
		t.Errorf("%d evidence series after the release finished, want 0", n)
	}
	want = `
# HELP glidepath_analysis_value Last value an analyzer measured, per running release, analyzer, measurement and revision ("" when it is about none); in the unit of its query.
# TYPE glidepath_analysis_value gauge
glidepath_analysis_value{analyzer="error-rate",measurement="error-rate",release="r2",revision="",target="checkout"} 0.9
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "glidepath_analysis_value"); err != nil {
		t.Error(err)
	}
}

// Measurement and statistic names are capped like analyzer names.
func TestAnalysisLabelsAreCapped(t *testing.T) {
	c, _ := newRegistered(t, metrics.Options{MaxLabelValues: 1})
	c.OnEvent(verdict("r", "a", strategy.Measurement{Name: "m1", Values: map[string]float64{"value": 1, "s1": 1}}))
	c.OnEvent(verdict("r", "a", strategy.Measurement{Name: "m2", Values: map[string]float64{"value": 2, "s2": 2}}))
	want := `
# HELP glidepath_analysis_value Last value an analyzer measured, per running release, analyzer, measurement and revision ("" when it is about none); in the unit of its query.
# TYPE glidepath_analysis_value gauge
glidepath_analysis_value{analyzer="a",measurement="m1",release="r",revision="",target=""} 1
glidepath_analysis_value{analyzer="a",measurement="other",release="r",revision="",target=""} 2
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "glidepath_analysis_value"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(c, "glidepath_analysis_evidence"); n != 2 {
		t.Errorf("%d evidence series, want s1 and other", n)
	}
}

// A check's measured number reaches the gauge through its verdict.
func TestCheckValueIsExported(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, reg := newRegistered(t, metrics.Options{})
		chk := &analysis.Check{Label: "success-rate", Source: analysistest.Values(0.97), SuccessCondition: "result >= 0.9"}
		in := strategy.Input{Release: "shop", Stable: "v1", Canary: "v2", State: strategy.State{Stable: "v1", Canary: "v2", Weight: 20}}
		v, err := chk.Analyze(t.Context(), in)
		if err != nil {
			t.Fatal(err)
		}
		if got := v.Measurements[0].Values["value"]; got != 0.97 {
			t.Errorf("measurement values %v, want value 0.97", v.Measurements[0].Values)
		}
		c.OnEvent(strategy.VerdictReached{EventMeta: strategy.EventMeta{Release: "shop", Time: time.Now()}, Verdict: v})
		want := `
# HELP glidepath_analysis_value Last value an analyzer measured, per running release, analyzer, measurement and revision ("" when it is about none); in the unit of its query.
# TYPE glidepath_analysis_value gauge
glidepath_analysis_value{analyzer="success-rate",measurement="success-rate",release="shop",revision="",target=""} 0.97
`
		if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "glidepath_analysis_value"); err != nil {
			t.Error(err)
		}
	})
}

// Namespace and Subsystem name every metric.
func TestNamespace(t *testing.T) {
	for _, c := range []struct{ ns, sub, want string }{
		{"", "", "glidepath_releases_started_total"},
		{"acme", "", "acme_releases_started_total"},
		{"acme", "deploy", "acme_deploy_releases_started_total"},
		{"-", "deploy", "deploy_releases_started_total"},
	} {
		col, reg := newRegistered(t, metrics.Options{Namespace: c.ns, Subsystem: c.sub})
		col.OnEvent(strategy.ReleaseStarted{Strategy: "canary"})
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, mf := range mfs {
			found = found || mf.GetName() == c.want
			if !strings.HasSuffix(mf.GetName(), "_total") && !strings.HasSuffix(mf.GetName(), "in_progress") {
				t.Errorf("unexpected metric %s", mf.GetName())
			}
		}
		if !found {
			t.Errorf("namespace %q subsystem %q: no %s", c.ns, c.sub, c.want)
		}
	}
	_, err := metrics.New(metrics.Options{Namespace: "my-ns", Subsystem: "1x"})
	if !strategytest.HasProblem(err, `Namespace "my-ns"`) || !strategytest.HasProblem(err, `Subsystem "1x"`) {
		t.Errorf("bad namespace and subsystem: %v", err)
	}
}
