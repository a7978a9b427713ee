package flags

import (
	"math"
	"strings"
)

// evalRare evaluates the operations that are not on the hot path of
// flag evaluation: substr, merge, missing, missing_some, the array
// operations and arithmetic.
func (e *env) evalRare(n *node, sc *scope) (value, error) {
	switch n.op {
	case opSubstr:
		return e.substr(n, sc)
	case opMerge:
		cnt, single, err := e.count(n, sc, false)
		if err != nil {
			return null, err
		}
		if cnt < 0 {
			if single.primitive() {
				return vArr([]any{single.any()}), nil
			}
			return null, fail(n, "needs an array or a value")
		}
		out := []any{}
		for i := range cnt {
			v, err := e.operand(n, i, single, sc)
			if err != nil {
				return null, err
			}
			if v.k == kArr {
				out = append(out, v.a...)
			} else {
				out = append(out, v.any())
			}
		}
		return vArr(out), nil
	case opMissing:
		cnt, single, err := e.count(n, sc, false)
		if err != nil {
			return null, err
		}
		var names []value
		if cnt < 0 {
			if single.k != kStr {
				return null, fail(n, "needs an array or a string")
			}
			names = []value{single}
		}
		for i := range max(cnt, 0) {
			v, err := e.operand(n, i, single, sc)
			if err != nil {
				return null, err
			}
			names = append(names, v)
		}
		return e.missing(n, names, sc)
	case opMissingSome:
		cnt, single, err := e.count(n, sc, true)
		if err != nil {
			return null, err
		}
		if cnt < 2 {
			return null, fail(n, "needs [count, [names]]")
		}
		need, err := e.operand(n, 0, single, sc)
		if err != nil {
			return null, err
		}
		want, err := need.number()
		if err != nil {
			return null, fail(n, "count is not a number")
		}
		list, err := e.operand(n, 1, single, sc)
		if err != nil {
			return null, err
		}
		if list.k != kArr {
			return null, fail(n, "names are not an array")
		}
		names := make([]value, len(list.a))
		for i, x := range list.a {
			names[i] = fromAny(x)
		}
		miss, err := e.missing(n, names, sc)
		if err != nil {
			return null, err
		}
		if int(want) > len(names)-len(miss.a) {
			return miss, nil
		}
		return vArr([]any{}), nil
	case opSome, opAll, opNone, opMap, opFilter:
		return e.iterate(n, sc)
	case opReduce:
		return e.reduce(n, sc)
	case opAdd, opSub, opMul, opDiv, opMod, opMin, opMax:
		return e.arith(n, sc)
	}
	return null, fail(n, "unsupported operator")
}

// missing lists the names whose var is null.
func (e *env) missing(n *node, names []value, sc *scope) (value, error) {
	out := []any{}
	for _, name := range names {
		probe := &node{op: opVar, name: "var", args: []*node{{op: opLit, lit: name}}}
		if name.k == kArr {
			probe.list = true
			probe.args = make([]*node, len(name.a))
			for i, x := range name.a {
				probe.args[i] = &node{op: opLit, lit: fromAny(x)}
			}
		}
		probe.check(&compiler{}, "")
		v, err := e.evalVar(probe, &scope{data: sc.data, top: sc.top})
		if err != nil {
			return null, err
		}
		if v.k == kNull {
			out = append(out, name.any())
		}
	}
	return vArr(out), nil
}

func (e *env) substr(n *node, sc *scope) (value, error) {
	cnt, single, err := e.count(n, sc, true)
	if err != nil {
		return null, err
	}
	if cnt < 2 {
		return null, fail(n, "needs a string and a start")
	}
	var vs [3]value
	for i := range min(cnt, 3) {
		if vs[i], err = e.operand(n, i, single, sc); err != nil {
			return null, err
		}
	}
	s, err := vs[0].str()
	if err != nil {
		return null, fail(n, "cannot take a substring of a "+kindName(vs[0].k))
	}
	runes := []rune(s)
	f, err := vs[1].number()
	if err != nil {
		return null, fail(n, "start is not a number")
	}
	from, length := int(f), len(runes)
	if from < 0 {
		from += length
	}
	if from < 0 || from > length {
		return vStr(string(runes)), nil
	}
	if cnt == 3 {
		l, err := vs[2].number()
		if err != nil {
			return null, fail(n, "length is not a number")
		}
		length = int(l)
	}
	var to int
	if length < 0 {
		to = len(runes) + length
	} else {
		to = from + length
	}
	to = min(to, len(runes))
	if to < from {
		return null, fail(n, "the substring ends before it starts")
	}
	return vStr(string(runes[from:to])), nil
}

// subject is the array some/all/none/map/filter/reduce iterate over: a
// literal array as written (its elements are not evaluated) or the result
// of an operation; null for anything else.
func (e *env) subject(n *node, sc *scope) (value, bool, error) {
	list, ok := n.raw.([]any)
	if !ok {
		return null, false, fail(n, "needs an array of operands")
	}
	if len(list) == 0 {
		return null, false, fail(n, "needs an array to iterate over")
	}
	switch x := list[0].(type) {
	case []any:
		return vArr(x), true, nil
	case map[string]any:
		v, err := e.eval(n.args[0], sc)
		return v, true, err
	}
	return null, true, nil
}

func (e *env) iterate(n *node, sc *scope) (value, error) {
	subj, _, err := e.subject(n, sc)
	if err != nil {
		return null, err
	}
	if len(n.args) < 2 {
		switch n.op {
		case opMap, opFilter:
			return vArr([]any{}), nil
		}
		return null, fail(n, "needs an array and a predicate")
	}
	pred := n.args[1]
	switch n.op {
	case opSome, opAll, opNone:
		if !subj.truthy() {
			return vBool(n.op == opNone), nil
		}
	default:
		if subj.k == kNull {
			return vArr([]any{}), nil
		}
	}
	if subj.k != kArr {
		return null, fail(n, "iterates over a "+kindName(subj.k))
	}
	if (n.op == opSome || n.op == opAll || n.op == opNone) && pred.op == opLit {
		if pred.lit.k != kObj {
			return null, fail(n, "predicate is not an operation")
		}
	}
	var outer *scope
	if n.op == opSome || n.op == opNone || n.op == opFilter {
		o := *sc   // a copy: sc itself stays on its caller's stack
		outer = &o // the library resolves the predicate's vars in the enclosing data first
	}
	var out []any
	if n.op == opMap || n.op == opFilter {
		out = make([]any, 0, len(subj.a))
	}
	for _, x := range subj.a {
		el := &scope{data: fromAny(x), outer: outer}
		v, err := e.eval(pred, el)
		if err != nil {
			return null, err
		}
		switch n.op {
		case opSome:
			if v.truthy() {
				return vBool(true), nil
			}
		case opAll:
			if !v.truthy() {
				return vBool(false), nil
			}
		case opNone:
			if v.truthy() {
				return vBool(false), nil
			}
		case opMap:
			out = append(out, v.any())
		case opFilter:
			if v.truthy() {
				out = append(out, x)
			}
		}
	}
	switch n.op {
	case opSome:
		return vBool(false), nil
	case opAll, opNone:
		return vBool(true), nil
	}
	return vArr(out), nil
}

func (e *env) reduce(n *node, sc *scope) (value, error) {
	list, ok := n.raw.([]any)
	if !ok {
		return null, fail(n, "needs an array of operands")
	}
	if len(list) < 3 {
		return vNum(0), nil
	}
	init, err := e.eval(n.args[2], sc)
	if err != nil {
		return null, err
	}
	if !init.primitive() {
		return null, fail(n, "initial value is a "+kindName(init.k))
	}
	acc := init
	subj, _, err := e.subject(n, sc)
	if err != nil {
		return null, err
	}
	if subj.k == kNull {
		return vNum(0), nil
	}
	if subj.k != kArr {
		return null, fail(n, "iterates over a "+kindName(subj.k))
	}
	if _, ok := list[1].(map[string]any); !ok {
		return null, fail(n, "reducer is not an operation")
	}
	types := map[kind]string{kBool: "bool", kNum: "number", kStr: "string"}
	for _, x := range subj.a {
		if x == nil {
			continue
		}
		data := map[string]any{"current": x, "accumulator": acc.any(), "valueType": types[init.k]}
		v, err := e.eval(n.args[1], &scope{data: vObj(data)})
		if err != nil {
			return null, err
		}
		switch init.k {
		case kBool:
			acc = vBool(v.truthy())
		case kNum:
			f, err := v.number()
			if err != nil {
				return null, fail(n, "reducer yields a "+kindName(v.k))
			}
			acc = vNum(f)
		case kStr:
			s, err := v.str()
			if err != nil {
				return null, fail(n, "reducer yields a "+kindName(v.k))
			}
			acc = vStr(s)
		}
	}
	return acc, nil
}

func (e *env) arith(n *node, sc *scope) (value, error) {
	cnt, single, err := e.count(n, sc, n.op != opAdd)
	if err != nil {
		return null, err
	}
	if cnt < 0 { // + of a single value
		f, err := single.number()
		if err != nil {
			return null, fail(n, "operand is a "+kindName(single.k))
		}
		return vNum(f), nil
	}
	nums := make([]float64, cnt)
	for i := range cnt {
		v, err := e.operand(n, i, single, sc)
		if err != nil {
			return null, err
		}
		if nums[i], err = v.number(); err != nil {
			return null, fail(n, "operand is a "+kindName(v.k))
		}
	}
	switch n.op {
	case opAdd:
		var s float64
		for _, x := range nums {
			s += x
		}
		return vNum(s), nil
	case opSub:
		if cnt == 0 {
			return vNum(0), nil
		}
		if cnt == 1 {
			return vNum(-nums[0]), nil
		}
		s := nums[0]
		for _, x := range nums[1:] {
			s -= x
		}
		return vNum(s), nil
	case opMul:
		s := 1.0
		for _, x := range nums {
			s *= x
		}
		return vNum(s), nil
	case opDiv:
		if cnt == 0 {
			return vNum(0), nil
		}
		s := nums[0]
		for _, x := range nums[1:] {
			s /= x
		}
		return vNum(s), nil
	case opMod:
		if cnt < 2 {
			return null, fail(n, "needs two operands")
		}
		return vNum(math.Mod(nums[0], nums[1])), nil
	}
	if cnt == 0 {
		return null, nil
	}
	r := nums[0]
	for _, x := range nums[1:] {
		if n.op == opMax && x > r || n.op == opMin && r > x {
			r = x
		}
	}
	return vNum(r), nil
}

// variantName is the variant a rule's result names, as flagd derives it:
// the JSON encoding of the result with every double quote removed (so
// true names the variant "true" and 1 the variant "1").
func variantName(v value) (string, bool) {
	switch v.k {
	case kNull:
		return "", false
	case kStr:
		if plainJSONString(v.s) {
			return v.s, true
		}
	case kBool:
		if v.b {
			return "true", true
		}
		return "false", true
	}
	b, err := jsonMarshal(v.any())
	if err != nil {
		return "", true
	}
	return strings.ReplaceAll(string(b), `"`, ""), true
}

// plainJSONString reports whether s encodes as itself between quotes
// (encoding/json escapes quotes, backslashes, control characters, <, >,
// &, U+2028, U+2029 and invalid UTF-8).
func plainJSONString(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' || c >= 0x80 {
			return false
		}
	}
	return true
}
