package flags_test

import (
	"context"
	"fmt"

	"github.com/open-feature/go-sdk/openfeature"
	"github.com/open-feature/go-sdk/openfeature/isolated"

	"github.com/glidepath/glidepath/flags"
	"github.com/glidepath/glidepath/strategy"
)

func ExampleBucket() {
	// SHA-256("new-checkout/new-checkout/user-1"), first 8 bytes, mod 100000.
	b := flags.Bucket("new-checkout", "new-checkout", "user-1")
	fmt.Println("bucket:", b)
	fmt.Println("in a 10% rollout:", b < flags.Threshold(10))
	fmt.Println("in an 80% rollout:", b < flags.Threshold(80))
	// Output:
	// bucket: 79534
	// in a 10% rollout: false
	// in an 80% rollout: true
}

func ExampleProvider() {
	ctx := context.Background()
	p, err := flags.NewProvider(flags.Config{Flags: []flags.Flag{{
		Key:      "new-checkout",
		Variants: map[string]any{"off": false, "on": true},
		Rollout:  flags.Rollout{Control: "off", Treatment: "on", Percent: 10},
	}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	api := isolated.NewAPI()
	defer func() { _ = api.Shutdown(ctx) }()
	if err := api.SetProviderAndWait(ctx, p); err != nil {
		fmt.Println(err)
		return
	}
	client := api.NewClient()

	alice := openfeature.NewEvaluationContext("user-1", nil)
	d, _ := client.BooleanValueDetails(ctx, "new-checkout", false, alice)
	fmt.Println("10%:", d.Value, d.Variant, d.Reason)

	_ = p.SetRollout("new-checkout", flags.Rollout{Control: "off", Treatment: "on", Percent: 80})
	d, _ = client.BooleanValueDetails(ctx, "new-checkout", false, alice)
	fmt.Println("80%:", d.Value, d.Variant, d.Reason)

	anonymous := openfeature.NewTargetlessEvaluationContext(nil)
	d, _ = client.BooleanValueDetails(ctx, "new-checkout", false, anonymous)
	fmt.Println("no key:", d.Value, d.Variant, d.Reason, d.ErrorCode)
	// Output:
	// 10%: false off SPLIT
	// 80%: true on SPLIT
	// no key: false off ERROR TARGETING_KEY_MISSING
}

func ExampleNewTarget() {
	p, _ := flags.NewProvider(flags.Config{Flags: []flags.Flag{{
		Key:      "new-checkout",
		Variants: map[string]any{"off": false, "on": true},
		Rollout:  flags.Rollout{Control: "off"},
	}}})
	plan := strategy.StrategyFunc(func(stable, canary strategy.Revision) (strategy.Plan, error) {
		return strategy.Plan{Strategy: "steps", Steps: []strategy.Step{
			strategy.Apply(strategy.State{Stable: stable, Canary: canary, Weight: 10}),
			strategy.Apply(strategy.State{Stable: stable, Canary: canary, Weight: 50}),
			strategy.Apply(strategy.State{Stable: canary}),
		}}, nil
	})
	// The executor makes the treatment present at 0% before it moves
	// any traffic onto it (capacity before traffic).
	var seen []string
	obs := strategy.ObserverFunc(func(e strategy.Event) {
		if a, ok := e.(strategy.StateApplied); ok {
			r := flags.RolloutFor(a.State)
			seen = append(seen, fmt.Sprintf("%s/%s@%v%%", r.Control, r.Treatment, r.Percent))
		}
	})
	res, err := strategy.Run(context.Background(), strategy.Release{
		Target: flags.NewTarget(p, "new-checkout"), Stable: "off", Canary: "on", Strategy: plan, Observer: obs,
	})
	fmt.Println(res.Phase, err)
	fmt.Println(seen)
	r, _ := p.Rollout("new-checkout")
	fmt.Printf("%+v\n", r)
	// Output:
	// Promoted <nil>
	// [off/on@0% off/on@10% off/on@50% on/@0%]
	// {Control:on Treatment: Percent:0 Split:[]}
}

func ExampleProvider_CountSource() {
	ctx := context.Background()
	p, _ := flags.NewProvider(flags.Config{Flags: []flags.Flag{{
		Key:      "new-checkout",
		Variants: map[string]any{"off": false, "on": true},
		Rollout:  flags.Rollout{Control: "off", Treatment: "on", Percent: 50},
	}}})
	src, err := p.CountSource(flags.Metrics{Flag: "new-checkout", Trials: "request", Failures: "error"})
	if err != nil {
		fmt.Println(err)
		return
	}
	api := isolated.NewAPI()
	defer func() { _ = api.Shutdown(ctx) }()
	_ = api.SetProviderAndWait(ctx, p)
	client := api.NewClient()

	one := openfeature.NewTrackingEventDetails(1)
	for _, key := range []string{"user-1", "user-2", "user-3", "user-4"} {
		u := openfeature.NewEvaluationContext(key, nil)
		v, _ := p.Variant("new-checkout", key)
		fmt.Println(key, "is served", v)
		client.Track(ctx, "request", u, one)
		if v == "on" {
			client.Track(ctx, "error", u, one)
		}
	}
	control, treatment, _ := src.Counts(ctx, strategy.Input{Stable: "off", Canary: "on"})
	fmt.Printf("control %v/%v, treatment %v/%v\n", control.Failures, control.Trials, treatment.Failures, treatment.Trials)
	// Output:
	// user-1 is served off
	// user-2 is served on
	// user-3 is served off
	// user-4 is served off
	// control 0/3, treatment 1/1
}

func ExampleFreezeGate() {
	ctx := context.Background()
	p, _ := flags.NewProvider(flags.Config{Flags: []flags.Flag{{
		Key:      "release-freeze",
		Variants: map[string]any{"frozen": true, "thawed": false},
		Rollout:  flags.Rollout{Control: "frozen"},
	}}})
	api := isolated.NewAPI()
	defer func() { _ = api.Shutdown(ctx) }()
	_ = api.SetProviderAndWait(ctx, p)

	gate := &flags.FreezeGate{Client: api.NewClient(), Flag: "release-freeze"}
	v, _ := gate.Analyze(ctx, strategy.Input{})
	fmt.Println(v)

	_ = p.SetRollout("release-freeze", flags.Rollout{Control: "thawed"})
	v, _ = gate.Analyze(ctx, strategy.Input{})
	fmt.Println(v)
	// Output:
	// freeze:release-freeze: Inconclusive (releases are frozen by flag release-freeze)
	// freeze:release-freeze: Pass (releases are not frozen)
}
