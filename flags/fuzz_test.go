package flags_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/glidepath/glidepath/flags"
	"github.com/glidepath/glidepath/strategy"
)

// FuzzParseFlagd: any input is either refused with ErrInvalidConfig or
// loaded, and every flag loaded then evaluates, for every type, without
// panicking; a refused file leaves the good one serving.
func FuzzParseFlagd(f *testing.F) {
	f.Add([]byte(benchFlagd))
	f.Add([]byte(checkoutFlagd))
	f.Add([]byte(flagFile("red")))
	f.Add([]byte(`{"$evaluators": {"x": {"in": ["a", {"var": "k"}]}}, "flags": {"f": {"state": "DISABLED", "variants": {"a": 1}, "targeting": {"$ref": "x"}}}}`))
	f.Add([]byte(`{"flags": [{"key": "f", "state": "ENABLED", "variants": {"a": {"n": 1.5}}, "defaultVariant": "a", "metadata": {"v": 1}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := newProvider(t)
		if err := p.LoadFlagd([]byte(flagFile("red"))); err != nil {
			t.Fatal(err)
		}
		fs, perr := flags.ParseFlagd(data)
		err := p.LoadFlagd(data)
		if (perr == nil) != (err == nil) {
			t.Fatalf("ParseFlagd %v but LoadFlagd %v", perr, err)
		}
		if err != nil {
			if !errors.Is(err, strategy.ErrInvalidConfig) {
				t.Fatalf("error %v is not ErrInvalidConfig", err)
			}
			if got := p.StringEvaluation(context.Background(), "color", "", nil); got.Value != "#f00" {
				t.Fatalf("a refused file changed what is served: %+v", got)
			}
			return
		}
		ctx := context.Background()
		for _, fl := range fs {
			for _, flat := range []openfeature.FlattenedContext{nil, {openfeature.TargetingKey: "u"}, {openfeature.TargetingKey: "v", "email": "a@b.c", "k": 1.5}} {
				p.BooleanEvaluation(ctx, fl.Key, false, flat)
				p.StringEvaluation(ctx, fl.Key, "", flat)
				p.IntEvaluation(ctx, fl.Key, 0, flat)
				p.FloatEvaluation(ctx, fl.Key, 0, flat)
				p.ObjectEvaluation(ctx, fl.Key, nil, flat)
			}
			// A loaded flag also passes validation on its own.
			if err := fl.Validate(); err != nil {
				t.Fatalf("flag %s loaded but invalid: %v", fl.Key, err)
			}
		}
	})
}

// FuzzRule: any rule that loads evaluates against any context without
// panicking, and the same evaluation gives the same answer twice.
func FuzzRule(f *testing.F) {
	for _, s := range []struct{ rule, ctx string }{
		{`{"fractional": [["a", 1], ["b", 2]]}`, `{"targetingKey": "u"}`},
		{`{"fractional": [{"var": "e"}, ["a"], ["b"]]}`, `{"e": "x"}`},
		{`{"fractional": ["s", [{"if": [{"var": "x"}, "a", "b"]}, {"var": "w"}], ["b", 1]]}`, `{"x": true, "w": -3}`},
		{`{"if": [{"sem_ver": [{"var": "v"}, "^", "1.0.0"]}, "a", "b"]}`, `{"v": "1.2.3-rc.1+b"}`},
		{`{"if": [{"starts_with": [{"var": "e"}, "x"]}, "a", {"ends_with": [{"var": "e"}, "y"]}, "b"]}`, `{"e": "xy"}`},
		{`{"if": [{"some": [{"var": "l"}, {"in": [{"var": ""}, ["a"]]}]}, "a", "b"]}`, `{"l": ["a", 1, null, {"x": 1}]}`},
		{`{"cat": [{"substr": [{"var": "s"}, -1]}, {"reduce": [{"var": "l"}, {"cat": [{"var": "accumulator"}, {"var": "current"}]}, ""]}]}`, `{"s": "xa", "l": []}`},
		{`{"if": [{"missing_some": [1, ["a", "b"]]}, "a", {"merge": [{"var": "l"}, 1]}]}`, `{"l": [2]}`},
	} {
		f.Add(s.rule, s.ctx)
	}
	f.Fuzz(func(t *testing.T, rule, ctxJSON string) {
		if len(rule) > 4000 {
			return
		}
		var ctxData map[string]any
		if json.Unmarshal([]byte(ctxJSON), &ctxData) != nil {
			return
		}
		doc := `{"flags": {"f": {"state": "ENABLED", "variants": {"a": "A", "b": "B", "true": "T", "false": "F", "1": "one"}, "defaultVariant": "a", "targeting": ` + rule + `}}}`
		p := newProvider(t)
		if p.LoadFlagd([]byte(doc)) != nil {
			return
		}
		flat := openfeature.FlattenedContext{}
		for k, v := range ctxData {
			flat[k] = v
		}
		first := p.StringEvaluation(context.Background(), "f", "", flat)
		second := p.StringEvaluation(context.Background(), "f", "", flat)
		if first.Variant != second.Variant || first.Reason != second.Reason {
			t.Fatalf("not deterministic: %+v then %+v", first, second)
		}
		if first.ResolutionError == (openfeature.ResolutionError{}) && first.Value == "" {
			t.Fatalf("success without a value: %+v", first)
		}
	})
}
