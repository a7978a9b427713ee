package main

import (
	"bytes"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestDeterministic: the table depends on the seed only, not on how many
// workers ran it.
func TestDeterministic(t *testing.T) {
	render := func(workers int) string {
		var b bytes.Buffer
		report(&b, run(config{runs: 40, seed: 3, workers: workers, minutes: 30}))
		return b.String()
	}
	one, two := render(1), render(2)
	if one != two {
		t.Fatalf("tables differ between 1 and 2 workers:\n%s\n---\n%s", one, two)
	}
	for _, want := range []string{"errors A/A", "latency +20%", "Wald SPRT floor", "sequential latency A/A", "Wald SPRT to pass", "sequential", "Goals:"} {
		if !strings.Contains(one, want) {
			t.Errorf("table lacks %q", want)
		}
	}
}

// TestFalseAlarmRate measures the sequential judges' A/A false-rollback
// rates (errors and latency) on simulated traffic at every level and
// guards them with a generous bound (their guarantee is 1%).
func TestFalseAlarmRate(t *testing.T) {
	runs := 200
	if testing.Short() {
		runs = 100
	}
	cells := run(config{runs: runs, seed: 9, workers: 2, minutes: 30})
	for _, c := range cells {
		if !c.sc.isAA() {
			continue
		}
		rate := float64(len(c.times[jSeq])) / float64(c.runs)
		t.Logf("%s %g rps: sequential false rollbacks %.2f%%, flagger threshold=1 %.2f%%", c.sc.name, c.rps, 100*rate,
			100*float64(len(c.times[jFlagger1]))/float64(c.runs))
		if rate > 0.03 {
			t.Errorf("%s %g rps: sequential false-rollback rate %.3f", c.sc.name, c.rps, rate)
		}
	}
}

func TestThresholdJudgesDetect(t *testing.T) {
	cells := run(config{runs: 50, seed: 5, workers: 2, minutes: 30})
	for _, c := range cells {
		if c.sc.name != "errors 4x" || c.rps != 100 {
			continue
		}
		// 2% failures against a 1% limit fails every check: Flagger
		// rolls back at its threshold, Argo on the third failure.
		for j, want := range map[int]int{jFlagger1: 1, jFlagger5: 5, jArgo: 3} {
			if len(c.times[j]) != c.runs || percentile(c.times[j], 0.5) != float64(want) {
				t.Errorf("%s: %d rollbacks, median %v, want all at %d", judgeNames[j], len(c.times[j]), percentile(c.times[j], 0.5), want)
			}
		}
	}
}

// The Wald floors match the closed forms: with p0 = 0.005, α = 0.01 and
// β = 0.05, E1[N] for 2x is 4.1769/KL(0.01||0.005) requests and E0[N] is
// 2.9103/KL(0.005||0.01) requests.
func TestWaldFloors(t *testing.T) {
	kl1 := 0.01*math.Log(2) + 0.99*math.Log(0.99/0.995)
	kl0 := 0.005*math.Log(0.5) + 0.995*math.Log(0.995/0.99)
	e1 := (0.95*math.Log(0.95/0.01) + 0.05*math.Log(0.05/0.99)) / kl1 / 600
	e0 := -(0.99*math.Log(0.05/0.99) + 0.01*math.Log(0.95/0.01)) / kl0 / 600
	if got := waldMinutes(2, 10, 0.01, 0.05); math.Abs(got-e1) > 1e-9 || math.Abs(got-3.58) > 0.01 {
		t.Errorf("E1[N] = %v min, want %v", got, e1)
	}
	if got := waldPassMinutes(2, 10, 0.01, 0.05); math.Abs(got-e0) > 1e-9 || math.Abs(got-3.14) > 0.01 {
		t.Errorf("E0[N] = %v min, want %v", got, e0)
	}
}

// binomialFast draws exactly: its mean and variance match n·p and
// n·p·(1-p) within sampling error, in the regime where it splits.
func TestBinomialFast(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		n int
		p float64
	}{{54000, 0.5}, {6000, 0.08}, {540, 0.93}, {60, 0.3}, {10, 0}, {10, 1}} {
		const draws = 4000
		var sum, sq float64
		for range draws {
			x := float64(binomialFast(rng, tc.n, tc.p))
			if x < 0 || x > float64(tc.n) {
				t.Fatalf("Binomial(%d, %g) drew %g", tc.n, tc.p, x)
			}
			sum += x
			sq += x * x
		}
		mean := sum / draws
		v := sq/draws - mean*mean
		wantV := float64(tc.n) * tc.p * (1 - tc.p)
		if math.Abs(mean-float64(tc.n)*tc.p) > 5*math.Sqrt(wantV/draws)+1e-9 || math.Abs(v-wantV) > 0.1*wantV+1e-9 {
			t.Errorf("Binomial(%d, %g): mean %.2f, variance %.2f, want %.2f and %.2f", tc.n, tc.p, mean, v, float64(tc.n)*tc.p, wantV)
		}
	}
}

// The simulated histograms hold every request, and the quantiles the
// threshold judges read lie in the bucket their rank falls in.
func TestLatencies(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var medians []float64
	for range 500 {
		l := newLatencies(rng, 600, 120)
		h := l.hist
		if h.Count != 600 || h.Counts[len(h.Counts)-1] > 600 {
			t.Fatalf("histogram %+v", h)
		}
		med := l.quantile(rng, 0.5)
		k := math.Round(599*0.5) + 1
		i := 0
		for i < len(h.Bounds) && h.Counts[i] < k {
			i++
		}
		if (i < len(h.Bounds) && med > h.Bounds[i]) || (i > 0 && med <= h.Bounds[i-1]) {
			t.Fatalf("median %v outside its bucket %d of %+v", med, i, h)
		}
		medians = append(medians, med)
	}
	slices.Sort(medians)
	if m := medians[len(medians)/2]; math.Abs(m-120) > 2 {
		t.Errorf("median of medians %v, want about 120", m)
	}
}
