// Package glidepath is an embeddable Go library for progressive delivery:
// a Go program imports it to release a new revision of anything — a
// service, a fleet of instances, a feature flag — with a strategy matched
// to the risk (rolling, canary, blue-green), promotion gated on live
// metrics, and automatic rollback the moment analysis says the release is
// bad. Every release is reversible in one move and every decision is
// explained.
//
// This package holds the long-form documentation and risk-matched strategy
// selection; the work is done by the packages below.
//
// # The flow
//
// A strategy is a pure planner: [github.com/glidepath/glidepath/canary],
// [github.com/glidepath/glidepath/bluegreen] and
// [github.com/glidepath/glidepath/rolling] turn a Config and two revisions
// into a [strategy.Plan], an ordered list of steps that can be printed,
// compared and tested as data. One executor,
// [github.com/glidepath/glidepath/strategy], runs every plan against a
// [strategy.Target]: it retries Apply with backoff, moves capacity before
// traffic, runs analysis inline and in the background, pauses for people,
// and rolls back on a Fail verdict, a missed deadline, an Abort or a
// cancelled context.
//
//	plan := canary.Config{StepWeight: 20, MaxWeight: 60, Interval: time.Minute,
//		Analyzers: []strategy.Analyzer{successRate}}
//	res, err := strategy.Run(ctx, strategy.Release{
//		Target: target, Stable: "v1", Canary: "v2", Strategy: plan,
//		Observer: strategy.SlogObserver(logger),
//	})
//
// # Targets
//
// A Target is declarative: Apply(ctx, State) is told the desired stable and
// canary revisions, traffic weight, instance counts and optional header
// route, and must be idempotent; Observe reports what is served and how
// much of each revision is ready. Optional capabilities, such as header
// routing ([strategy.HeaderRouter]), are separate small interfaces found by
// type assertion. Ready-made targets: an HTTP traffic splitter
// ([github.com/glidepath/glidepath/strategy/httpsplit]) and a feature flag
// served through OpenFeature ([github.com/glidepath/glidepath/flags]).
// [github.com/glidepath/glidepath/strategy/strategytest] has an in-memory
// fake with fault injection and a conformance suite for your own targets.
//
// # Analysis
//
// An Analyzer returns a verdict — Pass, Fail or Inconclusive — with the
// measurements behind it. [github.com/glidepath/glidepath/analysis] has
// metric checks with the conditions and limits Argo Rollouts users write,
// a Prometheus source, HTTP sources and signed webhook gates;
// [github.com/glidepath/glidepath/analysis/judge] has statistical judges:
// a Mann–Whitney comparison of canary and baseline in the manner of
// Kayenta, and a sequential test of error rates that can be looked at every
// interval without inflating false alarms. An error from a metric source is
// never a Pass.
//
// # Safety
//
// The executor and its tests hold these invariants:
//
//  1. A release that fails analysis, misses its deadline, is aborted or has
//     its context cancelled ends on the stable State, unless the caller
//     chose to pause instead.
//  2. Traffic never moves onto capacity that is not ready, forward or back.
//  3. A release whose measurements all errored, or saw no data, never passes.
//  4. Every step is recorded before it is applied; a release can be resumed
//     or rolled back from its journal after a crash
//     ([github.com/glidepath/glidepath/rollback]).
//  5. Two rollouts of the same target never run at once (a lease in the
//     rollback Store).
//  6. Bad configuration is rejected before anything is applied, with every
//     problem named.
//
// # History and reporting
//
// [github.com/glidepath/glidepath/rollback] keeps a durable journal and
// history per target, with one-call undo;
// [github.com/glidepath/glidepath/metrics] exports release metrics to
// Prometheus and [github.com/glidepath/glidepath/dora] computes DORA's four
// key metrics from the history.
package glidepath
