package analysis_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"pgregory.net/rapid"

	"github.com/glidepath/glidepath/analysis"
	"github.com/glidepath/glidepath/analysis/analysistest"
	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/strategytest"
)

// render runs a one-measurement check and returns the query its source saw.
func render(t *testing.T, query string, in strategy.Input, args ...analysis.Arg) (string, error) {
	t.Helper()
	src := analysistest.Values(1.0)
	c := &analysis.Check{Label: "q", Source: src, Query: query, Args: args}
	if err := c.Validate(); err != nil {
		t.Fatalf("c.Validate(): unexpected error: %v", err)
	}
	_, err := c.Analyze(context.Background(), in)
	if err != nil {
		return "", err
	}
	if got := src.Calls(); got != 1 {
		t.Fatalf("src.Calls() = %v, want %v", got, 1)
	}
	return src.Queries()[0].Text, nil
}

func TestTemplateRelease(t *testing.T) {
	in := input()
	in.Current = func() strategy.State { s := in.State; s.Weight = 35; return s }
	got, err := render(t, `r{name="{{release.name}}",s="{{ release.stable }}",c="{{release.canary}}"} * {{release.weight}} + {{release.step}} {{args.window}}`,
		in, analysis.Arg{Name: "window", Value: "5m"})
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if got != `r{name="shop",s="v1",c="v2"} * 35 + 2 5m` {
		t.Errorf("got = %q, want %q", got, `r{name="shop",s="v1",c="v2"} * 35 + 2 5m`)
	}
}

// A revision name cannot change a PromQL query, whatever it holds.
func TestTemplateInjection(t *testing.T) {
	payloads := []string{
		`x"} or vector(1) #`,
		`a\"b`,
		`\`,
		`}{__name__=~".+`,
		`{{args.secret}}`,
		"line\nbreak\x00",
		`'single'`,
		"back`tick",
	}
	for _, p := range payloads {
		t.Run(strconv.Quote(p), func(t *testing.T) {
			in := input()
			in.Canary = strategy.Revision(p)
			got, err := render(t, `up{rev="{{release.canary}}"} == 1`, in)
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if !(strings.HasPrefix(got, `up{rev="`) && strings.HasSuffix(got, `"} == 1`)) {
				t.Fatalf("%s: strings.HasPrefix(got, `up{rev=\"`) && strings.HasSuffix(got, `\"} == 1`) = false, want true", got)
			}
			lit := strings.TrimSuffix(strings.TrimPrefix(got, `up{rev=`), `} == 1`)
			unq, err := strconv.Unquote(lit)
			if err != nil {
				t.Fatalf("the value must stay one string literal: %s: unexpected error: %v", lit, err)
			}
			if unq != p {
				t.Errorf("unq = %q, want %q", unq, p)
			}

			got, err = render(t, `up{rev='{{release.canary}}'}`, in)
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			body := strings.TrimSuffix(strings.TrimPrefix(got, `up{rev='`), `'}`)
			if got := unescapeSingle(t, body); got != p {
				t.Errorf("unescapeSingle(t, body) = %q, want %q", got, p)
			}

			// After =~ the value is also a literal regular expression.
			got, err = render(t, `up{rev=~"{{release.canary}}"}`, in)
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			unq, err = strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(got, `up{rev=~`), `}`))
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if want := regexpQuote(p); unq != want {
				t.Errorf("unq = %q, want %q", unq, want)
			}

			// Outside a literal, only names and numbers are allowed.
			_, err = render(t, `rate(x[{{release.canary}}])`, in)
			if err == nil {
				t.Fatal("err = nil, want an error")
			}
			if !strategy.IsPermanent(err) {
				t.Error("strategy.IsPermanent(err) = false, want true")
			}
		})
	}
	// A raw string literal cannot hold a backtick: the check refuses it.
	in := input()
	in.Canary = "back`tick"
	_, err := render(t, "up{rev=`{{release.canary}}`}", in)
	if err == nil {
		t.Fatal("err = nil, want an error")
	}
	in.Canary = `no"escapes\here`
	got, err := render(t, "up{rev=`{{release.canary}}`}", in)
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if got != "up{rev=`no\"escapes\\here`}" {
		t.Errorf("got = %q, want %q", got, "up{rev=`no\"escapes\\here`}")
	}
}

// Every string survives a double-quoted literal intact.
func TestTemplateEscapingProperty(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		v := rapid.String().Draw(rt, "revision")
		in := input()
		in.Canary = strategy.Revision(v)
		src := analysistest.Values(1.0)
		c := &analysis.Check{Label: "q", Source: src, Query: `up{rev="{{release.canary}}"}`}
		_, err := c.Analyze(context.Background(), in)
		if err != nil {
			rt.Fatalf("render %q: %v", v, err)
		}
		got := src.Queries()[0].Text
		unq, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(got, `up{rev=`), `}`))
		if err != nil || unq != v {
			rt.Fatalf("%q rendered as %s", v, got)
		}
	})
}

func unescapeSingle(t *testing.T, s string) string {
	t.Helper()
	// Turn the single-quoted body into a double-quoted one for strconv.
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && s[i+1] == '\'' {
			b.WriteByte('\'')
			i++
			continue
		}
		if s[i] == '"' {
			b.WriteString(`\"`)
			continue
		}
		b.WriteByte(s[i])
	}
	out, err := strconv.Unquote(`"` + b.String() + `"`)
	if err != nil {
		t.Fatalf("%s: unexpected error: %v", s, err)
	}
	return out
}

func regexpQuote(s string) string {
	const special = `\.+*?()|[]{}^$`
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(special, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

const secret = "s3cr3t-t0ken"

// Secret arguments never appear in verdicts, measurements, errors, events
// or logs, even when a source puts the whole query in its error.
func TestSecretsNeverLeak(t *testing.T) {
	leaky := analysistest.Func(func(_ context.Context, call int, q analysis.Query) (any, error) {
		if call == 0 {
			return nil, fmt.Errorf("GET %s: connection refused", q.Text)
		}
		return nil, strategy.Permanent(fmt.Errorf("bad query %q", q.Text))
	})
	c := &analysis.Check{Label: "m", Source: leaky, Query: `x{token="{{args.token}}"}`, Interval: time.Minute, Count: 1,
		Args: []analysis.Arg{{Name: "token", Value: secret, Secret: true}}}
	v, _, err := analyze(t, c, input())
	if err == nil {
		t.Fatal("err = nil, want an error")
	}
	if len(v.Measurements) != 2 {
		t.Errorf("len(v.Measurements) = %d, want %d: %v", len(v.Measurements), 2, v.Measurements)
	}
	assertNoSecret(t, fmt.Sprintf("%+v %v %+v", v, err, c.History()))
	if got := v.Measurements[0].Error; !strings.Contains(got, `x{token="*****"}`) {
		t.Errorf("v.Measurements[0].Error = %q, want it to contain %q", got, `x{token="*****"}`)
	}

	// The same through a whole release, with its events logged.
	var logs bytes.Buffer
	synctest.Test(t, func(t *testing.T) {
		tgt := strategytest.NewTarget(strategy.State{Stable: "v1", Replicas: strategy.Replicas{Stable: 2}})
		chk := &analysis.Check{Label: "m", Source: leaky, Query: `x{token="{{args.token}}"}`, Interval: time.Minute, Count: 1,
			Args: []analysis.Arg{{Name: "token", Value: secret, Secret: true}}}
		ctx, cancel := context.WithTimeout(t.Context(), time.Hour)
		defer cancel()
		_, err := strategy.Run(ctx, strategy.Release{
			Target: tgt, Stable: "v1", Canary: "v2",
			Strategy: strategy.StrategyFunc(func(stable, canary strategy.Revision) (strategy.Plan, error) {
				return strategy.Plan{Strategy: "t", Steps: []strategy.Step{
					strategy.Apply(strategy.State{Stable: stable, Canary: canary, Weight: 10, Replicas: strategy.Replicas{Stable: 2, Canary: 1}}),
					strategy.Analyze(chk),
				}}, nil
			}),
			Observer: strategy.SlogObserver(slog.New(slog.NewTextHandler(&logs, nil))),
		})
		// The inconclusive verdict pauses the release until the context ends.
		if err == nil {
			t.Fatal("err = nil, want an error")
		}
	})
	if got := logs.String(); !strings.Contains(got, "*****") {
		t.Errorf("logs.String() = %q, want it to contain %q", got, "*****")
	}
	assertNoSecret(t, logs.String())
}

// An HTTP source's transport error carries the URL, with the secret in its
// escaped form: that is redacted too.
func TestSecretsRedactedInEscapedForm(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close() // nothing listens: the error names the URL
	pass := "p@ss word/" + secret
	c := &analysis.Check{Label: "m", Source: &analysis.HTTP{}, Query: srv.URL + "/m?token={{args.token}}", ConsecutiveErrorLimit: new(0),
		Args: []analysis.Arg{{Name: "token", Value: pass, Secret: true}}}
	v, err := c.Analyze(context.Background(), input())
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if v.Outcome != strategy.Fail {
		t.Fatalf("v.Outcome = %q, want %q", v.Outcome, strategy.Fail)
	}
	text := fmt.Sprintf("%+v", v)
	if !strings.Contains(text, "token=*****") {
		t.Errorf("text = %q, want it to contain %q", text, "token=*****")
	}
	assertNoSecret(t, text)
	if strings.Contains(text, "p%40ss") {
		t.Errorf("text = %q, want it not to contain %q", text, "p%40ss")
	}
}

func assertNoSecret(t *testing.T, s string) {
	t.Helper()
	if strings.Contains(s, secret) {
		t.Fatalf("secret leaked: %s", s)
	}
}

var _ = errors.New
