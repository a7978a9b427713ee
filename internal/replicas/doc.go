// Package replicas holds the instance arithmetic that the canary and
// rolling strategies share: the 25% default bounds, the canary's share of
// the instances as a traffic weight, and the problem a plan too large to
// build is reported with.
package replicas
