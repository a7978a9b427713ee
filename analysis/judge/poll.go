package judge

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/glidepath/glidepath/internal/vclock"
	"github.com/glidepath/glidepath/strategy"
)

// loopJudge is what the polling loop shared by the sequential judges needs
// from each of them.
type loopJudge interface {
	// step takes one reading from the source and weighs it against the
	// previous one. A source's error is returned as it is; impossible data
	// as a *dataError.
	step(ctx context.Context, in strategy.Input) error
	// outcome is the test's state: Fail, Pass, or empty while undecided.
	outcome() strategy.Outcome
	// passesNow reports whether the evidence meets the bar of an inline
	// Pass at this moment.
	passesNow() bool
	// served reports whether the canary's data were ever compared.
	served() bool
	// reason explains an outcome in words, with the evidence.
	reason(o strategy.Outcome) string
	// summary describes what was seen so far.
	summary() string
	// verdict renders a verdict with the evidence as measurements.
	verdict(at time.Time, o strategy.Outcome, reason string) strategy.Verdict
}

// dataError is a reading or an interval that cannot be right (more
// failures than requests, NaN): it counts toward ErrorLimit.
type dataError struct{ msg string }

func (e *dataError) Error() string { return "judge: impossible data: " + e.msg }

// pollSettings are the polling fields shared by the sequential judges.
type pollSettings struct {
	what            string // what is read, for errors ("counts")
	interval        time.Duration
	maxDuration     time.Duration
	errorLimit      int
	lenientLastWord bool
}

// poll is the loop of both sequential judges: read the source every
// interval, weigh each interval, and return on a decision (or, in
// background analysis, only on Fail and when the release ends).
func poll(ctx context.Context, in strategy.Input, ps pollSettings, j loopJudge) (strategy.Verdict, error) {
	start := vclock.Now(ctx)
	errs := 0
	stopped := func() (strategy.Verdict, error) {
		now := vclock.Now(ctx)
		if !in.Background || !errors.Is(context.Cause(ctx), strategy.ErrPlanComplete) {
			return j.verdict(now, strategy.Inconclusive, "stopped before a decision: "+j.summary()), context.Cause(ctx)
		}
		// The last word of background analysis: a Pass needs the evidence
		// an inline Pass needs.
		switch {
		case j.passesNow():
			return j.verdict(now, strategy.Pass, "the release ended; "+j.reason(strategy.Pass)), nil
		case !j.served():
			return j.verdict(now, strategy.Inconclusive, "the release ended before the canary's data could be compared: "+j.summary()), nil
		case ps.lenientLastWord:
			return j.verdict(now, strategy.Pass, "the release ended with no regression found (lenient last word: no regression was ruled out either): "+j.summary()), nil
		}
		return j.verdict(now, strategy.Inconclusive, "the release ended without evidence that the canary is no worse: "+j.summary()), nil
	}
	for first := true; ; first = false {
		if !first {
			if !in.Background && vclock.Now(ctx).Sub(start) >= ps.maxDuration {
				return j.verdict(vclock.Now(ctx), strategy.Inconclusive, fmt.Sprintf("no decision after %v: %s", ps.maxDuration, j.summary())), nil
			}
			if !vclock.Wait(ctx, ps.interval) {
				return stopped()
			}
		}
		err := j.step(ctx, in)
		if err != nil {
			if ctx.Err() != nil {
				return stopped()
			}
			var de *dataError
			if errors.As(err, &de) {
				if errs++; errs > ps.errorLimit {
					return strategy.Verdict{}, fmt.Errorf("judge: %d consecutive readings of %s with impossible data, the last: %w", errs, ps.what, err)
				}
				continue
			}
			if err := readFailed(&errs, ps.errorLimit, ps.what, err); err != nil {
				return strategy.Verdict{}, err
			}
			continue
		}
		errs = 0
		switch o := j.outcome(); {
		case o == strategy.Fail:
			return j.verdict(vclock.Now(ctx), strategy.Fail, j.reason(strategy.Fail)), nil
		case in.Background:
			// Background analysis keeps watching: a later regression (as
			// the weight grows) still fails the release.
		case o == strategy.Pass:
			return j.verdict(vclock.Now(ctx), strategy.Pass, j.reason(strategy.Pass)), nil
		}
	}
}

// dataNotes records the resets and the impossible data a judge has seen,
// for its reasons.
type dataNotes struct {
	resets  map[string]int // by revision role
	invalid int
	last    string // the last impossible datum
}

func (n *dataNotes) reset(role string) {
	if n.resets == nil {
		n.resets = map[string]int{}
	}
	n.resets[role]++
}

func (n *dataNotes) bad(msg string) error {
	n.invalid++
	n.last = msg
	return &dataError{msg: msg}
}

// String is empty when there is nothing to note.
func (n *dataNotes) String() string {
	s := ""
	for _, role := range []string{"canary", "baseline"} {
		if k := n.resets[role]; k > 0 {
			s += fmt.Sprintf("; %s counters reset %d times (counted from zero after each, as Prometheus' increase() does)", role, k)
		}
	}
	if n.invalid > 0 {
		s += fmt.Sprintf("; %d readings of impossible data skipped, the last: %s", n.invalid, n.last)
	}
	return s
}
