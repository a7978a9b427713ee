// Package httpsplit is a glidepath [strategy.Target] for plain HTTP services:
// a reverse proxy that sits in front of a stable and a canary upstream and
// splits traffic between them by weight.
//
// A [Splitter] is an [http.Handler]. Put it where clients reach the service,
// tell it where each revision runs ([Config].Upstreams or [Config].Resolve),
// and hand it to [strategy.Run] as the release's Target. The executor then
// moves the weight step by step; each [Splitter.Apply] swaps an immutable
// routing table in one atomic store, so requests in flight finish where
// they started and no request is dropped while the weight changes.
//
// # Splitting
//
// By default every request is split independently: a request goes to the
// canary with probability Weight/100. With [Sticky] set, a client key (a
// request header or a cookie the splitter hands out) is hashed into a
// bucket 0..99 and the client goes to the canary when its bucket is below
// the weight; raising the weight only moves clients from the stable
// revision to the canary, never back. The hash is salted with the canary's
// revision, so each release starts with a different slice of clients.
//
// A State's [strategy.HeaderRoute] pins matching requests to the canary
// whatever the weight; the Splitter implements [strategy.HeaderRouter].
// Exact compares the whole value, Prefix its start, and Regex must match
// the whole value (the full-string semantics of Envoy's RE2 matcher, which
// Istio's header match and so Argo Rollouts' setHeaderRoute use). A header
// sent several times matches when any of its values does.
//
// # Health
//
// [Splitter.Observe] reports the State being served and, per revision, 1
// when a GET of [Config].HealthPath on its upstream answers 2xx and 0
// otherwise, as [strategy.Observation] documents for targets without
// instances. The executor therefore never moves weighted traffic onto a
// canary whose health check fails: it waits for it up to the progress
// deadline and then rolls back.
//
// # Metrics
//
// The Splitter counts, per revision, requests, errors (5xx answers,
// including the 502 it sends when an upstream cannot be reached) and
// latency in a histogram. It is a [prometheus.Collector]: register it (or
// set [Config].Registerer) to let Prometheus scrape
//
//	glidepath_httpsplit_requests_total{revision="..."}
//	glidepath_httpsplit_errors_total{revision="..."}
//	glidepath_httpsplit_request_duration_seconds{revision="..."}  (histogram)
//	glidepath_httpsplit_canary_weight
//	glidepath_httpsplit_upstream_up{revision="..."}
//
// and read the same numbers in-process with [Splitter.Stats], for analysis
// that needs no Prometheus server.
//
// # Cost
//
// The splitter is Go's [httputil.ReverseProxy] over an [http.Transport]:
// the routing decision takes nanoseconds and allocates nothing, and a
// proxied request costs about 30µs of CPU on loopback, twice what nginx
// needs. That halves the throughput of a machine whose cores the proxy
// shares with a backend doing no work, and matters little in front of one
// that works for milliseconds per request. internal/proxybench measures it
// against a direct connection and nginx; its documentation has the numbers.
package httpsplit
