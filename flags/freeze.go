package flags

import (
	"context"
	"errors"
	"fmt"
	"github.com/glidepath/glidepath/internal/sleep"
	"time"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/glidepath/glidepath/strategy"
)

// BooleanEvaluator evaluates boolean flags; *openfeature.Client (and any
// openfeature.IClient) implements it.
type BooleanEvaluator interface {
	BooleanValueDetails(ctx context.Context, flag string, defaultValue bool, evalCtx openfeature.EvaluationContext, options ...openfeature.Option) (openfeature.BooleanEvaluationDetails, error)
}

// FreezeGate is a [strategy.Analyzer] that holds or fails a release while
// a boolean flag says releases are frozen (true). The flag can be served
// by any OpenFeature provider.
//
// Inline (an analysis step) it evaluates the flag, waits up to Wait for a
// freeze to lift, and then answers: Pass when not frozen, otherwise
// Inconclusive (the executor pauses the release for a person) or, with
// Fail set, Fail (the release rolls back). In the background it
// re-evaluates the flag every Interval and answers as soon as releases
// are frozen, and evaluates it once more when the executor asks
// background analysis for its last word before the final step
// ([strategy.ErrPlanComplete]), so a freeze that began since the last
// poll still stops the promotion.
//
// A flag that cannot be evaluated is never read as "not frozen": the
// gate returns the evaluation error, which the executor treats as
// Inconclusive.
type FreezeGate struct {
	// Client evaluates the flag. Required.
	Client BooleanEvaluator
	// Flag is the key of the boolean flag; true means frozen. Required.
	Flag string
	// Context is the evaluation context the flag is evaluated with, for
	// example a targeting key naming the service. Zero: empty.
	Context openfeature.EvaluationContext
	// Fail fails the release while frozen instead of holding it.
	Fail bool
	// Wait is how long an inline check waits for a freeze to lift before
	// answering. Zero answers at once.
	Wait time.Duration
	// Interval is how often the flag is re-evaluated while waiting and in
	// the background (default 30s).
	Interval time.Duration
}

var _ strategy.Analyzer = (*FreezeGate)(nil)

// Validate reports every problem with g at once, as an error matching
// [strategy.ErrInvalidConfig], or nil.
func (g *FreezeGate) Validate() error {
	var p []string
	if g.Client == nil {
		p = append(p, "no client")
	}
	if g.Flag == "" {
		p = append(p, "no flag")
	}
	if g.Wait < 0 {
		p = append(p, fmt.Sprintf("wait %v is negative", g.Wait))
	}
	if g.Interval < 0 {
		p = append(p, fmt.Sprintf("interval %v is negative", g.Interval))
	}
	return strategy.Invalid("freeze gate "+g.Flag, p...)
}

// Name is "freeze:<flag>".
func (g *FreezeGate) Name() string { return "freeze:" + g.Flag }

// Analyze evaluates the freeze flag (see [FreezeGate]).
func (g *FreezeGate) Analyze(ctx context.Context, in strategy.Input) (strategy.Verdict, error) {
	if err := g.Validate(); err != nil {
		return strategy.Verdict{}, err
	}
	interval := g.Interval
	if interval == 0 {
		interval = 30 * time.Second
	}
	var deadline time.Time
	if !in.Background {
		deadline = time.Now().Add(g.Wait)
	}
	for {
		frozen, m, err := g.evaluate(ctx)
		if err != nil {
			return strategy.Verdict{Analyzer: g.Name(), Measurements: []strategy.Measurement{m}}, err
		}
		if !frozen {
			if !in.Background {
				m.Outcome = strategy.Pass
				return strategy.Verdict{Analyzer: g.Name(), Outcome: strategy.Pass, At: m.At,
					Reason: "releases are not frozen", Measurements: []strategy.Measurement{m}}, nil
			}
		} else if in.Background || !time.Now().Before(deadline) {
			return g.frozen(m), nil
		}
		wait := interval
		if !in.Background {
			wait = min(wait, time.Until(deadline))
		}
		if !sleep.For(ctx, wait) {
			if in.Background {
				return g.lastWord(ctx, interval)
			}
			return strategy.Verdict{}, ctx.Err()
		}
	}
}

// frozen is the verdict while releases are frozen, measured by m.
func (g *FreezeGate) frozen(m strategy.Measurement) strategy.Verdict {
	out := strategy.Inconclusive
	if g.Fail {
		out = strategy.Fail
	}
	m.Outcome = out
	return strategy.Verdict{Analyzer: g.Name(), Outcome: out, At: m.At,
		Reason: "releases are frozen by flag " + g.Flag, Measurements: []strategy.Measurement{m}}
}

// lastWord answers when a background gate's context ends. Before the
// final step of a plan (cause strategy.ErrPlanComplete) the executor acts
// on the answer, so the flag is evaluated once more, within one Interval:
// a freeze that began since the last poll holds (or fails) the release
// instead of letting it promote, and a flag that cannot be evaluated
// holds it (Inconclusive). Otherwise the release is rolling back or was
// promoted by hand, and the answer is not used.
func (g *FreezeGate) lastWord(ctx context.Context, interval time.Duration) (strategy.Verdict, error) {
	if !errors.Is(context.Cause(ctx), strategy.ErrPlanComplete) {
		return strategy.Verdict{Analyzer: g.Name(), Outcome: strategy.Pass, Reason: "release ended"}, nil
	}
	ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), interval)
	defer cancel()
	frozen, m, err := g.evaluate(ectx)
	switch {
	case err != nil:
		m.Outcome = strategy.Inconclusive
		return strategy.Verdict{Analyzer: g.Name(), Outcome: strategy.Inconclusive, At: m.At,
			Reason: "before promotion: " + err.Error(), Measurements: []strategy.Measurement{m}}, nil
	case frozen:
		return g.frozen(m), nil
	}
	m.Outcome = strategy.Pass
	return strategy.Verdict{Analyzer: g.Name(), Outcome: strategy.Pass, At: m.At,
		Reason: "releases are not frozen", Measurements: []strategy.Measurement{m}}, nil
}

func (g *FreezeGate) evaluate(ctx context.Context) (bool, strategy.Measurement, error) {
	d, err := g.Client.BooleanValueDetails(ctx, g.Flag, true, g.Context)
	m := strategy.Measurement{Name: g.Flag, At: time.Now(), Condition: g.Flag + " == true"}
	if err != nil {
		m.Error = err.Error()
		return false, m, fmt.Errorf("freeze flag %s: %w", g.Flag, err)
	}
	m.Value = fmt.Sprint(d.Value)
	return d.Value, m, nil
}
