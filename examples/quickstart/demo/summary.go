package demo

import (
	"context"
	"errors"
	"fmt"
	"github.com/glidepath/glidepath/internal/sleep"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/httpsplit"
)

// DescribeErrorRate returns a [Reporter].Describe for checks that measure
// an error rate (a fraction) against limit: the outcome and the last value
// measured, as a percentage.
func DescribeErrorRate(canary strategy.Revision, limit float64) func(strategy.Verdict) string {
	return func(v strategy.Verdict) string {
		out := strings.ToUpper(string(v.Outcome))
		for i := len(v.Measurements) - 1; i >= 0; i-- {
			m := v.Measurements[i]
			if m.Outcome == "" {
				continue
			}
			if f, ok := firstNumber(m.Value); ok {
				op := "<="
				if f > limit {
					op = ">"
				}
				return fmt.Sprintf("%s: %s's error rate is %.1f%% %s %.0f%%", out, canary, 100*f, op, 100*limit)
			}
		}
		return fmt.Sprintf("%s (%s)", out, short(v.Reason, 60))
	}
}

// DescribeEvidence returns a [Reporter].Describe for the verdicts of a
// sequential judge (analysis/judge.Sequential): the outcome, the failures
// and requests of both revisions, and the evidence both ways against the
// thresholds it is judged by, read from the verdict's measurements.
func DescribeEvidence(stable, canary strategy.Revision) func(strategy.Verdict) string {
	return func(v strategy.Verdict) string {
		out := strings.ToUpper(string(v.Outcome))
		var parts []string
		var evidence []string
		for _, m := range v.Measurements {
			switch {
			case m.Values == nil:
			case m.Revision == canary || m.Revision == stable:
				parts = append(parts, fmt.Sprintf("%s failed %g of %g (%.2f%%)", m.Revision, m.Values["failures"], m.Values["trials"], 100*m.Values["rate"]))
			case m.Name == "evidence of regression":
				evidence = append(evidence, fmt.Sprintf("evidence of a regression %.3g (fails at %s)", m.Values["e_fail"], strings.TrimPrefix(m.Condition, ">= ")))
			case m.Name == "evidence of no regression":
				evidence = append(evidence, fmt.Sprintf("of none %.3g (passes at %s)", m.Values["e_pass"], strings.TrimPrefix(m.Condition, ">= ")))
			}
		}
		if len(parts) == 0 {
			return fmt.Sprintf("%s (%s)", out, short(v.Reason, 60))
		}
		return fmt.Sprintf("%s: %s; %s", out, strings.Join(parts, ", "), strings.Join(evidence, ", "))
	}
}

// firstNumber reads "0.05" or "[0.05]", the ways a measurement's value is
// written for a scalar and a one-series vector.
func firstNumber(s string) (float64, bool) {
	s = strings.Trim(s, "[] ")
	if i := strings.IndexAny(s, " ,"); i >= 0 {
		s = s[:i]
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}

// Outcome is everything [Summarize] reports on.
type Outcome struct {
	// Good says which ending is expected: promoted (true) or rolled back.
	Good bool
	// Stable and Canary are the release's revisions.
	Stable, Canary strategy.Revision
	// Result and Err are what strategy.Run returned.
	Result strategy.Result
	Err    error
	// Reporter is the release's observer (for when the canary first got
	// traffic).
	Reporter *Reporter
	// Load is what the load generator counted.
	Load LoadCounts
	// After is the splitter's traffic after the release ended.
	After httpsplit.Stats
	// Final is the State the splitter serves at the end.
	Final strategy.State
	// Describe renders the failing verdict.
	Describe func(strategy.Verdict) string
}

// Summarize prints the summary of a release and returns an error when it
// did not end as expected or a request was lost.
func Summarize(w io.Writer, o Outcome) error {
	res := o.Result
	fmt.Fprintf(w, "\nSummary\n")
	switch res.Phase {
	case strategy.PhaseRolledBack:
		fmt.Fprintf(w, "  outcome          rolled back: all traffic is on %s again\n", o.Stable)
		for _, v := range res.Verdicts {
			if v.Outcome == strategy.Fail && o.Describe != nil {
				fmt.Fprintf(w, "  why              %q said %s\n", v.Analyzer, o.Describe(v))
				break
			}
		}
		if at := o.Reporter.CanaryTrafficAt(); !res.FailedAt.IsZero() && !at.IsZero() {
			fmt.Fprintf(w, "  time to detect   %v (from %s's first requests to the failing verdict)\n",
				res.FailedAt.Sub(at).Round(time.Millisecond), o.Canary)
		}
		if !res.RollbackFinished.IsZero() {
			fmt.Fprintf(w, "  time to restore  %v (from the verdict to all traffic back on %s)\n",
				res.RollbackFinished.Sub(res.FailedAt).Round(time.Microsecond), o.Stable)
		}
	case strategy.PhasePromoted:
		fmt.Fprintf(w, "  outcome          promoted: %s passed every check and now serves all traffic\n", o.Canary)
		for i := len(res.Verdicts) - 1; i >= 0; i-- {
			if v := res.Verdicts[i]; v.Outcome == strategy.Pass && o.Describe != nil {
				fmt.Fprintf(w, "  why              %q said %s\n", v.Analyzer, o.Describe(v))
				break
			}
		}
	default:
		fmt.Fprintf(w, "  outcome          %s: %v\n", res.Phase, o.Err)
	}
	fmt.Fprintf(w, "  release took     %v\n", res.Finished.Sub(res.Started).Round(time.Millisecond))
	c := o.Load
	fmt.Fprintf(w, "  requests         %d sent, %d answered, %d lost\n", c.Sent, c.Answered, c.Lost)
	for _, rev := range []strategy.Revision{o.Stable, o.Canary} {
		fmt.Fprintf(w, "    served by %-4s  %d (%d answered with a 5xx)\n", rev, c.Served[string(rev)], c.Failed[string(rev)])
	}
	var total uint64
	for _, st := range o.After {
		total += st.Requests
	}
	fmt.Fprintf(w, "  now              %s serves all traffic (%d of the last %d requests)\n",
		o.Final.Stable, o.After[o.Final.Stable].Requests, total)

	var problems []error
	if c.Lost > 0 || c.Answered != c.Sent {
		problems = append(problems, fmt.Errorf("%d of %d requests got no answer", c.Sent-c.Answered, c.Sent))
	}
	switch {
	case o.Good && res.Phase != strategy.PhasePromoted:
		problems = append(problems, fmt.Errorf("the good release was not promoted: %s: %w", res.Phase, o.Err))
	case !o.Good && res.Phase != strategy.PhaseRolledBack:
		problems = append(problems, fmt.Errorf("the bad release was not rolled back: %s: %v", res.Phase, o.Err))
	}
	if len(problems) == 0 {
		if o.Good {
			fmt.Fprintf(w, "\n%s was promoted and no request was lost.\n", o.Canary)
		} else {
			fmt.Fprintf(w, "\nThe bad %s was caught and rolled back, and no request was lost.\n", o.Canary)
		}
	}
	return errors.Join(problems...)
}

// Pause waits for d or until ctx ends.
func Pause(ctx context.Context, d time.Duration) error {
	if !sleep.For(ctx, d) {
		return ctx.Err()
	}
	return nil
}

// Scenario is what [Show] needs to stage a release for the reader.
type Scenario struct {
	// Good says v2 is healthy (the release should be promoted).
	Good bool
	// URL is the splitter's address, Rate the load in requests per second.
	URL  string
	Rate int
	// Split is the splitter whose numbers the progress lines show.
	Split *httpsplit.Splitter
	// Describe renders a verdict for the progress lines.
	Describe func(strategy.Verdict) string
	// Settle is how long v1 serves alone before the release, and how long
	// the load goes on after it (to show where traffic goes now).
	Settle time.Duration
}

// Show stages a release for the reader: it starts the load and the
// progress lines, lets v1 serve alone a moment, calls release with the
// reporter as the release's Observer, keeps the load on a moment after it,
// and prints the summary (which also checks that the release ended as it
// should and that no request was lost).
func Show(ctx context.Context, w io.Writer, sc Scenario, release func(strategy.Observer) (strategy.Result, error)) error {
	load := StartLoad(ctx, sc.URL, sc.Rate, "X-Revision")
	stopped := false
	defer func() {
		if !stopped {
			load.Stop()
		}
	}()
	rep := NewReporter(w, "v1", "v2", sc.Split.Stats)
	rep.Describe = sc.Describe
	rep.Header()
	if err := Pause(ctx, sc.Settle); err != nil {
		return err
	}
	res, relErr := release(rep)
	after := sc.Split.Stats()
	if err := Pause(ctx, sc.Settle); err != nil {
		return err
	}
	rep.Line("after the release")
	counts := load.Stop()
	stopped = true
	return Summarize(w, Outcome{
		Good: sc.Good, Stable: "v1", Canary: "v2",
		Result: res, Err: relErr, Reporter: rep, Load: counts,
		After: sc.Split.Stats().Sub(after), Final: sc.Split.State(), Describe: sc.Describe,
	})
}
