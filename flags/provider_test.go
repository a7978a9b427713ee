package flags_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/open-feature/go-sdk/openfeature"
	"github.com/open-feature/go-sdk/openfeature/isolated"

	"github.com/glidepath/glidepath/flags"
	"github.com/glidepath/glidepath/strategy"
)

// 100,000 targeting keys at 10% land in the treatment at 10% ± 0.5%,
// evaluated through the OpenFeature client.
func TestDistributionThroughClient(t *testing.T) {
	p := newProvider(t, checkout(10))
	_, client := register(t, p)
	ctx := t.Context()
	on := 0
	const n = 100_000
	for i := range n {
		d, err := client.BooleanValueDetails(ctx, "new-checkout", false, user(fmt.Sprintf("user-%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		if d.Reason != openfeature.SplitReason {
			t.Fatalf("reason %s, want SPLIT", d.Reason)
		}
		if d.Value != (d.Variant == "on") {
			t.Fatalf("value %v for variant %s", d.Value, d.Variant)
		}
		if d.Value {
			on++
		}
	}
	if frac := float64(on) / n; frac < 0.095 || frac > 0.105 {
		t.Fatalf("%d of %d keys (%.3f%%) in the treatment at 10%%", on, n, 100*frac)
	}
	t.Logf("%d of %d keys in the treatment at 10%%", on, n)
}

// A key's variant never flips when the percentage rises, evaluated
// through the client while the rollout moves.
func TestStickyWhileRaising(t *testing.T) {
	p := newProvider(t, checkout(0))
	_, client := register(t, p)
	ctx := t.Context()
	const n = 5000
	served := make([]bool, n)
	prev := 0
	for _, pct := range []float64{0, 1, 5, 10, 25, 33.333, 50, 75, 99.999, 100} {
		if err := p.SetRollout("new-checkout", flags.Rollout{Control: "off", Treatment: "on", Percent: pct}); err != nil {
			t.Fatal(err)
		}
		count := 0
		for i := range n {
			v := client.Boolean(ctx, "new-checkout", false, user(fmt.Sprintf("u%d", i)))
			if served[i] && !v {
				t.Fatalf("user u%d flipped back to control at %v%%", i, pct)
			}
			served[i] = v
			if v {
				count++
			}
		}
		if count < prev {
			t.Fatalf("treatment shrank from %d to %d at %v%%", prev, count, pct)
		}
		prev = count
	}
	if prev != n {
		t.Fatalf("%d of %d users in the treatment at 100%%", prev, n)
	}
}

// Flags with different salts bucket independently: at 50% each, about a
// quarter of the keys are in both treatments.
func TestFlagsAreIndependent(t *testing.T) {
	a := checkout(50)
	b := checkout(50)
	b.Key = "dark-mode"
	p := newProvider(t, a, b)
	both := 0
	const n = 100_000
	for i := range n {
		k := fmt.Sprintf("user-%d", i)
		va, _ := p.Variant("new-checkout", k)
		vb, _ := p.Variant("dark-mode", k)
		if va == "on" && vb == "on" {
			both++
		}
	}
	if frac := float64(both) / n; frac < 0.24 || frac > 0.26 {
		t.Fatalf("%.3f of keys in both treatments, want about 0.25", frac)
	}
}

func TestTargetingKeyMissing(t *testing.T) {
	p := newProvider(t, checkout(50))
	_, client := register(t, p)
	ctx := t.Context()

	// Through the client: the caller's default, reason ERROR, the error
	// code, and the control variant.
	d, err := client.BooleanValueDetails(ctx, "new-checkout", false, openfeature.NewTargetlessEvaluationContext(nil))
	if err == nil {
		t.Fatal("no error for an evaluation without a targeting key")
	}
	if d.ErrorCode != openfeature.TargetingKeyMissingCode || d.Reason != openfeature.ErrorReason || d.Variant != "off" || d.Value {
		t.Fatalf("details %+v", d)
	}

	// The provider itself resolves the control value.
	r := p.BooleanEvaluation(ctx, "new-checkout", true, openfeature.FlattenedContext{})
	if r.Value || r.Variant != "off" || r.Reason != openfeature.ErrorReason {
		t.Fatalf("provider resolution %+v", r)
	}
	if r.ResolutionDetail().ErrorCode != openfeature.TargetingKeyMissingCode {
		t.Fatalf("error code %s", r.ResolutionDetail().ErrorCode)
	}

	// Outside a rollout the value does not depend on the key: no error.
	if err := p.SetRollout("new-checkout", flags.Rollout{Control: "on"}); err != nil {
		t.Fatal(err)
	}
	d, err = client.BooleanValueDetails(ctx, "new-checkout", false, openfeature.NewTargetlessEvaluationContext(nil))
	if err != nil || !d.Value || d.Reason != openfeature.StaticReason || d.Variant != "on" {
		t.Fatalf("static flag: %+v, %v", d, err)
	}
}

func TestVariantTypes(t *testing.T) {
	obj := map[string]any{"color": "blue"}
	p := newProvider(t,
		flags.Flag{Key: "greeting", Variants: map[string]any{"a": "hello", "b": "hi"}, Rollout: flags.Rollout{Control: "a", Treatment: "b", Percent: 100}},
		flags.Flag{Key: "limit", Variants: map[string]any{"small": 10, "large": uint16(500)}, Rollout: flags.Rollout{Control: "small", Treatment: "large", Percent: 100}},
		flags.Flag{Key: "ratio", Variants: map[string]any{"lo": float32(0.5), "hi": 0.75}, Rollout: flags.Rollout{Control: "lo", Treatment: "hi", Percent: 100}},
		flags.Flag{Key: "theme", Variants: map[string]any{"plain": obj}, Rollout: flags.Rollout{Control: "plain"}},
	)
	_, client := register(t, p)
	ctx := t.Context()
	u := user("user-1")

	if s, err := client.StringValue(ctx, "greeting", "x", u); err != nil || s != "hi" {
		t.Errorf("string: %q, %v", s, err)
	}
	if i, err := client.IntValue(ctx, "limit", 0, u); err != nil || i != 500 {
		t.Errorf("int: %d, %v", i, err)
	}
	if f, err := client.FloatValue(ctx, "limit", 0, u); err != nil || f != 500 {
		t.Errorf("int flag as float: %v, %v", f, err)
	}
	if f, err := client.FloatValue(ctx, "ratio", 0, u); err != nil || f != 0.75 {
		t.Errorf("float: %v, %v", f, err)
	}
	if o, err := client.ObjectValue(ctx, "theme", nil, u); err != nil || o.(map[string]any)["color"] != "blue" {
		t.Errorf("object: %v, %v", o, err)
	}
	if o, err := client.ObjectValue(ctx, "limit", nil, u); err != nil || o != int64(500) {
		t.Errorf("int flag as object: %v (%T), %v", o, o, err)
	}

	d, err := client.IntValueDetails(ctx, "ratio", 7, u)
	if err == nil || d.ErrorCode != openfeature.TypeMismatchCode || d.Value != 7 || d.Reason != openfeature.ErrorReason {
		t.Errorf("float flag as int: %+v, %v", d, err)
	}
	b, err := client.BooleanValueDetails(ctx, "greeting", true, u)
	if err == nil || b.ErrorCode != openfeature.TypeMismatchCode || !b.Value {
		t.Errorf("string flag as bool: %+v, %v", b, err)
	}
	nf, err := client.StringValueDetails(ctx, "missing", "dflt", u)
	if err == nil || nf.ErrorCode != openfeature.FlagNotFoundCode || nf.Value != "dflt" || nf.Reason != openfeature.ErrorReason {
		t.Errorf("missing flag: %+v, %v", nf, err)
	}
}

func TestConfigValidate(t *testing.T) {
	err := flags.Config{
		EventBuffer: -1,
		Flags: []flags.Flag{
			{Key: "a", Variants: map[string]any{"x": true}, Rollout: flags.Rollout{Control: "x", Treatment: "y", Percent: 150}},
			{Key: "a", Variants: map[string]any{"x": true, "": nil}, Rollout: flags.Rollout{Control: "x", Treatment: "x"}},
			{Rollout: flags.Rollout{Percent: 5}},
		},
	}.Validate()
	if !errors.Is(err, strategy.ErrInvalidConfig) {
		t.Fatalf("error %v does not match ErrInvalidConfig", err)
	}
	for _, want := range []string{
		`treatment variant "y" is not defined`,
		"percent 150 is outside 0..100",
		`key "a" is defined twice`,
		"a variant has an empty name",
		`variant "": value is nil`,
		`treatment and control are the same variant "x"`,
		"flag has no key",
		"flag has no variants",
		"rollout names no control variant",
		"percent 5 with no treatment variant",
		"event buffer -1 is negative",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %q:\n%v", want, err)
		}
	}
	if _, err := flags.NewProvider(flags.Config{Flags: []flags.Flag{{Key: "k"}}}); !errors.Is(err, strategy.ErrInvalidConfig) {
		t.Fatalf("NewProvider accepted an invalid flag: %v", err)
	}
	if err := (flags.Config{}).Validate(); err != nil {
		t.Fatalf("zero config: %v", err)
	}
}

func TestSetRollout(t *testing.T) {
	p := newProvider(t, checkout(0))
	if err := p.SetRollout("nope", flags.Rollout{Control: "off"}); err == nil {
		t.Error("SetRollout of an undefined flag succeeded")
	}
	err := p.SetRollout("new-checkout", flags.Rollout{Control: "maybe", Treatment: "on", Percent: 10})
	if !errors.Is(err, strategy.ErrInvalidConfig) || !strings.Contains(err.Error(), `control variant "maybe" is not defined`) {
		t.Errorf("unknown control: %v", err)
	}
	if r, _ := p.Rollout("new-checkout"); !r.Equal(flags.Rollout{Control: "off", Treatment: "on"}) {
		t.Errorf("a rejected rollout changed the flag: %+v", r)
	}
	if err := p.SetFlag(flags.Flag{Key: "other", Variants: map[string]any{"v": 1}, Rollout: flags.Rollout{Control: "v"}}); err != nil {
		t.Fatal(err)
	}
	if got := p.Flags(); !slices.Equal(got, []string{"new-checkout", "other"}) {
		t.Errorf("flags %v", got)
	}
}

// Changing a rollout emits PROVIDER_CONFIGURATION_CHANGED with the flag
// key, delivered through the SDK to an API handler; setting the same
// rollout again emits nothing.
func TestConfigurationChangedEvent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newProvider(t, checkout(0))
		api := isolated.NewAPI()
		if err := api.SetProviderAndWait(t.Context(), p); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var got []openfeature.EventDetails
		cb := func(d openfeature.EventDetails) {
			mu.Lock()
			got = append(got, d)
			mu.Unlock()
		}
		api.AddHandler(openfeature.ProviderConfigChange, &cb)
		events := func() []openfeature.EventDetails {
			synctest.Wait()
			mu.Lock()
			defer mu.Unlock()
			return slices.Clone(got)
		}

		r := flags.Rollout{Control: "off", Treatment: "on", Percent: 20}
		if err := p.SetRollout("new-checkout", r); err != nil {
			t.Fatal(err)
		}
		ev := events()
		if len(ev) != 1 || !slices.Equal(ev[0].FlagChanges, []string{"new-checkout"}) || ev[0].ProviderName != "glidepath" {
			t.Fatalf("events %+v", ev)
		}
		if err := p.SetRollout("new-checkout", r); err != nil {
			t.Fatal(err)
		}
		if ev := events(); len(ev) != 1 {
			t.Fatalf("an unchanged rollout emitted an event: %+v", ev)
		}
		if err := api.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

// With nobody reading the channel, changes are merged, never dropped, and
// never block.
func TestEventsMergeWhenBufferIsFull(t *testing.T) {
	a, b, c := checkout(0), checkout(0), checkout(0)
	b.Key, c.Key = "b", "c"
	p, err := flags.NewProvider(flags.Config{EventBuffer: 1, Flags: []flags.Flag{a, b, c}})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"new-checkout", "b", "c", "b"} {
		if err := p.SetRollout(k, flags.Rollout{Control: "on"}); err != nil && k != "b" {
			t.Fatal(err)
		}
		_ = p.SetRollout(k, flags.Rollout{Control: "off", Treatment: "on", Percent: 1})
	}
	ch := p.EventChannel()
	if len(ch) != 1 {
		t.Fatalf("%d events queued, want 1", len(ch))
	}
	ev := <-ch
	slices.Sort(ev.FlagChanges)
	if ev.EventType != openfeature.ProviderConfigChange || !slices.Equal(ev.FlagChanges, []string{"b", "c", "new-checkout"}) {
		t.Fatalf("event %+v", ev)
	}
}

// The provider's own evaluation allocates nothing.
func TestEvaluationDoesNotAllocate(t *testing.T) {
	p := newProvider(t, checkout(50))
	ctx := context.Background()
	flat := openfeature.FlattenedContext{openfeature.TargetingKey: "user-42"}
	allocs := testing.AllocsPerRun(1000, func() {
		_ = p.BooleanEvaluation(ctx, "new-checkout", false, flat)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per evaluation", allocs)
	}
}

// Evaluations, tracking and rollout changes may run concurrently; run
// with -race.
func TestConcurrentUse(t *testing.T) {
	p := newProvider(t, checkout(0))
	src, err := p.CountSource(flags.Metrics{Flag: "new-checkout", Failures: "error"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 2000 {
				k := fmt.Sprintf("w%d-%d", w, i)
				flat := openfeature.FlattenedContext{openfeature.TargetingKey: k}
				if r := p.BooleanEvaluation(ctx, "new-checkout", false, flat); r.Error() != nil {
					t.Error(r.Error())
					return
				}
				p.Track(ctx, "error", user(k), openfeature.NewTrackingEventDetails(1))
			}
		})
	}
	wg.Go(func() {
		for pct := range 101 {
			if err := p.SetRollout("new-checkout", flags.Rollout{Control: "off", Treatment: "on", Percent: float64(pct)}); err != nil {
				t.Error(err)
				return
			}
			for len(p.EventChannel()) > 0 {
				<-p.EventChannel()
			}
		}
	})
	wg.Wait()
	base, canary, err := src.Counts(ctx, offOn)
	if err != nil {
		t.Fatal(err)
	}
	if base.Trials+canary.Trials != 8000 || base.Failures+canary.Failures != 8000 {
		t.Fatalf("counted %+v and %+v, want 8000 evaluations and events in all", base, canary)
	}
}
