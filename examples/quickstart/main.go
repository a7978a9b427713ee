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

	"github.com/glidepath/glidepath/analysis/judge"
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

// maxExcess is how much worse than v1's v2's error rate may be and still
// be promoted: 1 percentage point.
const maxExcess = 0.01

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

	// 3. Analysis over the splitter's own metrics: the sequential judge
	// compares v2's failures with v1's, request counts read from the
	// splitter's per-revision counters. In the background it fails a worse
	// v2 as soon as the evidence is in; at the last step it holds the
	// promotion until v2 is shown to be no more than 1 percentage point
	// worse than v1 (or half as good), and passes nothing on no evidence.
	counts := judge.CountFunc(func(_ context.Context, in strategy.Input) (judge.Counts, judge.Counts, error) {
		st := split.Stats()
		c := func(rev strategy.Revision) judge.Counts {
			return judge.Counts{Trials: float64(st[rev].Requests), Failures: float64(st[rev].Errors)}
		}
		return c(in.Stable), c(in.Canary), nil
	})
	every := max(opts.Interval/5, 50*time.Millisecond)
	sequential := func(label string) *judge.Sequential {
		return &judge.Sequential{
			Label:    label,
			Source:   counts,
			Margin:   maxExcess,
			Interval: every,
			// The gate needs a few hundred of v2's requests without an
			// error to pass it; on a slow machine that can take a minute.
			MaxDuration: 2 * time.Minute,
		}
	}
	var steps []canary.Step
	for _, w := range opts.Weights {
		steps = append(steps, canary.SetWeight(w), canary.Pause(opts.Interval))
	}
	cfg := canary.Config{
		// Before promotion, on evidence...
		Steps: append(steps, canary.Analysis(sequential("v2 vs v1 errors (promotion gate)"))),
		// ...and continuously, so a bad canary is caught mid-step.
		Background: canary.Background{Analyzers: []strategy.Analyzer{sequential("v2 vs v1 errors (continuous)")}},
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
	fmt.Fprintf(w, "  analysis the sequential judge compares v2's errors with v1's every %v: v2 fails once it is shown worse,\n", every)
	fmt.Fprintf(w, "           and is promoted only once shown at most %g percentage point worse than v1 (or half as good)\n\n", 100*maxExcess)

	describe := demo.DescribeEvidence("v1", "v2")
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
