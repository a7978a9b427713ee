// Package metrics exports Prometheus metrics about glidepath releases.
//
// A [Collector] is a [prometheus.Collector] that you register on your own
// registry, and a [strategy.Observer] that you give to a release
// (Release.Observer) so that it sees every event of the executor:
//
//	c, err := metrics.New(metrics.Options{})
//	if err != nil { ... }
//	registry.MustRegister(c)
//	rel.Observer = c.ForTarget("checkout") // or c itself, with target=""
//
// The package keeps no global state: nothing is registered on the default
// registry, and two Collectors never share a series.
//
// # Metrics
//
// Every metric carries the label target: the name given to
// [Collector.ForTarget] ("" when the Collector itself is the observer).
//
//	glidepath_releases_started_total{target, strategy, resumed}
//	    Counter. Releases started (ReleaseStarted events); resumed is
//	    "true" for a release resumed from its journal.
//	glidepath_releases_finished_total{target, strategy, outcome}
//	    Counter. Releases finished, by final phase: Promoted, RolledBack,
//	    Degraded or Stopped.
//	glidepath_releases_in_progress{target}
//	    Gauge. Releases started and not yet finished.
//	glidepath_release_duration_seconds{target, strategy, outcome}
//	    Histogram. From the start of a release to its end (Result.Started
//	    to Result.Finished), pauses included.
//	glidepath_canary_weight_percent{target, release}
//	    Gauge. The canary's share of traffic (0..100) in the last State
//	    applied to the target, rollbacks included. The series is removed
//	    when the release finishes, so it exists only while a release runs.
//	glidepath_analysis_value{target, release, analyzer, measurement, revision}
//	    Gauge. The last value each analyzer measured (Measurement.Values
//	    "value": a check's query result when it is one number), by
//	    measurement name and the revision it is about ("" for none), in
//	    the unit of the query. Removed when the release finishes.
//	glidepath_analysis_evidence{target, release, analyzer, measurement, revision, statistic}
//	    Gauge. The other numbers behind a verdict, the judges' evidence:
//	    statistic is the name in Measurement.Values (e_fail and e_pass,
//	    the e-values of a sequential test; llr, a log-likelihood ratio;
//	    rate, trials, failures, ...). Removed when the release finishes.
//	glidepath_analysis_verdicts_total{target, analyzer, outcome}
//	    Counter. Verdicts reached, inline and background, by analyzer name
//	    and outcome (Pass, Fail, Inconclusive). An analyzer error is
//	    counted as Inconclusive, as the executor reports it.
//	glidepath_rollbacks_total{target, cause}
//	    Counter. Rollbacks started, by cause (see below).
//	glidepath_time_to_restore_seconds{target, cause}
//	    Histogram. For a release that was rolled back, the time from the
//	    failure (Result.FailedAt: the deciding Fail verdict, or the start
//	    of the rollback for other causes) to the stable State restored
//	    (Result.RollbackFinished). A rollback that could not be applied
//	    (a Degraded release) restores nothing and is not observed.
//
// The cause of a rollback is the sentinel error it matches:
//
//	analysis_failed  strategy.ErrAnalysisFailed
//	aborted          strategy.ErrAborted (Rollout.Abort, or a resumed
//	                 release that was rolling back)
//	deadline         strategy.ErrDeadlineExceeded
//	cancelled        strategy.ErrCancelled
//	target_error     strategy.ErrTarget
//	other            anything else
//
// # Cardinality
//
// Every label takes a bounded set of values:
//
//   - target: the names you pass to ForTarget, one per thing you release
//     to; never pass a revision or a release name.
//   - strategy: the plans' strategy names (canary, bluegreen, rolling,
//     undo, or your own), and analyzer: the analyzers' names. Both are
//     capped: once Options.MaxLabelValues distinct values (default 64)
//     have been seen for a label, further new values are reported as
//     "other".
//   - outcome, cause and resumed: fixed sets, listed above.
//   - release, and revision: only on glidepath_canary_weight_percent and
//     the analysis gauges, and only while the release runs; their series
//     are deleted when the release finishes, so they count releases
//     running at once (times their measurements).
//   - measurement and statistic: measurement names and the names in
//     Measurement.Values, capped like analyzer.
//
// So the number of series is bounded by the number of targets times a
// product of capped label sets (a histogram adds its buckets plus 2 series
// per label set), plus one weight series per running release; it does not
// grow with the number of releases run.
//
// # Names
//
// Options.Namespace replaces the glidepath_ prefix ("-" removes it) and
// Options.Subsystem adds a part after it, for every metric. The names
// follow Prometheus' conventions (base units in seconds, _total on
// counters), with one deviation kept on purpose:
// glidepath_canary_weight_percent is a percentage, not a 0–1 _ratio,
// because it reports State.Weight, which is a percentage everywhere in
// glidepath as in Argo Rollouts and Flagger, and because dashboards
// already use the name; the _percent suffix says so. (The HTTP splitter's
// own weight gauge, glidepath_httpsplit_canary_weight_ratio, is a 0–1
// ratio.) The analysis gauges have no unit suffix: their unit is the
// query's.
//
// # Cost
//
// Recording an event takes well under a microsecond and does not allocate
// for verdicts and applied States (BenchmarkOnEvent).
package metrics
