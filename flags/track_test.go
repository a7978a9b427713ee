package flags_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/glidepath/glidepath/analysis/judge"
	"github.com/glidepath/glidepath/flags"
	"github.com/glidepath/glidepath/strategy"
)

var offOn = strategy.Input{Stable: "off", Canary: "on"}

// Tracking events are attributed to the variant each key is served,
// recomputed from the bucketing at the time of the event.
func TestTrackAttributesEventsToServedVariant(t *testing.T) {
	p := newProvider(t, checkout(30))
	_, client := register(t, p)
	ctx := t.Context()
	src, err := p.CountSource(flags.Metrics{Flag: "new-checkout", Trials: "request", Failures: "error"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]judge.Counts{}
	for i := range 2000 {
		k := fmt.Sprintf("user-%d", i)
		v, _ := p.Variant("new-checkout", k)
		client.Track(ctx, "request", user(k), openfeature.NewTrackingEventDetails(1))
		c := want[v]
		c.Trials++
		if i%7 == 0 {
			client.Track(ctx, "error", user(k), openfeature.NewTrackingEventDetails(1))
			c.Failures++
		}
		want[v] = c
	}
	// Not counted: no targeting key, and events nobody watches.
	client.Track(ctx, "error", openfeature.NewTargetlessEvaluationContext(nil), openfeature.NewTrackingEventDetails(1))
	client.Track(ctx, "click", user("user-1"), openfeature.NewTrackingEventDetails(1))

	base, canary, err := src.Counts(ctx, offOn)
	if err != nil {
		t.Fatal(err)
	}
	if base != want["off"] || canary != want["on"] {
		t.Fatalf("counts %+v / %+v, want %+v / %+v", base, canary, want["off"], want["on"])
	}
	if canary.Trials < 500 || base.Trials < 1200 {
		t.Fatalf("implausible split at 30%%: %+v / %+v", base, canary)
	}

	// The same key's events follow the rollout: at 0% everything is control.
	if err := p.SetRollout("new-checkout", flags.Rollout{Control: "off", Treatment: "on"}); err != nil {
		t.Fatal(err)
	}
	client.Track(ctx, "error", user("user-0"), openfeature.NewTrackingEventDetails(1))
	b2, c2, _ := src.Counts(ctx, offOn)
	if b2.Failures != base.Failures+1 || c2 != canary {
		t.Fatalf("after rollback: %+v / %+v", b2, c2)
	}
}

func TestEvaluationsAsTrials(t *testing.T) {
	p := newProvider(t, checkout(100))
	_, client := register(t, p)
	ctx := t.Context()
	src, err := p.CountSource(flags.Metrics{Flag: "new-checkout", Failures: "error"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		client.Boolean(ctx, "new-checkout", false, user(fmt.Sprint(i)))
	}
	client.Boolean(ctx, "new-checkout", false, openfeature.NewTargetlessEvaluationContext(nil)) // an error: not counted
	client.Track(ctx, "error", user("3"), openfeature.NewTrackingEventDetails(1))
	base, canary, err := src.Counts(ctx, offOn)
	if err != nil {
		t.Fatal(err)
	}
	if base != (judge.Counts{}) || canary != (judge.Counts{Trials: 10, Failures: 1}) {
		t.Fatalf("counts %+v / %+v", base, canary)
	}
}

func TestCountSourceErrors(t *testing.T) {
	p := newProvider(t, checkout(0))
	err := flags.Metrics{Trials: "x", Failures: "x"}.Validate()
	if !errors.Is(err, strategy.ErrInvalidConfig) || !strings.Contains(err.Error(), "no flag") || !strings.Contains(err.Error(), "same event") {
		t.Errorf("validate: %v", err)
	}
	if _, err := p.CountSource(flags.Metrics{Flag: "new-checkout"}); !errors.Is(err, strategy.ErrInvalidConfig) {
		t.Errorf("no failure event: %v", err)
	}
	if _, err := p.CountSource(flags.Metrics{Flag: "missing", Failures: "error"}); err == nil {
		t.Error("source for an undefined flag")
	}
	src, err := p.CountSource(flags.Metrics{Flag: "new-checkout", Failures: "error"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := src.Counts(t.Context(), strategy.Input{Stable: "off", Canary: "maybe"}); err == nil || !strings.Contains(err.Error(), `no variant "maybe"`) {
		t.Errorf("unknown variant: %v", err)
	}
	if _, _, err := src.Counts(t.Context(), strategy.Input{Stable: "off"}); err == nil {
		t.Error("counts without a canary variant")
	}
}
