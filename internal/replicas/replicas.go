package replicas

import (
	"fmt"

	"github.com/glidepath/glidepath/strategy"
)

// DefaultBound is the max surge and max unavailable that apply when a
// configuration leaves them unset: 25%, as in Kubernetes Deployments and
// Argo Rollouts.
var DefaultBound = strategy.Percent(25)

// Bounds returns maxSurge and maxUnavailable, each [DefaultBound] when nil.
func Bounds(maxSurge, maxUnavailable *strategy.IntOrPercent) (surge, unavailable strategy.IntOrPercent) {
	surge, unavailable = DefaultBound, DefaultBound
	if maxSurge != nil {
		surge = *maxSurge
	}
	if maxUnavailable != nil {
		unavailable = *maxUnavailable
	}
	return surge, unavailable
}

// IsZero reports whether v is 0 or "0%".
func IsZero(v strategy.IntOrPercent) bool {
	if v.IsPercent() {
		return v.Scaled(100, true) == 0
	}
	return v.Int == 0
}

// Share is the canary's share of the instances, in percent, rounded to the
// nearest: the traffic weight of revisions that take traffic in proportion
// to their instances. A revision that has instances next to another that
// also has some gets at least 1 and at most 99.
func Share(canary, stable int) int {
	total := canary + stable
	if total <= 0 || canary <= 0 {
		return 0
	}
	if stable <= 0 {
		return 100
	}
	w := (200*canary + total) / (2 * total)
	return min(max(w, 1), 99)
}

// TooManySteps is the problem reported for a plan that would take more
// than limit steps to move instances, at most perStep at a time.
func TooManySteps(limit, instances, perStep int) string {
	return fmt.Sprintf("the plan would take more than %d steps (%d instances, at most %d moving at a time): raise MaxSurge or MaxUnavailable",
		limit, instances, perStep)
}
