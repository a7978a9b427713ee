package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/httpsplit"
)

// DefaultNginx is where Debian's nginx package installs the server.
const DefaultNginx = "/usr/sbin/nginx"

type options struct {
	Duration    time.Duration // measured time per target
	Warmup      time.Duration // unmeasured load before each measurement
	Concurrency int           // concurrent clients
	Weight      int           // canary weight for the splitter and nginx
	Nginx       string        // nginx binary; "" or missing skips nginx
	// Rate, when positive, adds a paced run per target: Rate requests per
	// second in all, spread over the clients, each latency counted from
	// the request's scheduled time. It shows the latency a proxy adds
	// when the CPU is not saturated.
	Rate int
}

func defaultOptions() options {
	return options{Duration: 10 * time.Second, Warmup: time.Second, Concurrency: 32, Weight: 50, Nginx: DefaultNginx, Rate: 2000}
}

func main() {
	o := defaultOptions()
	flag.DurationVar(&o.Duration, "duration", o.Duration, "measured load per target")
	flag.DurationVar(&o.Warmup, "warmup", o.Warmup, "unmeasured load before each measurement")
	flag.IntVar(&o.Concurrency, "concurrency", o.Concurrency, "concurrent clients")
	flag.IntVar(&o.Weight, "weight", o.Weight, "percentage of requests the proxies send to the second backend")
	flag.IntVar(&o.Rate, "rate", o.Rate, "requests per second of the paced run (0 skips it)")
	flag.StringVar(&o.Nginx, "nginx", o.Nginx, "path of the nginx binary (skipped when missing)")
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
	Rate     int    // 0 for the closed-loop run
	FirstErr string // the first error, when Errors > 0
}

// RPS is answered requests per second.
func (r result) RPS() float64 { return float64(r.Requests) / r.Elapsed.Seconds() }

func run(ctx context.Context, w io.Writer, o options) ([]result, error) {
	if o.Duration <= 0 || o.Concurrency <= 0 || o.Weight < 0 || o.Weight > 100 {
		return nil, fmt.Errorf("bad options: duration %v, concurrency %d, weight %d", o.Duration, o.Concurrency, o.Weight)
	}
	b1, err := serve(backend())
	if err != nil {
		return nil, err
	}
	defer b1.close()
	b2, err := serve(backend())
	if err != nil {
		return nil, err
	}
	defer b2.close()

	split, err := httpsplit.New(ctx, httpsplit.Config{
		Upstreams: map[strategy.Revision]string{"v1": b1.url, "v2": b2.url},
		Initial:   strategy.State{Stable: "v1", Canary: "v2", Weight: o.Weight},
	})
	if err != nil {
		return nil, err
	}
	defer split.CloseIdleConnections()
	front, err := serve(split)
	if err != nil {
		return nil, err
	}
	defer front.close()

	targets := []struct{ name, url string }{
		{"direct to a backend", b1.url},
		{"glidepath httpsplit", front.url},
	}
	var ngx *nginx
	if o.Nginx != "" {
		if _, err := os.Stat(o.Nginx); err == nil {
			ngx, err = startNginx(ctx, o.Nginx, b1.url, b2.url, o.Weight)
			if err != nil {
				return nil, err
			}
			defer ngx.stop()
			targets = append(targets, struct{ name, url string }{"nginx " + ngx.version, ngx.url})
		} else {
			fmt.Fprintf(w, "nginx not found at %s: skipping it\n", o.Nginx)
		}
	}

	fmt.Fprintf(w, "proxybench: %d concurrent keep-alive clients, %v per target (after %v warm-up), loopback, GOMAXPROCS=%d\n",
		o.Concurrency, o.Duration, o.Warmup, gomaxprocs())
	fmt.Fprintf(w, "proxies split %d%%/%d%% between two identical backends\n", 100-o.Weight, o.Weight)
	rates := []int{0}
	if o.Rate > 0 {
		rates = append(rates, o.Rate)
	}
	var results []result
	for _, rate := range rates {
		if rate == 0 {
			fmt.Fprintf(w, "\nclosed loop: each client sends its next request as soon as the last is answered (throughput)\n")
		} else {
			fmt.Fprintf(w, "\npaced: %d requests/s in all (latency without CPU saturation)\n", rate)
		}
		fmt.Fprintf(w, "  %-26s %10s %9s %9s %8s %10s %9s\n", "target", "req/s", "p50", "p99", "errors", "vs direct", "+p99")
		var round []result
		for _, t := range targets {
			if o.Warmup > 0 {
				if _, err := measure(ctx, t.name, t.url, o.Concurrency, o.Warmup, rate); err != nil {
					return results, err
				}
			}
			r, err := measure(ctx, t.name, t.url, o.Concurrency, o.Duration, rate)
			if err != nil {
				return results, err
			}
			r.Rate = rate
			round = append(round, r)
			d := round[0]
			fmt.Fprintf(w, "  %-26s %10.0f %9s %9s %8d %9.2fx %9s\n", r.Name, r.RPS(), ms(r.P50), ms(r.P99), r.Errors,
				r.RPS()/d.RPS(), ms(r.P99-d.P99))
			if r.Errors > 0 {
				fmt.Fprintf(w, "    first error: %s\n", r.FirstErr)
			}
		}
		if len(round) >= 2 {
			s, d := round[1], round[0]
			fmt.Fprintf(w, "  splitter: %.2fx direct throughput, %s added at p50, %s at p99", s.RPS()/d.RPS(), ms(s.P50-d.P50), ms(s.P99-d.P99))
			if len(round) >= 3 {
				n := round[2]
				fmt.Fprintf(w, "; nginx: %.2fx direct, %s added at p99; splitter/nginx throughput %.2fx", n.RPS()/d.RPS(), ms(n.P99-d.P99), s.RPS()/n.RPS())
			}
			fmt.Fprintln(w)
		}
		results = append(results, round...)
	}
	fmt.Fprintf(w, "\ntargets for the splitter: >= 0.80x direct throughput, < 0.5ms added at p99\n")
	return results, nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3fms", float64(d)/float64(time.Millisecond)) }

// backend answers every request with a small body.
func backend() http.Handler {
	body := []byte("hello from the backend\n")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(body)
	})
}

type server struct {
	url  string
	srv  *http.Server
	done chan struct{}
}

func serve(h http.Handler) (*server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &server{url: "http://" + ln.Addr().String(), srv: &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(ln)
	}()
	return s, nil
}

func (s *server) close() {
	_ = s.srv.Close()
	<-s.done
}

// measure runs concurrency clients against url for d: closed-loop when
// rate is 0, otherwise paced to rate requests per second in all.
func measure(ctx context.Context, name, url string, concurrency int, d time.Duration, rate int) (result, error) {
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
			l := make([]time.Duration, 0, 1<<14)
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
	elapsed := time.Since(start)
	all := slices.Concat(lat...)
	slices.Sort(all)
	r := result{Name: name, Requests: len(all), Elapsed: elapsed}
	for _, e := range errs {
		r.Errors += e
	}
	if firstErr != nil {
		r.FirstErr = firstErr.Error()
	}
	if len(all) == 0 {
		return r, fmt.Errorf("%s: no request succeeded (first error: %v)", name, firstErr)
	}
	r.P50 = all[len(all)*50/100]
	r.P99 = all[min(len(all)*99/100, len(all)-1)]
	if ctx.Err() != nil {
		return r, ctx.Err()
	}
	return r, nil
}

// nginx is a running nginx.
type nginx struct {
	url, version string
	cmd          *exec.Cmd
	dir          string
	done         chan error
	logs         *strings.Builder
}

// startNginx runs nginx in the foreground, as one process, with a weighted
// upstream of the two backends and keep-alive connections to them (as the
// splitter keeps).
func startNginx(ctx context.Context, bin, b1, b2 string, weight int) (*nginx, error) {
	dir, err := os.MkdirTemp("", "glidepath-nginx-")
	if err != nil {
		return nil, err
	}
	addr, err := freePort()
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	host := func(u string) string { return strings.TrimPrefix(u, "http://") }
	// nginx's weight must be positive: a 0 or 100 split uses one server.
	servers := fmt.Sprintf("server %s weight=%d;\n    server %s weight=%d;", host(b1), 100-weight, host(b2), weight)
	switch weight {
	case 0:
		servers = fmt.Sprintf("server %s;", host(b1))
	case 100:
		servers = fmt.Sprintf("server %s;", host(b2))
	}
	conf := fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path %[1]s/client_body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  keepalive_requests 100000;
  upstream backends {
    %[2]s
    keepalive 256;
  }
  server {
    listen %[3]s;
    location / {
      proxy_pass http://backends;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`, dir, servers, addr)
	cfgPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(cfgPath, []byte(conf), 0o600); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	n := &nginx{url: "http://" + addr, dir: dir, done: make(chan error, 1), logs: &strings.Builder{}}
	if out, err := exec.CommandContext(ctx, bin, "-v").CombinedOutput(); err == nil {
		n.version = strings.TrimPrefix(strings.TrimSpace(string(out)), "nginx version: ")
	}
	// -e sets the error log before the configuration is read (the default
	// path may not be writable); -p keeps relative paths in dir.
	n.cmd = exec.Command(bin, "-p", dir, "-e", filepath.Join(dir, "startup.log"), "-c", cfgPath)
	n.cmd.Stdout, n.cmd.Stderr = n.logs, n.logs
	if err := n.cmd.Start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	go func() { n.done <- n.cmd.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			return n, nil
		}
		select {
		case err := <-n.done:
			n.done <- err
			logs, _ := os.ReadFile(filepath.Join(dir, "startup.log"))
			n.stop()
			return nil, fmt.Errorf("nginx exited: %v\n%s%s", err, n.logs.String(), logs)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			n.stop()
			return nil, errors.New("nginx did not listen within 10s")
		}
	}
}

func (n *nginx) stop() {
	_ = n.cmd.Process.Kill()
	<-n.done
	_ = os.RemoveAll(n.dir)
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	return addr, l.Close()
}
