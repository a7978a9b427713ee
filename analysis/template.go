package analysis

import (
	"context"
	"errors"
	"fmt"
	"regexp"
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
// literal that encloses it. It returns every problem found.
func parseTemplate(q string, args map[string]Arg) (*template, []string) {
	var (
		t     template
		probs []string
		lit   strings.Builder
		quote rune // current string literal, 0 outside
		regex bool
		last  rune // last significant rune outside literals
		prev  rune // rune before last, to spot =~ and !~
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
				known := false
				for _, f := range releaseFields {
					known = known || f == key
				}
				if !known {
					probs = append(probs, fmt.Sprintf("query: unknown placeholder {{release.%s}} (release has %s)", key, strings.Join(releaseFields, ", ")))
				}
			default:
				probs = append(probs, fmt.Sprintf("query: unknown placeholder namespace %q in %s (want args or release)", ns, m[0]))
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
		case quote == 0 && (r == '"' || r == '\'' || r == '`'):
			quote = r
			regex = last == '~' && (prev == '=' || prev == '!')
		case quote != 0 && quote != '`' && r == '\\' && i < len(q):
			// An escaped character inside a literal cannot close it.
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
// escapes, a backtick is refused; outside any literal only letters, digits,
// '_', '.' and ':' are allowed (numbers, durations, metric names), so a
// value can never change the query's structure.
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
		for _, r := range v {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == ':') {
				return "", fmt.Errorf("value %q is outside a string literal and may only hold letters, digits, '_', '.' and ':'", v)
			}
		}
		return v, nil
	}
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
