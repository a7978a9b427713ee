package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	promclient "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/glidepath/glidepath/analysis"
	"github.com/glidepath/glidepath/analysis/prometheus"
	"github.com/glidepath/glidepath/canary"
	"github.com/glidepath/glidepath/examples/quickstart/demo"
	"github.com/glidepath/glidepath/internal/promserver"
	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/httpsplit"
)

// DefaultPrometheus is where Debian's prometheus package installs the server.
const DefaultPrometheus = promserver.DefaultBinary

// options tune the run; main sets them from flags, tests shorten them.
type options struct {
	Good       bool          // v2 is healthy and should be promoted
	Rate       int           // requests per second sent through the splitter
	Interval   time.Duration // time at each weight
	Weights    []int         // canary weights, in order
	Prometheus string        // path of the prometheus binary
}

func defaultOptions() options {
	return options{Rate: 200, Interval: 3 * time.Second, Weights: []int{10, 25, 50}, Prometheus: DefaultPrometheus}
}

func main() {
	opts := defaultOptions()
	flag.BoolVar(&opts.Good, "good", false, "release a healthy v2 (it is promoted) instead of a bad one (it is rolled back)")
	flag.IntVar(&opts.Rate, "rate", opts.Rate, "requests per second sent through the splitter")
	flag.DurationVar(&opts.Interval, "interval", opts.Interval, "time spent at each canary weight")
	flag.StringVar(&opts.Prometheus, "prometheus", opts.Prometheus, "path of the prometheus server binary")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout, opts); err != nil {
		fmt.Fprintln(os.Stderr, "prometheus example:", err)
		os.Exit(1)
	}
}

// maxErrorRate is the canary error rate above which the release fails.
const maxErrorRate = 0.01

// The PromQL the checks run; {{release.canary}} is expanded (and escaped)
// by the check.
const (
	errorRateQuery = `sum(increase(glidepath_httpsplit_errors_total{revision="{{release.canary}}"}[1m]))
  / sum(increase(glidepath_httpsplit_requests_total{revision="{{release.canary}}"}[1m]))`
	requestsQuery = `sum(increase(glidepath_httpsplit_requests_total{revision="{{release.canary}}"}[1m]))`
)

func run(ctx context.Context, w io.Writer, opts options) (err error) {
	failEvery := 20 // 5% of v2's requests fail
	if opts.Good {
		failEvery = 0
	}
	v1, err := demo.StartBackend("v1", 0)
	if err != nil {
		return err
	}
	defer v1.Close()
	v2, err := demo.StartBackend("v2", failEvery)
	if err != nil {
		return err
	}
	defer v2.Close()

	// The splitter registers its metrics in a registry served on a
	// separate loopback port for Prometheus to scrape.
	reg := promclient.NewRegistry()
	split, err := httpsplit.New(ctx, httpsplit.Config{
		Upstreams:      map[strategy.Revision]string{"v1": v1.URL, "v2": v2.URL},
		Initial:        strategy.State{Stable: "v1"},
		RevisionHeader: "X-Revision",
		Registerer:     reg,
	})
	if err != nil {
		return err
	}
	defer split.CloseIdleConnections()
	url, shutdown, err := demo.Serve(split)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, shutdown(context.WithoutCancel(ctx))) }()
	metricsURL, shutdownMetrics, err := demo.Serve(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, shutdownMetrics(context.WithoutCancel(ctx))) }()

	fmt.Fprintf(w, "glidepath + Prometheus: a canary release of v2 judged by PromQL\n\n")
	if _, err := os.Stat(opts.Prometheus); err != nil {
		return fmt.Errorf("the prometheus server is needed (Debian: apt-get install prometheus; or pass -prometheus PATH): %w", err)
	}
	prom, err := promserver.Start(ctx, opts.Prometheus, strings.TrimPrefix(metricsURL, "http://"))
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, prom.Stop()) }()
	src := &prometheus.Source{Address: prom.URL, Timeout: 5 * time.Second}
	defer src.Close()
	fmt.Fprintf(w, "  prometheus %s, scraping the splitter's metrics at %s/metrics every 1s\n", prom.URL, metricsURL)
	if err := waitForScrape(ctx, src); err != nil {
		return fmt.Errorf("%w\nprometheus output:\n%s", err, prom.Logs())
	}

	every := max(opts.Interval/4, time.Second) // no faster than the scrape interval
	check := func(label string, count int) *analysis.Check {
		return &analysis.Check{
			Label:              label,
			Source:             src,
			Query:              errorRateQuery,
			SamplesQuery:       requestsQuery,
			MinSamples:         20,
			NoDataLimit:        1000,
			SuccessCondition:   fmt.Sprintf("result[0] <= %g", maxErrorRate),
			Count:              count,
			Interval:           every,
			ErrorRetryInterval: every,
		}
	}
	cfg := canary.Config{
		StepWeights: opts.Weights,
		Interval:    opts.Interval,
		Analyzers:   []strategy.Analyzer{check("v2 error rate <= 1%", 1)},
		Background:  canary.Background{Analyzers: []strategy.Analyzer{check("v2 error rate <= 1% (continuous)", 0)}},
	}

	mode := "v2 answers 1 request in 20 with HTTP 500 (a bad release)"
	if opts.Good {
		mode = "v2 is healthy (a good release)"
	}
	fmt.Fprintf(w, "  stable     v1 at %s, healthy\n", v1.URL)
	fmt.Fprintf(w, "  canary     v2 at %s, %s\n", v2.URL, mode)
	fmt.Fprintf(w, "  splitter   %s, receiving %d requests/s\n", url, opts.Rate)
	fmt.Fprintf(w, "  plan       weights %v%%, %v at each, then promote\n", opts.Weights, opts.Interval)
	fmt.Fprintf(w, "  analysis   PromQL: v2's error rate over the last minute <= %.0f%%, every %v and at the end of each step\n\n", 100*maxErrorRate, every)

	describe := demo.DescribeErrorRate("v2", maxErrorRate)
	sc := demo.Scenario{Good: opts.Good, URL: url, Rate: opts.Rate, Split: split, Describe: describe,
		Settle: min(time.Second, opts.Interval)}
	return demo.Show(ctx, w, sc, func(reporter strategy.Observer) (strategy.Result, error) {
		return strategy.Run(ctx, strategy.Release{
			Target:   split,
			Stable:   "v1",
			Canary:   "v2",
			Strategy: cfg,
			Observer: reporter,
			Options:  strategy.Options{PollInterval: 100 * time.Millisecond, ProgressDeadline: 30 * time.Second},
		})
	})
}

// waitForScrape waits (at most 30s) until Prometheus has scraped the
// splitter twice, so that increase() has data.
func waitForScrape(ctx context.Context, src *prometheus.Source) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		v, err := src.Measure(ctx, analysis.Query{Text: `count_over_time(glidepath_httpsplit_canary_weight_ratio[1m])`})
		if vec, ok := v.([]float64); err == nil && ok && len(vec) == 1 && vec[0] >= 2 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("prometheus did not scrape the splitter within 30s (last error: %v)", err)
		}
		if err := demo.Pause(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
}
