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
// # Fencing
//
// A driver that lost its lease (frozen, partitioned) may wake up and
// retry an Apply after the driver that took the lease over has already
// moved traffic. The Splitter implements [strategy.FencedTarget] to stop
// that write: [Splitter.ApplyFenced] carries the fencing token of the
// lease under which the State is applied. The splitter remembers the
// highest token it has accepted and refuses a write with a lower one, with
// a [strategy.Permanent] error matching [strategy.ErrFenced], so the stale
// driver stops retrying and the traffic stays where its successor put it.
// An equal token is accepted (the same holder retrying, or taking its next
// step). Token 0 means "no lease": the State is applied as by
// [Splitter.Apply], which is never fenced, and the remembered token is
// neither raised nor lowered. The check, the swap of the routing table and
// the raise of the token happen under the lock that serialises Apply, so
// no lower token is ever applied after a higher one, and of concurrent
// writers the one with the highest token is applied last. Only a write
// that is applied raises the token; an invalid State fences no one. The
// token lives in the Splitter's memory: a restarted splitter accepts any
// token until it has seen one, so the fence covers stale drivers of one
// splitter's lifetime, not a splitter restarted between their writes.
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
// # Serving
//
// A Splitter can be mounted on any server (it is an [http.Handler]), or
// serve a listener itself with [Splitter.Serve] or
// [Splitter.ListenAndServe], which costs less than half the CPU per
// request. Serve reads keep-alive HTTP/1.1 GET and HEAD requests without
// a body on a server loop of its own (no request or header map built,
// header lines copied from buffer to buffer; on Linux event loops as
// nginx's workers run them, GOMAXPROCS epoll instances with
// non-blocking sockets, reading a socket only when epoll reports it
// readable; elsewhere one goroutine per connection) and hands every
// other connection, from its first unusual
// request on and with nothing of it consumed, to a net/http server whose
// Handler is the Splitter: bodies, Upgrade and WebSocket, Expect, HTTP/1.0,
// HTTP/2, TLS, and any request its strict parser does not accept as
// plainly valid (obs-fold, a bare LF, conflicting or repeated framing
// headers, a missing or repeated Host, an unusual target, a head over
// 8 KB). A request that could be read two ways is therefore never read
// by Serve's loop, and a malformed one gets net/http's answer (a 400);
// the tests send the request smuggling classics to both servers and
// compare, and fuzz both parsers against net/http's.
//
// # Forwarding
//
// A GET or HEAD without a body or an Upgrade, to a plain-HTTP upstream
// without a base path, takes the splitter's own forwarding path: the
// request line and headers are written straight to a pooled keep-alive
// connection (up to 512 idle per upstream), and the response is read
// and streamed back: by [http.ReadResponse] when the Splitter is mounted
// as a Handler, by a parser of its own on Serve's loop, which refuses
// (502, as nginx) an answer whose head is over 16 KB or that
// http.ReadResponse would read differently. Every other request (bodies,
// Upgrade and WebSocket, https or a base path, or any request when
// [Config].Transport is set) goes through [httputil.ReverseProxy]. All
// paths behave alike, and the tests check each, the whole suite running
// once with the Splitter as a Handler and once behind Serve: bodies
// stream (a response of unknown length is flushed as it arrives),
// trailers pass, hop-by-hop headers (RFC 9110 7.6.1, and those a
// Connection header names) are removed both ways, a client's Forwarded
// and X-Forwarded-* headers are replaced by the splitter's
// X-Forwarded-For/-Host/-Proto, its X-Real-IP is dropped or overwritten
// ([Config].RealIP), a GET that finds its reused connection closed by the
// upstream is sent again on a new one, a body the upstream cuts short
// aborts the client's response instead of ending it as if it were whole,
// and a client that goes away before the upstream answers aborts the
// upstream exchange (recorded as 499; on Serve's event loops, Linux, as
// soon as the socket reports it; on its goroutine loop it is watched for
// once the upstream has taken 20ms, so fast answers pay for no watcher).
// An upstream that cuts its answer short before the event loop has sent
// any of it (a loop sends a response once it holds all of it) gets the
// client a 502, or the connection closed when the answer had begun.
//
// No library does this better than httputil.ReverseProxy while keeping
// net/http compatibility: the costs are net/http's server and the
// transport's goroutine hand-offs, which any library on top of net/http
// keeps, and libraries with their own HTTP stack (fasthttp) do not serve
// net/http Handlers or Request values. Serve keeps both: the Splitter
// stays an http.Handler, and everything Serve's loop does not read goes
// to net/http.
//
// [Splitter.Close] is graceful: requests in flight finish, later ones are
// answered 503 (behind Serve: the listener and the idle client
// connections are closed, and Serve returns once the connections in
// flight have ended), idle upstream connections are closed and the
// metrics are unregistered.
//
// # Metrics
//
// The Splitter counts, per revision, requests, errors (5xx answers,
// including the 502 it sends when an upstream cannot be reached) and
// latency in a histogram. It is a [prometheus.Collector]: register it (or
// set [Config].Registerer, which Close undoes) to let Prometheus scrape
//
//	glidepath_httpsplit_requests_total{revision="..."}
//	glidepath_httpsplit_errors_total{revision="..."}
//	glidepath_httpsplit_request_duration_seconds{revision="..."}  (histogram)
//	glidepath_httpsplit_canary_weight_ratio                     (0 to 1)
//	glidepath_httpsplit_upstream_up{revision="..."}              (0 or 1)
//
// and read the same numbers in-process with [Splitter.Stats], for analysis
// that needs no Prometheus server. [Config].Namespace and
// [Config].Subsystem replace the glidepath_ and httpsplit_ parts of the
// names. The names follow Prometheus' conventions: base units (seconds),
// _total on counters, and the weight as a 0–1 _ratio (it was a percentage
// without a unit, glidepath_httpsplit_canary_weight, before; the State's
// Weight stays a percentage). upstream_up is a 0/1 gauge named after
// Prometheus' own up.
//
// # Cost
//
// Routing takes nanoseconds and allocates nothing. A proxied GET behind
// Serve costs about four system calls and a share of an epoll_wait
// (read the request, write it upstream, read the answer, write the
// response; on Linux a socket is read only when epoll reports it
// readable) and little else: no request or header map is built and
// nothing is allocated per request. Mounted as a Handler it also costs
// net/http's server (request parsing, the per-request background read
// that notices a client going away, writing the answer) and
// http.ReadResponse. internal/proxybench measures the splitter, served
// with Serve, against direct traffic and nginx, each in a process of its
// own on the same CPU budget (go run ./internal/proxybench; its
// documentation has the runs and the caveats): on a 2-core machine, in
// four runs with one event loop per core, the splitter reached
// 1.01-1.04x nginx's throughput with a backend that does no work,
// 1.02-1.04x with a 1ms backend and 1.02x with 5ms, at 5-14% less CPU
// per request than nginx (33-41µs against 36-48µs in the last run); its
// added p99 at 2,000 requests a second was within 0.23ms of nginx's
// (at most nginx's in one run of four). With one loop on 2 cores it used
// 17-23% less CPU than nginx but served a busy moment's connections in
// turn and reached 0.99-1.03x with a 1 or 5ms backend; with one goroutine
// per connection it had used 7-25% more CPU per request than nginx.
// BenchmarkLoopback measures the three ways in one process.
package httpsplit
