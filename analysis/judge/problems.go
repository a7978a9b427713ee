package judge

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/glidepath/glidepath/strategy"
)

// errorBoundProblems checks the error bounds and effect sizes shared by
// the sequential judges; zero values stand for their defaults.
func errorBoundProblems(alpha, beta, tolerance, regression, defaultRegression float64) []string {
	var p []string
	if a := orDefault(alpha, defaultAlpha); !(a > 0 && a < 1) {
		p = append(p, fmt.Sprintf("alpha %v is outside (0, 1)", alpha))
	}
	if b := orDefault(beta, defaultBeta); !(b > 0 && b < 1) {
		p = append(p, fmt.Sprintf("beta %v is outside (0, 1)", beta))
	}
	if !(tolerance >= 0) || math.IsInf(tolerance, 0) {
		p = append(p, fmt.Sprintf("tolerance %v is not a finite non-negative number", tolerance))
	}
	if r := orDefault(regression, defaultRegression); !(r > 1+tolerance) || math.IsInf(r, 0) {
		p = append(p, fmt.Sprintf("regression ratio %v must be finite and above 1+tolerance (%v)", r, 1+tolerance))
	}
	return p
}

// pollProblems checks the polling settings shared by the sequential judges.
func pollProblems(interval, maxDuration time.Duration, errorLimit int) []string {
	var p []string
	if interval < 0 {
		p = append(p, fmt.Sprintf("negative interval %v", interval))
	}
	if maxDuration < 0 {
		p = append(p, fmt.Sprintf("negative maximum duration %v", maxDuration))
	}
	if errorLimit < 0 {
		p = append(p, fmt.Sprintf("negative error limit %d", errorLimit))
	}
	return p
}

// sourceProblems lists the problems a source reports about its own
// configuration, when it can check it (a Prometheus source's query, say),
// so that a bad source is rejected before anything is applied.
func sourceProblems(src any) []string {
	v, ok := src.(strategy.Validator)
	if !ok {
		return nil
	}
	var p []string
	var ce *strategy.ConfigError
	if err := v.Validate(); errors.As(err, &ce) {
		for _, line := range ce.Problems {
			p = append(p, "source: "+line)
		}
	} else if err != nil {
		p = append(p, "source: "+err.Error())
	}
	return p
}

// evidence renders a sequential test's two evidence values as measurements
// judged against their thresholds (1/alpha for a regression, 1/beta for
// none), given the test's current outcome.
func evidence(now time.Time, failEvidence, passEvidence, alpha, beta float64, outcome strategy.Outcome) []strategy.Measurement {
	failO, passO := strategy.Pass, strategy.Inconclusive
	if outcome == strategy.Fail {
		failO = strategy.Fail
	}
	if outcome == strategy.Pass {
		passO = strategy.Pass
	}
	return []strategy.Measurement{
		{Name: "evidence of regression", At: now, Value: fmt.Sprintf("%.4g", failEvidence), Condition: fmt.Sprintf(">= %g", 1/alpha), Outcome: failO},
		{Name: "evidence of no regression", At: now, Value: fmt.Sprintf("%.4g", passEvidence), Condition: fmt.Sprintf(">= %g", 1/beta), Outcome: passO},
	}
}

// readFailed counts a failed reading of what and returns the error that
// ends the analysis: at once for a permanent error, or when more than
// limit readings in a row failed; nil to try again.
func readFailed(errs *int, limit int, what string, err error) error {
	*errs++
	if strategy.IsPermanent(err) {
		return fmt.Errorf("judge: reading %s: %w", what, err)
	}
	if *errs > limit {
		return fmt.Errorf("judge: %d consecutive errors reading %s: %w", *errs, what, err)
	}
	return nil
}
