package flags

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"strconv"
	"strings"
	"time"
)

// This file is glidepath's JSON Logic evaluator for flagd targeting rules.
// It compiles a rule once, when a flag is loaded, into a tree of nodes
// and evaluates the tree without reflection and, for the usual rules,
// without allocating. Its results follow the JSON Logic library flagd
// evaluates rules with (github.com/diegoholiveira/jsonlogic/v3, v3.9.1,
// with flagd's custom operations), including its coercions: a rule that
// makes that library fail (a panic it turns into an error) is an
// evaluation error here too, and flagd's custom operations answer null
// on bad arguments.

// maxRuleDepth bounds the nesting of a rule; deeper rules are refused
// when the flag is loaded.
const maxRuleDepth = 64

type kind uint8

const (
	kNull kind = iota
	kBool
	kNum
	kStr
	kArr
	kObj
)

// value is a JSON value during evaluation. Arrays and objects are kept in
// their decoded form ([]any, map[string]any) and converted element by
// element when read.
type value struct {
	k kind
	b bool
	n float64
	s string
	a []any
	o map[string]any
}

var null value

func vBool(b bool) value   { return value{k: kBool, b: b} }
func vNum(n float64) value { return value{k: kNum, n: n} }
func vStr(s string) value  { return value{k: kStr, s: s} }
func vArr(a []any) value   { return value{k: kArr, a: a} }
func vObj(o map[string]any) value {
	return value{k: kObj, o: o}
}

// fromAny converts a value of an evaluation context or of a decoded rule.
// Types JSON cannot hold directly are converted the way flagd sees them:
// through a JSON encoding.
func fromAny(x any) value {
	switch v := x.(type) {
	case nil:
		return null
	case bool:
		return vBool(v)
	case string:
		return vStr(v)
	case float64:
		return vNum(v)
	case int:
		return vNum(float64(v))
	case int64:
		return vNum(float64(v))
	case float32:
		return vNum(float64(v))
	case int32:
		return vNum(float64(v))
	case int16:
		return vNum(float64(v))
	case int8:
		return vNum(float64(v))
	case uint:
		return vNum(float64(v))
	case uint64:
		return vNum(float64(v))
	case uint32:
		return vNum(float64(v))
	case uint16:
		return vNum(float64(v))
	case uint8:
		return vNum(float64(v))
	case json.Number:
		f, _ := v.Float64()
		return vNum(f)
	case []any:
		return vArr(v)
	case map[string]any:
		return vObj(v)
	}
	b, err := json.Marshal(x)
	if err != nil {
		return null
	}
	var back any
	if json.Unmarshal(b, &back) != nil {
		return null
	}
	return fromAny(back)
}

// any converts v back to its decoded form.
func (v value) any() any {
	switch v.k {
	case kBool:
		return v.b
	case kNum:
		return v.n
	case kStr:
		return v.s
	case kArr:
		return v.a
	case kObj:
		return v.o
	}
	return nil
}

func (v value) primitive() bool { return v.k == kBool || v.k == kNum || v.k == kStr }

// truthy is JSON Logic's truthiness as flagd's library defines it.
func (v value) truthy() bool {
	switch v.k {
	case kBool:
		return v.b
	case kNum:
		return v.n != 0
	case kStr:
		return v.s != ""
	case kArr:
		return len(v.a) > 0
	case kObj:
		return len(v.o) > 0
	}
	return false
}

// jsNumber is JavaScript's ToNumber, used by comparisons.
func (v value) jsNumber() float64 {
	switch v.k {
	case kNull:
		return 0
	case kBool:
		if v.b {
			return 1
		}
		return 0
	case kNum:
		return v.n
	case kStr:
		if strings.TrimSpace(v.s) == "" {
			return 0
		}
		n, err := strconv.ParseFloat(v.s, 64)
		if err == nil || errors.Is(err, strconv.ErrRange) {
			return n
		}
	}
	return math.NaN()
}

var errType = errors.New("operand of the wrong type")

// number is the library's stricter conversion used by arithmetic and
// substr: strings parse (0 when they do not), numbers pass, anything else
// fails.
func (v value) number() (float64, error) {
	switch v.k {
	case kNum:
		return v.n, nil
	case kStr:
		n, _ := strconv.ParseFloat(v.s, 64)
		return n, nil
	}
	return 0, errType
}

// str is the library's string conversion used by cat and substr.
func (v value) str() (string, error) {
	switch v.k {
	case kStr:
		return v.s, nil
	case kNum:
		return strconv.FormatFloat(v.n, 'f', -1, 64), nil
	case kNull:
		return "", nil
	}
	return "", errType
}

func looseEquals(a, b value) bool {
	if a.k == kNull || b.k == kNull {
		return a.k == b.k
	}
	if a.k == kStr && b.k == kStr {
		return a.s == b.s
	}
	return a.jsNumber() == b.jsNumber()
}

func strictEquals(a, b value) bool {
	if a.k == kNull || b.k == kNull {
		return a.k == b.k
	}
	if a.k != b.k {
		return false
	}
	return looseEquals(a, b)
}

func less(a, b value) bool {
	if a.k == kStr && b.k == kStr {
		return b.s > a.s
	}
	return b.jsNumber() > a.jsNumber()
}

type opcode uint8

const (
	opLit opcode = iota // constant value
	opArr               // array of expressions
	opVar
	opIf
	opAnd
	opOr
	opNot
	opNotNot
	opEq
	opNe
	opStrictEq
	opStrictNe
	opLt
	opLe
	opGt
	opGe
	opIn
	opCat
	opSubstr
	opMerge
	opMissing
	opMissingSome
	opSome
	opAll
	opNone
	opMap
	opFilter
	opReduce
	opAdd
	opSub
	opMul
	opDiv
	opMod
	opMin
	opMax
	opStartsWith
	opEndsWith
	opSemVer
	opFractional
)

var operators = map[string]opcode{
	"var": opVar, "if": opIf, "?:": opIf, "and": opAnd, "or": opOr, "!": opNot, "!!": opNotNot,
	"==": opEq, "!=": opNe, "===": opStrictEq, "!==": opStrictNe,
	"<": opLt, "<=": opLe, ">": opGt, ">=": opGe, "in": opIn,
	"cat": opCat, "substr": opSubstr, "merge": opMerge, "missing": opMissing, "missing_some": opMissingSome,
	"some": opSome, "all": opAll, "none": opNone, "map": opMap, "filter": opFilter, "reduce": opReduce,
	"+": opAdd, "-": opSub, "*": opMul, "/": opDiv, "%": opMod, "min": opMin, "max": opMax,
	"starts_with": opStartsWith, "ends_with": opEndsWith, "sem_ver": opSemVer, "fractional": opFractional,
}

// node is a compiled rule.
type node struct {
	op   opcode
	name string // operator name, for errors
	lit  value  // opLit
	// Operands: an operator written with an array has one node per
	// element (list true); one written with a single operand has it as
	// args[0] (list false), evaluated and then indexed.
	args  []*node
	list  bool
	raw   any      // the operand as written (some/all/none/map/filter/reduce read it)
	path  []string // opVar with a constant path: the path split at dots
	local bool     // opVar whose path starts with "." or is empty: never read from an outer scope
	dflt  *node    // opVar with a constant path: its default
	frac  *fracSpec
}

// fracSpec is a fractional rule whose distributions are all constant.
type fracSpec struct {
	bucketBy *node // nil: flagKey + targetingKey
	variants []value
	weights  []int32
}

// env is one evaluation.
type env struct {
	flagKey string
	ctx     map[string]any // the evaluation context (flattened)
	reapply int            // objects from the data applied as rules so far
}

// maxReapply bounds how many objects yielded by if branches are applied
// as rules in one evaluation. An evaluation context can hold an object
// that yields itself again ({"x": {"if": [true, {"var": "x"}]}} with the
// rule {"var": "x"} in a branch): flagd's library recurses until the
// process runs out of stack; glidepath fails the evaluation instead.
const maxReapply = 16

// scope is the data a var reads: the evaluation context at the top, an
// array element inside some/all/none/map/filter, the accumulator inside
// reduce. outer is read first (the library substitutes the enclosing
// data's values into some, none and filter predicates).
type scope struct {
	data  value
	top   bool
	outer *scope
}

// ruleErrors lists every problem found compiling a rule, one a line.
type ruleErrors []string

func (e ruleErrors) Error() string { return strings.Join(e, "\n") }

// compiler collects the problems of a rule while compiling all of it.
type compiler struct{ errs []string }

func (c *compiler) fail(format string, args ...any) {
	c.errs = append(c.errs, fmt.Sprintf(format, args...))
}

// compileRule compiles a decoded targeting rule. path names its position
// for errors. With problems it returns them all (a ruleErrors) and the
// rule compiled as far as possible (bad parts are null).
func compileRule(x any, path string, depth int) (*node, error) {
	var c compiler
	n := c.compile(x, path, depth)
	if len(c.errs) > 0 {
		return n, ruleErrors(c.errs)
	}
	return n, nil
}

func (c *compiler) compile(x any, path string, depth int) *node {
	if depth > maxRuleDepth {
		c.fail("%s: rule nested deeper than %d levels", path, maxRuleDepth)
		return &node{op: opLit}
	}
	switch v := x.(type) {
	case []any:
		n := &node{op: opArr, args: make([]*node, len(v))}
		constant := true
		for i, e := range v {
			n.args[i] = c.compile(e, fmt.Sprintf("%s[%d]", path, i), depth+1)
			constant = constant && n.args[i].op == opLit
		}
		if constant {
			return &node{op: opLit, lit: vArr(v)}
		}
		return n
	case map[string]any:
		if len(v) != 1 {
			return &node{op: opLit, lit: vObj(v)} // an object, not an operation
		}
		for name, operand := range v {
			op, ok := operators[name]
			if !ok {
				c.fail("%s: unknown operator %q", path, name)
				return &node{op: opLit}
			}
			n := &node{op: op, name: name, raw: operand}
			sub := path + "." + name
			if list, ok := operand.([]any); ok {
				n.list = true
				n.args = make([]*node, len(list))
				for i, e := range list {
					n.args[i] = c.compile(e, fmt.Sprintf("%s[%d]", sub, i), depth+1)
				}
			} else {
				n.args = []*node{c.compile(operand, sub, depth+1)}
			}
			n.check(c, sub)
			return n
		}
	}
	return &node{op: opLit, lit: fromAny(x)}
}

// check validates what can be validated before evaluation and
// precomputes constant parts.
func (n *node) check(c *compiler, path string) {
	switch n.op {
	case opVar:
		p := n.args[0]
		if n.list {
			if len(n.args) == 0 || n.args[0].op != opLit {
				return
			}
			p = n.args[0]
			if len(n.args) == 2 {
				n.dflt = n.args[1]
			}
		}
		if p.op == opLit && p.lit.k == kStr && p.lit.s != "" {
			n.path = strings.Split(p.lit.s, ".")
			n.local = strings.HasPrefix(p.lit.s, ".")
		}
	case opFractional:
		n.checkFractional(c, path)
	}
}

func (n *node) checkFractional(c *compiler, path string) {
	if !n.list {
		return
	}
	if len(n.args) == 0 {
		c.fail("%s: fractional needs at least one distribution", path)
		return
	}
	dists := n.args
	var bucketBy *node
	if first := n.args[0]; !(first.op == opArr || (first.op == opLit && first.lit.k == kArr)) {
		bucketBy, dists = first, n.args[1:]
		if len(dists) == 0 {
			c.fail("%s: fractional needs at least one distribution", path)
			return
		}
	}
	spec := &fracSpec{bucketBy: bucketBy}
	var total int64
	constant, ok := true, true
	for i, d := range dists {
		at := fmt.Sprintf("%s[%d]", path, i+len(n.args)-len(dists))
		if d.op != opLit {
			constant = false
			if d.op == opArr && len(d.args) >= 2 && d.args[1].op == opLit {
				ok = checkWeight(c, d.args[1].lit, at) && ok
			}
			continue
		}
		if d.lit.k != kArr || len(d.lit.a) == 0 {
			c.fail("%s: a fractional distribution is [variant] or [variant, weight]", at)
			ok = false
			continue
		}
		variant := fromAny(d.lit.a[0])
		if !variant.primitive() && variant.k != kNull {
			c.fail("%s: a fractional variant is a string, boolean, number or null", at)
			ok = false
		}
		w := int64(1)
		if len(d.lit.a) >= 2 {
			wv := fromAny(d.lit.a[1])
			if !checkWeight(c, wv, at) {
				ok = false
				continue
			}
			if wv.k == kNum {
				w = int64(wv.n)
			}
		}
		total += w
		spec.variants = append(spec.variants, variant)
		spec.weights = append(spec.weights, int32(w))
	}
	if constant && ok {
		if total == 0 {
			c.fail("%s: the fractional weights are all zero", path)
			return
		}
		if total > math.MaxInt32 {
			c.fail("%s: the fractional weights sum to %d, more than %d", path, total, math.MaxInt32)
			return
		}
		n.frac = spec
	}
}

func checkWeight(c *compiler, w value, at string) bool {
	switch {
	case w.k == kNull:
		return true
	case w.k != kNum:
		c.fail("%s: a fractional weight is a number", at)
	case w.n != math.Trunc(w.n) || math.IsInf(w.n, 0):
		c.fail("%s: fractional weight %v is not an integer", at, w.n)
	case w.n < 0:
		c.fail("%s: fractional weight %v is negative", at, w.n)
	case w.n > math.MaxInt32:
		c.fail("%s: fractional weight %v exceeds %d", at, w.n, math.MaxInt32)
	default:
		return true
	}
	return false
}

// evalError is an error of the rule, as opposed to a null result.
type evalError struct {
	op  string
	msg string
}

func (e *evalError) Error() string { return e.op + ": " + e.msg }

func fail(n *node, msg string) error { return &evalError{op: n.name, msg: msg} }

// count returns the number of operands of n, evaluating a single operand
// to see whether it is an array. needArray makes a single non-array
// operand an error.
func (e *env) count(n *node, sc *scope, needArray bool) (int, value, error) {
	if n.list {
		return len(n.args), null, nil
	}
	v, err := e.eval(n.args[0], sc)
	if err != nil {
		return 0, null, err
	}
	if v.k != kArr {
		if needArray {
			return 0, null, fail(n, "needs an array of operands")
		}
		return -1, v, nil
	}
	return len(v.a), v, nil
}

// operand i of n; single is the evaluated single operand (from count).
func (e *env) operand(n *node, i int, single value, sc *scope) (value, error) {
	if n.list {
		return e.eval(n.args[i], sc)
	}
	return fromAny(single.a[i]), nil
}

// eval evaluates n.
func (e *env) eval(n *node, sc *scope) (value, error) {
	switch n.op {
	case opLit:
		return n.lit, nil
	case opArr:
		out := make([]any, len(n.args))
		for i, a := range n.args {
			v, err := e.eval(a, sc)
			if err != nil {
				return null, err
			}
			out[i] = v.any()
		}
		return vArr(out), nil
	case opVar:
		return e.evalVar(n, sc)
	case opIf:
		cnt, single, err := e.count(n, sc, true)
		if err != nil {
			return null, err
		}
		for i := 0; i+1 < cnt; i += 2 {
			c, err := e.operand(n, i, single, sc)
			if err != nil {
				return null, err
			}
			if c.truthy() {
				return e.clause(n, i+1, single, sc)
			}
		}
		if cnt%2 == 1 {
			return e.clause(n, cnt-1, single, sc)
		}
		return null, nil
	case opAnd, opOr:
		cnt, single, err := e.count(n, sc, true)
		if err != nil {
			return null, err
		}
		last := null
		for i := range cnt {
			if last, err = e.operand(n, i, single, sc); err != nil {
				return null, err
			}
			if last.truthy() == (n.op == opOr) {
				return last, nil
			}
		}
		return last, nil
	case opNot, opNotNot:
		cnt, v, err := e.count(n, sc, false)
		if err != nil {
			return null, err
		}
		if cnt > 0 {
			if v, err = e.operand(n, 0, v, sc); err != nil {
				return null, err
			}
		} else if cnt == 0 {
			v = vArr(nil)
		}
		return vBool(v.truthy() == (n.op == opNotNot)), nil
	case opEq, opNe, opStrictEq, opStrictNe, opLt, opLe, opGt, opGe:
		return e.compare(n, sc)
	case opIn:
		return e.in(n, sc)
	case opStartsWith, opEndsWith:
		return e.affix(n, sc)
	case opSemVer:
		return e.semVer(n, sc)
	case opFractional:
		return e.fractional(n, sc)
	case opCat:
		return e.cat(n, sc)
	}
	return e.evalRare(n, sc)
}

// clause evaluates the chosen branch of an if; an object it yields with
// one key is applied as a rule again, as the library does.
func (e *env) clause(n *node, i int, single value, sc *scope) (value, error) {
	v, err := e.operand(n, i, single, sc)
	if err != nil || v.k != kObj || len(v.o) != 1 {
		return v, err
	}
	if e.reapply++; e.reapply > maxReapply {
		return null, fail(n, "an object from the data applied as a rule yields rules again and again (re-applied too often)")
	}
	c, cerr := compileRule(v.o, "value", 0)
	if cerr != nil {
		return null, fail(n, cerr.Error())
	}
	return e.eval(c, sc)
}

func (e *env) compare(n *node, sc *scope) (value, error) {
	cnt, single, err := e.count(n, sc, true)
	if err != nil {
		return null, err
	}
	if cnt < 2 {
		return vBool(n.op == opNe || n.op == opStrictNe), nil
	}
	a, err := e.operand(n, 0, single, sc)
	if err != nil {
		return null, err
	}
	b, err := e.operand(n, 1, single, sc)
	if err != nil {
		return null, err
	}
	switch n.op {
	case opEq:
		return vBool(looseEquals(a, b)), nil
	case opNe:
		return vBool(!looseEquals(a, b)), nil
	case opStrictEq:
		return vBool(strictEquals(a, b)), nil
	case opStrictNe:
		return vBool(!strictEquals(a, b)), nil
	}
	if cnt == 2 {
		switch n.op {
		case opLt:
			return vBool(less(a, b)), nil
		case opLe:
			return vBool(less(a, b) || looseEquals(a, b)), nil
		case opGt:
			return vBool(less(b, a)), nil
		default:
			return vBool(less(b, a) || looseEquals(b, a)), nil
		}
	}
	c, err := e.operand(n, 2, single, sc)
	if err != nil {
		return null, err
	}
	switch n.op {
	case opLt:
		return vBool(less(a, b) && less(b, c)), nil
	case opLe:
		return vBool((less(a, b) || looseEquals(a, b)) && (less(b, c) || looseEquals(b, c))), nil
	case opGt:
		return vBool(less(c, b) && less(b, a)), nil
	default:
		return vBool((less(c, b) || looseEquals(c, b)) && (less(b, a) || looseEquals(b, a))), nil
	}
}

func (e *env) in(n *node, sc *scope) (value, error) {
	cnt, single, err := e.count(n, sc, true)
	if err != nil {
		return null, err
	}
	if cnt == 0 {
		return null, fail(n, "needs a value to look for")
	}
	a, err := e.operand(n, 0, single, sc)
	if err != nil {
		return null, err
	}
	b := null
	if cnt > 1 {
		if b, err = e.operand(n, 1, single, sc); err != nil {
			return null, err
		}
	}
	switch b.k {
	case kStr:
		if a.k != kStr {
			return null, fail(n, "looks for a non-string in a string")
		}
		return vBool(strings.Contains(b.s, a.s)), nil
	case kArr:
	default:
		return vBool(false), nil
	}
	for _, x := range b.a {
		el := fromAny(x)
		switch {
		case el.k == kArr:
			if len(el.a) < 2 {
				return null, fail(n, "a range needs two bounds")
			}
			an, err1 := a.number()
			lo, err2 := fromAny(el.a[0]).number()
			hi, err3 := fromAny(el.a[1]).number()
			if err := errors.Join(err1, err2, err3); err != nil {
				return null, fail(n, "a range compares non-numbers")
			}
			if an >= lo && hi >= an {
				return vBool(true), nil
			}
		case a.k == kNum:
			en, err := el.number()
			if err != nil {
				return null, fail(n, "compares a number with a non-number")
			}
			if en == a.n {
				return vBool(true), nil
			}
		case el.k == kObj && a.k == kObj:
			return null, fail(n, "compares objects")
		case el.k == a.k && (el.k == kNull || el.k == kBool && el.b == a.b || el.k == kStr && el.s == a.s):
			return vBool(true), nil
		}
	}
	return vBool(false), nil
}

// affix is flagd's starts_with and ends_with: null unless given exactly
// two strings.
func (e *env) affix(n *node, sc *scope) (value, error) {
	cnt, single, err := e.count(n, sc, false)
	if err != nil || cnt != 2 {
		return null, err
	}
	a, err := e.operand(n, 0, single, sc)
	if err != nil {
		return null, err
	}
	b, err := e.operand(n, 1, single, sc)
	if err != nil || a.k != kStr || b.k != kStr {
		return null, err
	}
	if n.op == opStartsWith {
		return vBool(strings.HasPrefix(a.s, b.s)), nil
	}
	return vBool(strings.HasSuffix(a.s, b.s)), nil
}

// semVer is flagd's sem_ver: [version, operator, version], null on
// anything invalid.
func (e *env) semVer(n *node, sc *scope) (value, error) {
	cnt, single, err := e.count(n, sc, false)
	if err != nil || cnt != 3 {
		return null, err
	}
	var vs [3]value
	for i := range vs {
		if vs[i], err = e.operand(n, i, single, sc); err != nil {
			return null, err
		}
	}
	a, ok1 := parseSemver(versionText(vs[0]))
	if !ok1 || vs[1].k != kStr {
		return null, nil
	}
	b, ok2 := parseSemver(versionText(vs[2]))
	if !ok2 {
		return null, nil
	}
	var r bool
	switch vs[1].s {
	case "=":
		r = a.compare(b) == 0
	case "!=":
		r = a.compare(b) != 0
	case "<":
		r = a.compare(b) < 0
	case "<=":
		r = a.compare(b) <= 0
	case ">":
		r = a.compare(b) > 0
	case ">=":
		r = a.compare(b) >= 0
	case "^":
		r = compareNum(a.major, b.major) == 0
	case "~":
		r = compareNum(a.major, b.major) == 0 && compareNum(a.minor, b.minor) == 0
	default:
		return null, nil
	}
	return vBool(r), nil
}

// versionText is flagd's rendering of a sem_ver operand (fmt's %v).
func versionText(v value) string {
	switch v.k {
	case kStr:
		return v.s
	case kNum:
		return strconv.FormatFloat(v.n, 'g', -1, 64)
	case kBool:
		return strconv.FormatBool(v.b)
	}
	return "<invalid>"
}

// fractional is flagd's fractional operation (see [FlagdBucket]).
func (e *env) fractional(n *node, sc *scope) (value, error) {
	if s := n.frac; s != nil {
		var h uint32
		if s.bucketBy != nil {
			b, err := e.eval(s.bucketBy, sc)
			if err != nil {
				return null, err
			}
			switch b.k {
			case kStr:
				h = murmur3(b.s, "")
			case kNull:
				var ok bool
				if h, ok = e.keyHash(); !ok {
					return null, nil
				}
			default:
				return null, nil // a distribution must be an array
			}
		} else {
			var ok bool
			if h, ok = e.keyHash(); !ok {
				return null, nil
			}
		}
		if i := fractionalPick(h, s.weights); i >= 0 {
			return s.variants[i], nil
		}
		return null, nil
	}
	return e.fractionalDynamic(n, sc)
}

// keyHash hashes flagKey + targetingKey; ok is false when there is no
// usable targeting key (flagd then answers null).
func (e *env) keyHash() (uint32, bool) {
	k, ok := e.ctx["targetingKey"].(string)
	if !ok || k == "" {
		return 0, false
	}
	return murmur3(e.flagKey, k), true
}

// fractionalDynamic evaluates a fractional rule with computed parts, as
// flagd does after the library evaluated every operand.
func (e *env) fractionalDynamic(n *node, sc *scope) (value, error) {
	cnt, single, err := e.count(n, sc, false)
	if err != nil || cnt < 1 {
		return null, err
	}
	vals := make([]value, cnt)
	for i := range cnt {
		if vals[i], err = e.operand(n, i, single, sc); err != nil {
			return null, err
		}
	}
	var h uint32
	switch vals[0].k {
	case kStr:
		h = murmur3(vals[0].s, "")
		vals = vals[1:]
	case kNull:
		vals = vals[1:]
		fallthrough
	default:
		k, present := e.ctx["targetingKey"]
		if !present || k == nil {
			return null, nil
		}
		ks, ok := k.(string)
		if !ok || ks == "" {
			return null, nil
		}
		h = murmur3(e.flagKey, ks)
	}
	variants := make([]value, len(vals))
	weights := make([]int32, len(vals))
	var total int64
	for i, d := range vals {
		if d.k != kArr || len(d.a) == 0 {
			return null, nil
		}
		variants[i] = fromAny(d.a[0])
		if !variants[i].primitive() && variants[i].k != kNull {
			return null, nil
		}
		w := int64(1)
		if len(d.a) >= 2 {
			wv := fromAny(d.a[1])
			switch {
			case wv.k == kNull:
			case wv.k != kNum || wv.n != math.Trunc(wv.n) || math.Abs(wv.n) >= 1<<63:
				return null, nil
			default:
				w = int64(wv.n)
			}
		}
		if w > math.MaxInt32 {
			return null, nil
		}
		w = max(w, 0) // flagd clamps computed negative weights
		total += w
		weights[i] = int32(w)
	}
	if total > math.MaxInt32 {
		return null, nil
	}
	if i := fractionalPick(h, weights); i >= 0 {
		return variants[i], nil
	}
	return null, nil
}

func (e *env) cat(n *node, sc *scope) (value, error) {
	cnt, single, err := e.count(n, sc, false)
	if err != nil {
		return null, err
	}
	if cnt < 0 {
		if single.k == kStr {
			return single, nil
		}
		return null, fail(n, "needs an array or a string")
	}
	if cnt == 0 {
		return vStr(""), nil
	}
	if cnt == 1 {
		v, err := e.operand(n, 0, single, sc)
		if err != nil {
			return null, err
		}
		s, err := v.str()
		if err != nil {
			return null, fail(n, "cannot concatenate a "+kindName(v.k))
		}
		return vStr(s), nil
	}
	var b strings.Builder
	for i := range cnt {
		v, err := e.operand(n, i, single, sc)
		if err != nil {
			return null, err
		}
		s, err := v.str()
		if err != nil {
			return null, fail(n, "cannot concatenate a "+kindName(v.k))
		}
		b.WriteString(s)
	}
	return vStr(strings.TrimSpace(b.String())), nil
}

func kindName(k kind) string {
	return [...]string{"null", "boolean", "number", "string", "array", "object"}[k]
}

// evalVar reads the data: var's operand is a path (dot-separated, array
// elements by index), optionally with a default.
func (e *env) evalVar(n *node, sc *scope) (value, error) {
	if n.path != nil {
		if sc.outer != nil && !n.local {
			if v := e.lookup(n.path, *sc.outer); v.k != kNull {
				return v, nil
			}
			if n.dflt != nil {
				if d, err := e.eval(n.dflt, sc); err != nil || d.k != kNull {
					return d, err
				}
			}
		}
		v := e.lookup(n.path, *sc)
		if v.k == kNull && n.dflt != nil {
			return e.eval(n.dflt, sc)
		}
		return v, nil
	}
	// A computed path.
	cnt, single, err := e.count(n, sc, false)
	if err != nil {
		return null, err
	}
	var p, dflt value
	switch {
	case cnt < 0:
		p = single
	case cnt == 0:
		return e.whole(*sc), nil
	default:
		if p, err = e.operand(n, 0, single, sc); err != nil {
			return null, err
		}
		if cnt == 2 {
			if dflt, err = e.operand(n, 1, single, sc); err != nil {
				return null, err
			}
		}
		if p.k != kStr {
			return null, fail(n, "path is not a string")
		}
	}
	switch p.k {
	case kNull:
		if sc.data.primitive() {
			return sc.data, nil
		}
		return null, nil
	case kNum:
		p = vStr(strconv.FormatFloat(p.n, 'f', -1, 64))
	case kStr:
	default:
		return null, fail(n, "path is not a string")
	}
	if p.s == "" {
		return e.whole(*sc), nil
	}
	path := strings.Split(p.s, ".")
	if sc.outer != nil && !strings.HasPrefix(p.s, ".") {
		if v := e.lookup(path, *sc.outer); v.k != kNull {
			return v, nil
		}
		if dflt.k != kNull {
			return dflt, nil
		}
	}
	if v := e.lookup(path, *sc); v.k != kNull {
		return v, nil
	}
	return dflt, nil
}

// whole is the scope's data as a value; the evaluation context includes
// flagd's $flagd properties.
func (e *env) whole(sc scope) value {
	if !sc.top {
		return sc.data
	}
	m := maps.Clone(e.ctx)
	if m == nil {
		m = map[string]any{}
	}
	m["$flagd"] = map[string]any{"flagKey": e.flagKey, "timestamp": float64(time.Now().Unix())}
	return vObj(m)
}

// lookup follows path from the scope's data; null when it leads nowhere.
func (e *env) lookup(path []string, sc scope) value {
	cur := sc.data
	start := 0
	if sc.top {
		cur = null
		for start < len(path) && path[start] == "" {
			start++
		}
		if start == len(path) {
			return e.whole(sc)
		}
		if path[start] == "$flagd" {
			rest := path[start+1:]
			for len(rest) > 0 && rest[0] == "" {
				rest = rest[1:]
			}
			if len(rest) == 0 {
				return vObj(map[string]any{"flagKey": e.flagKey, "timestamp": float64(time.Now().Unix())})
			}
			var v value
			switch rest[0] {
			case "flagKey":
				v = vStr(e.flagKey)
			case "timestamp":
				v = vNum(float64(time.Now().Unix()))
			default:
				return null
			}
			if len(rest) > 1 {
				return null
			}
			return v
		}
		x, ok := e.ctx[path[start]]
		if !ok {
			return null
		}
		cur = fromAny(x)
		start++
	}
	for _, part := range path[start:] {
		if part == "" {
			continue
		}
		switch cur.k {
		case kObj:
			cur = fromAny(cur.o[part])
		case kArr:
			i, _ := strconv.ParseFloat(part, 64)
			if i < 0 || int(i) >= len(cur.a) {
				return null
			}
			cur = fromAny(cur.a[int(i)])
		default:
			return null
		}
		if cur.k == kNull {
			return null
		}
	}
	return cur
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
