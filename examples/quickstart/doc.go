// Command quickstart shows a glidepath canary release end to end, with no
// servers to install:
//
//	go run ./examples/quickstart          # v2 is bad: glidepath detects it and rolls back
//	go run ./examples/quickstart -good    # v2 is good: glidepath promotes it
//
// It starts two HTTP backends on 127.0.0.1 (v1, the stable revision, and
// v2, the canary), puts a glidepath traffic splitter (strategy/httpsplit)
// in front of them, sends it 200 requests per second, and releases v2 with
// a canary strategy: 10%, 25%, then 50% of the traffic, a few seconds at
// each weight. The sequential judge (analysis/judge.Sequential) reads the
// splitter's own per-revision request and error counters and compares v2
// with v1: in the background it fails v2 as soon as v2 is shown to fail
// more often than v1, and before promotion it holds the release until v2
// is shown to be at most 1 percentage point worse than v1. In the default
// run v2 answers one request in 20 with HTTP 500; glidepath sees it within
// a few seconds of v2's first requests and moves all traffic back to v1.
// The summary shows the evidence behind the decision: both revisions'
// failures and requests, and the evidence of a regression and of none
// against the thresholds they are judged by.
package main
