// Package rolling plans rolling updates: N instances of the stable
// revision are replaced by the canary revision (the new one) in batches
// bounded by a maximum surge and a maximum number of unavailable
// instances, as a Kubernetes Deployment's RollingUpdate strategy does,
// with what a Deployment cannot do on top: analysis after every batch,
// automatic rollback by the same rules in reverse, and a partition that
// stops part-way for approval.
//
// A [Config] is validated with [Config.Validate] and turned into a
// [strategy.Plan] by [Config.Plan]; *Config implements [strategy.Strategy].
// The package has no I/O, goroutines or clock: the executor in package
// strategy runs the plan.
//
// # Batches
//
// Surge and unavailable are resolved against N as Kubernetes resolves
// maxSurge and maxUnavailable ([strategy.SurgeAndUnavailable]: a
// percentage of surge rounds up, one of unavailable rounds down, and when
// both come to zero one instance may be unavailable). The plan then
// reproduces the Deployment controller's sequence. A nil MaxSurge or
// MaxUnavailable is 25%, each field defaulted on its own, as in a
// Deployment (new(strategy.Int(0)) is an explicit 0).
//
// The controller's sequence:
//
//   - scale the canary revision up until old + new reaches N + surge (and no
//     further than N new instances);
//   - scale the old revision down as far as keeps at least N - unavailable
//     instances available, where new instances that have not been waited
//     for do not count as available;
//   - repeat both while either can still move, then wait until the new
//     instances are ready, hold them for MinReady (minReadySeconds) and run
//     the analyzers;
//
// until all N instances run the canary revision.
//
// Each State is {Stable: old, Canary: new, Weight: w, Replicas: {old, new}}.
// Weight is the canary revision's share of the ready instances, in percent: it
// changes only after the wait that made the instances ready, the way a
// Service spreads requests over ready endpoints, so a traffic-splitting
// target follows the instances and traffic never reaches an instance that
// is still starting. A revision with at least one ready instance gets at
// least 1%. The final State is {Stable: new, Replicas: {Stable: N}}.
//
// The package's tests replay the Deployment controller's rules
// (NewRSNewReplicas, reconcileOldReplicaSets) independently for random N
// and bounds and check that every plan scales through the same replica
// counts in the same order, including the walk-through in the Kubernetes
// documentation (3 replicas, 25%/25%: new 1, old 2, new 2, old 1, new 3,
// old 0).
//
// # Differences from Kubernetes
//
//   - Validation: like Kubernetes, Validate rejects a negative count, a
//     percentage without its "%" ("25"), a percentage that is not a whole
//     number, a maxUnavailable above 100% and both bounds zero. It also
//     rejects a MaxSurge above 100%, which a Deployment accepts: a surge
//     of more than N extra instances never helps a batch, since no batch
//     starts more than N.
//
// # Rolling back
//
// The plan's Rollback hook rolls back by the same rules in reverse: the old
// revision is scaled up within the surge, the new one scaled down within the
// unavailable budget, batch by batch, never a big-bang switch. The executor
// waits for the instances each rollback State adds before it applies the
// next one, so the canary revision is scaled down only once the old revision's
// replacements are ready, and traffic follows the ready instances back.
// Instances of the canary revision that receive no traffic (Weight 0) are not
// counted as available on the way back. The package's property test checks
// both bounds from every State of every plan.
//
// # Budgets that allow every instance to be unavailable
//
// With MaxUnavailable at 100% (or N = 1 with surge 0) the old revision may
// reach zero instances while the new ones are still starting. Kubernetes
// accepts that gap; glidepath keeps the traffic where it was until the new
// instances are ready, and the batch's traffic step is where the executor
// waits for them (bounded by the release's Options.ProgressDeadline rather
// than Config.ProgressDeadline).
//
// # Deadlines
//
// ProgressDeadline bounds every wait for a batch, so the clock restarts
// whenever a batch has made progress: this is what Kubernetes'
// progressDeadlineSeconds means (the time a Deployment may go without
// progress). Missing it rolls the release back, or pauses it when the
// release's Options.OnDeadline.Pause is set.
package rolling
