// Package flags releases features the way glidepath releases services:
// through OpenFeature, with sticky percentage rollouts, metric-gated
// promotion and automatic rollback, entirely inside the application.
//
// # The provider
//
// [Provider] is an OpenFeature provider (FeatureProvider, StateHandler and
// ContextAwareStateHandler, EventHandler, Tracker, with the hooks of
// Config.Hooks). Each [Flag] has named variants (boolean, string,
// integer, float or object values), metadata returned as FlagMetadata,
// and either a [Rollout] (a control variant, an optional treatment
// variant and the percentage of targeting keys served the treatment, or
// an N-variant Split with relative weights) or a flagd targeting rule
// (see below). Register it with an OpenFeature API, for example an
// isolated one:
//
//	api := isolated.NewAPI()
//	err := api.SetProviderAndWait(ctx, provider)
//	client := api.NewClient()
//	on := client.Boolean(ctx, "new-checkout", false, openfeature.NewEvaluationContext(userID, nil))
//
// Evaluations are lock-free and allocate nothing in the provider, flagd
// rules included. For flags with a Rollout, reasons
// follow the OpenFeature specification: STATIC when everyone is served the
// control, SPLIT during a rollout, and ERROR with an error code for
// abnormal execution (FLAG_NOT_FOUND, TYPE_MISMATCH, and
// TARGETING_KEY_MISSING for an evaluation without a targeting key during a
// rollout; the provider then resolves the control variant, and the SDK
// client returns the caller's default value, as specification requirement
// 1.4.10 demands, so pass the control value as the default). Such flags
// never answer DEFAULT or TARGETING_MATCH; flags with a flagd rule answer
// flagd's reasons (below).
//
// Every change made with [Provider.SetFlag] or [Provider.SetRollout]
// emits PROVIDER_CONFIGURATION_CHANGED with the flag key in FlagChanges.
//
// Flags decoded from JSON keep their types: a variant written 3 is an
// int64 served by IntEvaluation, 3.5 a float64; [Flag.MarshalJSON] writes
// integral floats as 3.0 so that every variant round-trips.
//
// # flagd flag files
//
// flagd's flag definition format is the native file format
// ([ParseFlagd], [Provider.LoadFlagd], Config.File): flags with state,
// variants, defaultVariant, targeting rules in JSON Logic with flagd's
// operations, $evaluators and $ref, and metadata at file and flag level.
// They are evaluated in-process with flagd's results: the same variants,
// reasons (STATIC, DEFAULT, TARGETING_MATCH, DISABLED, ERROR with
// PARSE_ERROR or GENERAL) and injected context ($flagd.flagKey,
// $flagd.timestamp, targetingKey). The operations are if/?:, ==, !=, ===,
// !==, <, <=, >, >= (with the between forms), and, or, !, !!, in, var,
// missing, missing_some, cat, substr, merge, some, all, none, map, filter,
// reduce, +, -, *, /, %, min, max, and flagd's starts_with, ends_with,
// sem_ver and fractional, each with the coercions of the JSON Logic
// library flagd uses (github.com/diegoholiveira/jsonlogic/v3), which the
// flagdcompat module checks differentially, by fuzzing.
//
// That library is not used here: it evaluates a decoded rule by
// reflection with about 11 allocations for a three-condition rule (and
// flagd adds a JSON round trip of the context per evaluation), its
// operators are registered process-wide, and it reports bad rules by
// panicking. glidepath compiles each rule once, when the file is loaded,
// into a tree evaluated without reflection or allocation, and checks it
// then: unknown operators, fractional weights that are negative,
// fractional, too large or all zero, rules yielding undefined variants,
// undefined default variants, $ref cycles and undefined $refs, and rules
// nested deeper than 64 levels are refused with one error naming every
// problem, the flag and the path in the file (for example
// flags.headerColor.targeting.if[1].fractional[2]), before anything is
// served. Two deliberate differences from flagd follow: literal negative
// weights are refused rather than clamped to 0 (computed ones are
// clamped, as flagd does), IntEvaluation of a variant such as 2.5 is a
// TYPE_MISMATCH rather than a truncation (2.0 is served as 2), and an
// object in the evaluation context that an if branch applies as a rule
// and that yields itself again fails the evaluation (PARSE_ERROR) where
// flagd's library recurses until the process runs out of stack. flagd's
// optional defaultVariant stays optional: without one, evaluations return
// the caller's default with reason DEFAULT, as flagd does.
//
// A provider with Config.File reads the file when created (an invalid
// file is an error) and, once OpenFeature initializes it, every
// PollInterval: a changed file is reloaded and PROVIDER_CONFIGURATION_CHANGED
// names the flags that changed; an invalid one is reported
// (PROVIDER_ERROR, Config.OnReloadError, [Provider.ReloadError]) while the
// last good definitions keep being served, and PROVIDER_READY follows
// once the file is valid again.
//
// # Bucketing
//
// Two schemes, chosen by how a flag is written. flagd-format flags use
// flagd's fractional bucketing, so users keep their variants when a flag
// moves between flagd and glidepath ([FlagdBucket]):
//
//	hash   = MurmurHash3_x86_32(flagKey + targetingKey, seed 0)   // or of the rule's bucketing expression
//	bucket = (uint64(hash) × totalWeight) >> 32                   // relative weights, any sum up to 2^31-1
//	variant = the first whose cumulative weight exceeds bucket
//
// A glidepath Rollout (percentage or Split) keeps the SHA-256 scheme its
// users rely on. It is sticky and deterministic, and reproducible in any
// language (see [Bucket]):
//
//	bucket = uint64be(SHA-256(salt + "/" + flagKey + "/" + targetingKey)[0:8]) mod 100000
//
// A key is served the treatment when its bucket is below Percent × 1000
// ([Threshold]). Raising the percentage therefore only adds keys, and
// lowering it removes the keys that were added last; a key never flips
// back and forth while the percentage moves in one direction. Each flag's
// salt (its key by default) makes rollouts of different flags independent.
//
// A [Rollout.Split] serves N variants by relative weight with the same
// buckets: consecutive ranges in Split order, each Weight / (sum of
// weights) of the buckets wide.
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
// [FractionalTarget] releases a flagd-format flag: it moves the weights
// of the flag's fractional rule from the stable revision (a variant, or a
// split among variants named in Splits) to the canary's, step by step,
// leaving the rest of the rule alone. examples/flagrelease releases a
// flag from 0% to 100% across three variants this way, gated by a
// sequential judge over the provider's tracking events.
//
// # Guarding a rollout with tracking events
//
// Events sent with OpenFeature's Track are attributed to the variant the
// event's targeting key is served at that moment (recomputed from the
// bucketing or by evaluating the flag's rule with the event's context;
// nothing is stored per user) and counted per variant; Metrics.Groups
// sums the variants of a split.
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
