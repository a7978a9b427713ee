package demo

import (
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/httpsplit"
)

// Reporter is a [strategy.Observer] that prints one line per release event
// (a weight change, a verdict, the rollback), each with the traffic that
// each revision served since the previous line: requests, error rate and
// p50/p99 latency, read from the splitter's metrics.
type Reporter struct {
	w              io.Writer
	stats          func() httpsplit.Stats
	stable, canary strategy.Revision

	// Describe, when set, renders a verdict for a progress line; the
	// default is its outcome and reason.
	Describe func(strategy.Verdict) string

	mu            sync.Mutex
	start         time.Time
	prev          httpsplit.Stats
	weight        int
	canaryTraffic time.Time
}

// NewReporter returns a Reporter writing to w. stats reads the splitter's
// per-revision numbers.
func NewReporter(w io.Writer, stable, canary strategy.Revision, stats func() httpsplit.Stats) *Reporter {
	return &Reporter{w: w, stats: stats, stable: stable, canary: canary, start: time.Now(), prev: stats()}
}

// Header prints the column titles.
func (r *Reporter) Header() {
	r.mu.Lock()
	defer r.mu.Unlock()
	col := func(rev strategy.Revision) string {
		return fmt.Sprintf("%-4s %5s %6s %11s", rev, "reqs", "errors", "p50/p99 ms")
	}
	fmt.Fprintf(r.w, "  %6s %6s | %s | %s | %s\n", "time", "weight", col(r.stable), col(r.canary), "what happened")
	fmt.Fprintf(r.w, "  %s\n", strings.Repeat("-", 100))
}

// CanaryTrafficAt is when the canary was first given weighted traffic (zero
// if never).
func (r *Reporter) CanaryTrafficAt() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.canaryTraffic
}

// Line prints a progress line with the traffic since the previous one.
func (r *Reporter) Line(what string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lineLocked(what)
}

func (r *Reporter) lineLocked(what string) {
	now := r.stats()
	win := now.Sub(r.prev)
	r.prev = now
	fmt.Fprintf(r.w, "  %5.1fs %5d%% | %s | %s | %s\n", time.Since(r.start).Seconds(), r.weight,
		revCols(r.stable, win[r.stable]), revCols(r.canary, win[r.canary]), what)
}

func revCols(rev strategy.Revision, st httpsplit.RevisionStats) string {
	if st.Requests == 0 {
		return fmt.Sprintf("%-4s %5s %6s %11s", "", "", "", "")
	}
	ms := func(s float64) float64 { return math.Round(s*10000) / 10 }
	lat := fmt.Sprintf("%.1f/%.1f", ms(st.Latency.Quantile(0.5)), ms(st.Latency.Quantile(0.99)))
	return fmt.Sprintf("%-4s %5d %5.1f%% %11s", rev, st.Requests, 100*st.ErrorRate(), lat)
}

// OnEvent prints the events a person watching the release cares about.
func (r *Reporter) OnEvent(e strategy.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch ev := e.(type) {
	case strategy.ReleaseStarted:
		r.lineLocked(fmt.Sprintf("release started: %s -> %s, %d steps", ev.Stable, ev.Canary, ev.Steps))
	case strategy.WaitingForReady:
		r.lineLocked(fmt.Sprintf("waiting until %s is healthy before it gets traffic", ev.Desired.Canary))
	case strategy.StateApplied:
		s := ev.State
		w := s.Share(r.canary)
		if w > 0 && r.canaryTraffic.IsZero() {
			r.canaryTraffic = time.Now()
		}
		var what string
		switch {
		case ev.Rollback && s.Canary == "" && s.Stable == r.stable:
			what = fmt.Sprintf("ROLLED BACK: all traffic is on %s again", r.stable)
		case ev.Rollback:
			what = fmt.Sprintf("rolling back: %s now gets %d%%", r.canary, w)
		case s.Canary == "" && s.Stable == r.canary:
			what = fmt.Sprintf("PROMOTED: %s is the stable revision now", r.canary)
		case s.Canary == r.canary && s.Weight == 0:
			what = fmt.Sprintf("%s deployed next to %s, with no traffic yet", r.canary, r.stable)
		default:
			what = fmt.Sprintf("weight set: %d%% of requests go to %s", w, r.canary)
		}
		// The line shows the traffic up to this change, under the old weight.
		r.lineLocked(what)
		r.weight = w
	case strategy.VerdictReached:
		v := ev.Verdict
		if ev.Background && v.Outcome == strategy.Pass {
			return
		}
		kind := "step analysis"
		if ev.Background {
			kind = "background analysis"
		}
		desc := fmt.Sprintf("%s (%s)", strings.ToUpper(string(v.Outcome)), short(v.Reason, 60))
		if r.Describe != nil {
			desc = r.Describe(v)
		}
		r.lineLocked(kind + ": " + desc)
	case strategy.RollbackStarted:
		r.lineLocked("rollback started")
	}
}

func short(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}
