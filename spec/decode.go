package spec

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"

	"github.com/glidepath/glidepath/strategy"
)

// Problem is one thing wrong with the input.
type Problem struct {
	// Doc is the 0-based index of the document in the input, or -1 for
	// the input as a whole.
	Doc int
	// Line is the line of the input where the problem is, when known.
	Line int
	// Path is the field path inside the document, for example
	// "spec.metrics[1].successCondition".
	Path string
	// Msg says what is wrong.
	Msg string
}

// String renders "document 0, line 12: spec.metrics[1].interval: ...".
func (p Problem) String() string {
	var b strings.Builder
	if p.Doc >= 0 {
		fmt.Fprintf(&b, "document %d", p.Doc)
		if p.Line > 0 {
			fmt.Fprintf(&b, ", line %d", p.Line)
		}
		b.WriteString(": ")
	} else if p.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", p.Line)
	}
	if p.Path != "" {
		b.WriteString(p.Path + ": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Error is the one error a decode returns for bad input: every problem
// found, in input order. It matches [strategy.ErrInvalidConfig] with
// errors.Is.
type Error struct {
	Problems []Problem
}

// Error lists every problem, one a line.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v: %d problem", strategy.ErrInvalidConfig, len(e.Problems))
	if len(e.Problems) != 1 {
		b.WriteString("s")
	}
	b.WriteString(" in the specs")
	for _, p := range e.Problems {
		b.WriteString("\n  - " + p.String())
	}
	return b.String()
}

// Unwrap returns [strategy.ErrInvalidConfig].
func (e *Error) Unwrap() error { return strategy.ErrInvalidConfig }

// Ignored is a field that has no meaning for glidepath (a Kubernetes
// object reference, a mesh plugin, pod metadata) and was skipped.
type Ignored struct {
	// Doc is the 0-based index of the document.
	Doc int
	// Path is the field path, for example "spec.strategy.canary.trafficRouting.istio".
	Path string
	// Why says why it does not carry over.
	Why string
}

// String renders "document 0: spec.selector (why)".
func (i Ignored) String() string {
	return fmt.Sprintf("document %d: %s (%s)", i.Doc, i.Path, i.Why)
}

// report collects problems and ignored fields for one document.
type report struct {
	doc     int
	probs   []Problem
	ignored []Ignored
}

func (r *report) add(n *node, path, format string, a ...any) {
	line := 0
	if n != nil {
		line = n.line
	}
	r.probs = append(r.probs, Problem{Doc: r.doc, Line: line, Path: path, Msg: fmt.Sprintf(format, a...)})
}

func (r *report) ignore(path, why string) {
	r.ignored = append(r.ignored, Ignored{Doc: r.doc, Path: path, Why: why})
}

// skip is a field type that accepts any value and records the field as
// ignored; the struct tag `why:"..."` says why.
type skip struct{ set bool }

// refuse is a field type whose presence is an error: the field changes
// behaviour in a way glidepath cannot honour. The struct tag `why:"..."`
// says why.
type refuse struct{ set bool }

// opaque keeps any value as plain Go values.
type opaque struct {
	set bool
	v   any
}

// located is a field type that keeps the node, for fields whose meaning
// is decided later (int-or-string, templated values).
type located struct {
	n *node
}

func (l located) set() bool { return l.n != nil && l.n.kind != kNull }

var (
	skipType    = reflect.TypeFor[skip]()
	refuseType  = reflect.TypeFor[refuse]()
	opaqueType  = reflect.TypeFor[opaque]()
	locatedType = reflect.TypeFor[located]()
)

func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

// decodeInto fills v (a pointer to a struct) from n strictly: unknown
// fields, wrong types and out-of-range numbers are problems, every one of
// them reported.
func decodeInto(n *node, v any, path string, r *report) {
	decodeValue(n, reflect.ValueOf(v).Elem(), path, "", r)
}

func decodeValue(n *node, v reflect.Value, path, why string, r *report) {
	switch v.Type() {
	case skipType:
		v.Set(reflect.ValueOf(skip{set: true}))
		r.ignore(path, why)
		return
	case refuseType:
		v.Set(reflect.ValueOf(refuse{set: true}))
		if n != nil && n.kind != kNull {
			r.add(n, path, "not supported: %s", why)
		}
		return
	case opaqueType:
		v.Set(reflect.ValueOf(opaque{set: true, v: n.generic()}))
		return
	case locatedType:
		v.Set(reflect.ValueOf(located{n: n}))
		return
	}
	if n == nil || n.kind == kNull {
		return // absent: the zero value
	}
	switch v.Kind() {
	case reflect.Pointer:
		nv := reflect.New(v.Type().Elem())
		decodeValue(n, nv.Elem(), path, why, r)
		v.Set(nv)
	case reflect.Struct:
		if n.kind != kMap {
			r.add(n, path, "want a mapping, got %s", n.describe())
			return
		}
		fields := structFields(v.Type())
		for i, k := range n.keys {
			f, ok := fields[k]
			if !ok {
				r.add(n.vals[i], join(path, k), "unknown field%s", suggest(k, fields))
				continue
			}
			decodeValue(n.vals[i], v.FieldByIndex(f.index), join(path, k), f.why, r)
		}
	case reflect.Slice:
		if n.kind != kSeq {
			r.add(n, path, "want a list, got %s", n.describe())
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.items), len(n.items))
		for i, it := range n.items {
			decodeValue(it, s.Index(i), fmt.Sprintf("%s[%d]", path, i), why, r)
		}
		v.Set(s)
	case reflect.Map:
		if n.kind != kMap {
			r.add(n, path, "want a mapping, got %s", n.describe())
			return
		}
		m := reflect.MakeMapWithSize(v.Type(), len(n.keys))
		for i, k := range n.keys {
			ev := reflect.New(v.Type().Elem()).Elem()
			decodeValue(n.vals[i], ev, join(path, k), why, r)
			m.SetMapIndex(reflect.ValueOf(k), ev)
		}
		v.Set(m)
	case reflect.String:
		if n.kind != kScalar || n.tag != "str" {
			r.add(n, path, "want a string, got %s", n.describe())
			return
		}
		v.SetString(n.str)
	case reflect.Bool:
		if n.kind != kScalar || n.tag != "bool" {
			r.add(n, path, "want true or false, got %s", n.describe())
			return
		}
		v.SetBool(strings.EqualFold(n.str, "true"))
	case reflect.Int, reflect.Int32, reflect.Int64:
		i, ok := n.intValue()
		if !ok {
			r.add(n, path, "want an integer, got %s", n.describe())
			return
		}
		if v.OverflowInt(i) || v.Kind() == reflect.Int && (i > math.MaxInt32 || i < math.MinInt32) {
			r.add(n, path, "%d is out of range", i)
			return
		}
		v.SetInt(i)
	case reflect.Float64:
		f, ok := n.floatValue()
		if !ok || math.IsNaN(f) || math.IsInf(f, 0) {
			r.add(n, path, "want a number, got %s", n.describe())
			return
		}
		v.SetFloat(f)
	default:
		panic("spec: unsupported field type " + v.Type().String())
	}
}

type fieldInfo struct {
	index []int
	why   string
}

// structFields maps the JSON names of t's fields (inline embedded structs
// included) to their indexes.
func structFields(t reflect.Type) map[string]fieldInfo {
	out := map[string]fieldInfo{}
	var walk func(t reflect.Type, prefix []int)
	walk = func(t reflect.Type, prefix []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			idx := append(append([]int(nil), prefix...), i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if f.Anonymous && name == "" {
				walk(f.Type, idx)
				continue
			}
			if name == "" || name == "-" {
				continue
			}
			out[name] = fieldInfo{index: idx, why: f.Tag.Get("why")}
		}
	}
	walk(t, nil)
	return out
}

// suggest names a known field close to k, for typos.
func suggest(k string, fields map[string]fieldInfo) string {
	var best string
	bestD := 3
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if d := editDistance(strings.ToLower(k), strings.ToLower(name)); d < bestD {
			best, bestD = name, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// asError returns nil for no problems, or the one *Error naming them all.
func asError(probs []Problem) error {
	if len(probs) == 0 {
		return nil
	}
	sort.SliceStable(probs, func(i, j int) bool { return probs[i].Doc < probs[j].Doc })
	// A template referred to several times reports its problems once.
	seen := map[Problem]bool{}
	out := probs[:0]
	for _, p := range probs {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return &Error{Problems: out}
}

var _ = errors.New
