// Command proxybench measures what glidepath's HTTP traffic splitter
// (strategy/httpsplit) costs. It puts the same load directly at a backend,
// through the splitter and, when nginx is installed, through nginx
// configured with the same weighted upstreams, all on loopback, and prints
// requests per second, p50/p99 latency and the CPU time every process used
// per request:
//
//	go run ./internal/proxybench                    # 10s per target and round
//	go run ./internal/proxybench -duration 3s -concurrency 16 -proxy-cpus 1
//	go run ./internal/proxybench -rate 0 -backend-work 0 -cpuprofile cpu.pprof -memprofile mem.pprof
//
// -cpuprofile and -memprofile write a CPU profile and an allocation
// profile of the splitter process over the whole run (its own process, so
// neither the load generator nor the backends are in them); read them
// with go tool pprof. BenchmarkLoopback in strategy/httpsplit measures
// the same path in one process, with allocations and CPU time per request.
//
// # What runs where
//
// Every server is a process of its own, as a deployed one would be: the
// program runs its own binary again (with an undocumented first argument)
// once for the two backends and once for the splitter, which serves with
// httpsplit.Splitter.Serve (its own HTTP/1.1 loop, on Linux epoll
// event loops as nginx's workers, handing anything unusual to
// net/http), as a deployment running it as its own proxy would; the
// backends are net/http servers. Each child prints its address, serves
// until the parent closes its standard input (which a dying parent does
// too), and is waited for. nginx (Debian's package,
// /usr/sbin/nginx, or -nginx PATH) runs in the foreground with a generated
// configuration in a temporary directory, on a free loopback port, and is
// stopped with SIGTERM. The load generator is the parent process: a fixed
// number of keep-alive clients, bounded in time, sending only to loopback.
//
// Both proxies get the same CPU budget: -proxy-cpus N is the splitter's
// GOMAXPROCS and nginx's worker_processes (one process with
// master_process off for 1, a master and N workers otherwise). The default,
// 0, is one per core: Go's default and nginx's "auto", what a user would
// deploy. The backends keep Go's default GOMAXPROCS (-backend-cpus to
// change it), and so does the load generator. Neither proxy is pinned to
// a core. Both keep up to 256 (nginx) or 512 (the splitter, per event
// loop) idle keep-alive connections per upstream, which the 32 clients never
// exceed, and reuse them without a limit (nginx's upstream
// keepalive_requests is raised from its default 1000 to 100000, from
// run 5 below on), and both do the same work per request: nginx is
// configured to replace the client's X-Forwarded-For/-Host/-Proto,
// X-Real-IP and Forwarded headers as the splitter does (before
// 2026-12-07 it forwarded them untouched and added none, a little less
// work than the splitter's).
//
// # Rounds
//
//   - closed loop: each client sends its next request as soon as the last
//     is answered. It measures throughput; on a small machine it is
//     CPU-bound.
//   - paced (-rate, default 2000/s): the latency a proxy adds when the CPU
//     is not saturated, each latency counted from the request's scheduled
//     time.
//   - closed loop with a backend service time, one round per duration in
//     -backend-work (default 1ms,5ms): every request asks the backends
//     (through a request header both proxies forward) to wait that long
//     before answering, as a service with real work does.
//
// Each target's time in a round is cut into -repeat slices (default 5)
// taken in turn with the other targets', so that other load on the machine
// weighs on all of them alike; the slices are pooled. The "busy" column is
// the share of all cores the three processes used: well under 100% in a
// closed loop means something else on the machine took the rest. Under
// each proxy's row, on Linux, are the context switches its threads made
// per request (nginx's workers included), read from /proc.
//
// # Targets
//
// The summary judges the splitter against nginx on the same CPU budget:
// in every closed-loop round its throughput must be at least nginx's
// (ratio to nginx >= 1.00), and in the paced round the latency it adds at
// p99 over direct must be no more than nginx adds. (A fixed share of
// direct throughput cannot be the target with a backend that does no
// work: client and backend use about as much CPU per request as a proxy,
// which is an HTTP server and an HTTP client at once, so on a CPU-bound
// machine any proxy roughly halves throughput; the summary's last lines
// give that arithmetic from the measured CPU times.)
//
// # Results
//
// On a 2-core machine heavily loaded by other work (load average 11-19;
// the three processes got 16-57% of the cores, the "busy" column), with
// go run ./internal/proxybench and its defaults (10s per target and round
// in 5 interleaved slices), five runs between 20:55 and 21:23 UTC on
// 2026-12-07, the splitter served with Splitter.Serve (runs 4 and 5 on
// the final code, runs 1-3 on the same code but for lengths now written
// without allocating; run 5 with nginx's upstream keepalive_requests
// raised, see above):
//
//	round (splitter/nginx)   run 1       run 2       run 3       run 4       run 5
//	closed loop, no-op       1.02x met   0.997x NOT  1.12x met   0.93x NOT   1.03x met
//	paced 2000/s, +p99 (ms)  -21 vs 111  84 vs 18    -144 vs -98 69 vs 82    13 vs 25
//	                         met         NOT         met         met         met
//	closed loop, 1ms backend 1.13x met   0.73x NOT   1.39x met   0.85x NOT   0.72x NOT
//	closed loop, 5ms backend 1.08x met   0.94x NOT   1.12x met   1.05x met   0.96x NOT
//
// Run 5 in full (ratio is to direct; +p50/+p99 over direct; proxy CPU in
// µs per request):
//
//	round                    direct   httpsplit           nginx 1.22.1
//	closed loop              5211/s   4851/s (0.93x)      4724/s (0.91x)
//	  +p50/+p99, proxy CPU            +0.87/-3.4ms, 45.6  +1.09/+0.9ms, 41.8
//	paced 2000/s, +p50/+p99           +0.14/+13ms, 84.0   +0.40/+25ms, 51.2
//	closed loop, 1ms work    7410/s   4170/s (0.56x)      5792/s (0.78x)
//	  +p50/+p99, proxy CPU            +1.46/+13.2ms, 41.3 +0.68/+8.1ms, 33.8
//	closed loop, 5ms work    4187/s   3547/s (0.85x)      3701/s (0.88x)
//	  +p50/+p99, proxy CPU            +1.11/+8.5ms, 45.0  +0.56/+3.2ms, 39.6
//
// Run 4 in full:
//
//	round                    direct   httpsplit           nginx 1.22.1
//	closed loop              11548/s  6796/s (0.59x)      7319/s (0.63x)
//	  +p50/+p99, proxy CPU            +1.28/+6.9ms, 32.9  +1.21/+5.5ms, 29.5
//	paced 2000/s, +p50/+p99           +0.26/+69ms, 94.8   +0.75/+82ms, 56.7
//	closed loop, 1ms work    4492/s   2948/s (0.66x)      3486/s (0.78x)
//	  +p50/+p99, proxy CPU            +2.31/+16.5ms, 52.2 +0.94/+13.2ms, 42.5
//	closed loop, 5ms work    3331/s   2748/s (0.82x)      2625/s (0.79x)
//	  +p50/+p99, proxy CPU            +1.51/+9.4ms, 56.9  +1.52/+13.4ms, 48.4
//
// Run 3 in full:
//
//	round                    direct   httpsplit           nginx 1.22.1
//	closed loop              11810/s  8416/s (0.71x)      7508/s (0.64x)
//	  +p50/+p99, proxy CPU            +1.04/-1.5ms, 39.4  +1.19/+8.6ms, 36.7
//	paced 2000/s, +p50/+p99           -0.12/-144ms, 114   +0.06/-98ms, 66.6
//	closed loop, 1ms work    5960/s   5640/s (0.95x)      4045/s (0.68x)
//	  +p50/+p99, proxy CPU            +1.29/-13.4ms, 52.4 +1.54/+20.6ms, 47.1
//	closed loop, 5ms work    2849/s   3099/s (1.09x)      2760/s (0.97x)
//	  +p50/+p99, proxy CPU            +0.95/-6.1ms, 60.6  +0.31/+9.7ms, 48.3
//
// Runs 1 and 2, closed loop (no-op, 1ms, 5ms): the splitter at 0.73x,
// 0.87x, 0.91x direct in run 1 (nginx 0.72x, 0.77x, 0.84x) and 0.67x,
// 0.76x, 0.84x in run 2 (nginx 0.67x, 1.05x, 0.89x); proxy CPU per
// request 42.5, 43.5, 53.7µs against nginx's 38.7, 36.8, 47.4 (run 1) and
// 33.1, 38.8, 47.7 against 30.5, 33.3, 41.9 (run 2). With -proxy-cpus 1
// -duration 5s (one core each, one run at 21:10): 0.94x nginx with a
// no-op backend, 1.06x with 1ms, 0.95x with 5ms, paced +49 against +35ms
// at p99; proxy CPU 39.1, 47.2 (5ms) and 108.7 (paced) µs per request
// against nginx's 34.3, 37.5 and 71.7.
//
// Read these with care. The verdicts held in every cell of runs 1 and 3,
// in two of four in runs 4 and 5 and in none of run 2, in which nginx
// ran faster than the backend directly (1.05x direct with 1ms of work):
// on a machine this loaded a ratio moves by 0.1-0.4 from one run to the
// next, and p99 is the other
// work's scheduling (direct traffic's own p99 was 15-230ms), so the paced
// verdict says little. The steadier figure is CPU per request: the
// splitter's own loop used 7-25% more than nginx in every closed-loop
// cell of the five runs (33-61µs against 30-48µs), down from 1.6-2.3x
// nginx's when it was mounted on net/http's server (86-88µs against
// 38-47µs in the runs before). With the CPU that close, which of the two
// gets more of a saturated machine decides the throughput cells, and the
// splitter's process (more threads) was often the busier one; so the
// target (at least nginx's throughput in every cell) is met in two runs
// of five, not reliably; the 1ms cell, where the splitter's extra CPU
// per request is largest (11-23% over nginx's) and its goroutines park
// and wake most, is the weakest (met in two runs of five). At low load (the paced round) the splitter used
// 84-121µs per request against nginx's 51-67µs: Go's scheduler wakes and
// parks threads for each request where nginx's workers sleep in
// epoll_wait (the splitter process made about 0.66 context switches per
// request in a closed loop, nginx's workers 0.22).
//
// Where the splitter's CPU goes (-cpuprofile): 55-70% is the four system
// calls of a request (read it, write it upstream, read the answer, write
// the response; writes cost more than reads on loopback, where the
// sender does the receiver's TCP work), 15-25% the Go scheduler and
// netpoller, and the rest the splitter's own parsing, copying and
// metrics. Serve's loop builds no request and no header map (its
// allocation profile holds only per-connection buffers), and sends each
// write from inside the read that waits for its answer (see httpsplit's
// waitConn), which saves the read system call a Go connection tries
// before it parks. BenchmarkLoopback in strategy/httpsplit measures the
// same three ways in one process: whole requests over loopback, client
// and backend included, used 110-135 CPU-µs and 67 allocations through
// Serve against 137-165µs and 100 mounted on net/http's server, 171-180µs
// and 140 through httputil.ReverseProxy and 60-66µs and 62 directly
// (20000 requests, two runs).
package main
