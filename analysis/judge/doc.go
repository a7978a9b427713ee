// Package judge decides whether a canary is worse than its baseline with
// statistics rather than fixed thresholds.
package judge
