// Package bluegreen plans blue-green releases: the canary revision (Argo
// Rollouts calls it the preview) is started beside the stable one with no
// traffic, checked, scaled to full capacity, and then receives all traffic
// in one switch, while the stable revision stays up long enough to switch
// straight back.
//
// A [Config] is validated with [Config.Validate] and turned into a
// [strategy.Plan] by [Config.Plan]; *Config implements [strategy.Strategy],
// so it is passed as Release.Strategy to [strategy.Run] or [strategy.Start].
// The package has no I/O, goroutines or clock: the executor in package
// strategy runs the plan.
//
// # The sequence
//
// The plan follows the sequence of events that Argo Rollouts documents for
// its blueGreen strategy, expressed as glidepath States (old = the stable
// revision, new = the canary, N = Config.Replicas, P = Config.CanaryReplicas,
// Argo's previewReplicaCount):
//
//  1. canary: {Stable: old, Canary: new, Weight: 0, Replicas: {N, P}}; wait
//     until the canary is ready.
//  2. pre-promotion analysis against the canary. A Fail rolls back before
//     any user has been served by the canary.
//  3. promotion gate: automatic, automatic after AutoPromotionDelay, or a
//     pause until [strategy.Rollout.Promote] (ManualPromotion). While it
//     waits, the canary runs at its scale P only.
//  4. scale-up (only when P < N): {old, new, 0, {N, N}}; wait until ready.
//     Traffic is never switched to a partly scaled revision.
//  5. switch: {old, new, 100, {N, N}}, all traffic in one Apply.
//  6. post-promotion analysis. A Fail switches traffic straight back to the
//     old revision, which is still running at full capacity: one Apply.
//  7. scale-down delay: the old revision stays up (ScaleDownDelay, 30s by
//     default) so that an Abort can still switch back instantly.
//  8. finish: {Stable: new, Replicas: {N}}; the old revision is removed.
//
// # Defaults and differences from Argo Rollouts
//
// The defaults are Argo's: automatic promotion, no reduced canary scale
// (CanaryReplicas 0 runs the full N), a 30-second scale-down delay. Where
// glidepath differs, it says so in the field's documentation:
//
//   - ScaleDownDelay 0 means the 30-second default; a negative value
//     removes the old revision at once (Argo's scaleDownDelaySeconds: 0).
//   - AutoPromotionDelay with ManualPromotion is rejected by Validate
//     rather than silently ignored.
//   - After a rollback the failed revision is removed in the same Apply
//     that switches traffic back (the zero AbortScaleDownDelay), after
//     AbortScaleDownDelay, or never with KeepAborted (Argo's
//     abortScaleDownDelaySeconds: 0). Argo's default is 30 seconds;
//     glidepath's is a one-Apply rollback.
//
// # Rolling back
//
// The plan's Rollback hook returns the path back to the old revision. While
// the old revision is at full capacity (every step before "finish"), the
// path is a single State: traffic back on the old revision and the new one
// removed, in one Apply. After "finish" (a background analyzer failing on
// the last word) the old revision is started again first, under the
// unchanged traffic, and only then receives the traffic back; the executor
// waits for its capacity before the switch.
package bluegreen
