package promqlcheck

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/glidepath/glidepath/analysis"
	"github.com/glidepath/glidepath/strategy"
)

// templates are queries a check may hold: the revision sits inside every
// kind of string literal, after =~, behind comments that hold quotes, and
// outside literals where a number, a duration or a name belongs. A label
// named rev always holds the revision.
var templates = append(quoted[:len(quoted):len(quoted)], unquoted...)

// quoted templates hold the revision only inside string literals: every
// value renders to a query that parses (or is refused, in a `…` literal).
var quoted = []string{
	// The query of the reported exploit.
	"# canary's error ratio\n" + `sum(rate(http_errors_total{revision="{{release.canary}}"}[5m]))`,
	`sum(rate(http_errors_total{rev="{{release.canary}}"}[5m])) / sum(rate(http_requests_total{rev="{{release.canary}}"}[5m]))`,
	`up{rev='{{release.canary}}'} == 1`,
	"up{rev=`{{release.canary}}`} == 1",
	`up{rev=~"{{release.canary}}"}`,
	`up{rev!~'{{release.canary}}'}`,
	"up{rev=~`{{release.canary}}`}",
	"# it's \"quoted\" `here`\r" + `up{rev="{{release.canary}}"} # and ' here` + "\n" + `or up{rev='{{release.canary}}'}`,
	`up{a="#'", rev="{{release.canary}}", b='"\'', c="\"#"}`,
	`label_replace(up{rev="{{release.canary}}"}, "dst", "{{release.canary}}", "src", "(.*)")`,
	`sum(up{rev="{{release.canary}}"}) by (job) * on (instance) group_left up`,
}

// unquoted templates hold it where a number, a duration or a name belongs:
// a value of the right class may still make a query the server refuses (a
// zero duration), but never one of another structure.
var unquoted = []string{
	`topk({{release.canary}}, up)`,
	`rate(up[{{release.canary}}])`,
	`up offset {{release.canary}}`,
	`up > {{release.canary}}`,
	`max_over_time(up[{{release.canary}}:1m])`,
	`{{release.canary}}{job="x"}`,
	`sum by ({{release.canary}}) (up)`,
}

// references are benign values of each class a value outside a literal
// may have; a quoted placeholder's reference is the first.
var references = []string{"name", "1", "1m"}

// render expands tmpl with the revision v, through a Check as a release
// would.
func render(tmpl, v string) (string, error) {
	var got string
	c := &analysis.Check{Label: "q", Query: tmpl,
		Source: analysis.SourceFunc(func(_ context.Context, q analysis.Query) (any, error) {
			got = q.Text
			return 1.0, nil
		})}
	if err := c.Validate(); err != nil {
		return "", err
	}
	in := strategy.Input{Release: "r", Stable: "v1", Canary: strategy.Revision(v),
		State: strategy.State{Stable: "v1", Canary: strategy.Revision(v), Weight: 10}}
	if _, err := c.Analyze(context.Background(), in); err != nil {
		return "", err
	}
	return got, nil
}

// structure describes a parsed query's shape: every node's kind, depth and
// operator, with the values a placeholder may fill (string literals,
// matcher values and names, metric names, numbers, durations, grouping
// labels) left out.
func structure(e parser.Expr) string {
	var b strings.Builder
	parser.Inspect(e, func(n parser.Node, path []parser.Node) error {
		fmt.Fprintf(&b, "%d:%T", len(path), n)
		switch x := n.(type) {
		case *parser.BinaryExpr:
			fmt.Fprintf(&b, "(%v bool=%v", x.Op, x.ReturnBool)
			if m := x.VectorMatching; m != nil {
				fmt.Fprintf(&b, " card=%v on=%v labels=%d include=%d", m.Card, m.On, len(m.MatchingLabels), len(m.Include))
			}
			b.WriteString(")")
		case *parser.AggregateExpr:
			fmt.Fprintf(&b, "(%v without=%v grouping=%d)", x.Op, x.Without, len(x.Grouping))
		case *parser.UnaryExpr:
			fmt.Fprintf(&b, "(%v)", x.Op)
		case *parser.Call:
			fmt.Fprintf(&b, "(%s/%d)", x.Func.Name, len(x.Args))
		case *parser.VectorSelector:
			// An offset is a value (offset 0 is no offset), so only the
			// @ modifier and the matchers' kinds are structure.
			fmt.Fprintf(&b, "(at=%v matchers=", x.Timestamp != nil || x.StartOrEnd != 0)
			for _, m := range x.LabelMatchers {
				fmt.Fprintf(&b, "%v,", m.Type)
			}
			b.WriteString(")")
		case *parser.SubqueryExpr:
			fmt.Fprintf(&b, "(step=%v)", x.Step != 0 || x.StepExpr != nil)
		}
		b.WriteString(";")
		return nil
	})
	return b.String()
}

// class picks the reference value of v's class: a value outside a literal
// is a number, a duration or a name, and the query's shape may depend on
// which.
func class(v string) string {
	switch {
	case regexp.MustCompile(`^[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$`).MatchString(v):
		return references[1]
	case regexp.MustCompile(`^([0-9]+(ms|s|m|h|d|w|y))+$`).MatchString(v):
		return references[2]
	}
	return references[0]
}

// check is the property: whatever the revision, the query parses to the
// template's structure, and a label named rev holds exactly the revision
// (regexp-quoted after =~ and !~).
func check(t *testing.T, tmpl, v string) {
	p := parser.NewParser(parser.Options{})
	ref, err := render(tmpl, class(v))
	if err != nil {
		t.Fatalf("template %q with a benign value: %v", tmpl, err)
	}
	refExpr, err := p.ParseExpr(ref)
	if err != nil {
		return // the template needs another kind of value here
	}
	got, err := render(tmpl, v)
	if err != nil {
		return // refused: nothing reaches the server
	}
	e, err := p.ParseExpr(got)
	if err != nil && !slices.Contains(quoted, tmpl) {
		return // a value of the right class that the server refuses
	}
	if err != nil {
		t.Fatalf("revision %q made template %q render %q, which does not parse: %v", v, tmpl, got, err)
	}
	if s, want := structure(e), structure(refExpr); s != want {
		t.Fatalf("revision %q changed the structure of %q:\nrendered %q\ngot  %s\nwant %s", v, tmpl, got, s, want)
	}
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		for _, m := range vs.LabelMatchers {
			if m.Name != "rev" {
				continue
			}
			want := v
			if m.Type == labels.MatchRegexp || m.Type == labels.MatchNotRegexp {
				want = regexp.QuoteMeta(v)
			}
			if m.Value != want {
				t.Fatalf("revision %q in %q: rendered %q, label rev holds %q, want %q", v, tmpl, got, m.Value, want)
			}
		}
		return nil
	})
}

// The exploit from the report, and its relatives, leave every template's
// structure alone.
func TestTemplatesKeepStructure(t *testing.T) {
	for _, v := range seeds {
		for _, tmpl := range templates {
			check(t, tmpl, v)
		}
	}
	// Without the fix the exploit zeroes the error query: make sure the
	// property would see it.
	bad := `sum(rate(http_errors_total{revision="v2"}[5m]))*0#"}[5m]))`
	e, err := parser.NewParser(parser.Options{}).ParseExpr("# canary's error ratio\n" + bad)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := render(templates[0], "name")
	refExpr, _ := parser.NewParser(parser.Options{}).ParseExpr(ref)
	if structure(e) == structure(refExpr) {
		t.Fatal("the structure comparison does not see the injected *0")
	}
}

var seeds = []string{
	"v2", `v2"}[5m]))*0#`, `v2'}[5m]))*0#`, "v2`}[5m]))*0#", `x"} or vector(1) #`, `\`, `\"`, `a\'b`,
	"line\nbreak", "cr\rx", "nul\x00", "5m:1s", "unless", "1 unless up", "5", "1e3", "2.5e-3", "5m", "1h30m",
	"job:rate5m", "Inf", "NaN", "offset", "# comment", "}{__name__=~\".+", "{{args.x}}", "ünïcode", "\u2028",
}

func FuzzTemplateStructure(f *testing.F) {
	for i := range templates {
		for _, v := range seeds {
			f.Add(uint8(i), v)
		}
	}
	f.Fuzz(func(t *testing.T, i uint8, v string) {
		check(t, templates[int(i)%len(templates)], v)
	})
}

// FuzzTemplateText fuzzes the template too: for any template that renders
// to valid PromQL with a benign value, any other value either is refused
// or renders to a query of the same structure. This looks for places where
// glidepath's reading of a query (comments, quotes, escapes) and PromQL's
// disagree.
func FuzzTemplateText(f *testing.F) {
	for _, tmpl := range templates {
		for _, v := range seeds[:8] {
			f.Add(tmpl, v)
		}
	}
	f.Add("# it's\nup{rev=\"{{release.canary}}\"}", `v2"}[5m]))*0#`)
	f.Add("up{a=\"#'\", rev=\"{{release.canary}}\"}", `"} or up #`)
	f.Add("up{rev=\"{{release.canary}}\" # '\n}", `x"} or vector(1) #`)
	f.Fuzz(func(t *testing.T, tmpl, v string) {
		if !strings.Contains(tmpl, "{{release.canary}}") {
			return
		}
		p := parser.NewParser(parser.Options{})
		ref, err := render(tmpl, class(v))
		if err != nil {
			return // the template itself is refused
		}
		refExpr, err := p.ParseExpr(ref)
		if err != nil {
			return
		}
		got, err := render(tmpl, v)
		if err != nil {
			return
		}
		e, err := p.ParseExpr(got)
		if err != nil {
			return // the server would refuse it: nothing is measured
		}
		if s, want := structure(e), structure(refExpr); s != want {
			t.Fatalf("revision %q changed the structure of %q:\nrendered %q\ngot  %s\nwant %s", v, tmpl, got, s, want)
		}
	})
}
