package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestDeterministic: the table depends on the seeds only, not on how many
// workers ran it.
func TestDeterministic(t *testing.T) {
	render := func(workers int) string {
		var b bytes.Buffer
		report(&b, run(config{aaRuns: 40, regRuns: 20, seeds: 2, seed: 3, workers: workers, minutes: 30, history: historyMinutes, only: "10 rps"}), historyMinutes)
		return b.String()
	}
	one, two := render(1), render(2)
	if one != two {
		t.Fatalf("tables differ between 1 and 2 workers:\n%s\n---\n%s", one, two)
	}
	for _, want := range []string{"errors A/A clumps of mean 10, 10 rps", "latency +20% time-correlated", "95% CI", "Wald", "argo failureLimit=2", "sequential background", "Goals:"} {
		if !strings.Contains(one, want) {
			t.Errorf("table lacks %q", want)
		}
	}
}

// TestQuick runs the -quick table of the error scenarios, with
// and without the baseline's history, and checks the sequential judges
// against generous bounds: false rollbacks far below the threshold judges'
// on clumped errors, and 2x regressions detected, at 10 rps.
func TestQuick(t *testing.T) {
	for _, history := range []int{historyMinutes, 0} {
		t.Run(fmt.Sprintf("history %d", history), func(t *testing.T) { quick(t, history) })
	}
}

func quick(t *testing.T, history int) {
	cells := run(config{aaRuns: 400, regRuns: 200, seeds: 2, seed: 9, workers: 2, minutes: 30, history: history, only: "errors"})
	for _, c := range cells {
		if c.sc.rps != 10 {
			continue
		}
		for _, j := range []int{jInline, jBackground} {
			s := summarize(c.results[j])
			switch {
			case c.sc.isAA() && s.rolled > s.runs*3/100:
				t.Errorf("%s, %s: %d of %d false rollbacks", c.sc.label(), judgeNames[j], s.rolled, s.runs)
			case c.sc.name == "errors 2x independent" && s.rolled < s.runs*9/10:
				t.Errorf("%s, %s: %d of %d detected", c.sc.label(), judgeNames[j], s.rolled, s.runs)
			}
		}
	}
}
