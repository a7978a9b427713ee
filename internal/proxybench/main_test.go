package main

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// The benchmark runs its servers as children of its own binary, which
	// here is the test binary.
	maybeChild(os.Args)
	goleak.VerifyTestMain(m)
}

// TestRun runs a very short benchmark of every target and round and checks
// that each answered requests without errors and that the report names
// them all.
func TestRun(t *testing.T) {
	o := options{Duration: 200 * time.Millisecond, Repeat: 2, Concurrency: 4, Weight: 30, Rate: 200, BackendWork: []time.Duration{2 * time.Millisecond},
		ProxyCPUs: 1, Nginx: DefaultNginx}
	dir := t.TempDir()
	o.CPUProfile, o.MemProfile = filepath.Join(dir, "cpu.pprof"), filepath.Join(dir, "mem.pprof")
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
	if len(results) != 3*perRound {
		t.Fatalf("%d results, want %d:\n%s", len(results), 3*perRound, out.String())
	}
	var clientCPU, backendCPU time.Duration
	var proxySwitches int64
	for i, r := range results {
		proxySwitches += r.ProxySwitches
		if r.Requests == 0 || r.Errors != 0 || r.P99 < r.P50 || r.P50 <= 0 {
			t.Errorf("%s (rate %d): %+v", r.Name, r.Rate, r)
		}
		// A paced run sends at most its rate.
		if r.Rate > 0 && r.RPS() > float64(r.Rate)*1.2 {
			t.Errorf("%s paced at %d/s sent %.0f/s", r.Name, r.Rate, r.RPS())
		}
		// The backends of the last round take their service time.
		if i >= 2*perRound && (r.Work != o.BackendWork[0] || r.P50 < o.BackendWork[0]) {
			t.Errorf("%s with %v of backend work: p50 %v", r.Name, r.Work, r.P50)
		}
		clientCPU += r.ClientCPU
		backendCPU += r.BackendCPU
	}
	// CPU time is counted in ticks of 10ms: a short run may see none, all
	// of them together do.
	if runtime.GOOS == "linux" && (clientCPU <= 0 || backendCPU <= 0) {
		t.Errorf("no CPU time read: client %v, backend %v", clientCPU, backendCPU)
	}
	// Every proxied request wakes the proxy at least now and then.
	if runtime.GOOS == "linux" && proxySwitches <= 0 {
		t.Errorf("no context switches of the proxies read")
	}
	for _, want := range []string{"direct to a backend", "glidepath httpsplit", "summary", "GOMAXPROCS=1", "backends take 2ms"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	if withNginx && !strings.Contains(out.String(), "nginx/") {
		t.Errorf("nginx is installed but was not measured:\n%s", out.String())
	}
	if withNginx && strings.Count(out.String(), "x nginx; target ") != 2 {
		t.Errorf("the summary does not judge both closed-loop rounds against nginx:\n%s", out.String())
	}
	// The splitter's profiles were written when it stopped.
	for _, f := range []string{o.CPUProfile, o.MemProfile} {
		if fi, err := os.Stat(f); err != nil || fi.Size() == 0 {
			t.Errorf("profile %s: %v", f, err)
		}
	}
	if _, err := run(t.Context(), &out, options{Concurrency: 1, Weight: 50}); err == nil {
		t.Error("a zero duration was accepted")
	}
	t.Log(out.String())
}

func TestChildThatCannotServe(t *testing.T) {
	p, err := startChild("nothing", 1, "no-such-role")
	if err == nil {
		p.stop()
		t.Fatal("a child with an unknown role started")
	}
	if !strings.Contains(err.Error(), "unknown role") {
		t.Errorf("error %q does not say why", err)
	}
}
