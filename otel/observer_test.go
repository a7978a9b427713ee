package otel_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"

	"github.com/glidepath/glidepath/canary"
	gpotel "github.com/glidepath/glidepath/otel"
	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/strategytest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// judge is an analyzer that reports evidence per revision, as the
// sequential judges do.
type judge struct {
	outcome strategy.Outcome
	after   time.Duration
}

func (j judge) Name() string { return "judge" }

func (j judge) Analyze(ctx context.Context, in strategy.Input) (strategy.Verdict, error) {
	select {
	case <-ctx.Done():
		return strategy.Verdict{}, ctx.Err()
	case <-time.After(j.after):
	}
	return strategy.Verdict{Analyzer: "judge", Outcome: j.outcome, Reason: "e-value", Measurements: []strategy.Measurement{
		{Name: "failures", Revision: in.Canary, Values: map[string]float64{"e_fail": 25, "rate": 0.04}},
		{Name: "failures", Revision: in.Stable, Values: map[string]float64{"rate": 0.01}},
	}}, nil
}

// recorder returns an Observer that exports to an in-memory exporter.
func recorder() (*gpotel.Observer, *tracetest.InMemoryExporter) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	return gpotel.New(gpotel.Options{TracerProvider: tp}), exp
}

// tree renders the spans as an indented tree, children in start order,
// with each span's duration, status and events.
func tree(spans tracetest.SpanStubs) string { return render(spans, true) }

// render is tree, without the durations unless durations is set.
func render(spans tracetest.SpanStubs, durations bool) string {
	kids := map[trace.SpanID][]tracetest.SpanStub{}
	var roots []tracetest.SpanStub
	ids := map[trace.SpanID]bool{}
	for _, s := range spans {
		ids[s.SpanContext.SpanID()] = true
	}
	for _, s := range spans {
		if p := s.Parent.SpanID(); p.IsValid() && ids[p] {
			kids[p] = append(kids[p], s)
		} else {
			roots = append(roots, s)
		}
	}
	var b strings.Builder
	var walk func(s tracetest.SpanStub, depth int)
	walk = func(s tracetest.SpanStub, depth int) {
		fmt.Fprintf(&b, "%s%s", strings.Repeat("  ", depth), s.Name)
		if durations {
			fmt.Fprintf(&b, " %s", s.EndTime.Sub(s.StartTime))
		}
		for _, kv := range s.Attributes {
			switch kv.Key {
			case "glidepath.step.description", "glidepath.analyzer", "glidepath.state", "glidepath.phase":
				fmt.Fprintf(&b, " %s", kv.Value.String())
			}
		}
		if s.Status.Code == codes.Error {
			b.WriteString(" ERROR")
		}
		b.WriteString("\n")
		for _, e := range s.Events {
			fmt.Fprintf(&b, "%s  * %s", strings.Repeat("  ", depth), e.Name)
			for _, kv := range e.Attributes {
				if kv.Key == "glidepath.outcome" || strings.HasPrefix(string(kv.Key), "glidepath.value.") || kv.Key == "glidepath.to" {
					fmt.Fprintf(&b, " %s=%s", kv.Key, kv.Value.String())
				}
			}
			b.WriteString("\n")
		}
		c := kids[s.SpanContext.SpanID()]
		slices.SortStableFunc(c, func(a, b tracetest.SpanStub) int { return a.StartTime.Compare(b.StartTime) })
		for _, k := range c {
			walk(k, depth+1)
		}
	}
	for _, r := range roots {
		walk(r, 0)
	}
	return b.String()
}

func run(t *testing.T, obs strategy.Observer, rel strategy.Release) {
	t.Helper()
	rel.Observer = obs
	_, _ = strategy.Run(t.Context(), rel)
}

func TestPromotedReleaseTree(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		obs, exp := recorder()
		run(t, obs, strategy.Release{
			Name: "shop", Target: strategytest.NewTarget(strategy.State{Stable: "v1"}), Stable: "v1", Canary: "v2",
			Strategy: canary.Config{Steps: []canary.Step{
				canary.SetWeight(20),
				canary.Analysis(judge{outcome: strategy.Pass, after: time.Minute}),
				canary.SetWeight(50),
			}},
		})
		spans := exp.GetSpans()
		want := `glidepath.release 1m0s Promoted
  * glidepath.phase_changed glidepath.to=Progressing
  * glidepath.phase_changed glidepath.to=Promoted
  glidepath.step 0s deploy canary: apply stable=v1 canary=v2 weight=0%
    glidepath.apply 0s stable=v1 canary=v2 weight=0%
  glidepath.step 0s deploy canary: wait until ready
  glidepath.step 0s setWeight 20: apply stable=v1 canary=v2 weight=20%
    glidepath.apply 0s stable=v1 canary=v2 weight=20%
  glidepath.step 1m0s analyze [judge]
    glidepath.analysis 1m0s judge
      * glidepath.verdict glidepath.outcome=Pass glidepath.value.failures@v1.rate=0.01 glidepath.value.failures@v2.e_fail=25 glidepath.value.failures@v2.rate=0.04
  glidepath.step 0s setWeight 50: apply stable=v1 canary=v2 weight=50%
    glidepath.apply 0s stable=v1 canary=v2 weight=50%
  glidepath.step 0s promote: apply stable=v1 canary=v2 weight=100%
    glidepath.apply 0s stable=v1 canary=v2 weight=100%
  glidepath.step 0s promote: apply stable=v2
    glidepath.apply 0s stable=v2
`
		if got := tree(spans); got != want {
			t.Errorf("trace tree:\n%s\nwant:\n%s", got, want)
		}
		// One trace; every span ended; exactly one root.
		roots := 0
		for _, s := range spans {
			if s.SpanContext.TraceID() != spans[0].SpanContext.TraceID() {
				t.Errorf("span %s in another trace", s.Name)
			}
			if s.EndTime.IsZero() || s.EndTime.Before(s.StartTime) {
				t.Errorf("span %s: start %v end %v", s.Name, s.StartTime, s.EndTime)
			}
			if !s.Parent.SpanID().IsValid() {
				roots++
			}
		}
		if roots != 1 {
			t.Errorf("%d root spans, want 1", roots)
		}
	})
}

func TestRolledBackReleaseTree(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		obs, exp := recorder()
		run(t, obs, strategy.Release{
			Name: "shop", Target: strategytest.NewTarget(strategy.State{Stable: "v1"}), Stable: "v1", Canary: "v2",
			Strategy: canary.Config{Steps: []canary.Step{
				canary.SetWeight(20),
				canary.Analysis(judge{outcome: strategy.Fail, after: 30 * time.Second}),
				canary.SetWeight(50),
			}},
		})
		got := tree(exp.GetSpans())
		for _, want := range []string{
			"glidepath.release 30s RolledBack ERROR\n",
			"  glidepath.step 30s analyze [judge] ERROR\n",
			"    glidepath.analysis 30s judge ERROR\n",
			"      * glidepath.verdict glidepath.outcome=Fail",
			"  glidepath.rollback 0s\n    glidepath.apply 0s stable=v1 canary=v2 weight=0%\n    glidepath.apply 0s stable=v1\n",
		} {
			if !strings.Contains(got, want) {
				t.Errorf("trace tree lacks %q:\n%s", want, got)
			}
		}
		if strings.Contains(got, "weight=50%") {
			t.Errorf("a step after the failure was traced:\n%s", got)
		}
	})
}

// Failed Apply attempts are events of the Apply span that succeeded.
func TestApplyRetriesAreEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		obs, exp := recorder()
		tgt := strategytest.NewTarget(strategy.State{Stable: "v1"})
		tgt.Faults = []strategytest.Fault{{Op: strategytest.OpApply, Times: 2, Err: fmt.Errorf("conflict")}}
		run(t, obs, strategy.Release{
			Name: "shop", Target: tgt, Stable: "v1", Canary: "v2",
			Strategy: canary.Config{Steps: []canary.Step{canary.SetWeight(20)}},
		})
		for _, s := range exp.GetSpans() {
			if s.Name != gpotel.SpanApply || !hasAttr(s.Attributes, "glidepath.state", "stable=v1 canary=v2 weight=0%") {
				continue
			}
			if len(s.Events) != 2 || s.Events[0].Name != gpotel.EventApplyFailed || s.Events[1].Name != gpotel.EventApplyFailed {
				t.Errorf("apply span events %v, want 2 failed attempts", s.Events)
			}
			if !hasAttr(s.Attributes, "glidepath.attempts", "3") || s.Status.Code == codes.Error {
				t.Errorf("apply span attributes %v, status %v: want 3 attempts and no error", s.Attributes, s.Status)
			}
			return
		}
		t.Errorf("no apply span for the first State:\n%s", tree(exp.GetSpans()))
	})
}

func hasAttr(attrs []attribute.KeyValue, k, v string) bool {
	for _, kv := range attrs {
		if string(kv.Key) == k && kv.Value.String() == v {
			return true
		}
	}
	return false
}

// Concurrent releases each get their own trace; a release's spans never
// mix with another's.
func TestConcurrentReleases(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		obs, exp := recorder()
		done := make(chan struct{})
		for _, name := range []string{"a", "b", "c"} {
			go func() {
				defer func() { done <- struct{}{} }()
				run(t, obs, strategy.Release{
					Name: name, Target: strategytest.NewTarget(strategy.State{Stable: "v1"}), Stable: "v1", Canary: "v2",
					Strategy: canary.Config{Steps: []canary.Step{canary.SetWeight(20), canary.Analysis(judge{outcome: strategy.Pass, after: time.Second})}},
				})
			}()
		}
		for range 3 {
			<-done
		}
		traces := map[trace.TraceID]string{}
		for _, s := range exp.GetSpans() {
			if s.Name == gpotel.SpanRelease {
				for _, kv := range s.Attributes {
					if kv.Key == "glidepath.release" {
						traces[s.SpanContext.TraceID()] = kv.Value.AsString()
					}
				}
			}
		}
		if len(traces) != 3 {
			t.Fatalf("%d traces, want 3", len(traces))
		}
		for _, s := range exp.GetSpans() {
			if _, ok := traces[s.SpanContext.TraceID()]; !ok {
				t.Errorf("span %s outside the releases' traces", s.Name)
			}
		}
	})
}

// A release stopped before it began (only ReleaseFinished) still gets its
// one span; Parent places a release's span under the caller's.
func TestFinishWithoutStartAndParent(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	tracer := tp.Tracer("deployer")
	ctx, deploy := tracer.Start(context.Background(), "deploy request")
	obs := gpotel.New(gpotel.Options{TracerProvider: tp, Parent: func(release string) context.Context {
		if release == "shop" {
			return ctx
		}
		return nil
	}})
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	obs.OnEvent(strategy.ReleaseFinished{EventMeta: strategy.EventMeta{Release: "shop", Time: at},
		Result: strategy.Result{Release: "shop", Phase: strategy.PhaseStopped}, Err: fmt.Errorf("journal refused the start")})
	deploy.End()
	spans := exp.GetSpans()
	if len(spans) != 2 {
		t.Fatalf("%d spans, want the release's and the caller's:\n%s", len(spans), tree(spans))
	}
	rel := spans[0]
	if rel.Name != gpotel.SpanRelease || rel.Parent.SpanID() != deploy.SpanContext().SpanID() || rel.Status.Code != codes.Error ||
		!rel.StartTime.Equal(at) || !rel.EndTime.Equal(at) {
		t.Errorf("release span %+v", rel)
	}
	// Nothing is kept of the finished release: its next run starts anew.
	obs.OnEvent(strategy.ReleaseStarted{EventMeta: strategy.EventMeta{Release: "shop", Time: at}})
	obs.OnEvent(strategy.ReleaseFinished{EventMeta: strategy.EventMeta{Release: "shop", Time: at.Add(time.Minute)},
		Result: strategy.Result{Release: "shop", Phase: strategy.PhasePromoted}})
	spans = exp.GetSpans()
	if len(spans) != 3 || spans[2].EndTime.Sub(spans[2].StartTime) != time.Minute || spans[2].Status.Code != codes.Ok {
		t.Errorf("second run:\n%s", tree(spans))
	}
}
