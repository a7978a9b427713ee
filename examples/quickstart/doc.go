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
// each weight. Analysis reads the splitter's own metrics: the release goes
// on only while v2's error rate stays at or below 1%. In the default run v2
// answers one request in 20 with HTTP 500; glidepath sees it within a
// second or two of v2's first requests and moves all traffic back to v1.
package main
