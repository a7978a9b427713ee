package analysis

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// condEnv is the environment conditions are compiled against: `result` has
// no static type, so every shape a Source may return is accepted.
type condEnv struct {
	Result any `expr:"result"`
}

// The functions Argo Rollouts documents for conditions, on top of expr's
// built-ins (all, any, none, len, filter, map, ...).
var condFuncs = []expr.Option{
	expr.Function("isNaN", func(p ...any) (any, error) {
		f, ok := toFloat(p[0])
		return ok && math.IsNaN(f), nil
	}, new(func(any) bool)),
	expr.Function("isInf", func(p ...any) (any, error) {
		f, ok := toFloat(p[0])
		return ok && math.IsInf(f, 0), nil
	}, new(func(any) bool)),
	expr.Function("isNil", func(p ...any) (any, error) {
		return isNil(p[0]), nil
	}, new(func(any) bool)),
	expr.Function("default", func(p ...any) (any, error) {
		if isNil(p[0]) || isEmptySlice(p[0]) {
			return p[1], nil
		}
		return p[0], nil
	}, new(func(any, any) any)),
	expr.Function("asFloat", func(p ...any) (any, error) {
		switch v := p[0].(type) {
		case string:
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		default:
			if f, ok := toFloat(v); ok {
				return f, nil
			}
			return nil, fmt.Errorf("asFloat: cannot convert %T", v)
		}
	}, new(func(any) float64)),
	expr.Function("asInt", func(p ...any) (any, error) {
		switch v := p[0].(type) {
		case string:
			return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		default:
			// As in Argo Rollouts, a number is truncated towards zero
			// (asInt(1.9) == 1); a string must hold an integer.
			if f, ok := toFloat(v); ok && !math.IsNaN(f) && math.Abs(f) < 1<<63 {
				return int64(f), nil
			}
			return nil, fmt.Errorf("asInt: cannot convert %v", v)
		}
	}, new(func(any) int64)),
}

// compileCondition compiles a condition to a boolean program.
func compileCondition(src string) (*vm.Program, error) {
	opts := append([]expr.Option{expr.Env(condEnv{}), expr.AsBool()}, condFuncs...)
	return expr.Compile(src, opts...)
}

// conditionResultProblem evaluates a condition, compiled without the cast
// to bool, against sample results of every shape a source returns, and
// reports a condition that evaluates to something other than a bool (for
// example "result + 1"); an evaluation error (result[0] of a number, say)
// is not a problem here, since other shapes may suit the condition.
func conditionResultProblem(src string) string {
	opts := append([]expr.Option{expr.Env(condEnv{})}, condFuncs...)
	p, err := expr.Compile(src, opts...)
	if err != nil {
		return ""
	}
	for _, probe := range []any{0.5, []float64{0.5}, [][]float64{{0.5}}, nil} {
		out, err := func() (out any, err error) {
			defer func() {
				if r := recover(); r != nil {
					err = fmt.Errorf("%v", r)
				}
			}()
			return expr.Run(p, condEnv{Result: probe})
		}()
		if err != nil {
			continue
		}
		if _, ok := out.(bool); !ok {
			return fmt.Sprintf("evaluates to %T, not bool (for a result of %T)", out, probe)
		}
	}
	return ""
}

// evalCondition runs a compiled condition against a result.
func evalCondition(p *vm.Program, result any) (ok bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			ok, err = false, fmt.Errorf("condition panicked: %v", r)
		}
	}()
	out, err := expr.Run(p, condEnv{Result: result})
	if err != nil {
		return false, err
	}
	b, isBool := out.(bool)
	if !isBool {
		return false, fmt.Errorf("condition returned %T, not bool", out)
	}
	return b, nil
}

func isNil(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface:
		return rv.IsNil()
	}
	return false
}

func isEmptySlice(v any) bool {
	rv := reflect.ValueOf(v)
	return rv.Kind() == reflect.Slice && rv.Len() == 0
}

func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int8:
		return float64(n), true
	case int16:
		return float64(n), true
	case int32:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint:
		return float64(n), true
	case uint8:
		return float64(n), true
	case uint16:
		return float64(n), true
	case uint32:
		return float64(n), true
	case uint64:
		return float64(n), true
	}
	return 0, false
}

// normalize converts numbers to float64 and slices of numbers to []float64
// (and slices of those to [][]float64), so that conditions compare like
// with like.
func normalize(v any) any {
	if f, ok := toFloat(v); ok {
		return f
	}
	switch v.(type) {
	case nil, []float64, [][]float64, string, bool:
		return v
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice {
		return v
	}
	if out, ok := floatSlice(rv); ok {
		return out
	}
	outer := make([][]float64, rv.Len())
	for i := range rv.Len() {
		e := rv.Index(i)
		if e.Kind() == reflect.Interface {
			e = e.Elem()
		}
		if e.Kind() != reflect.Slice {
			return v
		}
		inner, ok := floatSlice(e)
		if !ok {
			return v
		}
		outer[i] = inner
	}
	return outer
}

func floatSlice(rv reflect.Value) ([]float64, bool) {
	out := make([]float64, rv.Len())
	for i := range rv.Len() {
		f, ok := toFloat(rv.Index(i).Interface())
		if !ok {
			return nil, false
		}
		out[i] = f
	}
	return out, true
}

// dataPoints counts the data in a result: NaN is not data, nor is nil or an
// empty string.
func dataPoints(v any) int {
	switch x := v.(type) {
	case nil:
		return 0
	case float64:
		if math.IsNaN(x) {
			return 0
		}
		return 1
	case []float64:
		n := 0
		for _, f := range x {
			if !math.IsNaN(f) {
				n++
			}
		}
		return n
	case [][]float64:
		n := 0
		for _, s := range x {
			n += dataPoints(s)
		}
		return n
	case string:
		if x == "" {
			return 0
		}
		return 1
	}
	if isNil(v) || isEmptySlice(v) {
		return 0
	}
	return 1
}

// formatValue renders a result for a Measurement, bounded in length.
func formatValue(v any) string {
	var s string
	switch x := v.(type) {
	case nil:
		s = "no data"
	case float64:
		s = strconv.FormatFloat(x, 'g', -1, 64)
	case string:
		s = strconv.Quote(x)
	default:
		s = fmt.Sprint(x)
	}
	const maxLen = 256
	if len(s) > maxLen {
		s = s[:maxLen] + "..."
	}
	return s
}
