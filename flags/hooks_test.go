package flags_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/glidepath/glidepath/flags"
)

// countingHook counts the stages OpenFeature runs it in.
type countingHook struct {
	openfeature.UnimplementedHook
	before, after atomic.Int64
}

func (h *countingHook) Before(context.Context, openfeature.HookContext, openfeature.HookHints) (*openfeature.EvaluationContext, error) {
	h.before.Add(1)
	return nil, nil
}

func (h *countingHook) After(context.Context, openfeature.HookContext, openfeature.InterfaceEvaluationDetails, openfeature.HookHints) error {
	h.after.Add(1)
	return nil
}

// The provider's hooks (Config.Hooks) run around every evaluation it
// serves through the SDK.
func TestProviderHooks(t *testing.T) {
	h := &countingHook{}
	p, err := flags.NewProvider(flags.Config{Flags: []flags.Flag{checkout(50)}, Hooks: []openfeature.Hook{h}})
	if err != nil {
		t.Fatal(err)
	}
	_, client := register(t, p)
	for range 3 {
		client.Boolean(context.Background(), "new-checkout", false, user("u"))
	}
	if h.before.Load() != 3 || h.after.Load() != 3 {
		t.Errorf("hook ran before %d and after %d times, want 3 each", h.before.Load(), h.after.Load())
	}
	if _, err := flags.NewProvider(flags.Config{Hooks: []openfeature.Hook{nil}}); err == nil {
		t.Error("a nil hook was accepted")
	}
}
