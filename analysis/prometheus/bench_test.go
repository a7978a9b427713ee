package prometheus_test

import (
	"testing"

	"github.com/prometheus/common/model"

	"github.com/glidepath/glidepath/analysis/prometheus"
)

// BenchmarkResultVector converts a 1000-series instant vector.
func BenchmarkResultVector(b *testing.B) {
	vec := make(model.Vector, 1000)
	for i := range vec {
		vec[i] = &model.Sample{Value: model.SampleValue(i)}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := prometheus.Result(vec); err != nil {
			b.Fatal(err)
		}
	}
}
