package main

import (
	"bytes"
	"math"
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
	for _, want := range []string{"errors A/A", "latency +20%", "Wald SPRT floor", "Wald SPRT to pass", "sequential", "Goals:"} {
		if !strings.Contains(one, want) {
			t.Errorf("table lacks %q", want)
		}
	}
}

// TestFalseAlarmRate measures the sequential judge's A/A false-rollback
// rate on simulated traffic at every level and guards it with a generous
// bound (its guarantee is 1%).
func TestFalseAlarmRate(t *testing.T) {
	runs := 300
	if testing.Short() {
		runs = 100
	}
	cells := run(config{runs: runs, seed: 9, workers: 2, minutes: 30})
	for _, c := range cells {
		if c.sc.name != "errors A/A" {
			continue
		}
		rate := float64(len(c.times[jSeq])) / float64(c.runs)
		t.Logf("%g rps: sequential false rollbacks %.2f%%, flagger threshold=1 %.2f%%", c.rps, 100*rate,
			100*float64(len(c.times[jFlagger1]))/float64(c.runs))
		if rate > 0.03 {
			t.Errorf("%g rps: sequential false-rollback rate %.3f", c.rps, rate)
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
