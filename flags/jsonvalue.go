package flags

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// decodeJSON decodes one JSON value the way flag variants are served:
// integers (numbers written without a fraction or exponent that fit an
// int64) become int64, other numbers float64, objects map[string]any and
// arrays []any, recursively. Trailing data is an error.
func decodeJSON(data []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := d.Token(); err == nil {
		return nil, fmt.Errorf("unexpected data after the JSON value")
	}
	return fromJSONNumbers(v)
}

// fromJSONNumbers replaces every json.Number in v by an int64 or float64.
func fromJSONNumbers(v any) (any, error) {
	switch x := v.(type) {
	case json.Number:
		return jsonNumber(string(x))
	case map[string]any:
		for k, e := range x {
			n, err := fromJSONNumbers(e)
			if err != nil {
				return nil, err
			}
			x[k] = n
		}
	case []any:
		for i, e := range x {
			n, err := fromJSONNumbers(e)
			if err != nil {
				return nil, err
			}
			x[i] = n
		}
	}
	return v, nil
}

// jsonNumber converts the text of a JSON number: an int64 when it is
// written as an integer and fits, else a float64.
func jsonNumber(s string) (any, error) {
	if !strings.ContainsAny(s, ".eE") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i, nil
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil, fmt.Errorf("number %s: %w", s, err)
	}
	return f, nil
}

// UnmarshalJSON decodes a flag, keeping integer variants integers: a
// variant written as 3 is served as int64(3) by IntEvaluation, one
// written as 3.5 or 3e0 as float64 by FloatEvaluation. Numbers inside
// object variants are decoded the same way.
func (f *Flag) UnmarshalJSON(data []byte) error {
	type plain Flag // no methods: no recursion
	var raw struct {
		plain
		Variants json.RawMessage `json:"variants"`
		Metadata json.RawMessage `json:"metadata"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	*f = Flag(raw.plain)
	f.Variants, f.Metadata = nil, nil
	for _, part := range []struct {
		raw  json.RawMessage
		dst  *map[string]any
		name string
	}{{raw.Variants, &f.Variants, "variants"}, {raw.Metadata, &f.Metadata, "metadata"}} {
		if len(part.raw) == 0 || string(part.raw) == "null" {
			continue
		}
		v, err := decodeJSON(part.raw)
		if err != nil {
			return fmt.Errorf("flag %s: %s: %w", f.Key, part.name, err)
		}
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("flag %s: %s is a %s, not an object", f.Key, part.name, jsonType(v))
		}
		*part.dst = m
	}
	return nil
}

// jsonType names the JSON type of a decoded value.
func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case int64, float64:
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// MarshalJSON encodes a flag so that [Flag.UnmarshalJSON] restores every
// variant with its type: a float64 variant with an integral value is
// written with a fraction (3.0), so it decodes as a float again.
func (f Flag) MarshalJSON() ([]byte, error) {
	type plain Flag
	out := plain(f)
	out.Variants = floatsMarked(f.Variants).(map[string]any)
	out.Metadata, _ = floatsMarked(f.Metadata).(map[string]any)
	return json.Marshal(out)
}

// floatsMarked returns a copy of v in which integral float64 and float32
// values are json.Numbers with a ".0" fraction.
func floatsMarked(v any) any {
	switch x := v.(type) {
	case float32:
		return floatsMarked(float64(x))
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1e21 {
			return json.Number(strconv.FormatFloat(x, 'f', -1, 64) + ".0")
		}
		return x
	case map[string]any:
		if x == nil {
			return x
		}
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = floatsMarked(e)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = floatsMarked(e)
		}
		return s
	}
	return v
}
