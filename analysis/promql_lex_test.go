package analysis_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/glidepath/glidepath/analysis"
	"github.com/glidepath/glidepath/analysis/analysistest"
	"github.com/glidepath/glidepath/strategy"
)

// The exploit: an apostrophe in a # comment must not make the parser think a
// '…' literal is open, or the revision below escapes its "…" literal and
// multiplies the error query by zero.
func TestTemplateCommentInjection(t *testing.T) {
	in := input()
	in.Canary = `v2"}[5m]))*0#`
	q := "# canary's error ratio\n" + `sum(rate(http_errors_total{revision="{{release.canary}}"}[5m]))`
	got, err := render(t, q, in)
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if got != "# canary's error ratio\n"+`sum(rate(http_errors_total{revision="v2\"}[5m]))*0#"}[5m]))` {
		t.Errorf("got = %q, want %q", got, "# canary's error ratio\n"+`sum(rate(http_errors_total{revision="v2\"}[5m]))*0#"}[5m]))`)
	}

	// A comment ends at the end of its line, \r included.
	got, err = render(t, "# it's\r"+`x{r='{{release.canary}}'}`, in)
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if got != "# it's\r"+`x{r='v2"}[5m]))*0#'}` {
		t.Errorf("got = %q, want %q", got, "# it's\r"+`x{r='v2"}[5m]))*0#'}`)
	}

	// A # inside a string literal is not a comment.
	got, err = render(t, `x{a="#'", r="{{release.canary}}"}`, in)
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if got != `x{a="#'", r="v2\"}[5m]))*0#"}` {
		t.Errorf("got = %q, want %q", got, `x{a="#'", r="v2\"}[5m]))*0#"}`)
	}

	// Escapes in '…' and "…" literals; none in `…`.
	got, err = render(t, `x{a='\'', b="\"'", r="{{release.canary}}"}`, in)
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if got != `x{a='\'', b="\"'", r="v2\"}[5m]))*0#"}` {
		t.Errorf("got = %q, want %q", got, `x{a='\'', b="\"'", r="v2\"}[5m]))*0#"}`)
	}
	got, err = render(t, "x{a=`\\`, r=\"{{release.canary}}\"}", in)
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if got != "x{a=`\\`, r=\"v2\\\"}[5m]))*0#\"}" {
		t.Errorf("got = %q, want %q", got, "x{a=`\\`, r=\"v2\\\"}[5m]))*0#\"}")
	}

	// After a comment between =~ and its operand, the value is still a
	// regular expression.
	in.Canary = "v2.1"
	got, err = render(t, "x{r=~ # the canary\n\"{{release.canary}}\"}", in)
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if got != "x{r=~ # the canary\n\"v2\\\\.1\"}" {
		t.Errorf("got = %q, want %q", got, "x{r=~ # the canary\n\"v2\\\\.1\"}")
	}
}

// A placeholder in a comment is refused when the check is validated: a
// newline in its value would end the comment.
func TestTemplatePlaceholderInComment(t *testing.T) {
	c := &analysis.Check{Label: "q", Source: analysistest.Values(1.0), Query: "# for {{release.canary}}\nup"}
	err := c.Validate()
	if !errors.Is(err, strategy.ErrInvalidConfig) {
		t.Fatalf("err = %v, want an error matching %v", err, strategy.ErrInvalidConfig)
	}
	if got := err.Error(); !strings.Contains(got, "comment") {
		t.Errorf("err.Error() = %q, want it to contain %q", got, "comment")
	}
	c = &analysis.Check{Label: "q", Source: analysistest.Values(1.0), Query: "up{a=\"{{release.canary}}\"} # {{args.x}}",
		Args: []analysis.Arg{{Name: "x", Value: "1"}}}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "comment") {
		t.Fatalf("c.Validate() = %v, want an error containing %q", err, "comment")
	}
}

// Outside a string literal a value is a number, a duration or a name, never
// an operator, keyword or subquery.
func TestTemplateUnquotedValues(t *testing.T) {
	ok := []string{"5", "0.25", "1e3", "5m", "1h30m", "250ms", "http_requests_total", "job:rate5m", "_x", "le"}
	for _, v := range ok {
		in := input()
		in.Canary = strategy.Revision(v)
		got, err := render(t, `topk({{release.canary}}, x)`, in)
		if err != nil {
			t.Fatalf("%s: unexpected error: %v", v, err)
		}
		if want := "topk(" + v + ", x)"; got != want {
			t.Errorf("got = %q, want %q", got, want)
		}
	}
	bad := []string{"", "unless", "UNLESS", "or", "and", "offset", "bool", "by", "on", "Inf", "nan", "sum",
		"5m:1s", "5m:", "1 unless up", "x-1", "x+1", "(1)", "1.2.3", "5m5", "0x1f", "a b", "a\n", "-1", "v1.2", "up{}", "x[5m]"}
	for _, v := range bad {
		in := input()
		in.Canary = strategy.Revision(v)
		_, err := render(t, `rate(x[{{release.canary}}])`, in)
		if err == nil {
			t.Fatalf("%q: err = nil, want an error", v)
		}
		if !strategy.IsPermanent(err) {
			t.Error("strategy.IsPermanent(err) = false, want true")
		}
		if got := err.Error(); !strings.Contains(got, "outside a string literal") {
			t.Errorf("%s: err.Error() = %q, want it to contain %q", v, got, "outside a string literal")
		}
		if strings.Contains(err.Error(), "\n") {
			t.Error(`strings.Contains(err.Error(), "\n") = true, want false`)
		}
	}
}

// A backslash right before a placeholder would escape the value's first
// character (a value starting with a backslash would then close the
// literal): refused when the check is validated.
func TestTemplateBackslashBeforePlaceholder(t *testing.T) {
	c := &analysis.Check{Label: "q", Source: analysistest.Values(1.0), Query: `x{r="\{{release.canary}}"}`}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "follows a backslash") {
		t.Fatalf("c.Validate() = %v, want an error containing %q", err, "follows a backslash")
	}
}

// Comments are PromQL's: a source with its own Escaper (a URL) may hold a
// # with placeholders after it.
func TestTemplateCommentsArePromQLOnly(t *testing.T) {
	c := &analysis.Check{Label: "q", Source: &analysis.HTTP{}, Query: "http://127.0.0.1:1/m#{{release.canary}}"}
	if err := c.Validate(); err != nil {
		t.Fatalf("c.Validate(): unexpected error: %v", err)
	}
}
