package judge

import (
	"math/rand/v2"
	"testing"
)

func benchSamples(n int, ties bool) (x, y []float64) {
	rng := rand.New(rand.NewPCG(1, 1))
	x, y = make([]float64, n), make([]float64, n)
	for i := range x {
		x[i], y[i] = rng.NormFloat64(), rng.NormFloat64()+0.2
		if ties {
			x[i], y[i] = float64(int(x[i]*4)), float64(int(y[i]*4))
		}
	}
	return x, y
}

// BenchmarkRankSum measures one test with its estimate and interval:
// exact (30 per sample, no ties) and asymptotic (30 with ties, 1000).
func BenchmarkRankSum(b *testing.B) {
	for _, bc := range []struct {
		name string
		n    int
		ties bool
	}{{"exact-30", 30, false}, {"ties-30", 30, true}, {"normal-1000", 1000, false}} {
		x, y := benchSamples(bc.n, bc.ties)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := RankSum(x, y, TwoSided, 0.98); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRateTestObserve measures one interval of the sequential test.
func BenchmarkRateTestObserve(b *testing.B) {
	test, err := (&Sequential{Alpha: 1e-300, Beta: 1e-300}).NewTest()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := test.Observe(Counts{Trials: 5400, Failures: 27}, Counts{Trials: 600, Failures: 3}); err != nil {
			b.Fatal(err)
		}
	}
}
