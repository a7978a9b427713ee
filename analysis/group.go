package analysis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/glidepath/glidepath/strategy"
)

// Group runs several analyzers concurrently as one [strategy.Analyzer], as
// the metrics of an Argo Rollouts AnalysisRun run together: the worst
// outcome wins (Fail, then Inconclusive, then Pass), and as soon as one
// member reaches Fail or Inconclusive the others are stopped and the group
// answers. A member's error counts as Inconclusive, never as Pass.
//
// The verdict carries every member's measurements; each member's reason is
// listed in the group's reason, worst first.
//
// When ctx is cancelled with [strategy.ErrPlanComplete] (background
// analysis at the end of a release) the members' last words are the
// group's: it returns the worst of the verdicts its members returned
// without an error, and no error, so a member that never saw data holds
// the release. Members that answered with an error have no say; when none
// had a last word the group returns the context's cause.
type Group struct {
	// Label names the group in verdicts. Required.
	Label string
	// Analyzers are the members, typically [*Check] values. Required.
	Analyzers []strategy.Analyzer
}

// Name returns the group's Label.
func (g *Group) Name() string { return g.Label }

// Validate reports every problem with the group and with each member that
// has a Validate method, at once.
func (g *Group) Validate() error { return g.validate(true) }

// ValidateInline reports members that would never let an inline analysis
// step finish (see [Check.ValidateInline]).
func (g *Group) ValidateInline() error {
	var errs []error
	for _, a := range g.Analyzers {
		if iv, ok := a.(strategy.InlineValidator); ok {
			if err := iv.ValidateInline(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

func (g *Group) validate(members bool) error {
	var probs []string
	if g.Label == "" {
		probs = append(probs, "no Label: every group needs a name")
	}
	if len(g.Analyzers) == 0 {
		probs = append(probs, "no analyzers")
	}
	seen := map[string]bool{}
	for i, a := range g.Analyzers {
		if a == nil {
			probs = append(probs, fmt.Sprintf("analyzer %d is nil", i))
			continue
		}
		name := strategy.AnalyzerName(a)
		if seen[name] {
			probs = append(probs, fmt.Sprintf("two analyzers are named %q", name))
		}
		seen[name] = true
		if v, ok := a.(interface{ Validate() error }); ok && members {
			if err := v.Validate(); err != nil {
				probs = append(probs, oneLine(strings.ReplaceAll(err.Error(), "\n", "; ")))
			}
		}
	}
	return strategy.Invalid(fmt.Sprintf("group %q", g.Label), probs...)
}

// Analyze runs every member concurrently and returns the worst verdict.
func (g *Group) Analyze(ctx context.Context, in strategy.Input) (strategy.Verdict, error) {
	if err := g.validate(false); err != nil {
		return strategy.Verdict{Analyzer: g.Label, Outcome: strategy.Inconclusive, Reason: err.Error(), At: time.Now()},
			strategy.Permanent(err)
	}
	stop := errors.New("another member of the group decided")
	mctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	verdicts := make([]strategy.Verdict, len(g.Analyzers))
	errs := make([]error, len(g.Analyzers))
	var eg errgroup.Group
	for i, a := range g.Analyzers {
		eg.Go(func() error {
			v, err := a.Analyze(mctx, in)
			if v.Analyzer == "" {
				v.Analyzer = strategy.AnalyzerName(a)
			}
			if err != nil {
				v.Outcome = strategy.Inconclusive
				if v.Reason == "" {
					v.Reason = "error: " + err.Error()
				}
			}
			verdicts[i], errs[i] = v, err
			if mctx.Err() == nil && (err != nil || v.Outcome != strategy.Pass) {
				cancel(stop)
			}
			return nil
		})
	}
	_ = eg.Wait()

	// A member cut short by another's decision has no say, and neither has
	// one that answered the end of the release (ErrPlanComplete) with an
	// error rather than a last word.
	planDone := ctx.Err() != nil && errors.Is(context.Cause(ctx), strategy.ErrPlanComplete)
	cut := make([]bool, len(verdicts))
	said := false
	for i := range verdicts {
		cut[i] = errs[i] != nil && (planDone || context.Cause(mctx) == stop &&
			(errors.Is(errs[i], stop) || errors.Is(errs[i], context.Canceled)))
		said = said || !cut[i]
	}
	out := strategy.Verdict{Analyzer: g.Label, Outcome: strategy.Pass, At: time.Now()}
	var firstErr error
	for i, v := range verdicts {
		out.Measurements = append(out.Measurements, v.Measurements...)
		if cut[i] {
			continue
		}
		if errs[i] != nil && firstErr == nil {
			firstErr = fmt.Errorf("%s: %w", v.Analyzer, errs[i])
		}
		if v.Outcome.Worse(out.Outcome) {
			out.Outcome = v.Outcome
		}
	}
	out.Reason = reasons(verdicts, cut)
	if ctx.Err() != nil && !(planDone && said) {
		return out, context.Cause(ctx)
	}
	return out, firstErr
}

// reasons lists the members' reasons, worst outcome first.
func reasons(vs []strategy.Verdict, cut []bool) string {
	var parts []string
	for _, rank := range []strategy.Outcome{strategy.Fail, strategy.Inconclusive, strategy.Pass} {
		for i, v := range vs {
			if cut[i] {
				continue
			}
			o := v.Outcome
			if o != strategy.Fail && o != strategy.Pass {
				o = strategy.Inconclusive
			}
			if o == rank {
				parts = append(parts, fmt.Sprintf("%s: %s (%s)", v.Analyzer, v.Outcome, v.Reason))
			}
		}
	}
	for i, v := range vs {
		if cut[i] {
			parts = append(parts, v.Analyzer+": stopped")
		}
	}
	return strings.Join(parts, "; ")
}
