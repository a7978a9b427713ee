package flags

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/glidepath/glidepath/strategy"
)

// ParseFlagd decodes a flag definition file in flagd's format
// (https://flagd.dev/reference/flag-definitions/):
//
//	{
//	  "$schema": "https://flagd.dev/schema/v0/flags.json",
//	  "metadata": {"team": "checkout"},
//	  "$evaluators": {"emailWithFaas": {"in": ["@faas.com", {"var": "email"}]}},
//	  "flags": {
//	    "headerColor": {
//	      "state": "ENABLED",
//	      "variants": {"red": "#FF0000", "blue": "#0000FF"},
//	      "defaultVariant": "red",
//	      "targeting": {"if": [{"$ref": "emailWithFaas"}, {"fractional": [["red", 50], ["blue", 50]]}, null]},
//	      "metadata": {"version": 3}
//	    }
//	  }
//	}
//
// into flags sorted by key. "flags" is an object keyed by flag key (or
// an array of flags with a "key" each). A flag's Rollout.Control is its
// defaultVariant (empty when it is omitted or null: evaluations then
// return the caller's default), Targeting its rule with every $ref
// replaced by the shared evaluator it names, Disabled its state, and
// Metadata the file's metadata overlaid with the flag's own.
//
// Every problem is reported at once, each naming the flag and the path
// in the file, as an error matching [strategy.ErrInvalidConfig]:
// malformed JSON, unknown fields, a state other than ENABLED or DISABLED,
// variants that are missing, null or of an unsupported type, a default
// variant that is not defined, unknown operators, rules nested deeper
// than 64 levels, $refs to undefined evaluators and $ref cycles,
// fractional weights that are negative, fractional, too large or all
// zero, and rules that name variants the flag does not define.
func ParseFlagd(data []byte) ([]Flag, error) {
	doc, err := decodeJSON(data)
	if err != nil {
		return nil, strategy.Invalid("flagd flag file", "not JSON: "+err.Error())
	}
	top, ok := doc.(map[string]any)
	if !ok {
		return nil, strategy.Invalid("flagd flag file", "the file is a JSON "+jsonType(doc)+", not an object")
	}
	var probs []string
	bad := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }
	for _, k := range slices.Sorted(maps.Keys(top)) {
		switch k {
		case "$schema", "flags", "$evaluators", "metadata":
		default:
			bad("unknown top-level field %q", k)
		}
	}
	var setMeta map[string]any
	if m, ok := top["metadata"]; ok && m != nil {
		if setMeta, ok = m.(map[string]any); !ok {
			bad("metadata: a %s, not an object", jsonType(m))
		}
	}
	evaluators := map[string]any{}
	if ev, ok := top["$evaluators"]; ok && ev != nil {
		if evaluators, ok = ev.(map[string]any); !ok {
			bad("$evaluators: a %s, not an object", jsonType(ev))
			evaluators = map[string]any{}
		}
	}
	// Resolve $refs inside the evaluators first (flagd's documentation
	// rules nested $refs out; resolving them keeps the file meaningful
	// and a cycle is reported).
	resolved := map[string]any{}
	for _, name := range slices.Sorted(maps.Keys(evaluators)) {
		v, err := resolveRefs(evaluators[name], evaluators, []string{name}, "$evaluators."+name)
		if err != nil {
			bad("%v", err)
			continue
		}
		resolved[name] = v
	}

	raw := map[string]any{}
	switch fs := top["flags"].(type) {
	case map[string]any:
		raw = fs
	case []any:
		for i, f := range fs {
			m, ok := f.(map[string]any)
			key, _ := m["key"].(string)
			switch {
			case !ok:
				bad("flags[%d]: a %s, not an object", i, jsonType(f))
			case key == "":
				bad("flags[%d]: no key", i)
			case raw[key] != nil:
				bad("flags[%d]: key %q is defined twice", i, key)
			default:
				raw[key] = m
			}
		}
	case nil:
		bad("no flags")
	default:
		bad("flags: a %s, not an object", jsonType(fs))
	}

	var out []Flag
	for _, key := range slices.Sorted(maps.Keys(raw)) {
		f, fp := flagdFlag(key, raw[key], resolved, evaluators, setMeta)
		probs = append(probs, fp...)
		if len(fp) == 0 {
			out = append(out, f)
		}
	}
	if err := strategy.Invalid("flagd flag file", probs...); err != nil {
		return nil, err
	}
	return out, nil
}

// flagdFlag converts one flag of a flagd file.
func flagdFlag(key string, x any, evaluators, rawEvaluators, setMeta map[string]any) (Flag, []string) {
	at := "flags." + key
	var probs []string
	bad := func(format string, args ...any) {
		probs = append(probs, fmt.Sprintf("flag %q: ", key)+fmt.Sprintf(format, args...))
	}
	m, ok := x.(map[string]any)
	if !ok {
		bad("%s: a %s, not an object", at, jsonType(x))
		return Flag{}, probs
	}
	f := Flag{Key: key}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		switch k {
		case "state", "variants", "defaultVariant", "targeting", "metadata", "key":
		default:
			bad("%s: unknown field %q", at, k)
		}
	}
	switch st := m["state"]; st {
	case "ENABLED":
	case "DISABLED":
		f.Disabled = true
	case nil:
		bad("%s.state: missing (ENABLED or DISABLED)", at)
	default:
		bad("%s.state: %v is neither ENABLED nor DISABLED", at, st)
	}
	switch vs := m["variants"].(type) {
	case map[string]any:
		if len(vs) == 0 {
			bad("%s.variants: no variants", at)
		}
		for _, name := range slices.Sorted(maps.Keys(vs)) {
			switch v := vs[name].(type) {
			case bool, string, int64, float64, map[string]any:
			case nil:
				bad("%s.variants.%s: null is not a variant value", at, name)
			default:
				bad("%s.variants.%s: a %s is not a variant value (boolean, string, number or object)", at, name, jsonType(v))
			}
		}
		f.Variants = vs
	case nil:
		bad("%s.variants: missing", at)
	default:
		bad("%s.variants: a %s, not an object", at, jsonType(vs))
	}
	switch dv := m["defaultVariant"].(type) {
	case nil:
	case string:
		f.Rollout.Control = dv // checked with the rule below
	default:
		bad("%s.defaultVariant: a %s, not a variant name", at, jsonType(dv))
	}
	if t, ok := m["targeting"]; ok && t != nil {
		rule, err := resolveRefs(t, rawEvaluators, nil, at+".targeting")
		if err != nil {
			bad("%v", err)
		} else if b, err := json.Marshal(rule); err != nil {
			bad("%s.targeting: %v", at, err)
		} else {
			f.Targeting = b
		}
	}
	if f.Targeting == nil {
		f.Targeting = json.RawMessage("{}") // no rule: flagd's STATIC default variant
	}
	f.Metadata = maps.Clone(setMeta)
	if fm, ok := m["metadata"]; ok && fm != nil {
		mm, ok := fm.(map[string]any)
		if !ok {
			bad("%s.metadata: a %s, not an object", at, jsonType(fm))
		}
		if f.Metadata == nil && len(mm) > 0 {
			f.Metadata = map[string]any{}
		}
		for k, v := range mm {
			if v != nil {
				f.Metadata[k] = v
			}
		}
	}
	if f.Variants != nil {
		for _, p := range f.problems() {
			bad("%s", p)
		}
	}
	if len(probs) > 0 {
		return Flag{}, probs
	}
	return f, nil
}

// resolveRefs returns x with every {"$ref": name} replaced by the
// evaluator name. chain lists the evaluators being resolved, to report
// cycles.
func resolveRefs(x any, evaluators map[string]any, chain []string, path string) (any, error) {
	switch v := x.(type) {
	case map[string]any:
		if ref, ok := v["$ref"]; ok && len(v) == 1 {
			name, ok := ref.(string)
			if !ok {
				return nil, fmt.Errorf("%s: $ref is a %s, not an evaluator name", path, jsonType(ref))
			}
			if slices.Contains(chain, name) {
				return nil, fmt.Errorf("%s: $ref cycle %s -> %s", path, strings.Join(chain, " -> "), name)
			}
			ev, ok := evaluators[name]
			if !ok {
				return nil, fmt.Errorf("%s: $ref %q names no evaluator in $evaluators", path, name)
			}
			return resolveRefs(ev, evaluators, append(slices.Clone(chain), name), "$evaluators."+name)
		}
		out := make(map[string]any, len(v))
		for _, k := range slices.Sorted(maps.Keys(v)) {
			r, err := resolveRefs(v[k], evaluators, chain, path+"."+k)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			r, err := resolveRefs(e, evaluators, chain, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	}
	return x, nil
}

// compileTargeting compiles f.Targeting; nil for no rule (absent or {}).
func (f Flag) compileTargeting(path string) (*node, error) {
	if len(f.Targeting) == 0 {
		return nil, nil
	}
	var rule any
	if err := json.Unmarshal(f.Targeting, &rule); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if m, ok := rule.(map[string]any); ok && len(m) == 0 {
		return nil, nil
	}
	if rule == nil {
		return nil, nil
	}
	return compileRule(rule, path, 0)
}

// targetingProblems compiles the flag's rule and checks the variants it
// can yield.
func (f Flag) targetingProblems(path string) []string {
	n, err := f.compileTargeting(path)
	var p []string
	var re ruleErrors
	switch {
	case errors.As(err, &re):
		p = append(p, re...)
	case err != nil:
		return []string{err.Error()}
	}
	if n == nil {
		return p
	}
	resultVariants(n, path, func(at string, v value) {
		name, ok := variantName(v)
		if !ok {
			return
		}
		if v.k == kArr || v.k == kObj {
			p = append(p, fmt.Sprintf("%s: the rule yields a JSON %s, not a variant name", at, kindName(v.k)))
			return
		}
		if _, def := f.Variants[name]; !def {
			p = append(p, fmt.Sprintf("%s: variant %q is not defined", at, name))
		}
	})
	return p
}

// resultVariants calls fn for every constant the rule n can return as
// its result, with its path.
func resultVariants(n *node, path string, fn func(string, value)) {
	switch n.op {
	case opLit:
		fn(path, n.lit)
	case opIf:
		if !n.list {
			return
		}
		for i := 1; i < len(n.args); i += 2 {
			resultVariants(n.args[i], fmt.Sprintf("%s.%s[%d]", path, n.name, i), fn)
		}
		if len(n.args)%2 == 1 {
			last := len(n.args) - 1
			resultVariants(n.args[last], fmt.Sprintf("%s.%s[%d]", path, n.name, last), fn)
		}
	case opFractional:
		if !n.list {
			return
		}
		for i, d := range n.args {
			at := fmt.Sprintf("%s.fractional[%d]", path, i)
			switch {
			case d.op == opArr && len(d.args) > 0:
				resultVariants(d.args[0], at+"[0]", fn)
			case d.op == opLit && d.lit.k == kArr && len(d.lit.a) > 0:
				fn(at+"[0]", fromAny(d.lit.a[0]))
			}
		}
	}
}

// LoadFlagd parses a flagd flag file (see [ParseFlagd]) and serves its
// flags in place of those the previous LoadFlagd served: flags gone from
// the file are removed, the others added or replaced. Flags set with
// [Provider.SetFlag] under other keys are kept. An invalid file changes
// nothing and returns the error. When anything changed, one
// PROVIDER_CONFIGURATION_CHANGED event names the changed flags.
func (p *Provider) LoadFlagd(data []byte) error {
	fs, err := ParseFlagd(data)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	old := *p.flags.Load()
	next := maps.Clone(old)
	loaded := make(map[string]bool, len(fs))
	var changed []string
	for _, f := range fs {
		loaded[f.Key] = true
		if s := old[f.Key]; s != nil && sameFlag(s.def, f) {
			continue
		}
		next[f.Key] = p.compile(f)
		changed = append(changed, f.Key)
	}
	for k := range p.loaded {
		if !loaded[k] {
			delete(next, k)
			changed = append(changed, k)
		}
	}
	p.loaded = loaded
	if len(changed) == 0 {
		return nil
	}
	slices.Sort(changed)
	p.flags.Store(&next)
	p.changed(changed...)
	return nil
}

// sameFlag reports whether two definitions are equal.
func sameFlag(a, b Flag) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}

// Definition returns the current definition of the flag flagKey, with
// the weights a [FractionalTarget] or [Provider.SetRollout] set.
func (p *Provider) Definition(flagKey string) (Flag, bool) {
	s := p.lookup(flagKey)
	if s == nil {
		return Flag{}, false
	}
	f := s.def
	f.Rollout = s.rollout
	return f, true
}
