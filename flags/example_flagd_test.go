package flags_test

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/open-feature/go-sdk/openfeature"
	"github.com/open-feature/go-sdk/openfeature/isolated"

	"github.com/glidepath/glidepath/flags"
	"github.com/glidepath/glidepath/strategy"
)

const exampleFile = `{
  "$schema": "https://flagd.dev/schema/v0/flags.json",
  "metadata": {"team": "web"},
  "flags": {
    "headerColor": {
      "state": "ENABLED",
      "variants": {"red": "#FF0000", "blue": "#0000FF", "green": "#00FF00"},
      "defaultVariant": "red",
      "targeting": {"if": [{"ends_with": [{"var": "email"}, "@example.com"]},
                           {"fractional": [["red", 50], ["blue", 20], ["green", 30]]}, null]}
    }
  }
}`

// A flagd flag file served in-process, with flagd's results.
func ExampleProvider_LoadFlagd() {
	p, _ := flags.NewProvider(flags.Config{})
	if err := p.LoadFlagd([]byte(exampleFile)); err != nil {
		fmt.Println(err)
		return
	}
	api := isolated.NewAPI()
	_ = api.SetProviderAndWait(context.Background(), p)
	defer func() { _ = api.Shutdown(context.Background()) }()
	client := api.NewClient()
	for _, email := range []string{"ana@example.com", "bo@example.com", "cy@elsewhere.org"} {
		u := openfeature.NewEvaluationContext(strings.Split(email, "@")[0], map[string]any{"email": email})
		d, _ := client.StringValueDetails(context.Background(), "headerColor", "#000000", u)
		team, _ := d.FlagMetadata.GetString("team")
		fmt.Println(email, d.Value, d.Variant, d.Reason, team)
	}
	// Output:
	// ana@example.com #0000FF blue TARGETING_MATCH web
	// bo@example.com #00FF00 green TARGETING_MATCH web
	// cy@elsewhere.org #FF0000 red DEFAULT web
}

// Bad files are refused with every problem, each naming the flag and the
// path in the file.
func ExampleParseFlagd() {
	_, err := flags.ParseFlagd([]byte(`{"flags": {"f": {"state": "ENABLED", "variants": {"a": 1, "b": 2}, "defaultVariant": "c",
	   "targeting": {"fractional": [["a", -1], ["d", 1]]}}}}`))
	fmt.Println(err)
	// Output:
	// invalid configuration: flagd flag file
	//   - flag "f": flags.f.defaultVariant: "c" is not a variant of the flag
	//   - flag "f": flags.f.targeting.fractional[0]: fractional weight -1 is negative
	//   - flag "f": flags.f.targeting.fractional[1][0]: variant "d" is not defined
}

// flagd's bucketing: which of three variants weighted 50/20/30 a
// targeting key gets for a flag (MurmurHash3 of flagKey + targetingKey).
func ExampleFlagdBucket() {
	names := []string{"red", "blue", "green"}
	for _, key := range []string{"user-1", "user-2", "user-3"} {
		fmt.Println(key, names[flags.FlagdBucket("headerColor"+key, []int32{50, 20, 30})])
	}
	// Output:
	// user-1 blue
	// user-2 green
	// user-3 red
}

// A release moves the weights of a fractional rule; here the State of a
// canary step at 30% toward a split between two new variants.
func ExampleNewFractionalTarget() {
	p, _ := flags.NewProvider(flags.Config{})
	_ = p.LoadFlagd([]byte(`{"flags": {"checkout": {"state": "ENABLED",
	  "variants": {"legacy": 0, "fast": 1, "faster": 2}, "defaultVariant": "legacy",
	  "targeting": {"fractional": [["legacy", 1]]}}}}`))
	target, err := flags.NewFractionalTarget(p, "checkout", flags.Splits{"new": {"fast": 1, "faster": 1}})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := target.Apply(context.Background(), strategy.State{Stable: "legacy", Canary: "new", Weight: 30}); err != nil {
		fmt.Println(err)
		return
	}
	def, _ := p.Definition("checkout")
	fmt.Println(string(def.Targeting))
	w, _ := flags.Weights(def)
	for _, v := range slices.Sorted(func(yield func(string) bool) {
		for k := range w {
			if !yield(k) {
				return
			}
		}
	}) {
		fmt.Println(v, w[v])
	}
	// Output:
	// {"fractional":[["legacy",700000],["fast",150000],["faster",150000]]}
	// fast 150000
	// faster 150000
	// legacy 700000
}
