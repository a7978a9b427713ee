package rollback

import "github.com/glidepath/glidepath/strategy"

// RollBackAtOnce is the default failure policy: the first Fail verdict
// rolls the release back.
func RollBackAtOnce() strategy.Policy { return strategy.Policy{} }

// PauseAndHold holds a release where it is on a Fail verdict and waits for
// a person to Promote (continue) or Abort (roll back). For releases that
// carry schema or data migrations, where rolling back can be worse than
// waiting.
func PauseAndHold() strategy.Policy { return strategy.Policy{Pause: true} }

// RollBackAfter rolls back on the n-th Fail verdict of a release; the
// failures before it are tolerated and the failed analysis is run again.
// This is Flagger's analysis.threshold: the canary is rolled back when the
// number of failed checks reaches the threshold. Failures count over the
// whole release (a Pass does not reset the count). n below 1 counts as 1.
func RollBackAfter(n int) strategy.Policy {
	return strategy.Policy{Allowed: max(n, 1) - 1}
}
