package spec

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/glidepath/glidepath/analysis"
	"github.com/glidepath/glidepath/strategy"
)

// corpus concatenates testdata files into one multi-document input.
func corpus(t *testing.T, files ...string) []byte {
	t.Helper()
	var out []byte
	for i, f := range files {
		b, err := os.ReadFile("testdata/" + f)
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			out = append(out, "\n---\n"...)
		}
		out = append(out, b...)
	}
	return out
}

func mustDecode(t *testing.T, data []byte, o Options) *Result {
	t.Helper()
	res, err := Decode(data, o)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	return res
}

// problems decodes data, which must be rejected, and returns the problems.
func problems(t *testing.T, data string, o Options) []Problem {
	t.Helper()
	res, err := Decode([]byte(data), o)
	if err == nil {
		t.Fatalf("Decode accepted bad input: %+v", res)
	}
	if res != nil {
		t.Fatalf("Decode returned a result with an error")
	}
	if !errors.Is(err, strategy.ErrInvalidConfig) {
		t.Fatalf("error does not match ErrInvalidConfig: %v", err)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error is not *Error: %v", err)
	}
	return e.Problems
}

// wantProblem asserts that one problem has the document, path and a
// message containing msg.
func wantProblem(t *testing.T, probs []Problem, doc int, path, msg string) {
	t.Helper()
	for _, p := range probs {
		if p.Doc == doc && p.Path == path && strings.Contains(p.Msg, msg) {
			return
		}
	}
	var b strings.Builder
	for _, p := range probs {
		b.WriteString("\n  " + p.String())
	}
	t.Errorf("no problem in document %d at %q containing %q; got:%s", doc, path, msg, b.String())
}

func checksOf(t *testing.T, as []strategy.Analyzer) map[string]*analysis.Check {
	t.Helper()
	out := map[string]*analysis.Check{}
	for _, a := range as {
		c, ok := a.(*analysis.Check)
		if !ok {
			t.Fatalf("analyzer %T is not a check", a)
		}
		out[c.Label] = c
	}
	return out
}

func ignoredPaths(res *Result) map[string]bool {
	m := map[string]bool{}
	for _, i := range res.Ignored {
		m[i.Path] = true
	}
	return m
}
