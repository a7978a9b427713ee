package flags_test

import (
	"context"
	"testing"

	"github.com/open-feature/go-sdk/openfeature"
	"github.com/open-feature/go-sdk/openfeature/isolated"
	"go.uber.org/goleak"

	"github.com/glidepath/glidepath/flags"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// checkout is a boolean flag with a control "off" and a treatment "on".
func checkout(percent float64) flags.Flag {
	r := flags.Rollout{Control: "off", Treatment: "on", Percent: percent}
	return flags.Flag{Key: "new-checkout", Variants: map[string]any{"off": false, "on": true}, Rollout: r}
}

func newProvider(t testing.TB, fs ...flags.Flag) *flags.Provider {
	t.Helper()
	p, err := flags.NewProvider(flags.Config{Flags: fs})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// register binds p to a new isolated OpenFeature API and returns the API
// and a client; the API is shut down when the test ends.
func register(t testing.TB, p openfeature.FeatureProvider) (*openfeature.EvaluationAPI, *openfeature.Client) {
	t.Helper()
	api := isolated.NewAPI()
	if err := api.SetProviderAndWait(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := api.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return api, api.NewClient()
}

func user(key string) openfeature.EvaluationContext {
	return openfeature.NewEvaluationContext(key, nil)
}
