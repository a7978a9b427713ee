// Package prometheus is a metric [analysis.Source] that runs PromQL through
// the Prometheus HTTP API.
//
// Instant queries return what Argo Rollouts' Prometheus provider returns: a
// scalar becomes a float64 and an instant vector a []float64 (one number per
// series, hence result[0] in conditions). Range queries, which Argo's
// provider does not support, return a [][]float64 (the samples of each
// series). A string result becomes a string. As in Argo, an instant query
// that matched no series gives an empty []float64 (result[0] is then a
// measurement error; guard it with len(result) > 0 or default(result, x)),
// and NaN samples (0/0 of a rate with no requests) are passed on as NaN for
// isNaN(...) to test; with analysis.Check.MinSamples set, neither counts as
// data.
//
// Server errors, timeouts and unreachable servers are measurement errors: the
// check retries them at its next interval, within its consecutive-error
// limit. A query the server rejects as bad_data (HTTP 400) is a permanent
// error ([strategy.Permanent]): the check stops at once, because asking again
// cannot help.
//
// For the sequential judges of package
// [github.com/glidepath/glidepath/analysis/judge], [LatencySource] reads a
// histogram's cumulative bucket counts per revision (for
// judge.SequentialLatency) and [CountSource] a request counter's totals
// and failures per revision (for judge.Sequential). Both select a revision by a
// label whose value is written into the query as an escaped string
// literal, so a revision name cannot change the query, and classify
// errors as above.
package prometheus
