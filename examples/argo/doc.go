// Command argo loads an Argo Rollouts canary (rollout.yaml: a Rollout and
// its AnalysisTemplate, as a team would keep them in Git) with the spec
// package and runs it with glidepath against the in-process HTTP traffic
// splitter. The template's web metric reads the canary's error rate from
// an endpoint the example serves from the splitter's own counters, so no
// Prometheus is needed. It prints what the spec mapped to and which fields
// it ignored, then stages the release.
//
//	go run ./examples/argo         # a bad v2: caught and rolled back
//	go run ./examples/argo -good   # a healthy v2: promoted
package main
