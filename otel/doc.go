// Package otel traces glidepath releases with OpenTelemetry, through the
// OpenTelemetry Go API (go.opentelemetry.io/otel/trace). It is a module of
// its own, so that glidepath's core does not depend on OpenTelemetry.
//
// An [Observer] is a strategy.Observer: give it to a release (alone, or
// with others through strategy.Observers) and every release becomes one
// trace:
//
//	glidepath.release                 the whole release, start to finish;
//	│                                 status Error unless it was promoted
//	├── glidepath.step                one per step (index, kind, name)
//	│   ├── glidepath.apply           each State the target accepted;
//	│   │                             failed attempts are its events
//	│   └── glidepath.analysis        one per analyzer of an analysis step,
//	│                                 its verdict (outcome, reason and the
//	│                                 numbers behind it) as an event
//	├── glidepath.background_analysis a background analyzer, from its start
//	│                                 (or its last verdict) to its verdict
//	└── glidepath.rollback            the rollback, with its Apply spans
//
// Phase changes, waits for ready capacity and a degraded rollback are
// events of the release (or rollback) span. A verdict's numbers
// (strategy.Measurement.Values) become attributes named
// glidepath.value.<measurement>[@<revision>].<name>, for example
// glidepath.value.failures@v2.e_fail.
//
// Spans are timed by the events' own times (EventMeta.Time), so a release
// run under testing/synctest or resumed from a journal is traced as the
// executor saw it. The executor reports an Apply and an analysis when they
// end; their spans start at the event before (the step's start for an
// analysis step).
//
// Register a tracer provider with an exporter (OTLP, stdout, or the SDK's
// tracetest.InMemoryExporter in tests) and pass it in [Options], or leave
// it nil to use the global one.
package otel
