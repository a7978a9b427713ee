package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
	"github.com/open-feature/go-sdk/openfeature/isolated"

	"github.com/glidepath/glidepath/analysis/judge"
	"github.com/glidepath/glidepath/canary"
	"github.com/glidepath/glidepath/flags"
	"github.com/glidepath/glidepath/strategy"
)

// flagFile is the flag definition, in flagd's format.
const flagFile = `{
  "$schema": "https://flagd.dev/schema/v0/flags.json",
  "metadata": {"team": "checkout"},
  "$evaluators": {"staff": {"ends_with": [{"var": "email"}, "@example.com"]}},
  "flags": {
    "checkout": {
      "state": "ENABLED",
      "variants": {"legacy": "legacy", "fast": "fast", "faster": "faster"},
      "defaultVariant": "legacy",
      "targeting": {"if": [{"$ref": "staff"}, "faster",
                           {"fractional": [["legacy", 100], ["fast", 0], ["faster", 0]]}]},
      "metadata": {"owner": "payments"}
    }
  }
}`

// options tune the run; main sets them from flags, tests shorten them.
type options struct {
	Bad      bool          // "faster" fails 4x as often as legacy
	Dir      string        // where the flag file is written; empty: a temporary directory
	Users    int           // users per tick
	Tick     time.Duration // traffic tick
	Interval time.Duration // time at each weight
}

func defaultOptions() options {
	return options{Users: 200, Tick: 50 * time.Millisecond, Interval: 3 * time.Second}
}

func main() {
	opts := defaultOptions()
	flag.BoolVar(&opts.Bad, "bad", false, `variant "faster" fails 4x as often (the release is rolled back)`)
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout, opts); err != nil {
		fmt.Fprintln(os.Stderr, "flagrelease:", err)
		os.Exit(1)
	}
}

// Error rates per variant.
const baseErrorRate = 0.05

func errorRate(variant string, bad bool) float64 {
	if bad && variant == "faster" {
		return 4 * baseErrorRate
	}
	return baseErrorRate
}

// run plays the release and writes its story to w. It returns nil when
// the release ended as expected: promoted with healthy variants, rolled
// back with a bad one.
func run(ctx context.Context, w io.Writer, opts options) (err error) {
	dir := opts.Dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "flagrelease"); err != nil {
			return err
		}
		defer func() { err = errors.Join(err, os.RemoveAll(dir)) }()
	}
	path := filepath.Join(dir, "flags.flagd.json")
	if err := os.WriteFile(path, []byte(flagFile), 0o600); err != nil {
		return err
	}

	// 1. The provider serves the file (and would reload it on change).
	provider, err := flags.NewProvider(flags.Config{File: path, OnReloadError: func(err error) {
		fmt.Fprintln(w, "flag file rejected, still serving the last good one:", err)
	}})
	if err != nil {
		return err
	}
	api := isolated.NewAPI()
	if err := api.SetProviderAndWait(ctx, provider); err != nil {
		return err
	}
	defer func() { err = errors.Join(err, api.Shutdown(context.WithoutCancel(ctx))) }()
	client := api.NewClient()

	// 2. The release target and the judge's counts: "new" is a split of
	// two variants, counted together.
	target, err := flags.NewFractionalTarget(provider, "checkout", flags.Splits{"new": {"fast": 1, "faster": 1}})
	if err != nil {
		return err
	}
	src, err := provider.CountSource(flags.Metrics{
		Flag: "checkout", Trials: "request", Failures: "error",
		Groups: map[string][]string{"new": {"fast", "faster"}},
	})
	if err != nil {
		return err
	}

	// 3. Traffic: users evaluate the flag and report what happened.
	trafficCtx, stopTraffic := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { traffic(trafficCtx, client, opts) })
	defer func() { stopTraffic(); wg.Wait() }()

	// 4. The release: 10%, 50%, then 100% of users on "new", judged at
	// every step by a sequential test of the error rates.
	obs := strategy.ObserverFunc(func(e strategy.Event) {
		if a, ok := e.(strategy.StateApplied); ok {
			weights, _ := target.WeightsFor(a.State)
			fmt.Fprintf(w, "applied %-40s fractional weights %s\n", a.State, show(weights))
		}
	})
	res, err := strategy.Run(ctx, strategy.Release{
		Name: "checkout", Target: target, Stable: "legacy", Canary: "new", Observer: obs,
		Strategy: canary.Config{
			StepWeights: []int{10, 50},
			Interval:    opts.Interval,
			Analyzers: []strategy.Analyzer{&judge.Sequential{
				Label: "error rate of new vs legacy", Source: src, Tolerance: 0.2,
				Interval: opts.Interval / 10, MaxDuration: 20 * opts.Interval,
			}},
		},
	})
	for _, v := range res.Verdicts {
		fmt.Fprintf(w, "verdict: %v\n", v)
	}
	stopTraffic()
	wg.Wait()
	for _, rev := range []string{"legacy", "new"} {
		c := src.Variant(rev)
		fmt.Fprintf(w, "%-7s %6.0f requests %5.0f errors (%.1f%%)\n", rev, c.Trials, c.Failures, 100*c.Failures/max(c.Trials, 1))
	}
	fmt.Fprintf(w, "release %s", res.Phase)
	if res.Reason != "" {
		fmt.Fprintf(w, ": %s", res.Reason)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "users now served: %s\n", show(served(provider)))

	switch {
	case opts.Bad && res.Phase == strategy.PhaseRolledBack && errors.Is(err, strategy.ErrAnalysisFailed):
		return nil
	case !opts.Bad && res.Phase == strategy.PhasePromoted && err == nil:
		return nil
	}
	return fmt.Errorf("the release ended %s (%v), not as expected", res.Phase, err)
}

// traffic sends opts.Users users every opts.Tick until ctx ends.
func traffic(ctx context.Context, client *openfeature.Client, opts options) {
	rng := rand.New(rand.NewPCG(1, 2))
	tick := time.NewTicker(opts.Tick)
	defer tick.Stop()
	one := openfeature.NewTrackingEventDetails(1)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for range opts.Users {
			u := openfeature.NewEvaluationContext(fmt.Sprintf("user-%d", rng.IntN(100_000)), nil)
			variant := client.String(ctx, "checkout", "legacy", u)
			client.Track(ctx, "request", u, one)
			if rng.Float64() < errorRate(variant, opts.Bad) {
				client.Track(ctx, "error", u, one)
			}
		}
	}
}

// served counts the variants 10,000 users are served now.
func served(p *flags.Provider) map[string]int {
	out := map[string]int{}
	for i := range 10_000 {
		v, _ := p.Variant("checkout", fmt.Sprintf("user-%d", i))
		out[v]++
	}
	return out
}

func show(m map[string]int) string {
	total := 0
	keys := make([]string, 0, len(m))
	for k, v := range m {
		total += v
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%.1f%%", k, 100*float64(m[k])/float64(max(total, 1)))
	}
	return strings.Join(parts, " ")
}
