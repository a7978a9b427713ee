package analysis

import (
	"context"

	"github.com/glidepath/glidepath/strategy"
)

// Query is what a [Source] is asked to measure.
type Query struct {
	// Check is the label of the check taking the measurement.
	Check string
	// Text is the check's query with every placeholder expanded and
	// escaped (see [Check.Query]).
	Text string
	// Input is the release being analysed.
	Input strategy.Input
	// State is the State applied when the measurement was taken
	// (Input.CurrentState(), which follows the weight in background
	// analysis).
	State strategy.State
}

// Source takes one measurement. The value it returns is bound to `result`
// in a check's conditions; use the shapes Argo Rollouts users know:
//
//   - float64 for a single number (a Prometheus scalar),
//   - []float64 for one number per series (a Prometheus instant vector,
//     hence `result[0]`),
//   - [][]float64 for one slice of samples per series (a range query),
//   - string or bool for other providers (asFloat and asInt convert),
//   - nil for "no data".
//
// Other integer and float types are converted to float64 (and slices of
// them to []float64) before the conditions see them.
//
// An error is a measurement error: the check records it and measures again
// at the next interval, within its consecutive-error limit. An error marked
// with [strategy.Permanent] (a query the server cannot parse) ends the check
// at once: retrying cannot fix it.
type Source interface {
	Measure(ctx context.Context, q Query) (any, error)
}

// SourceFunc adapts a function to [Source]: a source of in-process numbers.
type SourceFunc func(ctx context.Context, q Query) (any, error)

// Measure calls f.
func (f SourceFunc) Measure(ctx context.Context, q Query) (any, error) { return f(ctx, q) }

// Placeholder describes where a placeholder sits in a query, for an
// [Escaper].
type Placeholder struct {
	// Expr is the placeholder's expression, for example "args.service".
	Expr string
	// Quote is the quote character of the string literal that encloses
	// the placeholder ('"', '\'' or '`'), or 0 outside any literal.
	Quote rune
	// Regex is true when the literal is the right operand of a regular
	// expression matcher (=~ or !~).
	Regex bool
}

// Escaper is an optional [Source] capability: a source whose query language
// is not PromQL says how to make a value safe at a placeholder. Sources that
// do not implement it get PromQL escaping (see [Check.Query]).
type Escaper interface {
	Escape(value string, at Placeholder) (string, error)
}
