// Command prometheus runs the quickstart's canary release with analysis
// that queries a real Prometheus server, the way a production release
// would:
//
//	go run ./examples/prometheus          # v2 is bad: rolled back
//	go run ./examples/prometheus -good    # v2 is good: promoted
//
// It starts Prometheus (the Debian package's /usr/bin/prometheus, or
// -prometheus PATH) on a free loopback port with a generated configuration
// that scrapes the splitter's metrics every second, and a temporary storage
// directory; it stops the server and removes the directory at the end.
//
// The checks are PromQL over the metrics the splitter exports:
//
//	sum(increase(glidepath_httpsplit_errors_total{revision="v2"}[1m]))
//	  / sum(increase(glidepath_httpsplit_requests_total{revision="v2"}[1m]))
//
// judged with the Argo Rollouts style condition result[0] <= 0.01, once at
// least 20 of v2's requests back the measurement.
package main
