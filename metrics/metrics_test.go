package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"

	"github.com/glidepath/glidepath/canary"
	"github.com/glidepath/glidepath/metrics"
	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/strategytest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	v1 = strategy.Revision("v1")
	v2 = strategy.Revision("v2")
	v3 = strategy.Revision("v3")
)

// newRegistered returns a Collector registered on a fresh registry.
func newRegistered(t *testing.T, opts metrics.Options) (*metrics.Collector, *prometheus.Registry) {
	t.Helper()
	c, err := metrics.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	return c, reg
}

// paused forwards every pause of a release, for a test to wait on.
type paused chan strategy.PhaseChanged

func (p paused) OnEvent(e strategy.Event) {
	if pc, ok := e.(strategy.PhaseChanged); ok && pc.To == strategy.PhasePaused {
		p <- pc
	}
}

// find returns the series of name whose labels include want.
func find(reg prometheus.Gatherer, name string, want map[string]string) (*dto.Metric, error) {
	mfs, err := reg.Gather()
	if err != nil {
		return nil, err
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for k, v := range want {
				if have[k] != v {
					continue next
				}
			}
			return m, nil
		}
	}
	return nil, fmt.Errorf("no series %s%v", name, want)
}

// series is find, failing the test when there is no such series.
func series(t *testing.T, reg prometheus.Gatherer, name string, want map[string]string) *dto.Metric {
	t.Helper()
	m, err := find(reg, name, want)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Three releases of one target run on the fake target: one promoted, one
// rolled back by a Fail verdict, one aborted while paused. The registry
// then exposes exactly the counts, durations and restore times the
// releases' results imply.
func TestReleasesOnFakeTarget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, reg := newRegistered(t, metrics.Options{})
		obs := c.ForTarget("checkout")
		ctx := t.Context()
		// Four instances behind a router; the stable revision scales down
		// as the canary takes traffic, so a rollback has to wait for its
		// instances to come back.
		tgt := strategytest.NewTarget(strategy.State{Stable: v1, Replicas: strategy.Replicas{Stable: 4}})
		tgt.ReadyAfter = 5 * time.Second
		shape := func(c canary.Config) canary.Config {
			c.Replicas, c.TrafficRouting, c.DynamicStableScale = 4, true, true
			return c
		}

		// 1. Promoted: two weights, each analysed once (Pass).
		good := shape(canary.Config{StepWeights: []int{20, 50}, Interval: time.Minute,
			Analyzers: []strategy.Analyzer{strategytest.Script("success-rate", strategy.Pass)}})
		res1, err := strategy.Run(ctx, strategy.Release{Target: tgt, Stable: v1, Canary: v2, Strategy: good, Observer: obs})
		if err != nil || res1.Phase != strategy.PhasePromoted {
			t.Fatalf("first release: %v, %v", res1.Phase, err)
		}

		// 2. Rolled back: Pass at 20%, Fail at 50%.
		bad := shape(canary.Config{StepWeights: []int{20, 50}, Interval: time.Minute,
			Analyzers: []strategy.Analyzer{strategytest.Script("success-rate", strategy.Pass, strategy.Fail)}})
		res2, err := strategy.Run(ctx, strategy.Release{Target: tgt, Stable: v2, Canary: v3, Strategy: bad, Observer: obs})
		if !errors.Is(err, strategy.ErrAnalysisFailed) || res2.Phase != strategy.PhaseRolledBack {
			t.Fatalf("second release: %v, %v", res2.Phase, err)
		}

		// 3. Paused at 30% until promoted, then aborted.
		pauses := make(paused, 8)
		manual := shape(canary.Config{Steps: []canary.Step{canary.SetWeight(30), canary.PauseUntilPromoted()}})
		r, err := strategy.Start(ctx, strategy.Release{Name: "manual", Target: tgt, Stable: v2, Canary: v3,
			Strategy: manual, Observer: strategy.Observers(obs, pauses)})
		if err != nil {
			t.Fatal(err)
		}
		<-pauses
		if got := series(t, reg, "glidepath_canary_weight_percent", map[string]string{"release": "manual"}).GetGauge().GetValue(); got != 30 {
			t.Errorf("canary weight while paused = %v, want 30", got)
		}
		if got := series(t, reg, "glidepath_releases_in_progress", nil).GetGauge().GetValue(); got != 1 {
			t.Errorf("releases in progress while paused = %v, want 1", got)
		}
		if err := r.Abort(); err != nil {
			t.Fatal(err)
		}
		res3, err := r.Wait(ctx)
		if !errors.Is(err, strategy.ErrAborted) || res3.Phase != strategy.PhaseRolledBack {
			t.Fatalf("third release: %v, %v", res3.Phase, err)
		}

		// Counters and gauges, exactly. The weight series of every release
		// is gone once it finished.
		want := `
# HELP glidepath_analysis_verdicts_total Analysis verdicts, by target, analyzer and outcome (Pass, Fail, Inconclusive).
# TYPE glidepath_analysis_verdicts_total counter
glidepath_analysis_verdicts_total{analyzer="success-rate",outcome="Fail",target="checkout"} 1
glidepath_analysis_verdicts_total{analyzer="success-rate",outcome="Pass",target="checkout"} 3
# HELP glidepath_releases_finished_total Releases finished, by target, strategy and final phase (Promoted, RolledBack, Degraded, Stopped).
# TYPE glidepath_releases_finished_total counter
glidepath_releases_finished_total{outcome="Promoted",strategy="canary",target="checkout"} 1
glidepath_releases_finished_total{outcome="RolledBack",strategy="canary",target="checkout"} 2
# HELP glidepath_releases_in_progress Releases started and not yet finished, by target.
# TYPE glidepath_releases_in_progress gauge
glidepath_releases_in_progress{target="checkout"} 0
# HELP glidepath_releases_started_total Releases started, by target, strategy and whether they were resumed from a journal.
# TYPE glidepath_releases_started_total counter
glidepath_releases_started_total{resumed="false",strategy="canary",target="checkout"} 3
# HELP glidepath_rollbacks_total Rollbacks started, by target and cause (analysis_failed, aborted, deadline, cancelled, target_error, other).
# TYPE glidepath_rollbacks_total counter
glidepath_rollbacks_total{cause="aborted",target="checkout"} 1
glidepath_rollbacks_total{cause="analysis_failed",target="checkout"} 1
`
		if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
			"glidepath_analysis_verdicts_total", "glidepath_releases_finished_total", "glidepath_releases_in_progress",
			"glidepath_releases_started_total", "glidepath_rollbacks_total", "glidepath_canary_weight_percent"); err != nil {
			t.Error(err)
		}

		// Durations: one observation per release, summing to what the
		// results say (fake time makes them exact).
		promoted := series(t, reg, "glidepath_release_duration_seconds", map[string]string{"outcome": "Promoted"}).GetHistogram()
		if promoted.GetSampleCount() != 1 || promoted.GetSampleSum() != res1.Finished.Sub(res1.Started).Seconds() {
			t.Errorf("promoted duration: %d samples summing to %vs, want 1 of %v", promoted.GetSampleCount(), promoted.GetSampleSum(), res1.Finished.Sub(res1.Started))
		}
		if d := res1.Finished.Sub(res1.Started); d < 2*time.Minute {
			t.Errorf("the promoted release took %v, less than its two intervals", d)
		}
		rolled := series(t, reg, "glidepath_release_duration_seconds", map[string]string{"outcome": "RolledBack"}).GetHistogram()
		wantRolled := res2.Finished.Sub(res2.Started) + res3.Finished.Sub(res3.Started)
		if rolled.GetSampleCount() != 2 || rolled.GetSampleSum() != wantRolled.Seconds() {
			t.Errorf("rolled-back durations: %d samples summing to %vs, want 2 summing to %v", rolled.GetSampleCount(), rolled.GetSampleSum(), wantRolled)
		}

		// Time to restore: from the Fail verdict to the stable State.
		if res2.FailedAt.IsZero() || !res2.RollbackFinished.After(res2.FailedAt) {
			t.Fatalf("second release: FailedAt %v, RollbackFinished %v", res2.FailedAt, res2.RollbackFinished)
		}
		restore := series(t, reg, "glidepath_time_to_restore_seconds", map[string]string{"cause": "analysis_failed"}).GetHistogram()
		if want := res2.RollbackFinished.Sub(res2.FailedAt).Seconds(); restore.GetSampleCount() != 1 || restore.GetSampleSum() != want {
			t.Errorf("restore after a Fail: %d samples summing to %vs, want 1 of %vs", restore.GetSampleCount(), restore.GetSampleSum(), want)
		}
		// Rolling back the 50% canary waits for v2's instances to come
		// back: the restore time is that wait, not zero.
		if got := restore.GetSampleSum(); got < tgt.ReadyAfter.Seconds() {
			t.Errorf("restore after a Fail took %vs, less than the target's %v readiness delay", got, tgt.ReadyAfter)
		}
		aborted := series(t, reg, "glidepath_time_to_restore_seconds", map[string]string{"cause": "aborted"}).GetHistogram()
		if want := res3.RollbackFinished.Sub(res3.FailedAt).Seconds(); aborted.GetSampleCount() != 1 || aborted.GetSampleSum() != want {
			t.Errorf("restore after an abort: %d samples summing to %vs, want 1 of %vs", aborted.GetSampleCount(), aborted.GetSampleSum(), want)
		}
	})
}

// The weight gauge follows every State applied, the rollback included, and
// its series is removed when the release ends.
func TestWeightFollowsStates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, reg := newRegistered(t, metrics.Options{})
		var (
			mu   sync.Mutex
			seen []float64
		)
		// An observer placed after the collector reads the gauge as each
		// State is applied.
		reader := strategy.ObserverFunc(func(e strategy.Event) {
			if ev, ok := e.(strategy.StateApplied); ok {
				v := -1.0 // no series
				if m, err := find(reg, "glidepath_canary_weight_percent", map[string]string{"release": ev.Release}); err == nil {
					v = m.GetGauge().GetValue()
				}
				mu.Lock()
				seen = append(seen, v)
				mu.Unlock()
			}
		})
		tgt := strategytest.NewTarget(strategy.State{Stable: v1})
		cfg := canary.Config{Steps: []canary.Step{canary.SetWeight(10), canary.SetWeight(40),
			canary.Analysis(strategytest.Script("latency", strategy.Fail))}}
		_, err := strategy.Run(t.Context(), strategy.Release{Target: tgt, Stable: v1, Canary: v2, Strategy: cfg,
			Observer: strategy.Observers(c, reader)})
		if !errors.Is(err, strategy.ErrAnalysisFailed) {
			t.Fatalf("release: %v", err)
		}
		var applied []float64
		for _, h := range tgt.History() {
			w := 0
			if h.State.Canary != "" {
				w = h.State.Weight
			}
			applied = append(applied, float64(w))
		}
		if fmt.Sprint(seen) != fmt.Sprint(applied) {
			t.Errorf("gauge read %v as States were applied, target received weights %v", seen, applied)
		}
		if len(applied) < 4 || applied[len(applied)-1] != 0 {
			t.Errorf("expected a release up to 40%% and a rollback to 0, target received %v", applied)
		}
		if n := testutil.CollectAndCount(c, "glidepath_canary_weight_percent"); n != 0 {
			t.Errorf("%d weight series left after the release ended", n)
		}
	})
}

// A release that ends before it starts (its journal refused the first
// record) is counted as finished but never drives the in-progress gauge
// below zero.
func TestFinishWithoutStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, reg := newRegistered(t, metrics.Options{})
		tgt := strategytest.NewTarget(strategy.State{Stable: v1})
		cfg := canary.Config{Steps: []canary.Step{canary.SetWeight(50)}}
		_, err := strategy.Run(t.Context(), strategy.Release{Target: tgt, Stable: v1, Canary: v2, Strategy: cfg, Observer: c,
			Options: strategy.Options{Journal: failingJournal{}}})
		if !errors.Is(err, strategy.ErrJournal) {
			t.Fatalf("release: %v", err)
		}
		want := `
# HELP glidepath_releases_finished_total Releases finished, by target, strategy and final phase (Promoted, RolledBack, Degraded, Stopped).
# TYPE glidepath_releases_finished_total counter
glidepath_releases_finished_total{outcome="Stopped",strategy="canary",target=""} 1
`
		if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
			"glidepath_releases_finished_total", "glidepath_releases_in_progress", "glidepath_releases_started_total"); err != nil {
			t.Error(err)
		}
	})
}

type failingJournal struct{}

func (failingJournal) Record(context.Context, strategy.Record) error { return errors.New("disk full") }

// Past MaxLabelValues, new analyzer and strategy names are reported as
// "other"; names already seen keep their own series.
func TestLabelValuesAreCapped(t *testing.T) {
	c, reg := newRegistered(t, metrics.Options{MaxLabelValues: 2})
	for _, name := range []string{"a", "b", "c", "d", "a"} {
		c.OnEvent(strategy.VerdictReached{Verdict: strategy.Verdict{Analyzer: name, Outcome: strategy.Pass}})
	}
	for _, s := range []string{"canary", "rolling", "custom-1", "custom-2"} {
		c.OnEvent(strategy.ReleaseStarted{EventMeta: strategy.EventMeta{Release: s}, Strategy: s})
	}
	want := `
# HELP glidepath_analysis_verdicts_total Analysis verdicts, by target, analyzer and outcome (Pass, Fail, Inconclusive).
# TYPE glidepath_analysis_verdicts_total counter
glidepath_analysis_verdicts_total{analyzer="a",outcome="Pass",target=""} 2
glidepath_analysis_verdicts_total{analyzer="b",outcome="Pass",target=""} 1
glidepath_analysis_verdicts_total{analyzer="other",outcome="Pass",target=""} 2
# HELP glidepath_releases_started_total Releases started, by target, strategy and whether they were resumed from a journal.
# TYPE glidepath_releases_started_total counter
glidepath_releases_started_total{resumed="false",strategy="canary",target=""} 1
glidepath_releases_started_total{resumed="false",strategy="other",target=""} 2
glidepath_releases_started_total{resumed="false",strategy="rolling",target=""} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "glidepath_analysis_verdicts_total", "glidepath_releases_started_total"); err != nil {
		t.Error(err)
	}
}

// An unknown outcome is counted as Inconclusive, as the executor treats it.
func TestUnknownOutcomeIsInconclusive(t *testing.T) {
	c, _ := newRegistered(t, metrics.Options{})
	c.OnEvent(strategy.VerdictReached{Verdict: strategy.Verdict{Analyzer: "x", Outcome: "Maybe"}})
	c.OnEvent(strategy.VerdictReached{Verdict: strategy.Verdict{Analyzer: "x"}})
	want := `
# HELP glidepath_analysis_verdicts_total Analysis verdicts, by target, analyzer and outcome (Pass, Fail, Inconclusive).
# TYPE glidepath_analysis_verdicts_total counter
glidepath_analysis_verdicts_total{analyzer="x",outcome="Inconclusive",target=""} 2
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "glidepath_analysis_verdicts_total"); err != nil {
		t.Error(err)
	}
}

func TestCause(t *testing.T) {
	step := func(kind error) error {
		return &strategy.StepError{Step: 2, StepKind: strategy.StepAnalyze, Kind: kind, Err: errors.New("why")}
	}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{step(strategy.ErrAnalysisFailed), metrics.CauseAnalysisFailed},
		{step(strategy.ErrAborted), metrics.CauseAborted},
		{step(strategy.ErrDeadlineExceeded), metrics.CauseDeadline},
		{step(strategy.ErrCancelled), metrics.CauseCancelled},
		{step(strategy.ErrTarget), metrics.CauseTargetError},
		{fmt.Errorf("wrapped: %w", step(strategy.ErrTarget)), metrics.CauseTargetError},
		{step(strategy.ErrJournal), metrics.CauseOther},
		{errors.New("plain"), metrics.CauseOther},
		{nil, metrics.CauseOther},
	} {
		if got := metrics.Cause(tc.err); got != tc.want {
			t.Errorf("Cause(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

// Every problem with the options is named at once.
func TestOptionsValidate(t *testing.T) {
	err := metrics.Options{
		DurationBuckets: []float64{1, 1, -2},
		RestoreBuckets:  []float64{},
		MaxLabelValues:  -1,
		ConstLabels:     prometheus.Labels{"target": "x", "9lives": "y", "__name": "z", "env": "ok"},
	}.Validate()
	if !errors.Is(err, strategy.ErrInvalidConfig) {
		t.Fatalf("Validate = %v, want ErrInvalidConfig", err)
	}
	for _, want := range []string{
		"DurationBuckets[1] (1) is not above DurationBuckets[0] (1)",
		"DurationBuckets[2] is -2",
		"RestoreBuckets is empty",
		"MaxLabelValues is negative (-1)",
		`"target" is already a label`,
		`"9lives" is not a valid label name`,
		`"__name" is not a valid label name`,
	} {
		if !strategytest.HasProblem(err, want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strategytest.HasProblem(err, `"env"`) {
		t.Errorf("a valid constant label was reported:\n%v", err)
	}
	if _, err := metrics.New(metrics.Options{MaxLabelValues: -1}); !errors.Is(err, strategy.ErrInvalidConfig) {
		t.Errorf("New with invalid options = %v", err)
	}
	if err := (metrics.Options{}).Validate(); err != nil {
		t.Errorf("zero Options: %v", err)
	}
}

// Options shape the histograms and add constant labels; the collector
// passes the client library's own consistency checks.
func TestOptionsApply(t *testing.T) {
	c, reg := newRegistered(t, metrics.Options{
		DurationBuckets: []float64{60, 600},
		ConstLabels:     prometheus.Labels{"env": "prod"},
	})
	start := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	c.OnEvent(strategy.ReleaseFinished{Result: strategy.Result{Strategy: "rolling", Phase: strategy.PhasePromoted,
		Started: start, Finished: start.Add(90 * time.Second)}})
	m := series(t, reg, "glidepath_release_duration_seconds", map[string]string{"env": "prod"})
	var bounds []float64
	var counts []uint64
	for _, b := range m.GetHistogram().GetBucket() {
		bounds = append(bounds, b.GetUpperBound())
		counts = append(counts, b.GetCumulativeCount())
	}
	if fmt.Sprint(bounds, counts) != "[60 600] [0 1]" {
		t.Errorf("buckets %v with counts %v, want [60 600] with [0 1]", bounds, counts)
	}
	if problems, err := testutil.CollectAndLint(c); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}

// Events from many goroutines at once (background analysis) are all
// counted; run with -race.
func TestConcurrentEvents(t *testing.T) {
	c, reg := newRegistered(t, metrics.Options{})
	var wg sync.WaitGroup
	for g := range 8 {
		obs := c.ForTarget(fmt.Sprintf("t%d", g%2))
		wg.Go(func() {
			for i := range 100 {
				obs.OnEvent(strategy.VerdictReached{Verdict: strategy.Verdict{Analyzer: fmt.Sprintf("a%d", i%3), Outcome: strategy.Pass}})
				obs.OnEvent(strategy.StateApplied{EventMeta: strategy.EventMeta{Release: "r"}, State: strategy.State{Stable: v1, Canary: v2, Weight: i % 101}})
			}
		})
	}
	wg.Wait()
	var total float64
	mfs := testutil.CollectAndCount(c, "glidepath_analysis_verdicts_total")
	if mfs != 6 {
		t.Errorf("%d verdict series, want 2 targets × 3 analyzers", mfs)
	}
	got, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range got {
		if mf.GetName() == "glidepath_analysis_verdicts_total" {
			for _, m := range mf.GetMetric() {
				total += m.GetCounter().GetValue()
			}
		}
	}
	if total != 800 {
		t.Errorf("counted %v verdicts, want 800", total)
	}
}
