package flagdcompat

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/diegoholiveira/jsonlogic/v3"
	"github.com/open-feature/go-sdk/openfeature"
	"golang.org/x/mod/semver"

	"github.com/glidepath/glidepath/flags"
)

// names are the variants of the flags under test; rules yield them.
var names = []string{"yes", "no", "true", "false", "0", "1", "2", "a", "b"}

// flagdOutcome is what flagd answers for rule and data: the variant name
// (quotes removed from the JSON of the result), "<default>" for null and
// "<error>" when the library fails.
func flagdOutcome(rule, data any) (out string) {
	defer func() {
		if recover() != nil {
			out = "<error>"
		}
	}()
	res, err := jsonlogic.ApplyInterface(rule, data)
	if err != nil {
		return "<error>"
	}
	if res == nil {
		return "<default>"
	}
	b, err := json.Marshal(res)
	if err != nil {
		return "<error>"
	}
	return strings.ReplaceAll(string(b), `"`, "")
}

// glidepathOutcome evaluates the same rule as a flagd flag.
func glidepathOutcome(t *testing.T, rule string, ctxData map[string]any) (string, bool) {
	var vs []string
	for _, n := range names {
		vs = append(vs, fmt.Sprintf("%q: %q", n, "v-"+n))
	}
	doc := fmt.Sprintf(`{"flags": {"f": {"state": "ENABLED", "variants": {%s, "dflt": "d"}, "defaultVariant": "dflt", "targeting": %s}}}`,
		strings.Join(vs, ", "), rule)
	p, err := flags.NewProvider(flags.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.LoadFlagd([]byte(doc)); err != nil {
		return "", false // refused at load: flagd would load it, but its results are not compared
	}
	flat := openfeature.FlattenedContext{}
	for k, v := range ctxData {
		flat[k] = v
	}
	r := p.StringEvaluation(context.Background(), "f", "", flat)
	failed := r.ResolutionError != (openfeature.ResolutionError{})
	switch {
	case failed && strings.Contains(r.ResolutionError.Error(), "re-applied"):
		return "<reapplied>", true
	case failed && strings.Contains(r.ResolutionError.Error(), "PARSE_ERROR"):
		return "<error>", true
	case failed && strings.Contains(r.ResolutionError.Error(), "GENERAL"):
		return "<undefined variant>", true
	case failed:
		t.Fatalf("unexpected error %v", r.ResolutionError)
	case r.Reason == openfeature.DefaultReason:
		return "<default>", true
	}
	return r.Variant, true
}

func compare(t *testing.T, rule, data string) {
	var r, d any
	if json.Unmarshal([]byte(rule), &r) != nil || json.Unmarshal([]byte(data), &d) != nil {
		return
	}
	m, ok := d.(map[string]any)
	if !ok {
		return
	}
	if obj, isObj := r.(map[string]any); !isObj || len(obj) == 0 {
		return // flagd evaluates only objects as rules, and {} is no rule
	}
	if _, has := m["$flagd"]; has {
		return
	}
	got, loaded := glidepathOutcome(t, rule, m)
	if !loaded || got == "<reapplied>" {
		return // refused, or an object that keeps applying itself: flagd's library would recurse until the process dies
	}
	withFlagd := map[string]any{"$flagd": map[string]any{"flagKey": "f", "timestamp": 0.0}}
	for k, v := range m {
		withFlagd[k] = v
	}
	want := flagdOutcome(r, withFlagd)
	if want != "<error>" && want != "<default>" && !contains(names, want) {
		want = "<undefined variant>"
	}
	if got != want {
		t.Errorf("rule %s data %s: glidepath %q, flagd's library %q", rule, data, got, want)
	}
}

func contains(s []string, x string) bool {
	for _, e := range s {
		if e == x {
			return true
		}
	}
	return false
}

var seeds = []struct{ rule, data string }{
	{`{"if": [{"==": [{"var": "a"}, 1]}, "yes", "no"]}`, `{"a": 1}`},
	{`{"if": [{"==": [{"var": "a"}, "1"]}, "yes", "no"]}`, `{"a": 1}`},
	{`{"if": [{"===": [{"var": "a"}, "1"]}, "yes", "no"]}`, `{"a": 1}`},
	{`{"if": [{"!==": [{"var": "a"}, null]}, "yes", "no"]}`, `{}`},
	{`{"if": [{"<": [{"var": "a"}, "b"]}, "yes", "no"]}`, `{"a": "a"}`},
	{`{"if": [{"<=": [1, {"var": "a"}, 3]}, "yes", "no"]}`, `{"a": 3}`},
	{`{"if": [{">": [{"var": "a"}, null]}, "yes", "no"]}`, `{"a": -1}`},
	{`{"if": [{">=": ["", 0]}, "yes", "no"]}`, `{}`},
	{`{"and": [{"var": "a"}, "yes"]}`, `{"a": true}`},
	{`{"or": [{"var": "a"}, "no"]}`, `{"a": 0}`},
	{`{"!": {"var": "a"}}`, `{"a": [1]}`},
	{`{"!!": [{"var": "a"}]}`, `{"a": "x"}`},
	{`{"if": [{"in": [{"var": "a"}, ["x", "y"]]}, "yes", "no"]}`, `{"a": "y"}`},
	{`{"if": [{"in": [{"var": "a"}, "xyz"]}, "yes", "no"]}`, `{"a": "yz"}`},
	{`{"if": [{"in": [{"var": "a"}, [1, 2]]}, "yes", "no"]}`, `{"a": 2}`},
	{`{"if": [{"in": [{"var": "a"}, [[1, 5]]]}, "yes", "no"]}`, `{"a": 3}`},
	{`{"cat": [{"var": "a"}, {"var": "b"}]}`, `{"a": "y", "b": "es"}`},
	{`{"cat": [{"var": "a"}]}`, `{"a": 1}`},
	{`{"cat": [{"var": "a"}, "x"]}`, `{"a": true}`},
	{`{"substr": [{"var": "a"}, 1, 3]}`, `{"a": "xyes"}`},
	{`{"substr": [{"var": "a"}, -2]}`, `{"a": "ab"}`},
	{`{"if": [{"missing": ["a", "b"]}, "yes", "no"]}`, `{"a": 1}`},
	{`{"if": [{"missing_some": [1, ["a", "b"]]}, "yes", "no"]}`, `{"a": 1}`},
	{`{"if": [{"some": [{"var": "l"}, {"==": [{"var": "x"}, 1]}]}, "yes", "no"]}`, `{"l": [{"x": 1}]}`},
	{`{"if": [{"all": [{"var": "l"}, {">": [{"var": ""}, 0]}]}, "yes", "no"]}`, `{"l": [1, 2]}`},
	{`{"if": [{"none": [{"var": "l"}, {">": [{"var": ""}, 1]}]}, "yes", "no"]}`, `{"l": [1, 2]}`},
	{`{"if": [{"some": [{"var": "l"}, {"==": [{"var": "x"}, 1]}]}, "yes", "no"]}`, `{"l": [{"x": 2}], "x": 1}`},
	{`{"reduce": [{"var": "l"}, {"+": [{"var": "current"}, {"var": "accumulator"}]}, 0]}`, `{"l": [1, 1]}`},
	{`{"merge": [[1], 2]}`, `{}`},
	{`{"map": [{"var": "l"}, {"*": [{"var": ""}, 2]}]}`, `{"l": [1]}`},
	{`{"filter": [{"var": "l"}, {"<": [{"var": ""}, 2]}]}`, `{"l": [1, 2]}`},
	{`{"+": [{"var": "a"}, 1]}`, `{"a": "1"}`},
	{`{"-": [{"var": "a"}]}`, `{"a": -1}`},
	{`{"*": [{"var": "a"}, 2]}`, `{"a": 0.5}`},
	{`{"/": [{"var": "a"}, 2]}`, `{"a": 4}`},
	{`{"%": [{"var": "a"}, 2]}`, `{"a": 5}`},
	{`{"max": [{"var": "a"}, 2]}`, `{"a": 1}`},
	{`{"min": []}`, `{}`},
	{`{"var": ["a.b", "no"]}`, `{"a": {"b": "yes"}}`},
	{`{"var": "a.1"}`, `{"a": ["no", "yes"]}`},
	{`{"var": "a"}`, `{"a": null}`},
	{`{"var": "a"}`, `{"a": 2}`},
	{`{"if": [{"var": "a"}, {"var": "b"}, "no"]}`, `{"a": 1, "b": "a"}`},
	{`{"?:": [false, "yes"]}`, `{}`},
	{`{"if": []}`, `{}`},
}

func TestAgainstFlagdLibrary(t *testing.T) {
	for _, s := range seeds {
		compare(t, s.rule, s.data)
	}
}

// FuzzAgainstFlagdLibrary compares glidepath's evaluation of random rules
// with flagd's library's.
func FuzzAgainstFlagdLibrary(f *testing.F) {
	for _, s := range seeds {
		f.Add(s.rule, s.data)
	}
	f.Fuzz(func(t *testing.T, rule, data string) {
		if len(rule) > 2000 || len(data) > 2000 {
			return
		}
		compare(t, rule, data)
	})
}

// sem_ver: glidepath's own parser against x/mod/semver after flagd's
// normalization (a missing "v" is added).
func FuzzSemverAgainstXMod(f *testing.F) {
	for _, s := range [][2]string{{"1.2.3", "1.2.3-rc.1"}, {"v1", "1.0.0"}, {"1.2", "1.2.0+build"}, {"01.2.3", "1.2.3"}, {"1.0.0-alpha.1", "1.0.0-alpha.beta"}, {"V2", "v2.0.0-0"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		norm := func(v string) string {
			if !strings.HasPrefix(v, "v") {
				v = "v" + strings.TrimPrefix(v, "V")
			}
			return v
		}
		va, vb := norm(a), norm(b)
		for _, op := range []string{"=", "!=", "<", "<=", ">", ">=", "^", "~"} {
			rule := fmt.Sprintf(`{"sem_ver": [%q, %q, %q]}`, a, op, b)
			rb, _ := json.Marshal(a)
			_ = rb
			var want string
			if !semver.IsValid(va) || !semver.IsValid(vb) {
				want = "<default>"
			} else {
				c := semver.Compare(va, vb)
				r := map[string]bool{"=": c == 0, "!=": c != 0, "<": c < 0, "<=": c <= 0, ">": c > 0, ">=": c >= 0,
					"^": semver.Compare(semver.Major(va), semver.Major(vb)) == 0,
					"~": semver.Compare(semver.MajorMinor(va), semver.MajorMinor(vb)) == 0}[op]
				want = fmt.Sprint(r)
			}
			got, loaded := glidepathOutcome(t, rule, nil)
			if !loaded {
				return // not valid JSON strings
			}
			if got != want {
				t.Errorf("sem_ver %q %s %q: glidepath %q, x/mod %q", a, op, b, got, want)
			}
		}
	})
}

// The comparison is not vacuous: the seeds reach every kind of outcome on
// both sides.
func TestSeedsCoverOutcomes(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range seeds {
		got, loaded := glidepathOutcome(t, s.rule, decode(t, s.data))
		if !loaded {
			t.Errorf("seed %s was refused", s.rule)
		}
		switch got {
		case "<error>", "<default>", "<undefined variant>":
			seen[got] = true
		default:
			seen["variant"] = true
		}
	}
	for _, k := range []string{"<error>", "<default>", "<undefined variant>", "variant"} {
		if !seen[k] {
			t.Errorf("no seed yields %s", k)
		}
	}
}

func decode(t *testing.T, s string) map[string]any {
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}
