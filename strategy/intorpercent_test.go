package strategy_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/glidepath/glidepath/strategy"
)

// A string without a percent sign is not a percentage: Kubernetes'
// GetScaledValueFromIntOrPercent returns an error for it, so ScaledValue
// does, and Scaled gives 0 as its documentation says.
func TestScaledRejectsStringWithoutPercent(t *testing.T) {
	for _, s := range []string{"90", "abc", "2.5%", "-5%", "%"} {
		v := strategy.IntOrPercent{Str: s}
		if _, err := v.ScaledValue(10, true); err == nil {
			t.Errorf("ScaledValue(%q) accepted a malformed percentage", s)
		}
		if got := v.Scaled(10, true); got != 0 {
			t.Errorf("Scaled(%q) = %d, want 0", s, got)
		}
	}
	for _, tc := range []struct {
		v       strategy.IntOrPercent
		total   int
		roundUp bool
		want    int
	}{
		{strategy.IntOrPercent{Str: "90%"}, 10, false, 9},
		{strategy.IntOrPercent{Str: "25%"}, 3, true, 1},
		{strategy.Int(7), 3, true, 7},
	} {
		n, err := tc.v.ScaledValue(tc.total, tc.roundUp)
		if err != nil || n != tc.want {
			t.Errorf("%v.ScaledValue(%d, %v) = %d, %v; want %d", tc.v, tc.total, tc.roundUp, n, err, tc.want)
		}
		if got := tc.v.Scaled(tc.total, tc.roundUp); got != tc.want {
			t.Errorf("%v.Scaled(%d, %v) = %d, want %d", tc.v, tc.total, tc.roundUp, got, tc.want)
		}
	}
}

// Validate reports a malformed value as a ConfigError with one problem.
func TestIntOrPercentValidate(t *testing.T) {
	for s, want := range map[string]string{
		"90":   `"90" is not a percentage: it must end in % (or be given as an integer)`,
		"2.5%": `"2.5%" is not a whole-number percentage`,
		"-5%":  `"-5%" is negative`,
		"150%": `"150%" is over 100%`,
	} {
		err := strategy.IntOrPercent{Str: s}.Validate()
		var ce *strategy.ConfigError
		if !errors.As(err, &ce) || !errors.Is(err, strategy.ErrInvalidConfig) || !slices.Equal(ce.Problems, []string{want}) {
			t.Errorf("Validate(%q) = %v, want the one problem %q", s, err, want)
		}
	}
	if err := strategy.Int(-1).Validate(); err == nil {
		t.Error("Validate(-1) accepted a negative integer")
	}
	for _, v := range []strategy.IntOrPercent{strategy.Int(0), strategy.Int(3), strategy.Percent(0), strategy.Percent(100)} {
		if err := v.Validate(); err != nil {
			t.Errorf("Validate(%v) = %v", v, err)
		}
	}
}
