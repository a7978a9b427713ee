package otel

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	otelapi "go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/glidepath/glidepath/strategy"
)

// ScopeName is the instrumentation scope of the tracer the Observer uses.
const ScopeName = "github.com/glidepath/glidepath/otel"

// Span names.
const (
	SpanRelease            = "glidepath.release"
	SpanStep               = "glidepath.step"
	SpanApply              = "glidepath.apply"
	SpanAnalysis           = "glidepath.analysis"
	SpanBackgroundAnalysis = "glidepath.background_analysis"
	SpanRollback           = "glidepath.rollback"
)

// Span event names.
const (
	EventVerdict      = "glidepath.verdict"
	EventApplyFailed  = "glidepath.apply_failed"
	EventWaitingReady = "glidepath.waiting_for_ready"
	EventPhaseChanged = "glidepath.phase_changed"
	EventDegraded     = "glidepath.degraded"
)

// Options configure an [Observer]. The zero value uses the global tracer
// provider and starts each release's trace at the root.
type Options struct {
	// TracerProvider provides the tracer; nil uses otel.GetTracerProvider()
	// at New.
	TracerProvider trace.TracerProvider
	// Parent, when set, returns the context whose span becomes the parent
	// of a release's span, for example one carrying the span of the
	// deployment request that started it. Nil starts a new trace per
	// release.
	Parent func(release string) context.Context
}

// Observer turns the executor's events into OpenTelemetry traces: one
// span per release, a child span per step, and under a step a span per
// Apply and per analyzer, with every verdict (and its numbers) as a span
// event. Give it to a release as its strategy.Observer (combine it with
// others with strategy.Observers). It is safe for concurrent use and can
// observe any number of releases at once; create it with [New].
type Observer struct {
	tracer trace.Tracer
	parent func(string) context.Context

	mu       sync.Mutex
	releases map[string]*release
}

var _ strategy.Observer = (*Observer)(nil)

// release is one running release's open spans.
type release struct {
	ctx        context.Context // carries the release span
	span       trace.Span
	start      time.Time
	step       trace.Span // nil between steps
	stepCtx    context.Context
	stepStart  time.Time
	rollback   trace.Span // nil unless rolling back
	rbCtx      context.Context
	apply      trace.Span // an Apply that failed at least once and is retried
	last       time.Time  // the time of the last event
	background map[string]time.Time
}

// New returns an Observer configured by opts.
func New(opts Options) *Observer {
	tp := opts.TracerProvider
	if tp == nil {
		tp = otelapi.GetTracerProvider()
	}
	return &Observer{tracer: tp.Tracer(ScopeName), parent: opts.Parent, releases: map[string]*release{}}
}

// OnEvent records e (strategy.Observer).
func (o *Observer) OnEvent(e strategy.Event) {
	m := e.Meta()
	at := m.Time
	if at.IsZero() {
		at = time.Now()
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	r := o.releases[m.Release]
	if r == nil {
		r = o.begin(m.Release, at, e)
	}
	defer func() { r.last = at }()
	switch ev := e.(type) {
	case strategy.ReleaseStarted:
		r.span.SetAttributes(attribute.String("glidepath.strategy", ev.Strategy), attribute.String("glidepath.stable", string(ev.Stable)),
			attribute.String("glidepath.canary", string(ev.Canary)), attribute.Int("glidepath.steps", ev.Steps), attribute.Bool("glidepath.resumed", ev.Resumed))
	case strategy.StepStarted:
		o.endStep(r, at, nil)
		r.stepStart = at
		r.stepCtx, r.step = o.tracer.Start(r.ctx, SpanStep, trace.WithTimestamp(at), trace.WithAttributes(
			attribute.Int("glidepath.step.index", m.Step), attribute.String("glidepath.step.kind", string(ev.Step.Kind)),
			attribute.String("glidepath.step.name", ev.Step.Name), attribute.String("glidepath.step.description", ev.Step.String())))
	case strategy.StepFinished:
		o.endStep(r, at, ev.Err)
	case strategy.ApplyFailed:
		if r.apply == nil {
			_, r.apply = o.tracer.Start(r.parentCtx(), SpanApply, trace.WithTimestamp(r.last), trace.WithAttributes(stateAttrs(ev.State)...))
		}
		r.apply.AddEvent(EventApplyFailed, trace.WithTimestamp(at), trace.WithAttributes(attribute.Int("glidepath.attempt", ev.Attempt),
			attribute.String("glidepath.error", ev.Err.Error()), attribute.Bool("glidepath.will_retry", ev.WillRetry)))
		if !ev.WillRetry {
			r.apply.SetStatus(codes.Error, ev.Err.Error())
			r.apply.End(trace.WithTimestamp(at))
			r.apply = nil
		}
	case strategy.StateApplied:
		span := r.apply
		if span == nil {
			_, span = o.tracer.Start(r.parentCtx(), SpanApply, trace.WithTimestamp(r.last), trace.WithAttributes(stateAttrs(ev.State)...))
		}
		span.SetAttributes(attribute.Int("glidepath.attempts", ev.Attempts), attribute.Bool("glidepath.rollback", ev.Rollback))
		span.End(trace.WithTimestamp(at))
		r.apply = nil
	case strategy.WaitingForReady:
		span := r.step
		if span == nil {
			span = r.span
		}
		span.AddEvent(EventWaitingReady, trace.WithTimestamp(at), trace.WithAttributes(attribute.String("glidepath.desired", ev.Desired.String()),
			attribute.String("glidepath.deadline", ev.Deadline.UTC().Format(time.RFC3339Nano))))
	case strategy.VerdictReached:
		o.verdict(r, at, ev)
	case strategy.PhaseChanged:
		attrs := []attribute.KeyValue{attribute.String("glidepath.from", string(ev.From)), attribute.String("glidepath.to", string(ev.To)),
			attribute.String("glidepath.reason", ev.Reason)}
		if ev.PauseReason != "" {
			attrs = append(attrs, attribute.String("glidepath.pause_reason", string(ev.PauseReason)))
		}
		r.span.AddEvent(EventPhaseChanged, trace.WithTimestamp(at), trace.WithAttributes(attrs...))
	case strategy.RollbackStarted:
		o.endStep(r, at, ev.Cause)
		attrs := []attribute.KeyValue{attribute.String("glidepath.from", ev.From.String()), attribute.String("glidepath.to", ev.To.String())}
		if ev.Cause != nil {
			attrs = append(attrs, attribute.String("glidepath.cause", ev.Cause.Error()))
		}
		r.rbCtx, r.rollback = o.tracer.Start(r.ctx, SpanRollback, trace.WithTimestamp(at), trace.WithAttributes(attrs...))
	case strategy.RollbackFinished:
		if r.rollback != nil {
			r.rollback.End(trace.WithTimestamp(at))
			r.rollback, r.rbCtx = nil, nil
		}
	case strategy.ReleaseDegraded:
		span := r.rollback
		if span == nil {
			span = r.span
		}
		span.AddEvent(EventDegraded, trace.WithTimestamp(at), trace.WithAttributes(attribute.String("glidepath.last", ev.Last.String()),
			attribute.String("glidepath.error", ev.Err.Error())))
		span.SetStatus(codes.Error, ev.Err.Error())
	case strategy.ReleaseFinished:
		o.finish(r, m.Release, at, ev)
	}
}

// begin opens the span of a release seen for the first time: at its
// ReleaseStarted, or at whatever event comes first (a release stopped
// before it began emits only ReleaseFinished).
func (o *Observer) begin(name string, at time.Time, e strategy.Event) *release {
	ctx := context.Background()
	if o.parent != nil {
		if p := o.parent(name); p != nil {
			ctx = p
		}
	}
	ctx, span := o.tracer.Start(ctx, SpanRelease, trace.WithTimestamp(at), trace.WithAttributes(attribute.String("glidepath.release", name)))
	r := &release{ctx: ctx, span: span, start: at, last: at, background: map[string]time.Time{}}
	if _, ok := e.(strategy.ReleaseFinished); !ok {
		// ReleaseFinished removes what it is given; nothing else is kept
		// for a release that has finished.
		o.releases[name] = r
	}
	return r
}

// parentCtx is the context of the span an Apply belongs to: the rollback,
// the step, or the release.
func (r *release) parentCtx() context.Context {
	switch {
	case r.rollback != nil:
		return r.rbCtx
	case r.step != nil:
		return r.stepCtx
	}
	return r.ctx
}

// endStep ends the open step span, if any, with err as its status.
func (o *Observer) endStep(r *release, at time.Time, err error) {
	if r.step == nil {
		return
	}
	if err != nil {
		r.step.RecordError(err, trace.WithTimestamp(at))
		r.step.SetStatus(codes.Error, err.Error())
	}
	r.step.End(trace.WithTimestamp(at))
	r.step, r.stepCtx = nil, nil
}

// verdict records a verdict as a span of its own, from the time the
// analysis began (the step's start; for background analysis the release's
// start or the analyzer's previous verdict) to the verdict, which is the
// span's event.
func (o *Observer) verdict(r *release, at time.Time, ev strategy.VerdictReached) {
	v := ev.Verdict
	name, parent, start := SpanAnalysis, r.parentCtx(), r.stepStart
	if ev.Background || r.step == nil {
		name, parent = SpanBackgroundAnalysis, r.ctx
		start = r.start
		if prev, ok := r.background[v.Analyzer]; ok {
			start = prev
		}
		r.background[v.Analyzer] = at
	}
	if start.IsZero() || start.After(at) {
		start = at
	}
	_, span := o.tracer.Start(parent, name, trace.WithTimestamp(start), trace.WithAttributes(
		attribute.String("glidepath.analyzer", v.Analyzer), attribute.Bool("glidepath.background", ev.Background)))
	span.AddEvent(EventVerdict, trace.WithTimestamp(at), trace.WithAttributes(verdictAttrs(v)...))
	span.SetAttributes(attribute.String("glidepath.outcome", string(v.Outcome)))
	if v.Outcome == strategy.Fail {
		span.SetStatus(codes.Error, v.String())
	}
	span.End(trace.WithTimestamp(at))
	if ev.Background {
		// The release's own record of the background verdicts.
		r.span.AddEvent(EventVerdict, trace.WithTimestamp(at), trace.WithAttributes(verdictAttrs(v)...))
	}
}

// finish ends every span of the release still open.
func (o *Observer) finish(r *release, name string, at time.Time, ev strategy.ReleaseFinished) {
	if r.apply != nil {
		r.apply.End(trace.WithTimestamp(at))
	}
	o.endStep(r, at, nil)
	if r.rollback != nil {
		r.rollback.End(trace.WithTimestamp(at))
	}
	r.span.SetAttributes(attribute.String("glidepath.phase", string(ev.Result.Phase)))
	if ev.Result.Strategy != "" {
		r.span.SetAttributes(attribute.String("glidepath.strategy", ev.Result.Strategy))
	}
	if ev.Err != nil {
		r.span.RecordError(ev.Err, trace.WithTimestamp(at))
		r.span.SetStatus(codes.Error, ev.Err.Error())
	} else if ev.Result.Phase == strategy.PhasePromoted {
		r.span.SetStatus(codes.Ok, "")
	}
	r.span.End(trace.WithTimestamp(at))
	delete(o.releases, name)
}

func stateAttrs(s strategy.State) []attribute.KeyValue {
	return []attribute.KeyValue{attribute.String("glidepath.state", s.String()), attribute.String("glidepath.state.stable", string(s.Stable)),
		attribute.String("glidepath.state.canary", string(s.Canary)), attribute.Int("glidepath.state.weight", s.Weight)}
}

// verdictAttrs describe a verdict: analyzer, outcome, reason and the
// numbers behind it, as glidepath.value.<measurement>[@<revision>].<name>
// (the last measurement of each name wins).
func verdictAttrs(v strategy.Verdict) []attribute.KeyValue {
	attrs := []attribute.KeyValue{attribute.String("glidepath.analyzer", v.Analyzer), attribute.String("glidepath.outcome", string(v.Outcome)),
		attribute.String("glidepath.reason", v.Reason)}
	nums := map[string]float64{}
	var errs []error
	for _, m := range v.Measurements {
		key := m.Name
		if m.Revision != "" {
			key += "@" + string(m.Revision)
		}
		for k, x := range m.Values {
			nums[fmt.Sprintf("glidepath.value.%s.%s", key, k)] = x
		}
		if m.Error != "" {
			errs = append(errs, errors.New(m.Error))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(nums)) {
		attrs = append(attrs, attribute.Float64(k, nums[k]))
	}
	if err := errors.Join(errs...); err != nil {
		attrs = append(attrs, attribute.String("glidepath.errors", err.Error()))
	}
	return attrs
}
