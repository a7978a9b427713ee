package main

import (
	"bytes"
	"strings"
	"testing"
	"testing/synctest"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Both runs in fake time: the healthy release reaches 100% of users on
// fast+faster, the bad one is caught and everyone is back on legacy.
func TestFlagRelease(t *testing.T) {
	for _, c := range []struct {
		bad  bool
		want []string
	}{
		{false, []string{"release Promoted", "users now served: fast=", "faster=", "weights fast=5.0% faster=5.0% legacy=90.0%"}},
		{true, []string{"release RolledBack", "users now served: legacy=100.0%"}},
	} {
		synctest.Test(t, func(t *testing.T) {
			opts := defaultOptions()
			opts.Bad = c.bad
			opts.Dir = t.TempDir()
			var out bytes.Buffer
			if err := run(t.Context(), &out, opts); err != nil {
				t.Fatalf("run: %v\n%s", err, out.String())
			}
			for _, w := range c.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			t.Log(out.String())
		})
	}
}
