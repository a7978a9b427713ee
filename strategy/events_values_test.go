package strategy_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/glidepath/glidepath/strategy"
)

// A verdict's log record carries the numbers it was judged on: the last
// of each measurement, a revision's apart from the other's.
func TestSlogObserverLogsValues(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}))
	obs := strategy.SlogObserver(logger)
	obs.OnEvent(strategy.VerdictReached{EventMeta: strategy.EventMeta{Release: "shop", Step: 2}, Verdict: strategy.Verdict{
		Analyzer: "judge", Outcome: strategy.Fail, Reason: "canary fails more",
		Measurements: []strategy.Measurement{
			{Name: "error-rate", Values: map[string]float64{"value": 0.5}},
			{Name: "error-rate", Values: map[string]float64{"value": 0.02}},
			{Name: "error-rate", Error: "source down"},
			{Name: "failures", Revision: "v2", Values: map[string]float64{"trials": 200, "e_fail": 4.5, "rate": 0.03}},
			{Name: "failures", Revision: "v1", Values: map[string]float64{"trials": 400, "rate": 0.01}},
		},
	}})
	want := `level=WARN msg=verdict release=shop step=2 analyzer=judge outcome=Fail reason="canary fails more" background=false ` +
		`values.error-rate.value=0.02 values.failures@v2.e_fail=4.5 values.failures@v2.rate=0.03 values.failures@v2.trials=200 ` +
		`values.failures@v1.rate=0.01 values.failures@v1.trials=400` + "\n"
	if buf.String() != want {
		t.Errorf("logged\n%s\nwant\n%s", buf.String(), want)
	}
	// A verdict without numbers has no values group.
	buf.Reset()
	obs.OnEvent(strategy.VerdictReached{Verdict: strategy.Verdict{Analyzer: "gate", Outcome: strategy.Pass}})
	if strings.Contains(buf.String(), "values") {
		t.Errorf("a verdict without numbers logged %s", buf.String())
	}
}
