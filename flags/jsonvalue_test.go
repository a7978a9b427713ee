package flags_test

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/glidepath/glidepath/flags"
)

// A flag decoded from JSON serves its integer variants to IntEvaluation
// (they used to arrive as float64 and answer TYPE_MISMATCH), and every
// variant type survives a JSON round trip.
func TestFlagJSONRoundTrip(t *testing.T) {
	const doc = `{"key":"limits","variants":{
		"int":3,"big":9007199254740993,"neg":-7,"float":2.5,"exp":1e3,"bool":true,"str":"x",
		"obj":{"n":1,"f":1.5,"list":[1,2.5,"a",null,{"deep":2}]}},
		"rollout":{"control":"int"},"metadata":{"owner":"team-a","version":3,"ratio":0.5,"beta":true}}`
	var f flags.Flag
	if err := json.Unmarshal([]byte(doc), &f); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"int": int64(3), "big": int64(9007199254740993), "neg": int64(-7), "float": 2.5, "exp": 1000.0,
		"bool": true, "str": "x",
		"obj": map[string]any{"n": int64(1), "f": 1.5, "list": []any{int64(1), 2.5, "a", nil, map[string]any{"deep": int64(2)}}},
	}
	if !reflect.DeepEqual(f.Variants, want) {
		t.Fatalf("variants = %#v\nwant %#v", f.Variants, want)
	}
	out, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	var again flags.Flag
	if err := json.Unmarshal(out, &again); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f, again) {
		t.Fatalf("round trip changed the flag:\n%#v\n%#v", f, again)
	}

	p := newProvider(t, f)
	_, client := register(t, p)
	ctx := context.Background()
	d, err := client.IntValueDetails(ctx, "limits", 0, user("u"))
	if err != nil || d.Value != 3 || d.Variant != "int" {
		t.Fatalf("IntValueDetails = %+v, %v; want 3 from variant int", d, err)
	}
	if owner, err := d.FlagMetadata.GetString("owner"); err != nil || owner != "team-a" {
		t.Errorf("metadata owner = %q, %v", owner, err)
	}
	if v, err := d.FlagMetadata.GetInt("version"); err != nil || v != 3 {
		t.Errorf("metadata version = %d, %v", v, err)
	}
	for name, check := range map[string]func() (any, error){
		"big":   func() (any, error) { return client.IntValue(ctx, "limits", 0, user("u")) },
		"float": func() (any, error) { return client.FloatValue(ctx, "limits", 0, user("u")) },
		"bool":  func() (any, error) { return client.BooleanValue(ctx, "limits", false, user("u")) },
		"str":   func() (any, error) { return client.StringValue(ctx, "limits", "", user("u")) },
		"obj":   func() (any, error) { return client.ObjectValue(ctx, "limits", nil, user("u")) },
	} {
		if err := p.SetRollout("limits", flags.Rollout{Control: name}); err != nil {
			t.Fatal(err)
		}
		got, err := check()
		if err != nil {
			t.Errorf("variant %s: %v", name, err)
			continue
		}
		w := want[name]
		if name == "big" {
			w = int64(9007199254740993)
		}
		if !reflect.DeepEqual(got, w) {
			t.Errorf("variant %s served %#v, want %#v", name, got, w)
		}
	}
	_ = openfeature.TargetingKey
}

func TestFlagJSONRejectsBadVariants(t *testing.T) {
	for _, doc := range []string{
		`{"key":"k","variants":[1,2]}`,
		`{"key":"k","variants":{"a":1},"metadata":"x"}`,
		`{"key":"k","variants":{"a":1e999}}`,
	} {
		var f flags.Flag
		if err := json.Unmarshal([]byte(doc), &f); err == nil {
			t.Errorf("%s: decoded without error: %#v", doc, f)
		}
	}
}
