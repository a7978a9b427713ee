package analysis

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/glidepath/glidepath/strategy"
)

// Arg is a named value a query refers to as {{args.NAME}}.
type Arg struct {
	// Name is the argument's name: letters, digits, '-' and '_'.
	Name string `json:"name" yaml:"name"`
	// Value is substituted (escaped) for {{args.NAME}}.
	Value string `json:"value,omitempty" yaml:"value,omitempty"`
	// Secret keeps the value out of verdicts, measurements and errors:
	// wherever it (or its escaped form) would appear, "*****" does.
	Secret bool `json:"secret,omitempty" yaml:"secret,omitempty"`
}

// releaseFields are the names a query may use under "release.".
var releaseFields = []string{"name", "stable", "canary", "weight", "step"}

// segment is a piece of a parsed query: literal text, or a placeholder.
type segment struct {
	text string // literal text (when !ph)
	ph   bool
	at   Placeholder
	ns   string // "args" or "release"
	key  string
}

// template is a parsed query.
type template struct {
	segs []segment
}

var placeholderRE = regexp.MustCompile(`^\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z0-9_-]+)\s*\}\}`)

// parseTemplate parses a query, recording for each placeholder the string
// literal that encloses it. It follows PromQL's lexical rules: string
// literals in "…" and '…' (where a backslash escapes the next character) and
// in `…` (raw: no escapes), and, when promql is true, # comments to the end
// of the line (\n or \r) outside literals. A placeholder in a comment is a
// problem: a line break in its value would end the comment. It returns
// every problem found.
func parseTemplate(q string, args map[string]Arg, promql bool) (*template, []string) {
	var (
		t       template
		probs   []string
		lit     strings.Builder
		quote   rune // current string literal, 0 outside
		comment bool // inside a # comment
		regex   bool
		last    rune // last significant rune outside literals and comments
		prev    rune // rune before last, to spot =~ and !~
	)
	flush := func() {
		if lit.Len() > 0 {
			t.segs = append(t.segs, segment{text: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(q); {
		if strings.HasPrefix(q[i:], "{{") {
			m := placeholderRE.FindStringSubmatch(q[i:])
			if m == nil {
				end := strings.Index(q[i:], "}}")
				if end < 0 {
					probs = append(probs, fmt.Sprintf("query: unterminated placeholder at offset %d", i))
					break
				}
				probs = append(probs, fmt.Sprintf("query: malformed placeholder %q (want {{args.NAME}} or {{release.FIELD}})", q[i:i+end+2]))
				i += end + 2
				continue
			}
			ns, key := m[1], m[2]
			switch ns {
			case "args":
				if _, ok := args[key]; !ok {
					probs = append(probs, fmt.Sprintf("query: placeholder {{args.%s}} names no argument", key))
				}
			case "release":
				if !slices.Contains(releaseFields, key) {
					probs = append(probs, fmt.Sprintf("query: unknown placeholder {{release.%s}} (release has %s)", key, strings.Join(releaseFields, ", ")))
				}
			default:
				probs = append(probs, fmt.Sprintf("query: unknown placeholder namespace %q in %s (want args or release)", ns, m[0]))
			}
			if comment {
				probs = append(probs, fmt.Sprintf("query: placeholder %s is inside a # comment, where a line break in its value would end the comment: move it out of the comment", m[0]))
			}
			flush()
			t.segs = append(t.segs, segment{ph: true, ns: ns, key: key,
				at: Placeholder{Expr: ns + "." + key, Quote: quote, Regex: quote != 0 && regex}})
			i += len(m[0])
			continue
		}
		r, size := utf8.DecodeRuneInString(q[i:])
		lit.WriteString(q[i : i+size])
		i += size
		switch {
		case comment:
			comment = r != '\n' && r != '\r'
		case quote == 0 && promql && r == '#':
			comment = true
		case quote == 0 && (r == '"' || r == '\'' || r == '`'):
			quote = r
			regex = last == '~' && (prev == '=' || prev == '!')
		case quote != 0 && quote != '`' && r == '\\' && i < len(q):
			// An escaped character inside a literal cannot close it. A
			// placeholder right after the backslash would have its value's
			// first character escaped by it (a value starting with \ would
			// then close the literal): refused.
			if strings.HasPrefix(q[i:], "{{") {
				probs = append(probs, fmt.Sprintf("query: the placeholder at offset %d follows a backslash inside a string literal, which would escape the first character of its value", i))
				continue
			}
			_, n := utf8.DecodeRuneInString(q[i:])
			lit.WriteString(q[i : i+n])
			i += n
		case quote != 0 && r == quote:
			quote = 0
			regex = false
			prev, last = 0, r
		case quote == 0 && r != ' ' && r != '\t' && r != '\n' && r != '\r':
			prev, last = last, r
		}
	}
	flush()
	return &t, probs
}

// render expands the template for one measurement. It returns the query
// and the escaped forms of every secret it substituted.
func (t *template) render(args map[string]Arg, in strategy.Input, st strategy.State, esc func(string, Placeholder) (string, error)) (string, []string, error) {
	var b strings.Builder
	var secrets []string
	for _, s := range t.segs {
		if !s.ph {
			b.WriteString(s.text)
			continue
		}
		var v string
		secret := false
		switch s.ns {
		case "args":
			a := args[s.key]
			v, secret = a.Value, a.Secret
		case "release":
			switch s.key {
			case "name":
				v = in.Release
			case "stable":
				v = string(in.Stable)
			case "canary":
				v = string(in.Canary)
			case "weight":
				v = strconv.Itoa(st.Weight)
			case "step":
				v = strconv.Itoa(in.Step)
			}
		}
		e, err := esc(v, s.at)
		if err != nil {
			if secret {
				return "", nil, fmt.Errorf("placeholder {{%s}}: the secret value cannot be escaped here", s.at.Expr)
			}
			return "", nil, fmt.Errorf("placeholder {{%s}}: %w", s.at.Expr, err)
		}
		if secret {
			secrets = append(secrets, e)
		}
		b.WriteString(e)
	}
	return b.String(), secrets, nil
}

// escapePromQL makes v safe at a placeholder of a PromQL query: inside a
// double- or single-quoted literal it is escaped (after regexp.QuoteMeta for
// the operand of =~ and !~); inside a backtick literal, which has no
// escapes, a backtick is refused; outside any literal it must be one token
// that cannot change the query's structure (see [unquotedValue]).
func escapePromQL(v string, at Placeholder) (string, error) {
	if !utf8.ValidString(v) {
		return "", fmt.Errorf("value is not valid UTF-8")
	}
	if at.Regex {
		v = regexp.QuoteMeta(v)
	}
	switch at.Quote {
	case '"', '\'':
		var b strings.Builder
		for _, r := range v {
			switch r {
			case '\\':
				b.WriteString(`\\`)
			case at.Quote:
				// PromQL accepts only the enclosing quote escaped.
				b.WriteRune('\\')
				b.WriteRune(r)
			case '\n':
				b.WriteString(`\n`)
			case '\r':
				b.WriteString(`\r`)
			case '\t':
				b.WriteString(`\t`)
			default:
				if r < 0x20 || r == 0x7f {
					fmt.Fprintf(&b, `\x%02x`, r)
				} else {
					b.WriteRune(r)
				}
			}
		}
		return b.String(), nil
	case '`':
		if strings.ContainsRune(v, '`') {
			return "", fmt.Errorf("value contains a backtick, which a raw string literal cannot hold")
		}
		return v, nil
	default:
		if err := unquotedValue(v); err != nil {
			return "", err
		}
		return v, nil
	}
}

var (
	// unquotedNumber is a decimal number: 5, 0.25, 1e3, 2.5e-3.
	unquotedNumber = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$`)
	// unquotedDuration is a PromQL duration: 5m, 1h30m, 250ms.
	unquotedDuration = regexp.MustCompile(`^([0-9]+(ms|s|m|h|d|w|y))+$`)
	// unquotedName is a metric, label or function name.
	unquotedName = regexp.MustCompile(`^[A-Za-z_:][A-Za-z0-9_:]*$`)
)

// promqlKeywords are the words PromQL's lexer reads as operators,
// aggregations, modifiers or numbers rather than names, whatever their case.
var promqlKeywords = []string{
	"and", "or", "unless", "atan2",
	"sum", "avg", "count", "min", "max", "group", "stddev", "stdvar", "topk", "bottomk",
	"count_values", "quantile", "limitk", "limit_ratio",
	"offset", "smoothed", "anchored", "by", "without", "on", "ignoring", "group_left", "group_right",
	"fill", "fill_left", "fill_right", "bool",
	"start", "end", "step", "range", "max_of", "min_of",
	"inf", "nan",
}

// unquotedValue reports whether v may stand outside a string literal of a
// PromQL query: only a single token that is a decimal number, a duration,
// or a name that is not a keyword. Anything else (an operator, a keyword
// such as unless or offset, a subquery range such as 5m:1s, a selector, a
// space) could change what the query means.
func unquotedValue(v string) error {
	switch {
	case unquotedNumber.MatchString(v), unquotedDuration.MatchString(v):
		return nil
	case unquotedName.MatchString(v) && !slices.Contains(promqlKeywords, strings.ToLower(v)):
		return nil
	}
	return fmt.Errorf("value %q cannot stand outside a string literal: there it must be a decimal number (5, 0.25, 1e3), a duration (5m, 1h30m) or a name (letters, digits, '_' and ':', not starting with a digit, and not a PromQL keyword such as unless, offset or by); put the placeholder inside quotes if it is a label value", v)
}

// redactor replaces secrets in text.
type redactor struct {
	secrets []string
}

const redacted = "*****"

func newRedactor(args []Arg) *redactor {
	r := &redactor{}
	for _, a := range args {
		if a.Secret {
			r.add(a.Value)
		}
	}
	return r
}

func (r *redactor) add(s ...string) {
	for _, v := range s {
		if v == "" {
			continue
		}
		dup := false
		for _, have := range r.secrets {
			dup = dup || have == v
		}
		if !dup {
			r.secrets = append(r.secrets, v)
		}
	}
	// Longest first, so that a secret containing another is replaced whole.
	for i := 1; i < len(r.secrets); i++ {
		for j := i; j > 0 && len(r.secrets[j]) > len(r.secrets[j-1]); j-- {
			r.secrets[j], r.secrets[j-1] = r.secrets[j-1], r.secrets[j]
		}
	}
}

// redactorKey is the context key of the redactor of the check measuring.
type redactorKey struct{}

// withRedactor makes r available to [Excerpt] in a Source's context.
func withRedactor(ctx context.Context, r *redactor) context.Context {
	return context.WithValue(ctx, redactorKey{}, r)
}

// Excerpt returns text on one line, cut to at most n bytes (on a rune
// boundary, with "..." added when cut), for an error message. Inside a
// [Source] called by a [Check] (ctx is the Measure context), the check's
// secrets, in the forms the query used, are replaced by "*****" before the
// text is cut, and when the cut leaves text at the end that could be the
// start of a secret, that text is replaced too: a cut never reveals part of
// a secret. Sources that quote response bodies in errors should use it.
func Excerpt(ctx context.Context, text string, n int) string {
	r, _ := ctx.Value(redactorKey{}).(*redactor)
	s := oneLine(r.apply(text))
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return r.redactTail(s[:cut]) + "..."
}

// redactTail replaces the end of s when it is the start of a secret (or of
// a secret written on one line), longest match first.
func (r *redactor) redactTail(s string) string {
	if r == nil {
		return s
	}
	longest := 0
	for _, v := range r.secrets {
		for _, form := range []string{v, oneLine(v)} {
			for k := min(len(form)-1, len(s)); k > longest; k-- {
				if strings.HasSuffix(s, form[:k]) {
					longest = k
					break
				}
			}
		}
	}
	if longest == 0 {
		return s
	}
	return s[:len(s)-longest] + redacted
}

func (r *redactor) apply(s string) string {
	if r == nil {
		return s
	}
	for _, v := range r.secrets {
		s = strings.ReplaceAll(s, v, redacted)
	}
	return s
}

// redactErr returns an error whose text has every secret replaced. It keeps
// the permanence of err but not err itself, so that nothing that unwraps it
// can reach the secret.
func (r *redactor) redactErr(err error) error {
	if err == nil {
		return nil
	}
	msg := r.apply(err.Error())
	if msg == err.Error() {
		return err // nothing to hide
	}
	out := &redactedError{msg: msg}
	for _, s := range []error{context.Canceled, context.DeadlineExceeded, strategy.ErrInvalidConfig} {
		if errors.Is(err, s) {
			out.kinds = append(out.kinds, s)
		}
	}
	if strategy.IsPermanent(err) {
		return strategy.Permanent(out)
	}
	return out
}

// redactedError keeps only the sentinels of the error it replaces.
type redactedError struct {
	msg   string
	kinds []error
}

func (e *redactedError) Error() string   { return e.msg }
func (e *redactedError) Unwrap() []error { return e.kinds }
