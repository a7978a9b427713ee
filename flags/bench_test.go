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
