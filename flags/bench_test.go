package flags_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/glidepath/glidepath/flags"
)

// go test -run '^$' -bench . -benchmem ./flags/

func BenchmarkBucket(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = flags.Bucket("new-checkout", "new-checkout", "user-1234567")
	}
}

// The provider alone, during a rollout (the bucketing path).
func BenchmarkProviderBooleanEvaluation(b *testing.B) {
	p := newProvider(b, checkout(10))
	ctx := context.Background()
	flat := openfeature.FlattenedContext{openfeature.TargetingKey: "user-1234567"}
	b.ReportAllocs()
	for b.Loop() {
		_ = p.BooleanEvaluation(ctx, "new-checkout", false, flat)
	}
}

func BenchmarkProviderBooleanEvaluationParallel(b *testing.B) {
	p := newProvider(b, checkout(10))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		flat := openfeature.FlattenedContext{openfeature.TargetingKey: "user-1234567"}
		for pb.Next() {
			_ = p.BooleanEvaluation(ctx, "new-checkout", false, flat)
		}
	})
}

// The provider alone, outside a rollout (no hashing).
func BenchmarkProviderStaticEvaluation(b *testing.B) {
	f := checkout(0)
	f.Rollout = flags.Rollout{Control: "off"}
	p := newProvider(b, f)
	ctx := context.Background()
	flat := openfeature.FlattenedContext{}
	b.ReportAllocs()
	for b.Loop() {
		_ = p.BooleanEvaluation(ctx, "new-checkout", false, flat)
	}
}

// A full evaluation through the OpenFeature SDK client.
func BenchmarkClientBooleanValue(b *testing.B) {
	p := newProvider(b, checkout(10))
	_, client := register(b, p)
	ctx := context.Background()
	u := user("user-1234567")
	b.ReportAllocs()
	for b.Loop() {
		_, _ = client.BooleanValue(ctx, "new-checkout", false, u)
	}
}

func BenchmarkClientTrack(b *testing.B) {
	p := newProvider(b, checkout(10))
	if _, err := p.CountSource(flags.Metrics{Flag: "new-checkout", Trials: "request", Failures: "error"}); err != nil {
		b.Fatal(err)
	}
	_, client := register(b, p)
	ctx := context.Background()
	u := user("user-1234567")
	d := openfeature.NewTrackingEventDetails(1)
	b.ReportAllocs()
	for b.Loop() {
		client.Track(ctx, "error", u, d)
	}
}

func BenchmarkProviderManyFlags(b *testing.B) {
	var fs []flags.Flag
	for i := range 1000 {
		f := checkout(10)
		f.Key = fmt.Sprintf("flag-%d", i)
		fs = append(fs, f)
	}
	p := newProvider(b, fs...)
	ctx := context.Background()
	flat := openfeature.FlattenedContext{openfeature.TargetingKey: "user-1234567"}
	b.ReportAllocs()
	for b.Loop() {
		_ = p.BooleanEvaluation(ctx, "flag-517", false, flat)
	}
}

// flagd-format flags: a three-way fractional split, and a rule with three
// conditions (string equality, a flagd string operation and sem_ver).
const benchFlagd = `{"flags": {
  "split": {"state": "ENABLED", "variants": {"a": "A", "b": "B", "c": "C"}, "defaultVariant": "a",
    "targeting": {"fractional": [["a", 50], ["b", 30], ["c", 20]]}},
  "rule": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off",
    "targeting": {"if": [{"and": [
      {"==": [{"var": "country"}, "NL"]},
      {"ends_with": [{"var": "email"}, "@example.com"]},
      {"sem_ver": [{"var": "version"}, ">=", "1.2.0"]}]}, "on", "off"]}}}}`

var benchCtx = map[string]any{"country": "NL", "email": "ana@example.com", "version": "1.10.3"}

func BenchmarkProviderFractional(b *testing.B) {
	p := loadFlagd(b, benchFlagd)
	ctx := context.Background()
	flat := openfeature.FlattenedContext{openfeature.TargetingKey: "user-1234567"}
	b.ReportAllocs()
	for b.Loop() {
		if r := p.StringEvaluation(ctx, "split", "", flat); r.Reason != openfeature.TargetingMatchReason {
			b.Fatal(r)
		}
	}
}

func BenchmarkProviderThreeConditionRule(b *testing.B) {
	p := loadFlagd(b, benchFlagd)
	ctx := context.Background()
	flat := openfeature.FlattenedContext{openfeature.TargetingKey: "user-1234567"}
	for k, v := range benchCtx {
		flat[k] = v
	}
	b.ReportAllocs()
	for b.Loop() {
		if r := p.BooleanEvaluation(ctx, "rule", false, flat); !r.Value {
			b.Fatal(r)
		}
	}
}

func BenchmarkClientFractional(b *testing.B) {
	p := loadFlagd(b, benchFlagd)
	_, client := register(b, p)
	ctx := context.Background()
	u := user("user-1234567")
	b.ReportAllocs()
	for b.Loop() {
		_, _ = client.StringValue(ctx, "split", "", u)
	}
}

func BenchmarkClientThreeConditionRule(b *testing.B) {
	p := loadFlagd(b, benchFlagd)
	_, client := register(b, p)
	ctx := context.Background()
	u := openfeature.NewEvaluationContext("user-1234567", benchCtx)
	b.ReportAllocs()
	for b.Loop() {
		if v, _ := client.BooleanValue(ctx, "rule", false, u); !v {
			b.Fatal("rule did not match")
		}
	}
}
