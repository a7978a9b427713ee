package spec

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/glidepath/glidepath/analysis"
	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/strategytest"
)

const flaggerRelease = `apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {name: app, namespace: prod}
spec:
  targetRef: {name: app}
  analysis:
    interval: 1m
    threshold: THRESHOLD
    stepWeight: 50
    metrics:
    - name: request-success-rate
      thresholdRange: {min: 99}
`

// measured is a Prometheus stand-in: it answers the success rates in
// order and records when it was asked.
type measured struct {
	rates []float64
	at    []time.Duration
	start time.Time
}

func (m *measured) source(PrometheusConfig) analysis.Source {
	return analysis.SourceFunc(func(ctx context.Context, q analysis.Query) (any, error) {
		m.at = append(m.at, time.Since(m.start))
		r := m.rates[min(len(m.at)-1, len(m.rates)-1)]
		return []float64{r}, nil
	})
}

func runFlagger(t *testing.T, threshold string, rates []float64) (strategy.Result, *measured, error) {
	m := &measured{rates: rates, start: time.Now()}
	res := mustDecode(t, []byte(replace(flaggerRelease, "THRESHOLD", threshold)), Options{PrometheusAddress: "http://prom:9090", Prometheus: m.source})
	c := res.Canaries[0]
	opts := c.Options
	opts.PollInterval = time.Second
	target := strategytest.NewTarget(strategy.State{Stable: "v1"})
	out, err := strategy.Run(t.Context(), strategy.Release{Name: c.Name, Target: target, Stable: "v1", Canary: "v2", Strategy: c.Strategy(), Options: opts})
	return out, m, err
}

func replace(s, old, new string) string {
	i := index(s, old)
	return s[:i] + new + s[i+len(old):]
}

// Flagger's threshold: with threshold 2 one failed check is tolerated and
// checked again an interval later (not at once); the second failed check
// rolls back.
func TestFlaggerThresholdInARelease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		out, m, err := runFlagger(t, "2", []float64{99.5, 90, 99.9})
		if err != nil || out.Phase != strategy.PhasePromoted {
			t.Fatalf("%v %+v", err, out)
		}
		// 50%: checked at 1m (pass); 100%: failed at 2m, checked again at 3m.
		want := []time.Duration{time.Minute, 2 * time.Minute, 3 * time.Minute}
		if len(m.at) != len(want) {
			t.Fatalf("measured at %v", m.at)
		}
		for i := range want {
			if d := m.at[i] - want[i]; d < 0 || d > 5*time.Second {
				t.Errorf("measurement %d at %v, want about %v", i, m.at[i], want[i])
			}
		}
	})
	synctest.Test(t, func(t *testing.T) {
		_, m, err := runFlagger(t, "2", []float64{90})
		if !errors.Is(err, strategy.ErrAnalysisFailed) || len(m.at) != 2 {
			t.Fatalf("want a rollback at the second failed check: %v after %d checks", err, len(m.at))
		}
	})
	synctest.Test(t, func(t *testing.T) {
		_, m, err := runFlagger(t, "1", []float64{90})
		if !errors.Is(err, strategy.ErrAnalysisFailed) || len(m.at) != 1 {
			t.Fatalf("threshold 1 rolls back at the first failed check: %v after %d checks", err, len(m.at))
		}
	})
}
