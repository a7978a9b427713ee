package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/glidepath/glidepath/internal/promserver"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestEndToEnd(t *testing.T) {
	bin := promserver.Require(t)
	for _, good := range []bool{false, true} {
		name := map[bool]string{false: "bad-release-rolled-back", true: "good-release-promoted"}[good]
		t.Run(name, func(t *testing.T) {
			opts := defaultOptions()
			opts.Good = good
			opts.Prometheus = bin
			opts.Interval = 2 * time.Second
			var out bytes.Buffer
			if err := run(t.Context(), &out, opts); err != nil {
				t.Fatalf("run: %v\n%s", err, out.String())
			}
			s := out.String()
			want := []string{"ROLLED BACK: all traffic is on v1 again", "FAIL: v2's error rate is", "time to detect", "now              v1 serves all traffic"}
			avoid := "PROMOTED"
			if good {
				want = []string{"PROMOTED: v2 is the stable revision now", "step analysis: PASS: v2's error rate is 0.0%", "now              v2 serves all traffic"}
				avoid = "ROLLED BACK"
			}
			want = append(want, "0 lost", "no request was lost")
			for _, w := range want {
				if !strings.Contains(s, w) {
					t.Errorf("output lacks %q:\n%s", w, s)
				}
			}
			if strings.Contains(s, avoid) {
				t.Errorf("output contains %q:\n%s", avoid, s)
			}
		})
	}
}
