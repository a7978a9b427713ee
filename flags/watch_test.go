package flags_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
	"github.com/open-feature/go-sdk/openfeature/isolated"

	"github.com/glidepath/glidepath/flags"
)

func flagFile(color string) string {
	return `{"flags": {"color": {"state": "ENABLED", "variants": {"red": "#f00", "blue": "#00f"}, "defaultVariant": "` + color + `"},
	                   "size": {"state": "ENABLED", "variants": {"s": 1, "l": 3}, "defaultVariant": "s"}}}`
}

// A provider serving a file reloads it when it changes and emits
// PROVIDER_CONFIGURATION_CHANGED naming the changed flags; an invalid
// file is reported (PROVIDER_ERROR, OnReloadError) while the last good
// definitions keep being served; a good file afterwards serves again and
// emits PROVIDER_READY.
func TestWatchFile(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "flags.flagd.json")
		write := func(s string) {
			if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		write(flagFile("red"))
		var mu sync.Mutex
		var reloadErrs []error
		p, err := flags.NewProvider(flags.Config{File: path, PollInterval: time.Second, OnReloadError: func(err error) {
			mu.Lock()
			reloadErrs = append(reloadErrs, err)
			mu.Unlock()
		}})
		if err != nil {
			t.Fatal(err)
		}
		api := isolated.NewAPI()
		if err := api.SetProviderAndWait(context.Background(), p); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := api.Shutdown(context.Background()); err != nil {
				t.Error(err)
			}
		}()
		var events []string
		for _, typ := range []openfeature.EventType{openfeature.ProviderConfigChange, openfeature.ProviderError, openfeature.ProviderReady} {
			cb := func(d openfeature.EventDetails) {
				mu.Lock()
				events = append(events, string(typ)+":"+strings.Join(d.FlagChanges, ","))
				mu.Unlock()
			}
			api.AddHandler(typ, &cb)
		}
		client := api.NewClient()
		ctx := context.Background()
		color := func() string { return client.String(ctx, "color", "", openfeature.NewEvaluationContext("u", nil)) }
		settle := func() { time.Sleep(1500 * time.Millisecond); synctest.Wait() }
		settle()
		mu.Lock()
		events = nil // the READY of registration
		mu.Unlock()

		write(flagFile("blue"))
		settle()
		if got := color(); got != "#00f" {
			t.Fatalf("after the change: %q", got)
		}
		write(`{"flags": {"color": {"state": "ENABLED", "variants": {"red": "#f00"}, "defaultVariant": "green"}}}`)
		settle()
		if got := color(); got != "#00f" {
			t.Fatalf("an invalid file must leave the last good definitions: %q", got)
		}
		if err := p.ReloadError(); err == nil || !strings.Contains(err.Error(), `"green" is not a variant`) {
			t.Fatalf("ReloadError = %v", err)
		}
		if n := client.Int(ctx, "size", 0, openfeature.NewEvaluationContext("u", nil)); n != 1 {
			t.Fatalf("the other flag must keep serving: %d", n)
		}
		write(`{"flags": {"color": {"state": "ENABLED", "variants": {"red": "#f00", "blue": "#00f"}, "defaultVariant": "red"}}}`)
		settle()
		if got := color(); got != "#f00" {
			t.Fatalf("after recovery: %q", got)
		}
		if n := client.Int(ctx, "size", 42, openfeature.NewEvaluationContext("u", nil)); n != 42 {
			t.Fatalf("a flag removed from the file must be gone: %d", n)
		}
		settle() // no change: no event

		mu.Lock()
		defer mu.Unlock()
		// The SDK runs handlers of different event types independently,
		// so only the set of events is deterministic.
		got := slices.Sorted(slices.Values(events))
		want := []string{
			"PROVIDER_CONFIGURATION_CHANGED:color",
			"PROVIDER_CONFIGURATION_CHANGED:color,size",
			"PROVIDER_ERROR:",
			"PROVIDER_READY:",
		}
		if !slices.Equal(got, want) {
			t.Errorf("events %q, want %q", got, want)
		}
		if len(reloadErrs) != 1 {
			t.Errorf("OnReloadError called %d times, want 1", len(reloadErrs))
		}
	})
}

func TestFileProviderRejectsBadFileAtStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(path, []byte(`{"flags": {"x": {"state": "ENABLED"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := flags.NewProvider(flags.Config{File: path})
	if err == nil || !strings.Contains(err.Error(), "flags.x.variants: missing") {
		t.Fatalf("err = %v", err)
	}
	if _, err := flags.NewProvider(flags.Config{File: filepath.Join(t.TempDir(), "missing.json")}); err == nil {
		t.Fatal("a missing file was accepted")
	}
}
