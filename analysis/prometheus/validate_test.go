package prometheus_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/glidepath/glidepath/analysis"
	"github.com/glidepath/glidepath/analysis/prometheus"
	"github.com/glidepath/glidepath/canary"
	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/strategytest"
)

// A check whose Prometheus source cannot work is refused with the release,
// before any traffic moves.
func TestCheckValidatesItsSource(t *testing.T) {
	for _, tc := range []struct{ addr, want string }{
		{"prometheus:9090", `Address "prometheus:9090" is not an http or https URL`},
		{"", "no Address"},
		{"not a url", `Address "not a url" is not an http or https URL`},
		{"http://", `Address "http://" is not an http or https URL`},
	} {
		t.Run(tc.addr, func(t *testing.T) {
			chk := &analysis.Check{Label: "errors", Source: &prometheus.Source{Address: tc.addr}, Query: "up",
				SuccessCondition: "result[0] == 1"}
			err := chk.Validate()
			if !errors.Is(err, strategy.ErrInvalidConfig) {
				t.Fatalf("err = %v, want an error matching %v", err, strategy.ErrInvalidConfig)
			}
			if got := err.Error(); !strings.Contains(got, "Source: "+tc.want) {
				t.Errorf("err.Error() = %q, want it to contain %q", got, "Source: "+tc.want)
			}

			tgt := strategytest.NewTarget(strategy.State{Stable: "v1", Replicas: strategy.Replicas{Stable: 2}})
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_, err = strategy.Run(ctx, strategy.Release{Target: tgt, Stable: "v1", Canary: "v2",
				Strategy: canary.Config{Replicas: 2, StepWeight: 50, Interval: time.Minute, Analyzers: []strategy.Analyzer{chk}}})
			if !errors.Is(err, strategy.ErrInvalidConfig) {
				t.Fatalf("err = %v, want an error matching %v", err, strategy.ErrInvalidConfig)
			}
			if got := err.Error(); !strings.Contains(got, tc.want) {
				t.Errorf("err.Error() = %q, want it to contain %q", got, tc.want)
			}
			if got := tgt.History(); len(got) != 0 {
				t.Errorf("nothing may be applied: tgt.History() = %+v, want empty", got)
			}
		})
	}
	// A range source checks itself and its Prometheus source.
	chk := &analysis.Check{Label: "r", Source: (&prometheus.Source{Address: "x"}).Range(0, -time.Second), Query: "up"}
	err := chk.Validate()
	if !errors.Is(err, strategy.ErrInvalidConfig) {
		t.Fatalf("err = %v, want an error matching %v", err, strategy.ErrInvalidConfig)
	}
	for _, want := range []string{`Address "x" is not an http or https URL`, "positive window", "non-negative step"} {
		if got := err.Error(); !strings.Contains(got, want) {
			t.Errorf("err.Error() = %q, want it to contain %q", got, want)
		}
	}
	// A typed nil source is refused, not called.
	var nilSrc *prometheus.Source
	chk = &analysis.Check{Label: "n", Source: nilSrc, Query: "up"}
	if err := chk.Validate(); err == nil || !strings.Contains(err.Error(), "Source is a nil *prometheus.Source") {
		t.Fatalf("chk.Validate() = %v, want an error containing %q", err, "Source is a nil *prometheus.Source")
	}
}
