package analysis

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/glidepath/glidepath/strategy"
)

// maxBody bounds the response bodies glidepath reads.
const maxBody = 1 << 20

// HTTP is a [Source] that GETs the query (a URL) and selects a value from
// the JSON body with Path. Placeholders in the URL are percent-encoded
// (everything but letters, digits and "-._~"), so a value cannot add query
// parameters or path segments.
//
// The selected JSON value becomes `result`: a number is a float64, an array
// of numbers a []float64, null "no data", and a string or bool stays as it
// is (asFloat converts a numeric string, as in Argo's web provider).
//
// A 2xx response is measured. 408, 429 and 5xx responses and transport
// errors are measurement errors, retried at the next interval; any other
// status is a permanent error (a wrong URL or credentials do not fix
// themselves). A body that is not JSON, or a Path that selects nothing, is a
// measurement error.
type HTTP struct {
	// Client sends the requests; nil uses a client with Go's default
	// transport.
	Client *http.Client `json:"-" yaml:"-"`
	// Header is added to every request (for example Authorization).
	Header http.Header `json:"header,omitempty" yaml:"header,omitempty"`
	// Path selects the value: keys and array indexes separated by dots,
	// optionally written as a JSONPath ("$.data.values[0]") or in Argo's
	// braces ("{$.data.ok}"). Empty selects the whole body.
	Path string `json:"path,omitempty" yaml:"path,omitempty"`
}

// Validate reports a Path that cannot select anything, so that a check
// using the source is refused with the release rather than at its first
// measurement.
func (h *HTTP) Validate() error {
	var probs []string
	if _, err := parsePath(h.Path); err != nil {
		probs = append(probs, "Path: "+err.Error())
	}
	return strategy.Invalid("http source", probs...)
}

// Escape percent-encodes value for a URL, wherever it sits.
func (h *HTTP) Escape(value string, _ Placeholder) (string, error) {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(value); i++ {
		c := value[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String(), nil
}

// Measure GETs q.Text and selects the value at Path.
func (h *HTTP) Measure(ctx context.Context, q Query) (any, error) {
	path, err := parsePath(h.Path)
	if err != nil {
		return nil, strategy.Permanent(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, q.Text, nil)
	if err != nil {
		return nil, strategy.Permanent(fmt.Errorf("bad URL: %w", err))
	}
	for k, vs := range h.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	req.Header.Set("Accept", "application/json")
	client := h.Client
	if client == nil {
		client = &http.Client{}
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("reading the response: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		err := fmt.Errorf("HTTP %d: %s", resp.StatusCode, snippet(ctx, body))
		if resp.StatusCode/100 == 5 || resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooManyRequests {
			return nil, err
		}
		return nil, strategy.Permanent(err)
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("response is not JSON: %w", err)
	}
	v, err := selectPath(doc, path)
	if err != nil {
		return nil, err
	}
	return jsonResult(v)
}

// snippetLen bounds the start of a body quoted in an error message.
const snippetLen = 200

// snippet is the start of a body, on one line, for an error message, with
// the secrets of the check measuring through ctx redacted (see [Excerpt]).
func snippet(ctx context.Context, b []byte) string {
	return Excerpt(ctx, string(b), snippetLen)
}

// parsePath splits "a.b[0].c", "$.a.b.0.c" or "{$.a.b}" into keys.
func parsePath(p string) ([]string, error) {
	p = strings.TrimSpace(p)
	if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") {
		p = strings.TrimSpace(p[1 : len(p)-1])
	}
	p = strings.TrimPrefix(p, "$")
	p = strings.TrimPrefix(p, ".")
	if p == "" {
		return nil, nil
	}
	p = strings.ReplaceAll(p, "[", ".")
	p = strings.ReplaceAll(p, "]", "")
	keys := strings.Split(p, ".")
	for _, k := range keys {
		if k == "" {
			return nil, fmt.Errorf("path %q has an empty step", p)
		}
	}
	return keys, nil
}

func selectPath(doc any, keys []string) (any, error) {
	cur := doc
	for i, k := range keys {
		switch x := cur.(type) {
		case map[string]any:
			v, ok := x[k]
			if !ok {
				return nil, fmt.Errorf("path %s: no key %q", strings.Join(keys[:i+1], "."), k)
			}
			cur = v
		case []any:
			n, err := strconv.Atoi(k)
			if err != nil || n < 0 || n >= len(x) {
				return nil, fmt.Errorf("path %s: no element %q in an array of %d", strings.Join(keys[:i+1], "."), k, len(x))
			}
			cur = x[n]
		default:
			return nil, fmt.Errorf("path %s: cannot step into %s", strings.Join(keys[:i+1], "."), jsonKind(cur))
		}
	}
	return cur, nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case json.Number:
		return "a number"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	}
	return fmt.Sprintf("%T", v)
}

// jsonResult turns a selected JSON value into a result.
func jsonResult(v any) (any, error) {
	switch x := v.(type) {
	case nil, string, bool:
		return x, nil
	case json.Number:
		return x.Float64()
	case []any:
		out := make([]float64, len(x))
		for i, e := range x {
			n, ok := e.(json.Number)
			if !ok {
				return nil, fmt.Errorf("array element %d is %s, not a number", i, jsonKind(e))
			}
			f, err := n.Float64()
			if err != nil {
				return nil, err
			}
			out[i] = f
		}
		return out, nil
	}
	return nil, fmt.Errorf("selected value is an object, not a number")
}
