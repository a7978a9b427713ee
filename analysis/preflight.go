package analysis

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/glidepath/glidepath/strategy"
)

// ErrPreflightFailed is matched by the error of [Preflight] when a probe
// failed.
var ErrPreflightFailed = errors.New("analysis preflight failed")

// Preflighter is an optional capability of an analyzer: one cheap, safe
// probe that its metrics can be measured at all (the server answers, the
// credentials work, the query parses), taken before anything is applied.
// [*Check] and [*Group] implement it; a [Webhook] does not, since asking
// its receiver is a request for approval, not a probe.
//
// The probe's result is not judged: before the first Apply the canary has
// no traffic, so "no data" is expected. Only an error counts.
type Preflighter interface {
	Preflight(ctx context.Context, in strategy.Input) error
}

// Preflight probes, one after the other, every analyzer that implements
// [Preflighter], with in describing the release about to start (its State
// is the one serving now), and returns one error that matches
// [ErrPreflightFailed] and names every analyzer whose probe failed, or nil.
// Analyzers without the capability are skipped.
//
// It is opt-in, because a probe is a real query: call it before
// strategy.Start, or have the executor call it before the first Apply for
// every analyzer of the plan (an executor that cannot import this package
// checks for the same method set, Preflight(context.Context,
// strategy.Input) error, and treats an error as a refusal to start, naming
// the analyzer, with nothing applied).
func Preflight(ctx context.Context, in strategy.Input, analyzers ...strategy.Analyzer) error {
	var probs []string
	for _, a := range analyzers {
		p, ok := a.(Preflighter)
		if !ok || isNilPointer(a) {
			continue
		}
		if err := p.Preflight(ctx, in); err != nil {
			probs = append(probs, fmt.Sprintf("%s: %s", strategy.AnalyzerName(a), oneLine(err.Error())))
		}
	}
	if len(probs) == 0 {
		return nil
	}
	return fmt.Errorf("%w:\n  - %s", ErrPreflightFailed, strings.Join(probs, "\n  - "))
}

// Preflight validates the check, then takes one measurement of its query
// (and of its SamplesQuery) through its Source, with the check's Timeout,
// and returns the Source's error, if any, with the check's secrets
// redacted. The value is neither judged nor recorded in History.
func (c *Check) Preflight(ctx context.Context, in strategy.Input) error {
	p, err := c.prepared()
	if err != nil {
		return err
	}
	r := &run{c: c, p: p, in: in, redact: newRedactor(c.Args)}
	state := in.CurrentState()
	probe := func(what string, t *template) error {
		text, secrets, err := t.render(p.args, in, state, p.escape)
		r.redact.add(secrets...)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if _, err := r.source(ctx, text, state); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	}
	err = probe("query", p.query)
	if err == nil && p.samples != nil {
		err = probe("samples query", p.samples)
	}
	return r.redact.redactErr(err)
}

// Preflight probes the group's members (see [Preflight]).
func (g *Group) Preflight(ctx context.Context, in strategy.Input) error {
	return Preflight(ctx, in, g.Analyzers...)
}
