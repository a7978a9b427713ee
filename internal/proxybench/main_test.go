package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRun runs a very short benchmark of every target and checks that each
// answered requests without errors and that the report names them all.
func TestRun(t *testing.T) {
	o := options{Duration: 200 * time.Millisecond, Concurrency: 4, Weight: 30, Rate: 200, Nginx: DefaultNginx}
	_, err := os.Stat(DefaultNginx)
	withNginx := err == nil
	var out bytes.Buffer
	results, err := run(t.Context(), &out, o)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	perRound := 2
	if withNginx {
		perRound = 3
	}
	if len(results) != 2*perRound {
		t.Fatalf("%d results, want %d:\n%s", len(results), 2*perRound, out.String())
	}
	for _, r := range results {
		if r.Requests == 0 || r.Errors != 0 || r.P99 < r.P50 || r.P50 <= 0 {
			t.Errorf("%s (rate %d): %+v", r.Name, r.Rate, r)
		}
		// A paced run sends at most its rate.
		if r.Rate > 0 && r.RPS() > float64(r.Rate)*1.2 {
			t.Errorf("%s paced at %d/s sent %.0f/s", r.Name, r.Rate, r.RPS())
		}
	}
	for _, want := range []string{"direct to a backend", "glidepath httpsplit", "splitter:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	if withNginx && !strings.Contains(out.String(), "nginx/") {
		t.Errorf("nginx is installed but was not measured:\n%s", out.String())
	}
	if _, err := run(t.Context(), &out, options{Concurrency: 1, Weight: 50}); err == nil {
		t.Error("a zero duration was accepted")
	}
}
