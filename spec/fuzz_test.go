package spec

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to the decoder: it must return a result
// or an *Error (never both, never neither), never panic, and stay within
// its limits.
func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*.yaml")
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("a: &a [*a]"))
	f.Add([]byte("{\"kind\": \"Rollout\", \"apiVersion\": \"argoproj.io/v1alpha1\", \"spec\": {\"strategy\": {\"canary\": {\"steps\": [{\"pause\": {\"duration\": \"1h\"}}]}}}}"))
	o := Options{
		Secrets: map[string]string{"prometheus-auth/token": "t"}, PrometheusAddress: "http://prometheus:9090",
		Limits: Limits{MaxBytes: 64 << 10, MaxNodes: 20_000},
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := Decode(data, o)
		if (res == nil) == (err == nil) {
			t.Fatalf("result %v and error %v", res, err)
		}
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || len(e.Problems) == 0 {
				t.Fatalf("not an *Error with problems: %v", err)
			}
			_ = err.Error()
			return
		}
		for _, r := range res.Rollouts {
			if (r.Canary == nil) == (r.BlueGreen == nil) {
				t.Fatalf("rollout %q has %v and %v", r.Name, r.Canary, r.BlueGreen)
			}
			if _, err := r.Strategy().Plan("v1", "v2"); err != nil {
				t.Fatalf("returned an invalid config: %v", err)
			}
		}
		for _, c := range res.Canaries {
			if (c.Canary == nil) == (c.BlueGreen == nil) {
				t.Fatalf("canary %q has %v and %v", c.Name, c.Canary, c.BlueGreen)
			}
			if _, err := c.Strategy().Plan("v1", "v2"); err != nil {
				t.Fatalf("returned an invalid config: %v", err)
			}
		}
	})
}
