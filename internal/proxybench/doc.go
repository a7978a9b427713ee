// Command proxybench measures what glidepath's HTTP traffic splitter
// (strategy/httpsplit) costs: it puts the same closed-loop load (a fixed
// number of concurrent clients, each sending its next request as soon as
// the previous one is answered) directly at a backend, through the
// splitter, and, when nginx is installed, through nginx configured with the
// same weighted upstream, one after the other, all on loopback:
//
//	go run ./internal/proxybench                  # 10s per target, 32 clients
//	go run ./internal/proxybench -duration 3s -concurrency 16
//
// It prints requests per second and p50/p99 latency for each target and
// the ratio to the direct run. The splitter's targets are at least 0.8× the
// direct throughput and under 0.5 ms added at p99; on a machine where the
// load generator, the proxy and the backends share a few cores, every proxy
// also takes CPU from the others, so the ratios are a lower bound.
//
// nginx (Debian's package, /usr/sbin/nginx, or -nginx PATH) is started
// with a generated configuration in a temporary directory — daemon off,
// master_process off, its pid file, logs and temporary files in that
// directory — on a free loopback port, and killed and waited for at the end.
package main
