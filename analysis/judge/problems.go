package judge

import (
	"fmt"
	"math"
	"strings"
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
	err := v.Validate()
	if err == nil {
		return nil
	}
	var p []string
	for _, line := range strings.Split(err.Error(), "\n") {
		line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "- "))
		if line == "" || strings.HasPrefix(line, strategy.ErrInvalidConfig.Error()+":") {
			continue
		}
		p = append(p, "source: "+line)
	}
	if len(p) == 0 {
		p = append(p, "source: "+err.Error())
	}
	return p
}
