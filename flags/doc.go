// Package flags releases features the way glidepath releases services:
// through OpenFeature, with sticky percentage rollouts, metric-gated
// promotion and automatic rollback, entirely inside the application.
//
// # The provider
//
// [Provider] is an OpenFeature provider (FeatureProvider, StateHandler,
// EventHandler and Tracker). Each [Flag] has named variants (boolean,
// string, integer, float or object values) and a [Rollout]: a control
// variant, an optional treatment variant and the percentage of targeting
// keys served the treatment. Register it with an OpenFeature API, for
// example an isolated one:
//
//	api := isolated.NewAPI()
//	err := api.SetProviderAndWait(ctx, provider)
//	client := api.NewClient()
//	on := client.Boolean(ctx, "new-checkout", false, openfeature.NewEvaluationContext(userID, nil))
//
// Evaluations are lock-free and allocate nothing in the provider. Reasons
// follow the OpenFeature specification: STATIC when everyone is served the
// control, SPLIT during a rollout, and ERROR with an error code for
// abnormal execution (FLAG_NOT_FOUND, TYPE_MISMATCH, and
// TARGETING_KEY_MISSING for an evaluation without a targeting key during a
// rollout; the provider then resolves the control variant, and the SDK
// client returns the caller's default value, as specification requirement
// 1.4.10 demands, so pass the control value as the default). DEFAULT and
// TARGETING_MATCH are never used: a flag has no targeting rules, and the
// provider never falls back to a value of its own.
//
// Every change made with [Provider.SetFlag] or [Provider.SetRollout]
// emits PROVIDER_CONFIGURATION_CHANGED with the flag key in FlagChanges.
//
// # Bucketing
//
// Assignment is sticky and deterministic, and reproducible in any language
// (see [Bucket]):
//
//	bucket = uint64be(SHA-256(salt + "/" + flagKey + "/" + targetingKey)[0:8]) mod 100000
//
// A key is served the treatment when its bucket is below Percent × 1000
// ([Threshold]). Raising the percentage therefore only adds keys, and
// lowering it removes the keys that were added last; a key never flips
// back and forth while the percentage moves in one direction. Each flag's
// salt (its key by default) makes rollouts of different flags independent.
//
// # Releasing a flag
//
// [Target] is a strategy.Target over one flag: the stable revision is the
// control variant, the canary revision the treatment, and the weight the
// rollout percentage. The canary and rolling strategies (or a hand-written
// plan) release the treatment with their usual pauses, analysis and
// rollback; rolling back sets the percentage to 0 and serves control to
// everyone.
//
// # Guarding a rollout with tracking events
//
// Events sent with OpenFeature's Track are attributed to the variant the
// event's targeting key is served at that moment (recomputed from the
// bucketing, nothing is stored per user) and counted per variant.
// [Provider.CountSource] turns the counts of a trial event (or
// evaluations) and a failure event into a judge.CountSource, so a canary
// judge can compare treatment with control while the rollout runs:
//
//	src, err := provider.CountSource(flags.Metrics{Flag: "new-checkout", Trials: "request", Failures: "error"})
//	...
//	res, err := strategy.Run(ctx, strategy.Release{
//		Target: flags.NewTarget(provider, "new-checkout"),
//		Stable: "off", Canary: "on",
//		Strategy: canary.Config{
//			StepWeights: []int{10, 25, 50},
//			Interval:    5 * time.Minute,
//			Analyzers:   []strategy.Analyzer{&judge.Sequential{Source: src}},
//		},
//	})
//
// while the application reports outcomes where they happen:
//
//	client.Track(ctx, "request", evalCtx, openfeature.NewTrackingEventDetails(1))
//	client.Track(ctx, "error", evalCtx, openfeature.NewTrackingEventDetails(1))
//
// Compare at weights below 100%: at 100% no control is left to compare
// with.
//
// # Release freezes
//
// [FreezeGate] is a strategy.Analyzer that holds (Inconclusive) or fails
// releases while a boolean flag, served by any OpenFeature provider, says
// releases are frozen.
package flags
