package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/glidepath/glidepath/analysis"
	"github.com/glidepath/glidepath/canary"
	"github.com/glidepath/glidepath/examples/quickstart/demo"
	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/httpsplit"
)

// options tune the run; main sets them from flags, tests shorten them.
type options struct {
	Good     bool          // v2 is healthy and should be promoted
	Rate     int           // requests per second sent through the splitter
	Interval time.Duration // time at each weight
	Weights  []int         // canary weights, in order
}

func defaultOptions() options {
	return options{Rate: 200, Interval: 2500 * time.Millisecond, Weights: []int{10, 25, 50}}
}

func main() {
	opts := defaultOptions()
	flag.BoolVar(&opts.Good, "good", false, "release a healthy v2 (it is promoted) instead of a bad one (it is rolled back)")
	flag.IntVar(&opts.Rate, "rate", opts.Rate, "requests per second sent through the splitter")
	flag.DurationVar(&opts.Interval, "interval", opts.Interval, "time spent at each canary weight")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout, opts); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// maxErrorRate is the canary error rate above which the release fails.
const maxErrorRate = 0.01

// run plays the whole scenario and writes its story to w. It returns nil
// when the release ended as expected: rolled back for a bad v2, promoted
// for a good one, with no request lost either way.
func run(ctx context.Context, w io.Writer, opts options) (err error) {
	// 1. Two revisions of a service. v2 has a bug unless -good.
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

	// 2. The splitter: a reverse proxy that is also a glidepath Target.
	split, err := httpsplit.New(ctx, httpsplit.Config{
		Upstreams:      map[strategy.Revision]string{"v1": v1.URL, "v2": v2.URL},
		Initial:        strategy.State{Stable: "v1"},
		RevisionHeader: "X-Revision", // lets the load generator count who served what
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

	// 3. Analysis over the splitter's own metrics: v2's error rate since
	// it started serving, judged once at least 20 requests back it.
	errorRate := analysis.SourceFunc(func(ctx context.Context, q analysis.Query) (any, error) {
		st := split.Stats()[q.Input.Canary]
		if q.Text == "requests" {
			return float64(st.Requests), nil
		}
		return st.ErrorRate(), nil
	})
	check := func(label string, count int, every time.Duration) *analysis.Check {
		return &analysis.Check{
			Label:              label,
			Count:              count, // 0 with an Interval: until the release ends
			Source:             errorRate,
			Query:              "error rate",
			SamplesQuery:       "requests",
			MinSamples:         20,
			NoDataLimit:        1000,
			SuccessCondition:   fmt.Sprintf("result <= %g", maxErrorRate),
			Interval:           every,
			ErrorRetryInterval: every,
		}
	}
	every := max(opts.Interval/5, 50*time.Millisecond)
	cfg := canary.Config{
		StepWeights: opts.Weights,
		Interval:    opts.Interval,
		// At the end of each step...
		Analyzers: []strategy.Analyzer{check("v2 error rate <= 1%", 1, every)},
		// ...and continuously, so a bad canary is caught mid-step.
		Background: canary.BackgroundAnalysis{Analyzers: []strategy.Analyzer{check("v2 error rate <= 1% (continuous)", 0, every)}},
	}

	// 4. The release, staged with load, progress lines and a summary.
	mode := "v2 answers 1 request in 20 with HTTP 500 (a bad release)"
	if opts.Good {
		mode = "v2 is healthy (a good release)"
	}
	fmt.Fprintf(w, "glidepath quickstart: a canary release of v2 behind an HTTP traffic splitter\n\n")
	fmt.Fprintf(w, "  stable   v1 at %s, healthy\n", v1.URL)
	fmt.Fprintf(w, "  canary   v2 at %s, %s\n", v2.URL, mode)
	fmt.Fprintf(w, "  splitter %s, receiving %d requests/s\n", url, opts.Rate)
	fmt.Fprintf(w, "  plan     weights %v%%, %v at each, then promote\n", opts.Weights, opts.Interval)
	fmt.Fprintf(w, "  analysis v2's error rate must stay <= %.0f%%: checked every %v and at the end of each step\n\n", 100*maxErrorRate, every)

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
