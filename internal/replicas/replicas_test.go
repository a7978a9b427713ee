package replicas

import (
	"testing"

	"github.com/glidepath/glidepath/strategy"
)

func TestShare(t *testing.T) {
	for _, tt := range []struct{ canary, stable, want int }{
		{0, 0, 0}, {0, 4, 0}, {4, 0, 100}, {1, 3, 25}, {1, 1, 50},
		{1, 999, 1},                        // a ready canary instance is never 0%
		{999, 1, 99},                       // a ready stable instance is never 100%
		{1, 2, 33}, {2, 1, 67}, {1, 7, 13}, // 12.5 rounds up
		{-1, 4, 0}, {4, -1, 100},
	} {
		if got := Share(tt.canary, tt.stable); got != tt.want {
			t.Errorf("Share(%d, %d) = %d, want %d", tt.canary, tt.stable, got, tt.want)
		}
	}
}

func TestBoundsAndIsZero(t *testing.T) {
	s, u := Bounds(nil, nil)
	if s != strategy.Percent(25) || u != strategy.Percent(25) {
		t.Errorf("default bounds = %v, %v", s, u)
	}
	one := strategy.Int(1)
	if s, u = Bounds(&one, nil); s != one || u != DefaultBound {
		t.Errorf("Bounds(1, nil) = %v, %v", s, u)
	}
	for v, want := range map[strategy.IntOrPercent]bool{
		strategy.Int(0): true, strategy.Percent(0): true, strategy.Int(1): false, strategy.Percent(1): false,
	} {
		if IsZero(v) != want {
			t.Errorf("IsZero(%v) = %v", v, !want)
		}
	}
}
