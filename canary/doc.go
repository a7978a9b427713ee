// Package canary plans progressive canary releases: traffic shifted to the
// canary revision step by step, with pauses, inline analysis, background
// analysis, header routes and, for targets with instances, per-revision
// instance counts derived from the weight.
//
// A [Config] is a [strategy.Strategy]: its Plan method turns a stable and
// a canary revision into a [strategy.Plan], which the shared executor
// ([strategy.Run], [strategy.Start]) runs. The package does no I/O and
// starts no goroutines; the executor owns retries, deadlines, rollback and
// the operator controls (Promote, PromoteFull, Abort, Retry).
//
// # Steps
//
// A Config is either a list of explicit steps, as Argo Rollouts users write
// them ([SetWeight], [Pause], [PauseUntilPromoted], [Analysis],
// [SetCanaryScale], [SetHeaderRoute]), or the shorthand Flagger users
// write: StepWeight and MaxWeight (or StepWeights) with an Interval and
// Analyzers. With the shorthand the canary gets StepWeight, 2×StepWeight,
// ... percent until the weight reaches MaxWeight (stepWeight 10 and
// maxWeight 50 give 10, 20, 30, 40, 50; a MaxWeight that is not a multiple
// is overshot to the next one, capped at 100, as in Flagger); at each
// weight the release waits one Interval and then runs the Analyzers; after
// the last it is promoted.
//
// Every plan starts by applying the canary at weight 0 and waiting for it
// to be ready, and ends by promoting it: the canary at 100% with full
// capacity, then the canary alone as the new stable revision, with no
// traffic split or header route left behind.
//
// # Background analysis
//
// Config.Background runs analyzers alongside the steps from a starting step
// on (Argo Rollouts' analysis.startingStep). The executor rolls the release
// back on their first Fail, whatever step it is in, pauses included.
//
// # Instances
//
// With Config.Replicas set, every State carries instance counts:
//
//   - Without TrafficRouting the canary is a basic canary, as in Argo
//     Rollouts without a traffic router: traffic follows instances, so a
//     weight is approximated by the closest instance split (a tie goes to
//     the canary; neither revision is left without an instance at a weight
//     strictly between 0 and 100), reached one move at a time without
//     exceeding MaxSurge or dropping below Replicas − MaxUnavailable
//     available instances. Each State's Weight is then the canary's share of
//     the instances.
//   - With TrafficRouting the router splits traffic by weight; the canary
//     gets ceil(weight × Replicas / 100) instances (or what a SetCanaryScale
//     step says) and the stable keeps all of its own, unless
//     DynamicStableScale sizes it from its share too. Instances are scaled
//     up before traffic moves onto them and scaled down only after it has
//     left: canary up, traffic shifted, stable down.
//
// Without Replicas the target has no instances to count (a feature flag, a
// traffic splitter in front of fixed upstreams) and States carry weights
// only.
package canary
