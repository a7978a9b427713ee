package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultNginx is where Debian's nginx package installs the server.
const DefaultNginx = "/usr/sbin/nginx"

// targetNginxRatio is the splitter's target in every closed-loop round:
// at least this share of nginx's throughput on the same CPU budget. In the
// paced round its target is an added p99 latency no larger than nginx's.
const targetNginxRatio = 1.0

type options struct {
	Duration time.Duration // measured time per target and round
	// Repeat splits each target's measured time into this many slices,
	// taken in turn with the other targets' (direct, splitter, nginx,
	// direct, ...), so that a change in the machine's other load during a
	// round weighs on every target alike. The slices are pooled.
	Repeat      int
	Warmup      time.Duration // unmeasured load before each measurement
	Concurrency int           // concurrent clients
	Weight      int           // canary weight for the splitter and nginx
	Nginx       string        // nginx binary; "" or missing skips nginx
	// Rate, when positive, adds a paced run per target: Rate requests per
	// second in all, spread over the clients, each latency counted from
	// the request's scheduled time. It shows the latency a proxy adds
	// when the CPU is not saturated.
	Rate int
	// BackendWork adds, for each positive duration, a closed-loop run in
	// which every
	// backend takes this long to answer (a fixed service time).
	BackendWork []time.Duration
	// ProxyCPUs is the splitter process's GOMAXPROCS and nginx's
	// worker_processes, so that both proxies get the same CPU budget; 0
	// means one per core (Go's default, and nginx's "auto").
	ProxyCPUs int
	// BackendCPUs is the backend process's GOMAXPROCS; 0 leaves the Go
	// default (every core).
	BackendCPUs int
	// CPUProfile and MemProfile, when set, are files for a CPU profile and
	// an allocation profile of the splitter process over the whole run
	// (read them with go tool pprof).
	CPUProfile, MemProfile string
}

func defaultOptions() options {
	return options{Duration: 10 * time.Second, Repeat: 5, Warmup: time.Second, Concurrency: 32, Weight: 50, Nginx: DefaultNginx,
		Rate: 2000, BackendWork: []time.Duration{time.Millisecond, 5 * time.Millisecond}}
}

func main() {
	maybeChild(os.Args)
	o := defaultOptions()
	flag.DurationVar(&o.Duration, "duration", o.Duration, "measured load per target")
	flag.IntVar(&o.Repeat, "repeat", o.Repeat, "slices per target and round, taken in turn with the other targets'")
	flag.DurationVar(&o.Warmup, "warmup", o.Warmup, "unmeasured load before each measurement")
	flag.IntVar(&o.Concurrency, "concurrency", o.Concurrency, "concurrent clients")
	flag.IntVar(&o.Weight, "weight", o.Weight, "percentage of requests the proxies send to the second backend")
	flag.IntVar(&o.Rate, "rate", o.Rate, "requests per second of the paced run (0 skips it)")
	flag.Func("backend-work", "comma-separated service times of the backends, one extra closed-loop round each (default 1ms,5ms; 0 skips them)", func(v string) error {
		o.BackendWork = nil
		for _, f := range strings.Split(v, ",") {
			d, err := time.ParseDuration(strings.TrimSpace(f))
			if err != nil {
				return err
			}
			if d > 0 {
				o.BackendWork = append(o.BackendWork, d)
			}
		}
		return nil
	})
	flag.IntVar(&o.ProxyCPUs, "proxy-cpus", o.ProxyCPUs, "GOMAXPROCS of the splitter process and worker_processes of nginx (0: one per core)")
	flag.IntVar(&o.BackendCPUs, "backend-cpus", o.BackendCPUs, "GOMAXPROCS of the backend process (0: Go's default)")
	flag.StringVar(&o.Nginx, "nginx", o.Nginx, "path of the nginx binary (skipped when missing)")
	flag.StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile of the splitter process over the whole run to this file")
	flag.StringVar(&o.MemProfile, "memprofile", "", "write an allocation profile of the splitter process over the whole run to this file")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if _, err := run(ctx, os.Stdout, o); err != nil {
		fmt.Fprintln(os.Stderr, "proxybench:", err)
		os.Exit(1)
	}
}

// result is one target's measurement.
type result struct {
	Name     string
	Requests int
	Errors   int
	Elapsed  time.Duration
	P50, P99 time.Duration
	Rate     int           // 0 for a closed-loop run
	Work     time.Duration // the backends' service time
	FirstErr string        // the first error, when Errors > 0
	// CPU time used during the measurement by the load generator, the
	// backend process and the proxy (zero for the direct run); zero where
	// it cannot be read.
	ClientCPU, BackendCPU, ProxyCPU time.Duration
	// ProxySwitches counts the context switches of the proxy's threads
	// (nginx's workers included) during the measurement; zero where they
	// cannot be read.
	ProxySwitches int64
}

// RPS is answered requests per second.
func (r result) RPS() float64 { return float64(r.Requests) / r.Elapsed.Seconds() }

// perRequest is d spread over the answered requests.
func (r result) perRequest(d time.Duration) time.Duration {
	if r.Requests == 0 {
		return 0
	}
	return d / time.Duration(r.Requests)
}

// busy is the share of the machine's cores that the three processes kept
// busy during the measurement.
func (r result) busy() float64 {
	return float64(r.ClientCPU+r.BackendCPU+r.ProxyCPU) / float64(r.Elapsed) / float64(runtime.NumCPU())
}

type target struct {
	name, url string
	proxy     *proc // nil for the direct run
}

type round struct {
	title string
	rate  int
	work  time.Duration
}

func run(ctx context.Context, w io.Writer, o options) ([]result, error) {
	if o.Repeat <= 0 {
		o.Repeat = 1
	}
	badWork := slices.ContainsFunc(o.BackendWork, func(d time.Duration) bool { return d <= 0 || d > time.Second })
	if o.Duration <= 0 || o.Concurrency <= 0 || o.Weight < 0 || o.Weight > 100 || badWork || o.ProxyCPUs < 0 || o.BackendCPUs < 0 {
		return nil, fmt.Errorf("bad options: duration %v, concurrency %d, weight %d, backend work %v, proxy CPUs %d, backend CPUs %d",
			o.Duration, o.Concurrency, o.Weight, o.BackendWork, o.ProxyCPUs, o.BackendCPUs)
	}
	proxyCPUs := o.ProxyCPUs
	if proxyCPUs == 0 {
		proxyCPUs = runtime.NumCPU()
	}
	backends, err := startChild("backends", o.BackendCPUs, "backends", "-n", "2")
	if err != nil {
		return nil, err
	}
	defer backends.stop()
	if len(backends.urls) != 2 {
		return nil, fmt.Errorf("backends: want two URLs, have %q", backends.urls)
	}
	b1, b2 := backends.urls[0], backends.urls[1]
	args := []string{"-upstreams", b1 + "," + b2, "-weight", strconv.Itoa(o.Weight)}
	if o.CPUProfile != "" {
		args = append(args, "-cpuprofile", o.CPUProfile)
	}
	if o.MemProfile != "" {
		args = append(args, "-memprofile", o.MemProfile)
	}
	split, err := startChild("glidepath httpsplit", proxyCPUs, "splitter", args...)
	if err != nil {
		return nil, err
	}
	defer split.stop()

	targets := []target{{name: "direct to a backend", url: b1}, {name: split.name, url: split.urls[0], proxy: split}}
	if o.Nginx != "" {
		if _, err := os.Stat(o.Nginx); err == nil {
			ngx, err := startNginx(ctx, o.Nginx, b1, b2, o.Weight, proxyCPUs)
			if err != nil {
				return nil, err
			}
			defer ngx.stop()
			targets = append(targets, target{name: ngx.name, url: ngx.urls[0], proxy: ngx})
		} else {
			fmt.Fprintf(w, "nginx not found at %s: skipping it\n", o.Nginx)
		}
	}

	backendProcs := "Go's default"
	if o.BackendCPUs > 0 {
		backendProcs = strconv.Itoa(o.BackendCPUs)
	}
	fmt.Fprintf(w, "proxybench: %d concurrent keep-alive clients, %v per target and round in %d interleaved slices (after %v warm-up), loopback, %d CPUs\n",
		o.Concurrency, o.Duration, o.Repeat, o.Warmup, runtime.NumCPU())
	fmt.Fprintf(w, "processes: load generator GOMAXPROCS=%d; backends (two, one process) GOMAXPROCS=%s;\n", runtime.GOMAXPROCS(0), backendProcs)
	fmt.Fprintf(w, "  splitter (its own process) GOMAXPROCS=%d; nginx worker_processes %d\n", proxyCPUs, proxyCPUs)
	fmt.Fprintf(w, "proxies split %d%%/%d%% between two identical backends\n", 100-o.Weight, o.Weight)

	rounds := []round{{title: "closed loop: each client sends its next request as soon as the last is answered (throughput)"}}
	if o.Rate > 0 {
		rounds = append(rounds, round{title: fmt.Sprintf("paced: %d requests/s in all (latency without CPU saturation)", o.Rate), rate: o.Rate})
	}
	for _, work := range o.BackendWork {
		rounds = append(rounds, round{title: fmt.Sprintf("closed loop, backends take %v per request (a service with real work)", work), work: work})
	}
	var results []result
	var rs [][]result
	for _, rd := range rounds {
		fmt.Fprintf(w, "\n%s\n", rd.title)
		fmt.Fprintf(w, "  %-26s %8s %9s %9s %6s %6s %9s %9s %5s  %s\n", "target", "req/s", "p50", "p99", "errors", "ratio", "+p50", "+p99", "busy", "CPU µs/req: client+backend+proxy")
		samples := make([][]sample, len(targets))
		for rep := range o.Repeat {
			for i, t := range targets {
				if rep == 0 && o.Warmup > 0 {
					if _, err := measure(ctx, t.url, o.Concurrency, o.Warmup, rd.rate, rd.work); err != nil {
						return results, fmt.Errorf("%s: %w", t.name, err)
					}
				}
				proxyPid := 0
				if t.proxy != nil {
					proxyPid = t.proxy.cmd.Process.Pid
				}
				c0, b0, p0 := cpuTimes(backends.cmd.Process.Pid, proxyPid)
				s0 := switches(proxyPid, true)
				sm, err := measure(ctx, t.url, o.Concurrency, o.Duration/time.Duration(o.Repeat), rd.rate, rd.work)
				if err != nil {
					return results, fmt.Errorf("%s: %w", t.name, err)
				}
				c1, b1, p1 := cpuTimes(backends.cmd.Process.Pid, proxyPid)
				sm.clientCPU, sm.backendCPU, sm.proxyCPU = c1-c0, b1-b0, p1-p0
				sm.proxySwitches = switches(proxyPid, true) - s0
				samples[i] = append(samples[i], sm)
			}
		}
		var rr []result
		for i, t := range targets {
			r, err := pool(t.name, rd, samples[i])
			if err != nil {
				return results, err
			}
			rr = append(rr, r)
			d := rr[0]
			fmt.Fprintf(w, "  %-26s %8.0f %9s %9s %6d %5.2fx %9s %9s %4.0f%%  %.1f+%.1f+%.1f = %.1f\n", r.Name, r.RPS(), ms(r.P50), ms(r.P99), r.Errors,
				r.RPS()/d.RPS(), ms(r.P50-d.P50), ms(r.P99-d.P99), 100*r.busy(),
				us(r.perRequest(r.ClientCPU)), us(r.perRequest(r.BackendCPU)), us(r.perRequest(r.ProxyCPU)),
				us(r.perRequest(r.ClientCPU+r.BackendCPU+r.ProxyCPU)))
			if r.ProxySwitches > 0 && r.Requests > 0 {
				fmt.Fprintf(w, "    %s context switches per request: %.2f\n", r.Name, float64(r.ProxySwitches)/float64(r.Requests))
			}
			if r.Errors > 0 {
				fmt.Fprintf(w, "    first error: %s\n", r.FirstErr)
			}
		}
		rs = append(rs, rr)
		results = append(results, rr...)
	}
	summarize(w, rounds, rs)
	return results, nil
}

// summarize says whether each of the splitter's targets is met: in every
// closed-loop round at least nginx's throughput, and in the paced round
// no more added p99 latency than nginx adds. Without nginx it reports the
// ratios to direct only. It ends with the CPU arithmetic of the closed
// loop.
func summarize(w io.Writer, rounds []round, rs [][]result) {
	fmt.Fprintf(w, "\nsummary (targets for the splitter: closed loop >= %.2fx nginx's throughput; paced, added p99 <= nginx's)\n", targetNginxRatio)
	met := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT met"
	}
	for i, rd := range rounds {
		rr := rs[i]
		if len(rr) < 2 {
			continue
		}
		d, sp := rr[0], rr[1]
		label := "closed loop"
		switch {
		case rd.rate > 0:
			label = fmt.Sprintf("paced %d/s", rd.rate)
		case rd.work > 0:
			label = fmt.Sprintf("closed loop, %v backend", rd.work)
		}
		var verdict string
		if rd.rate > 0 {
			verdict = fmt.Sprintf("splitter %s at p50, %s at p99", signedMs(sp.P50-d.P50), signedMs(sp.P99-d.P99))
			if len(rr) > 2 {
				ng := rr[2]
				verdict += fmt.Sprintf("; nginx %s at p50, %s at p99; target %s", signedMs(ng.P50-d.P50), signedMs(ng.P99-d.P99),
					met(sp.P99-d.P99 <= ng.P99-d.P99))
			}
		} else {
			verdict = fmt.Sprintf("splitter %.2fx direct", sp.RPS()/d.RPS())
			if len(rr) > 2 {
				ng := rr[2]
				ratio := sp.RPS() / ng.RPS()
				verdict += fmt.Sprintf(", nginx %.2fx direct: splitter %.2fx nginx; target %s", ng.RPS()/d.RPS(), ratio, met(ratio >= targetNginxRatio))
			}
		}
		fmt.Fprintf(w, "  %-28s %s\n", label+":", verdict)
	}
	// The CPU arithmetic of the first (closed-loop, no work) round.
	rr := rs[0]
	if len(rr) < 2 || rr[0].ClientCPU == 0 {
		return
	}
	d := rr[0]
	dc := d.perRequest(d.ClientCPU + d.BackendCPU)
	fmt.Fprintf(w, "\nCPU per request in the closed loop: direct %.1fµs (client %.1f + backend %.1f)\n", us(dc), us(d.perRequest(d.ClientCPU)), us(d.perRequest(d.BackendCPU)))
	for _, r := range rr[1:] {
		total := r.perRequest(r.ClientCPU + r.BackendCPU + r.ProxyCPU)
		fmt.Fprintf(w, "  through %-24s %.1fµs (client %.1f + backend %.1f + proxy %.1f): a CPU-bound machine reaches at most %.2fx direct\n",
			r.Name+":", us(total), us(r.perRequest(r.ClientCPU)), us(r.perRequest(r.BackendCPU)), us(r.perRequest(r.ProxyCPU)), float64(dc)/float64(total))
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3fms", float64(d)/float64(time.Millisecond)) }

func signedMs(d time.Duration) string {
	return fmt.Sprintf("%+.3fms", float64(d)/float64(time.Millisecond))
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// cpuTimes reads the CPU time of the load generator (this process), the
// backends and, when proxy is not 0, the proxy with its children.
func cpuTimes(backends, proxy int) (client, backend, proxied time.Duration) {
	client, _ = cpuTime(os.Getpid(), false)
	backend, _ = cpuTime(backends, false)
	if proxy != 0 {
		proxied, _ = cpuTime(proxy, true)
	}
	return client, backend, proxied
}

// sample is one slice of load against one target.
type sample struct {
	lat      []time.Duration // of the answered requests
	errors   int
	firstErr error
	elapsed  time.Duration
	// CPU time used meanwhile (set by the caller).
	clientCPU, backendCPU, proxyCPU time.Duration
	proxySwitches                   int64 // context switches of the proxy's threads
}

// pool makes one result of a target's samples: their requests and errors
// added up, latency percentiles over all their requests.
func pool(name string, rd round, samples []sample) (result, error) {
	r := result{Name: name, Rate: rd.rate, Work: rd.work}
	var all []time.Duration
	var firstErr error
	for _, s := range samples {
		all = append(all, s.lat...)
		r.Errors += s.errors
		r.Elapsed += s.elapsed
		r.ClientCPU += s.clientCPU
		r.BackendCPU += s.backendCPU
		r.ProxyCPU += s.proxyCPU
		r.ProxySwitches += s.proxySwitches
		if firstErr == nil {
			firstErr = s.firstErr
		}
	}
	if firstErr != nil {
		r.FirstErr = firstErr.Error()
	}
	if len(all) == 0 {
		return r, fmt.Errorf("%s: no request succeeded (first error: %v)", name, firstErr)
	}
	slices.Sort(all)
	r.Requests = len(all)
	r.P50 = all[len(all)*50/100]
	r.P99 = all[min(len(all)*99/100, len(all)-1)]
	return r, nil
}

// measure runs concurrency clients against url for d: closed-loop when
// rate is 0, otherwise paced to rate requests per second in all. With work
// positive, every request asks the backend to take that long.
func measure(ctx context.Context, url string, concurrency int, d time.Duration, rate int, work time.Duration) (sample, error) {
	tr := &http.Transport{MaxIdleConnsPerHost: concurrency, MaxConnsPerHost: concurrency, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	lat := make([][]time.Duration, concurrency)
	errs := make([]int, concurrency)
	var firstErr error
	var mu sync.Mutex
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	end := start.Add(d)
	var wg sync.WaitGroup
	for c := range concurrency {
		wg.Go(func() {
			l := make([]time.Duration, 0, 1<<12)
			var every time.Duration
			next := start
			if rate > 0 {
				every = time.Duration(float64(time.Second) * float64(concurrency) / float64(rate))
				next = start.Add(every * time.Duration(c) / time.Duration(concurrency))
			}
			for time.Now().Before(end) && ctx.Err() == nil {
				t0 := time.Now()
				if rate > 0 {
					// Wait for this client's next slot; a late request's
					// latency counts from its slot, not from when it left.
					if wait := time.Until(next); wait > 0 {
						time.Sleep(wait)
					}
					t0 = next
					next = next.Add(every)
					if !next.Before(end) {
						break
					}
				}
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				if work > 0 {
					req.Header.Set(workHeader, work.String())
				}
				resp, err := client.Do(req)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				if err != nil {
					errs[c]++
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					continue
				}
				l = append(l, time.Since(t0))
			}
			lat[c] = l
		})
	}
	wg.Wait()
	s := sample{lat: slices.Concat(lat...), elapsed: time.Since(start), firstErr: firstErr}
	for _, e := range errs {
		s.errors += e
	}
	return s, ctx.Err()
}
