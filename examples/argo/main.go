package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"time"

	"github.com/glidepath/glidepath/analysis"
	"github.com/glidepath/glidepath/examples/quickstart/demo"
	"github.com/glidepath/glidepath/spec"
	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/httpsplit"
)

//go:embed rollout.yaml
var rolloutYAML []byte

func main() {
	good := flag.Bool("good", false, "release a healthy v2 (it is promoted) instead of a bad one (it is rolled back)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout, *good, rolloutYAML); err != nil {
		fmt.Fprintln(os.Stderr, "argo:", err)
		os.Exit(1)
	}
}

// run loads specs, prints the mapping and stages the release.
func run(ctx context.Context, w io.Writer, good bool, specs []byte) (err error) {
	failEvery := 20 // 5% of v2's requests fail
	if good {
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
	split, err := httpsplit.New(ctx, httpsplit.Config{
		Upstreams:      map[strategy.Revision]string{"v1": v1.URL, "v2": v2.URL},
		Initial:        strategy.State{Stable: "v1"},
		RevisionHeader: "X-Revision",
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

	// The metric endpoint the AnalysisTemplate's web provider reads: a
	// revision's error rate from the splitter's counters, as JSON.
	metricsURL, stopMetrics, err := demo.Serve(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		st := split.Stats()[strategy.Revision(r.URL.Query().Get("revision"))]
		rw.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(rw).Encode(map[string]any{"errorRate": st.ErrorRate(), "requests": st.Requests})
	}))
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, stopMetrics(context.WithoutCancel(ctx))) }()

	// Load the specs. The caller supplies what only it knows: where the
	// metrics are served.
	res, err := spec.Decode(specs, spec.Options{Args: map[string]string{"metrics-url": metricsURL}})
	if err != nil {
		return err
	}
	ro := res.Rollouts[0]
	cfg := *ro.Canary
	fmt.Fprintf(w, "glidepath: Argo Rollout %q loaded from rollout.yaml\n\n", ro.Name)
	fmt.Fprintf(w, "mapped:\n")
	fmt.Fprintf(w, "  spec.strategy.canary     -> canary.Config (replicas %d, traffic routing %v)\n", cfg.Replicas, cfg.TrafficRouting)
	for i, s := range cfg.Steps {
		fmt.Fprintf(w, "  steps[%d]                 -> %s\n", i, s)
	}
	fmt.Fprintf(w, "  analysis (background)    -> %v from step %d\n", strategy.AnalyzerNames(cfg.Background.Analyzers), cfg.Background.From)
	for _, a := range cfg.Steps[2].Analyzers {
		c := a.(*analysis.Check)
		fmt.Fprintf(w, "  metric %-17q -> analysis.Check: GET %s every %v, %d times, success when %s\n", c.Label, c.Query, c.Interval, c.Count, c.SuccessCondition)
	}
	fmt.Fprintf(w, "  progressDeadlineAbort    -> Options.OnDeadline.Pause %v\n", ro.Options.OnDeadline.Pause)
	fmt.Fprintf(w, "\nignored (no meaning outside Kubernetes):\n")
	for _, ig := range res.Ignored {
		fmt.Fprintf(w, "  %s: %s\n", ig.Path, ig.Why)
	}
	fmt.Fprintln(w)

	opts := ro.Options
	opts.PollInterval = 100 * time.Millisecond
	opts.ProgressDeadline = 30 * time.Second
	sc := demo.Scenario{Good: good, URL: url, Rate: 200, Split: split, Describe: demo.DescribeErrorRate("v2", 0.01), Settle: time.Second}
	return demo.Show(ctx, w, sc, func(reporter strategy.Observer) (strategy.Result, error) {
		return strategy.Run(ctx, strategy.Release{
			Name: ro.Name, Target: split, Stable: "v1", Canary: "v2",
			Strategy: cfg, Observer: reporter, Options: opts,
		})
	})
}
