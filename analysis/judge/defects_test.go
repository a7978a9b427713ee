package judge

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/glidepath/glidepath/strategy"
)

// readings returns a CountSource that answers the i-th call with the i-th
// pair of cumulative readings (the last one repeated).
func readings(pairs ...[2]Counts) CountSource {
	i := 0
	return CountFunc(func(context.Context, strategy.Input) (Counts, Counts, error) {
		p := pairs[min(i, len(pairs)-1)]
		i++
		return p[0], p[1], nil
	})
}

// A background judge's last word needs evidence: a canary that failed 3 of
// 100 requests against a baseline failing 0.5% (six times worse, not
// ruled out) is not promoted when the release ends.
func TestLastWordNeedsEvidence(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := readings(
			[2]Counts{{}, {}},
			[2]Counts{{Trials: 900, Failures: 5}, {Trials: 100, Failures: 3}},
		)
		ctx, cancel := context.WithCancelCause(t.Context())
		time.AfterFunc(90*time.Second, func() { cancel(strategy.ErrPlanComplete) })
		v, err := (&Sequential{Source: src}).Analyze(ctx, strategy.Input{Background: true})
		if err != nil {
			t.Fatal(err)
		}
		if v.Outcome != strategy.Inconclusive {
			t.Fatalf("last word %s: %s", v.Outcome, v.Reason)
		}
		for _, want := range []string{"3/100", "5/900", "evidence"} {
			if !strings.Contains(v.Reason, want) {
				t.Errorf("reason %q does not mention %q", v.Reason, want)
			}
		}
	})
}

// A canary that crash-loops between readings resets its counters every
// time; the increase after each reset counts (Prometheus' increase()), so
// its failures are seen and it fails.
func TestCounterResetCountsIncrease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := 0
		src := CountFunc(func(context.Context, strategy.Input) (Counts, Counts, error) {
			n++
			b := Counts{Trials: 5400 * float64(n), Failures: 27 * float64(n)}
			// The canary restarts before every other reading: its counters
			// read 15, 14, 15, 14... requests of which 3 failed.
			c := Counts{Trials: 15, Failures: 3}
			if n%2 == 0 {
				c.Trials = 14
			}
			return b, c, nil
		})
		v, err := (&Sequential{Source: src}).Analyze(t.Context(), strategy.Input{})
		if err != nil {
			t.Fatal(err)
		}
		if v.Outcome != strategy.Fail {
			t.Fatalf("crash-looping canary: %s: %s", v.Outcome, v.Reason)
		}
		if !strings.Contains(v.Reason, "reset") {
			t.Errorf("reason %q does not mention the resets", v.Reason)
		}
	})
}

// Impossible data is an error, not silence: intervals with more failures
// than requests count toward ErrorLimit, and the error names them.
func TestImpossibleDataCountsAsError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := 0.0
		src := CountFunc(func(context.Context, strategy.Input) (Counts, Counts, error) {
			n++
			// The canary's failure counter was re-created with a larger
			// value: every interval it grows by more than its requests.
			return Counts{Trials: 5400 * n, Failures: 27 * n}, Counts{Trials: 10000 + 600*n, Failures: 700 * n}, nil
		})
		start := time.Now()
		_, err := (&Sequential{Source: src, ErrorLimit: 2}).Analyze(t.Context(), strategy.Input{})
		if err == nil || !strings.Contains(err.Error(), "more failures than trials") {
			t.Fatalf("err = %v", err)
		}
		if el := time.Since(start); el != 3*time.Minute {
			t.Errorf("gave up after %v, want 3m (three bad intervals)", el)
		}
		// One impossible interval among good ones is named in the verdict.
		n = 0
		src = CountFunc(func(context.Context, strategy.Input) (Counts, Counts, error) {
			n++
			c := Counts{Trials: 6000 * n, Failures: 30 * n}
			if n == 2 {
				c.Failures = math.NaN()
			}
			return Counts{Trials: 54000 * n, Failures: 270 * n}, c, nil
		})
		v, err := (&Sequential{Source: src}).Analyze(t.Context(), strategy.Input{})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(v.Reason, "NaN") {
			t.Errorf("verdict %s: reason %q does not name the invalid reading", v.Outcome, v.Reason)
		}
	})
}

// A healthy service with very few errors passes within the horizon: at a
// 0.05% baseline error rate and 10 canary requests a second, the absolute
// margin lets two in three healthy releases pass in 30 minutes (without
// it, fewer than half do).
func TestLowErrorRatePasses(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	const runs = 40
	passed := 0
	for range runs {
		synctest.Test(t, func(t *testing.T) {
			var b, c Counts
			src := CountFunc(func(context.Context, strategy.Input) (Counts, Counts, error) {
				b.Trials += 5400
				b.Failures += binomial(rng, 5400, 0.0005)
				c.Trials += 600
				c.Failures += binomial(rng, 600, 0.0005)
				return b, c, nil
			})
			v, err := (&Sequential{Source: src}).Analyze(t.Context(), strategy.Input{})
			if err != nil {
				t.Fatal(err)
			}
			if v.Outcome == strategy.Pass {
				passed++
			}
		})
	}
	if passed < runs*2/3 {
		t.Fatalf("%d of %d healthy low-error releases passed", passed, runs)
	}
}
