package flags_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"strings"
	"testing"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/glidepath/glidepath/flags"
	"github.com/glidepath/glidepath/strategy"
)

// refMurmur3 is MurmurHash3_x86_32 (seed 0) written straight from the
// reference (aappleby/smhasher MurmurHash3.cpp), independently of the
// provider's streaming implementation.
func refMurmur3(data []byte) uint32 {
	const c1, c2 = 0xcc9e2d51, 0x1b873593
	var h uint32
	nblocks := len(data) / 4
	for i := range nblocks {
		k := binary.LittleEndian.Uint32(data[i*4:])
		k *= c1
		k = bits.RotateLeft32(k, 15)
		k *= c2
		h ^= k
		h = bits.RotateLeft32(h, 13)
		h = h*5 + 0xe6546b64
	}
	tail := data[nblocks*4:]
	var k uint32
	switch len(tail) {
	case 3:
		k ^= uint32(tail[2]) << 16
		fallthrough
	case 2:
		k ^= uint32(tail[1]) << 8
		fallthrough
	case 1:
		k ^= uint32(tail[0])
		k *= c1
		k = bits.RotateLeft32(k, 15)
		k *= c2
		h ^= k
	}
	h ^= uint32(len(data))
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	return h
}

// refPick maps a hash onto relative weights the way flagd's fractional
// does: bucket = hash × total >> 32, first variant whose cumulative
// weight exceeds the bucket.
func refPick(h uint32, weights []int32) int {
	var total uint64
	for _, w := range weights {
		total += uint64(w)
	}
	bucket := uint64(h) * total >> 32
	var end uint64
	for i, w := range weights {
		end += uint64(w)
		if bucket < end {
			return i
		}
	}
	return -1
}

func TestMurmur3KnownVectors(t *testing.T) {
	for in, want := range map[string]uint32{
		"":      0,
		"hello": 0x248bfa47,
		"The quick brown fox jumps over the lazy dog": 0x2e4ff723,
	} {
		if got := refMurmur3([]byte(in)); got != want {
			t.Errorf("reference murmur3(%q) = %#x, want %#x", in, got, want)
		}
	}
}

func loadFlagd(t testing.TB, doc string) *flags.Provider {
	t.Helper()
	p := newProvider(t)
	if err := p.LoadFlagd([]byte(doc)); err != nil {
		t.Fatal(err)
	}
	return p
}

const colors = `"variants": {"red": "#FF0000", "blue": "#0000FF", "green": "#00FF00", "yellow": "#FFFF00"}, "defaultVariant": "red", "state": "ENABLED"`

// flagd's own fractional test cases (core/pkg/evaluator/fractional_test.go):
// the variants flagd assigns these users.
func TestFlagdPublishedFractionalCases(t *testing.T) {
	doc := `{"flags": {
	  "headerColor": {` + colors + `, "targeting": {"if": [{"in": ["@faas.com", {"var": ["email"]}]},
	     {"fractional": [{"cat": [{"var": "$flagd.flagKey"}, {"var": "email"}]}, ["red", 25], ["blue", 25], ["green", 25], ["yellow", 25]]}, null]}},
	  "customSeededHeaderColor": {` + colors + `, "targeting": {"if": [{"in": ["@faas.com", {"var": ["email"]}]},
	     {"fractional": [{"cat": ["my-seed", {"var": "email"}]}, ["red", 25], ["blue", 25], ["green", 25], ["yellow", 25]]}, null]}},
	  "footerColor": {` + colors + `, "targeting": {"if": [{"in": ["@faas.com", {"var": ["email"]}]},
	     {"fractional": [{"var": "email"}, ["red", 25], ["blue", 25], ["green", 25], ["yellow", 25]]}, null]}},
	  "nonEven": {` + colors + `, "targeting": {"if": [{"in": ["@faas.com", {"var": ["email"]}]},
	     {"fractional": ["email", ["red", 50], ["blue", 25], ["green", 25]]}, null]}},
	  "noEmail": {` + colors + `, "targeting": {"fractional": [{"var": "email"}, ["red", 25], ["blue", 25], ["green", 25], ["yellow", 25]]}},
	  "twoWay": {` + colors + `, "targeting": {"fractional": [{"var": "email"}, ["red", 25], ["blue", 25]]}},
	  "twoWayShorthand": {` + colors + `, "targeting": {"fractional": [{"var": "email"}, ["red"], ["blue"]]}},
	  "nestedIfVariant": {` + colors + `, "targeting": {"fractional": ["email", [{"if": [{"in": ["us", {"var": "locale"}]}, "red", "blue"]}, 25], ["green", 75]]}},
	  "nestedFractional": {` + colors + `, "targeting": {"fractional": ["email", [{"fractional": ["tier", ["red", 25], ["blue", 25], ["green", 25], ["yellow", 25]]}, 25], ["green", 75]]}},
	  "dynamicWeights": {` + colors + `, "targeting": {"fractional": ["email", ["red", {"var": "redWeight"}], ["blue", {"var": "blueWeight"}], ["green", {"var": "greenWeight"}]]}},
	  "allZeroComputed": {"variants": {"one": "one", "two": "two", "fallback": "fallback"}, "defaultVariant": "fallback", "state": "ENABLED",
	     "targeting": {"fractional": [{"var": "targetingKey"}, ["one", {"var": "w"}], ["two", {"var": "w"}]]}},
	  "clampedWeightFlag": {` + colors + `, "targeting": {"fractional": [["red", {"var": "w"}], ["green", 1]]}}
	}}`
	p := loadFlagd(t, doc)
	_, client := register(t, p)
	for _, c := range []struct {
		flag, variant string
		reason        openfeature.Reason
		ctx           map[string]any
	}{
		{"headerColor", "blue", openfeature.TargetingMatchReason, map[string]any{"email": "rachel@faas.com"}},
		{"headerColor", "yellow", openfeature.TargetingMatchReason, map[string]any{"email": "monica@faas.com"}},
		{"headerColor", "red", openfeature.TargetingMatchReason, map[string]any{"email": "joey@faas.com"}},
		{"headerColor", "blue", openfeature.TargetingMatchReason, map[string]any{"email": "ross@faas.com"}},
		{"headerColor", "red", openfeature.DefaultReason, map[string]any{"email": "ross@example.com"}},
		{"customSeededHeaderColor", "green", openfeature.TargetingMatchReason, map[string]any{"email": "rachel@faas.com"}},
		{"customSeededHeaderColor", "red", openfeature.TargetingMatchReason, map[string]any{"email": "monica@faas.com"}},
		{"customSeededHeaderColor", "blue", openfeature.TargetingMatchReason, map[string]any{"email": "joey@faas.com"}},
		{"customSeededHeaderColor", "green", openfeature.TargetingMatchReason, map[string]any{"email": "ross@faas.com"}},
		{"footerColor", "red", openfeature.TargetingMatchReason, map[string]any{"email": "ross@faas.com"}},
		{"nonEven", "green", openfeature.TargetingMatchReason, map[string]any{"email": "test4@faas.com"}},
		{"noEmail", "red", openfeature.DefaultReason, map[string]any{}},
		{"twoWay", "blue", openfeature.TargetingMatchReason, map[string]any{"email": "foo@foo.com"}},
		{"twoWayShorthand", "blue", openfeature.TargetingMatchReason, map[string]any{"email": "foo@foo.com"}},
		{"nestedIfVariant", "green", openfeature.TargetingMatchReason, map[string]any{"email": "rachel@faas.com", "locale": "us"}},
		{"nestedIfVariant", "green", openfeature.TargetingMatchReason, map[string]any{"email": "rachel@faas.com", "locale": "ca"}},
		{"nestedFractional", "green", openfeature.TargetingMatchReason, map[string]any{"email": "rachel@faas.com", "tier": "premium"}},
		{"dynamicWeights", "blue", openfeature.TargetingMatchReason, map[string]any{"email": "test_a@faas.com", "redWeight": 0, "blueWeight": 1, "greenWeight": 0}},
		{"dynamicWeights", "red", openfeature.TargetingMatchReason, map[string]any{"email": "test_a@faas.com", "redWeight": 1, "blueWeight": 0, "greenWeight": 0}},
		{"dynamicWeights", "green", openfeature.TargetingMatchReason, map[string]any{"email": "test_a@faas.com", "redWeight": 0.0, "blueWeight": 0, "greenWeight": int64(1)}},
		{"allZeroComputed", "fallback", openfeature.DefaultReason, map[string]any{"targetingKey": "any-user", "w": 0}},
		{"clampedWeightFlag", "green", openfeature.TargetingMatchReason, map[string]any{"targetingKey": "some-targeting-key", "w": -1000}},
	} {
		evaluate(t, client, c.flag, c.variant, c.reason, c.ctx)
	}
	// flagd's cases that bucket by flagKey + targetingKey use the flag key
	// headerColor, one rule at a time.
	for _, c := range []struct {
		rule, variant string
		reason        openfeature.Reason
		ctx           map[string]any
	}{
		{`{"fractional": [["blue", 50], ["green", 50]]}`, "green", openfeature.TargetingMatchReason, map[string]any{"targetingKey": "foo@foo.com"}},
		{`{"fractional": [{"var": "email"}, ["red", 50], ["blue", 50]]}`, "blue", openfeature.TargetingMatchReason, map[string]any{"targetingKey": "foo@foo.com"}},
		{`{"fractional": [["blue", 50], ["green", 50]]}`, "red", openfeature.DefaultReason, map[string]any{}},
		{`{"fractional": [["blue", 50], ["green", 50]]}`, "red", openfeature.DefaultReason, map[string]any{"targetingKey": ""}},
	} {
		p := loadFlagd(t, `{"flags": {"headerColor": {`+colors+`, "targeting": `+c.rule+`}}}`)
		_, client := register(t, p)
		evaluate(t, client, "headerColor", c.variant, c.reason, c.ctx)
	}
}

func evaluate(t *testing.T, client *openfeature.Client, flag, variant string, reason openfeature.Reason, ctxData map[string]any) {
	t.Helper()
	c := struct {
		flag, variant string
		reason        openfeature.Reason
		ctx           map[string]any
	}{flag, variant, reason, ctxData}
	ctx := context.Background()
	{
		key, _ := c.ctx["targetingKey"].(string)
		attrs := map[string]any{}
		for k, v := range c.ctx {
			if k != "targetingKey" {
				attrs[k] = v
			}
		}
		d, _ := client.StringValueDetails(ctx, c.flag, "code-default", openfeature.NewEvaluationContext(key, attrs))
		if d.Variant != c.variant || d.Reason != c.reason {
			t.Errorf("%s %v: variant %q reason %s (%s), want %q %s", c.flag, c.ctx, d.Variant, d.Reason, d.ErrorMessage, c.variant, c.reason)
		}
	}
}

// Fractional assignments for fixed targeting keys, computed from the
// definition (murmur3 of flagKey+targetingKey, bucket = hash×total>>32)
// with the reference implementation above, for weights that do not sum
// to 100 and for the shorthand without weights.
func TestFractionalMatchesDefinition(t *testing.T) {
	for _, c := range []struct {
		rule    string
		names   []string
		weights []int32
	}{
		{`[["a", 1], ["b", 1], ["c", 1]]`, []string{"a", "b", "c"}, []int32{1, 1, 1}},
		{`[["a"], ["b"], ["c"]]`, []string{"a", "b", "c"}, []int32{1, 1, 1}},
		{`[["a", 7], ["b", 0], ["c", 13]]`, []string{"a", "b", "c"}, []int32{7, 0, 13}},
		{`[["a", 2147483000], ["b", 600], ["c", 47]]`, []string{"a", "b", "c"}, []int32{2147483000, 600, 47}},
		{`[["a", 50], ["b", 30], ["c", 20]]`, []string{"a", "b", "c"}, []int32{50, 30, 20}},
	} {
		doc := fmt.Sprintf(`{"flags": {"split": {"state": "ENABLED", "variants": {"a": 1, "b": 2, "c": 3}, "defaultVariant": "a",
			"targeting": {"fractional": %s}}}}`, c.rule)
		p := loadFlagd(t, doc)
		counts := map[string]int{}
		for i := range 3000 {
			key := fmt.Sprintf("user-%d", i)
			want := c.names[refPick(refMurmur3([]byte("split"+key)), c.weights)]
			got := p.IntEvaluation(context.Background(), "split", 0, openfeature.FlattenedContext{openfeature.TargetingKey: key})
			if got.Variant != want || got.Reason != openfeature.TargetingMatchReason {
				t.Fatalf("%s: key %s got %q (%s), want %q", c.rule, key, got.Variant, got.Reason, want)
			}
			if idx := flags.FlagdBucket("split"+key, c.weights); c.names[idx] != want {
				t.Fatalf("FlagdBucket(%q) = %d, want %s", "split"+key, idx, want)
			}
			counts[want]++
		}
		t.Logf("%s: %v", c.rule, counts)
	}
}

func TestFlagdReasonsAndValues(t *testing.T) {
	doc := `{
	  "$schema": "https://flagd.dev/schema/v0/flags.json",
	  "metadata": {"team": "web", "version": 1},
	  "$evaluators": {"isStaff": {"ends_with": [{"var": "email"}, "@example.com"]}},
	  "flags": {
	    "static": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "on", "metadata": {"version": 2, "owner": "ana"}},
	    "disabled": {"state": "DISABLED", "variants": {"on": true, "off": false}, "defaultVariant": "on"},
	    "noDefault": {"state": "ENABLED", "variants": {"on": true, "off": false}},
	    "noDefaultRule": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": null,
	       "targeting": {"if": [{"$ref": "isStaff"}, "on"]}},
	    "boolResult": {"state": "ENABLED", "variants": {"true": 10, "false": 20}, "defaultVariant": "false",
	       "targeting": {"$ref": "isStaff"}},
	    "badResult": {"state": "ENABLED", "variants": {"a": "A"}, "defaultVariant": "a", "targeting": {"var": "pick"}},
	    "failing": {"state": "ENABLED", "variants": {"a": "A"}, "defaultVariant": "a", "targeting": {"cat": [true, "x"]}},
	    "semver": {"state": "ENABLED", "variants": {"new": 2.5, "old": 1.25}, "defaultVariant": "old",
	       "targeting": {"if": [{"sem_ver": [{"var": "version"}, ">=", "1.2.0"]}, "new", "old"]}},
	    "flagKey": {"state": "ENABLED", "variants": {"flagKey": "yes", "other": "no"}, "defaultVariant": "other",
	       "targeting": {"if": [{"===": [{"var": "$flagd.flagKey"}, "flagKey"]}, "flagKey", "other"]}},
	    "timestamp": {"state": "ENABLED", "variants": {"later": "yes", "earlier": "no"}, "defaultVariant": "earlier",
	       "targeting": {"if": [{">": [{"var": "$flagd.timestamp"}, 1700000000]}, "later", "earlier"]}},
	    "object": {"state": "ENABLED", "variants": {"o": {"limit": 3, "ratio": 0.5}}, "defaultVariant": "o"}
	  }}`
	p := loadFlagd(t, doc)
	_, client := register(t, p)
	ctx := context.Background()
	anon := openfeature.NewEvaluationContext("", nil)
	staff := openfeature.NewEvaluationContext("u1", map[string]any{"email": "ana@example.com", "version": "1.10.0"})

	d, _ := client.BooleanValueDetails(ctx, "static", false, anon)
	if !d.Value || d.Reason != openfeature.StaticReason || d.Variant != "on" {
		t.Errorf("static: %+v", d)
	}
	if v, _ := d.FlagMetadata.GetInt("version"); v != 2 {
		t.Errorf("flag metadata must override the set's: version %d", v)
	}
	if team, _ := d.FlagMetadata.GetString("team"); team != "web" {
		t.Errorf("set metadata team = %q", team)
	}
	d, _ = client.BooleanValueDetails(ctx, "disabled", false, anon)
	if d.Value || d.Reason != openfeature.DisabledReason || d.ErrorCode != "" {
		t.Errorf("disabled: %+v", d)
	}
	d, _ = client.BooleanValueDetails(ctx, "noDefault", true, anon)
	if !d.Value || d.Reason != openfeature.DefaultReason || d.Variant != "" {
		t.Errorf("noDefault must return the caller's default with DEFAULT: %+v", d)
	}
	d, _ = client.BooleanValueDetails(ctx, "noDefaultRule", false, staff)
	if !d.Value || d.Reason != openfeature.TargetingMatchReason {
		t.Errorf("noDefaultRule staff: %+v", d)
	}
	d, _ = client.BooleanValueDetails(ctx, "noDefaultRule", true, anon)
	if !d.Value || d.Reason != openfeature.DefaultReason {
		t.Errorf("noDefaultRule anon: %+v", d)
	}
	i, _ := client.IntValueDetails(ctx, "boolResult", 0, staff)
	if i.Value != 10 || i.Variant != "true" {
		t.Errorf("a boolean result names the variant \"true\": %+v", i)
	}
	s, _ := client.StringValueDetails(ctx, "badResult", "dflt", openfeature.NewEvaluationContext("u", map[string]any{"pick": "zzz"}))
	if s.Value != "dflt" || s.ErrorCode != openfeature.GeneralCode {
		t.Errorf("undefined variant: %+v", s)
	}
	s, _ = client.StringValueDetails(ctx, "badResult", "dflt", openfeature.NewEvaluationContext("u", map[string]any{"pick": "a"}))
	if s.Value != "A" || s.Reason != openfeature.TargetingMatchReason {
		t.Errorf("var picking a variant: %+v", s)
	}
	s, _ = client.StringValueDetails(ctx, "failing", "dflt", anon)
	if s.Value != "dflt" || s.ErrorCode != openfeature.ParseErrorCode {
		t.Errorf("failing rule: %+v", s)
	}
	f, _ := client.FloatValueDetails(ctx, "semver", 0, staff)
	if f.Value != 2.5 {
		t.Errorf("semver 1.10.0 >= 1.2.0: %+v", f)
	}
	f, _ = client.FloatValueDetails(ctx, "semver", 0, openfeature.NewEvaluationContext("u", map[string]any{"version": "1.2.0-rc.1"}))
	if f.Value != 1.25 {
		t.Errorf("semver prerelease < release: %+v", f)
	}
	for _, k := range []string{"flagKey", "timestamp"} {
		s, _ = client.StringValueDetails(ctx, k, "", openfeature.NewEvaluationContext("u", map[string]any{"$flagd": map[string]any{"flagKey": "spoof", "timestamp": 0}}))
		if s.Value != "yes" {
			t.Errorf("$flagd.%s is injected (and not overridable): %+v", k, s)
		}
	}
	o, _ := client.ObjectValueDetails(ctx, "object", nil, anon)
	if m, ok := o.Value.(map[string]any); !ok || m["limit"] != int64(3) || m["ratio"] != 0.5 {
		t.Errorf("object: %#v", o.Value)
	}
	iv, err := client.IntValue(ctx, "object", 7, anon)
	if err == nil || iv != 7 {
		t.Errorf("object as int must be a type mismatch: %v %v", iv, err)
	}
}

// Every documented JSON Logic operation, with the results flagd's
// library gives.
func TestFlagdOperations(t *testing.T) {
	ctxData := map[string]any{"email": "ana@faas.com", "age": 42, "n": "7", "tags": []any{"a", "b"},
		"user": map[string]any{"plan": "pro", "items": []any{map[string]any{"qty": 2}, map[string]any{"qty": 0}}}, "nums": []any{1, 2, 3}}
	for _, c := range []struct {
		rule string
		want string // variant name the rule yields; "" = null (default variant)
	}{
		{`{"if": [true, "yes", "no"]}`, "yes"},
		{`{"if": [false, "yes", false, "no", "maybe"]}`, "maybe"},
		{`{"?:": [{"var": "age"}, "yes", "no"]}`, "yes"},
		{`{"if": [{"==": [1, "1"]}, "yes", "no"]}`, "yes"},
		{`{"if": [{"===": [1, "1"]}, "yes", "no"]}`, "no"},
		{`{"if": [{"!=": [1, 2]}, "yes", "no"]}`, "yes"},
		{`{"if": [{"!==": [1, "1"]}, "yes", "no"]}`, "yes"},
		{`{"if": [{"==": [{"var": "age"}, 42]}, "yes", "no"]}`, "yes"},
		{`{"if": [{"==": [{"var": "n"}, 7]}, "yes", "no"]}`, "yes"},
		{`{"if": [{"==": [null, 0]}, "yes", "no"]}`, "no"},
		{`{"if": [{"==": [true, 1]}, "yes", "no"]}`, "yes"},
		{`{"if": [{"<": [1, 2]}, "yes", "no"]}`, "yes"},
		{`{"if": [{"<": [1, 5, 10]}, "yes", "no"]}`, "yes"},
		{`{"if": [{"<": [1, 11, 10]}, "yes", "no"]}`, "no"},
		{`{"if": [{"<=": [1, 1, 10]}, "yes", "no"]}`, "yes"},
		{`{"if": [{">": [2, 1]}, "yes", "no"]}`, "yes"},
		{`{"if": [{">=": [1, 1]}, "yes", "no"]}`, "yes"},
		{`{"if": [{">": ["b", "a"]}, "yes", "no"]}`, "yes"},
		{`{"if": [{"and": [true, {"var": "age"}]}, "yes", "no"]}`, "yes"},
		{`{"if": [{"or": [false, 0, ""]}, "yes", "no"]}`, "no"},
		{`{"if": [{"!": [""]}, "yes", "no"]}`, "yes"},
		{`{"if": [{"!!": ["mike"]}, "yes", "no"]}`, "yes"},
		{`{"if": [{"!!": [[]]}, "yes", "no"]}`, "no"},
		{`{"if": [{"in": ["Spring", "Springfield"]}, "yes", "no"]}`, "yes"},
		{`{"if": [{"in": ["Mike", ["Bob", "Mike"]]}, "yes", "no"]}`, "yes"},
		{`{"if": [{"in": ["b", {"var": "tags"}]}, "yes", "no"]}`, "yes"},
		{`{"if": [{"in": [2, {"var": "nums"}]}, "yes", "no"]}`, "yes"},
		{`{"if": [{"starts_with": [{"var": "email"}, "ana"]}, "yes", "no"]}`, "yes"},
		{`{"if": [{"ends_with": [{"var": "email"}, "@faas.com"]}, "yes", "no"]}`, "yes"},
		{`{"starts_with": [{"var": "age"}, "4"]}`, ""},
		{`{"if": [{"sem_ver": ["1.1.2", ">=", "1.0.0"]}, "yes", "no"]}`, "yes"},
		{`{"if": [{"sem_ver": ["v1.5.0", "^", "1.0.0"]}, "yes", "no"]}`, "yes"},
		{`{"if": [{"sem_ver": ["1.5.0", "~", "1.4.9"]}, "yes", "no"]}`, "no"},
		{`{"sem_ver": ["1.5", "=", "not-a-version"]}`, ""},
		{`{"cat": ["y", "es"]}`, "yes"},
		{`{"cat": ["  y", "es  "]}`, "yes"},
		{`{"substr": ["xyes", 1]}`, "yes"},
		{`{"substr": ["yesno", 0, 3]}`, "yes"},
		{`{"substr": ["noyes", -3]}`, "yes"},
		{`{"if": [{"in": ["c", {"merge": [["a"], ["b", "c"]]}]}, "yes", "no"]}`, "yes"},
		{`{"if": [{"missing": ["email", "phone"]}, "yes", "no"]}`, "yes"},
		{`{"if": [{"missing": ["email"]}, "yes", "no"]}`, "no"},
		{`{"if": [{"missing_some": [1, ["email", "phone"]]}, "yes", "no"]}`, "no"},
		{`{"if": [{"some": [{"var": "user.items"}, {">": [{"var": "qty"}, 1]}]}, "yes", "no"]}`, "yes"},
		{`{"if": [{"all": [{"var": "user.items"}, {">": [{"var": "qty"}, 1]}]}, "yes", "no"]}`, "no"},
		{`{"if": [{"none": [{"var": "nums"}, {">": [{"var": ""}, 5]}]}, "yes", "no"]}`, "yes"},
		{`{"if": [{"==": [{"reduce": [{"var": "nums"}, {"+": [{"var": "current"}, {"var": "accumulator"}]}, 0]}, 6]}, "yes", "no"]}`, "yes"},
		{`{"if": [{"in": [4, {"map": [{"var": "nums"}, {"*": [{"var": ""}, 2]}]}]}, "yes", "no"]}`, "yes"},
		{`{"if": [{"in": [1, {"filter": [{"var": "nums"}, {"<": [{"var": ""}, 2]}]}]}, "yes", "no"]}`, "yes"},
		{`{"if": [{"==": [{"var": "user.plan"}, "pro"]}, "yes", "no"]}`, "yes"},
		{`{"if": [{"==": [{"var": "tags.1"}, "b"]}, "yes", "no"]}`, "yes"},
		{`{"var": ["nothing", "yes"]}`, "yes"},
		{`{"if": [{"==": [{"%": [7, 4]}, 3]}, "yes", "no"]}`, "yes"},
		{`{"if": [{"==": [{"max": [1, 9, 3]}, {"+": [4, 5]}]}, "yes", "no"]}`, "yes"},
		{`{"if": [{"==": [{"min": [1, 9, 3]}, {"-": [4, 3]}]}, "yes", "no"]}`, "yes"},
		{`{"if": [{"==": [{"/": [9, 3]}, 3]}, "yes", "no"]}`, "yes"},
		{`{"var": "nothing"}`, ""},
		{`{"if": [{"var": "nothing"}, "yes"]}`, ""},
	} {
		doc := `{"flags": {"f": {"state": "ENABLED", "variants": {"yes": "Y", "no": "N", "maybe": "M", "dflt": "D"}, "defaultVariant": "dflt", "targeting": ` + c.rule + `}}}`
		p := newProvider(t)
		if err := p.LoadFlagd([]byte(doc)); err != nil {
			t.Errorf("%s: %v", c.rule, err)
			continue
		}
		flat := openfeature.FlattenedContext{openfeature.TargetingKey: "u1"}
		for k, v := range ctxData {
			flat[k] = v
		}
		got := p.StringEvaluation(context.Background(), "f", "", flat)
		want, reason := c.want, openfeature.TargetingMatchReason
		if want == "" {
			want, reason = "dflt", openfeature.DefaultReason
		}
		if got.Variant != want || got.Reason != reason {
			t.Errorf("%s: variant %q reason %s (%v), want %q %s", c.rule, got.Variant, got.Reason, got.ResolutionError, want, reason)
		}
	}
}

func TestFlagdBadFiles(t *testing.T) {
	good := `{"flags": {"ok": {"state": "ENABLED", "variants": {"a": 1, "b": 2}, "defaultVariant": "a"}}}`
	for _, c := range []struct {
		doc  string
		want []string
	}{
		{`{"flags": {"f": {"state": "ENABLED", "variants": {"a": 1}, "defaultVariant": "a", "targeting": {"if": [{"regex": ["x", "y"]}, "a"]}}}}`,
			[]string{`flag "f"`, `flags.f.targeting.if[0]: unknown operator "regex"`}},
		{`{"flags": {"f": {"state": "ENABLED", "variants": {"a": 1, "b": 2}, "defaultVariant": "a", "targeting": {"fractional": [["a", -5], ["b", 10]]}}}}`,
			[]string{`flags.f.targeting.fractional[0]: fractional weight -5 is negative`}},
		{`{"flags": {"f": {"state": "ENABLED", "variants": {"a": 1, "b": 2}, "defaultVariant": "a", "targeting": {"fractional": [["a", 0], ["b", 0]]}}}}`,
			[]string{`flags.f.targeting.fractional: the fractional weights are all zero`}},
		{`{"flags": {"f": {"state": "ENABLED", "variants": {"a": 1, "b": 2}, "defaultVariant": "a", "targeting": {"fractional": [["a", 1], ["c", 1]]}}}}`,
			[]string{`flags.f.targeting.fractional[1][0]: variant "c" is not defined`}},
		{`{"flags": {"f": {"state": "ENABLED", "variants": {"a": 1}, "defaultVariant": "a", "targeting": {"if": [true, "zz", "a"]}}}}`,
			[]string{`flags.f.targeting.if[1]: variant "zz" is not defined`}},
		{`{"flags": {"f": {"state": "ENABLED", "variants": {"a": 1}, "defaultVariant": "nope"}}}`,
			[]string{`flags.f.defaultVariant: "nope" is not a variant`}},
		{`{"$evaluators": {"x": {"$ref": "y"}, "y": {"or": [{"$ref": "x"}]}}, "flags": {"f": {"state": "ENABLED", "variants": {"a": 1}, "defaultVariant": "a", "targeting": {"$ref": "x"}}}}`,
			[]string{`$ref cycle x -> y -> x`}},
		{`{"flags": {"f": {"state": "ENABLED", "variants": {"a": 1}, "defaultVariant": "a", "targeting": {"$ref": "missing"}}}}`,
			[]string{`flags.f.targeting: $ref "missing" names no evaluator`}},
		{`{"flags": {"f": {"state": "ENABLED", "variants": {"a": 1}, "defaultVariant": "a", "targeting": ` + strings.Repeat(`{"!": `, 100) + `true` + strings.Repeat(`}`, 100) + `}}}`,
			[]string{`nested deeper than 64 levels`}},
		{`{"flags": {"f": {"state": "ON", "variants": {"a": null}, "defaultVariant": "a", "colour": 1}}}`,
			[]string{`flags.f.state: ON is neither`, `flags.f.variants.a: null`, `unknown field "colour"`}},
		{`{"flags": {"f": {"state": "ENABLED", "variants": {"a": 1}, "defaultVariant": "a"}, "g": {"state": "ENABLED", "variants": {"a": 1}, "defaultVariant": "b"}}}`,
			[]string{`flag "g"`}},
		{`{"flags": `, []string{"not JSON"}},
	} {
		p := loadFlagd(t, good)
		err := p.LoadFlagd([]byte(c.doc))
		if err == nil {
			t.Errorf("%s: loaded", c.doc)
			continue
		}
		if !errors.Is(err, strategy.ErrInvalidConfig) {
			t.Errorf("%s: error %v does not match ErrInvalidConfig", c.doc, err)
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not mention %q", err, w)
			}
		}
		if got := p.IntEvaluation(context.Background(), "ok", 0, nil); got.Value != 1 {
			t.Errorf("after a bad file the good flag must keep serving: %+v", got)
		}
	}
}

// An evaluation context can hold an object that an if branch applies as
// a rule and that yields itself again; the evaluation fails instead of
// recursing without end.
func TestSelfApplyingContextObject(t *testing.T) {
	p := loadFlagd(t, `{"flags": {"f": {"state": "ENABLED", "variants": {"a": 1}, "defaultVariant": "a",
		"targeting": {"if": [true, {"var": "x"}]}}}}`)
	loop := map[string]any{"if": []any{true, map[string]any{"var": "x"}}}
	got := p.IntEvaluation(context.Background(), "f", 7, openfeature.FlattenedContext{"x": loop})
	if got.Value != 7 || got.ResolutionError == (openfeature.ResolutionError{}) || !strings.Contains(got.ResolutionError.Error(), "re-applied") {
		t.Fatalf("%+v", got)
	}
}
