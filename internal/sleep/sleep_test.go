package sleep

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

func TestFor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		if !For(t.Context(), time.Minute) {
			t.Fatal("For a minute on a live context reported false")
		}
		if got := time.Since(start); got != time.Minute {
			t.Fatalf("For a minute waited %v", got)
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		start = time.Now()
		if For(ctx, time.Hour) {
			t.Fatal("For an hour on a context that ends after a second reported true")
		}
		if got := time.Since(start); got != time.Second {
			t.Fatalf("For returned %v after the context ended at 1s", got)
		}
		if For(ctx, 0) || For(ctx, -time.Second) {
			t.Fatal("For on an ended context reported true")
		}
		if !For(t.Context(), 0) {
			t.Fatal("For(0) on a live context reported false")
		}
	})
}
