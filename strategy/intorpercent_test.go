package strategy_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/glidepath/glidepath/strategy"
)

// A string without a percent sign is not a percentage: Kubernetes'
// GetScaledValueFromIntOrPercent returns an error for it, so ScaledValue
// does, and Scaled gives 0 as its documentation says.
func TestScaledRejectsStringWithoutPercent(t *testing.T) {
	for _, s := range []string{"90", "abc", "2.5%", "-5%", "%", ""} {
		v := strategy.IntOrPercent{Str: s}
		if s == "" {
			continue // the integer form
		}
		_, err := v.ScaledValue(10, true)
		require.Error(t, err, "%q", s)
		assert.Equal(t, 0, v.Scaled(10, true), "%q", s)
	}
	n, err := strategy.IntOrPercent{Str: "90%"}.ScaledValue(10, false)
	require.NoError(t, err)
	assert.Equal(t, 9, n)
	n, err = strategy.IntOrPercent{Str: "25%"}.ScaledValue(3, true)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	n, err = strategy.Int(7).ScaledValue(3, true)
	require.NoError(t, err)
	assert.Equal(t, 7, n)
	assert.Equal(t, 9, strategy.IntOrPercent{Str: "90%"}.Scaled(10, false))
	_, err = strategy.IntOrPercent{Str: "90"}.ScaledValue(10, false)
	assert.EqualError(t, err, `"90" is not a percentage: it must end in % (or be given as an integer)`)
}
