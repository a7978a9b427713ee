// Package analysis judges releases with metrics: metric checks with the
// conditions and limits Argo Rollouts users already write, composition of
// checks, query templates, HTTP sources and webhook gates. Every analyzer
// here is a [strategy.Analyzer].
//
// # Checks
//
// A [Check] measures a query from a [Source] — Prometheus (package
// analysis/prometheus), an HTTP/JSON endpoint ([HTTP]) or a function
// ([SourceFunc]) — after InitialDelay, then every Interval, Count times
// (Count 0 means once when there is no Interval, and until the context ends
// when there is one: the shape of background analysis). Each value is bound
// to `result` and judged by SuccessCondition and FailureCondition,
// expressions in the github.com/expr-lang/expr language that Argo Rollouts
// AnalysisTemplates use:
//
//	result[0] >= 0.99
//	isNaN(result) || result < 0.5
//	default(result, 0) <= 10
//	all(result, {# < 0.5})
//
// Conditions are compiled once, by Validate (or the first Analyze), so a
// condition that does not compile, or that cannot return a bool, is a
// validation error rather than a failed measurement. Besides expr's
// built-ins they may call the functions Argo Rollouts documents:
//
//   - isNaN(x) and isInf(x): whether a number is NaN or ±Inf (false for
//     values that are not numbers, where Argo reports an error);
//   - isNil(x): whether x is nil (no data);
//   - default(x, fallback): x, or fallback when x is nil or an empty
//     vector (Argo only replaces nil, and an empty vector is what an
//     instant query that matched no series returns);
//   - asFloat(x) and asInt(x): a number from a string ("0.95") or another
//     number; asInt truncates towards zero (asInt(1.9) == 1) and rejects
//     strings that are not integers ("1.1"), as Argo does.
//
// # How a measurement is judged
//
// As in Argo Rollouts (its EvaluateResult):
//
//   - neither condition set: every measurement is Successful;
//   - only SuccessCondition: Successful when it holds, otherwise Failed;
//   - only FailureCondition: Failed when it holds, otherwise Successful;
//   - both: Failed when FailureCondition holds (even if SuccessCondition
//     does too), Successful when only SuccessCondition holds, and
//     Inconclusive when neither does.
//
// A source error, a timeout, or a condition that cannot be evaluated (for
// example result[0] of an empty result; the error then says how to guard
// the condition) is a measurement error. Each
// [strategy.Measurement] in a verdict carries the value, its outcome, the
// condition that decided it ("!(...)" for a negated one) and any error, so
// a person can see why a release was rolled back.
//
// # Limits
//
// After each measurement the limits are checked in Argo Rollouts' order:
//
//   - failed measurements > FailureLimit (default 0; -1 disables): Fail;
//   - inconclusive measurements > InconclusiveLimit (default 0):
//     Inconclusive;
//   - errors in a row > ConsecutiveErrorLimit (default 4): Fail (Argo's
//     Error phase, which aborts a rollout as a failure does);
//   - successes in a row >= ConsecutiveSuccessLimit (when set): Pass;
//   - Count judged measurements (errors do not count): Pass when only the
//     failure limit applies, Fail when only the success limit applies
//     (FailureLimit -1), Inconclusive when both apply.
//
// Errored measurements are retried after Interval, or ErrorRetryInterval
// (10s) for a check without one (see below for how this differs from Argo). An error marked [strategy.Permanent] — a
// query Prometheus rejects as bad_data — ends the check at once with an
// Inconclusive verdict and that error: retrying cannot fix it.
//
// A DryRun check runs and is reported, but its verdict is always Pass; the
// reason says what it would have been ("dry run, would be Fail: ...").
//
// A background check (Input.Background) with no Count runs until its
// context ends and returns as soon as a limit decides.
//
// # Validation
//
// [Check.Validate] names the check and lists every problem at once. Besides
// missing fields, negative durations and limits, and conditions or
// placeholders that do not parse, it applies Argo Rollouts' rules for a
// metric: Count must be at least FailureLimit and InconclusiveLimit (so
// Count 2 with FailureLimit 2 is accepted, and Count 1 with FailureLimit 2
// is not), a Count above one needs an Interval, FailureLimit may not be
// below -1, and FailureLimit -1 needs a ConsecutiveSuccessLimit (otherwise
// nothing could decide). A Count smaller than ConsecutiveSuccessLimit is
// rejected too: such a check could never pass.
//
// # Where glidepath differs from Argo Rollouts
//
// Only where Argo's users have been hurt, and always towards not passing:
//
//   - A check whose measurements all errored, or that never had data, never
//     passes. Argo can report such a run Successful (for example a
//     background run terminated with only errors); here the count being
//     reached, the consecutive success limit or the end of background
//     analysis give Inconclusive unless some judged measurement had data
//     (a non-NaN number, a non-empty vector or string, or a positive
//     SamplesQuery).
//   - Low traffic: with MinSamples set, a measurement backed by fewer
//     samples (data points, or the number SamplesQuery returns) is recorded
//     but not judged and the check waits for more data, measuring again at
//     the next interval; after NoDataLimit such measurements (default 10)
//     the check is Inconclusive. Argo fails such a release on "no values".
//   - Errored measurements are retried after Interval (Argo retries them
//     after 10 seconds whatever the interval), so a flapping metrics
//     server is not queried five times in a minute and the
//     consecutive-error limit spans that many intervals.
//   - Every verdict carries its measurements, bounded by HistoryLimit, and
//     [Check.History] keeps them across runs.
//
// # Query templates
//
// A query refers to the release with {{release.name}}, {{release.stable}},
// {{release.canary}}, {{release.weight}} and {{release.step}}, and to
// arguments with {{args.NAME}} (Argo's placeholder syntax). The weight comes
// from Input.CurrentState when each measurement is taken, so background
// checks follow the release. Values are escaped for where they sit in the
// query (see [Check.Query]); a value that cannot be made safe ends the check
// with a permanent error. Secret arguments are replaced by "*****" in every
// verdict, measurement and error.
//
// # Composition and gates
//
// A [Group] runs several analyzers concurrently as one; the worst outcome
// wins, and a Fail or Inconclusive stops the others, as one failing metric
// terminates an Argo AnalysisRun; at the end of a release a background
// group answers with its members' last words. A [Webhook] is a gate: it POSTs a signed
// JSON description of the release and passes on 2xx, fails on 4xx, and
// retries 408 and 429 (honouring Retry-After, within bounds). Each request
// carries a random ID inside its signed body; a receiver verifies it with a
// [ReplayGuard], which also refuses a request it has already accepted.
//
// # Before a release starts
//
// [Check.Validate] refuses a check whose Source cannot work (a Prometheus
// address without a scheme, a typed nil) along with every other problem,
// so the executor refuses the release before anything is applied. An
// opt-in [Preflight] goes further: it takes one unjudged measurement of
// each check (a [Preflighter]), so a server that is down, credentials that
// do not work or a query the server rejects are found before traffic
// moves.
package analysis
