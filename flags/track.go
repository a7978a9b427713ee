package flags

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/glidepath/glidepath/analysis/judge"
	"github.com/glidepath/glidepath/strategy"
)

// sink counts one tracking event for one flag, per variant.
type sink struct {
	flag  string
	event string

	mu     sync.Mutex
	counts map[string]float64 // variant -> events
}

func (k *sink) add(variant string) {
	k.mu.Lock()
	k.counts[variant]++
	k.mu.Unlock()
}

func (k *sink) load(variant string) float64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.counts[variant]
}

// Track records a tracking event sent through OpenFeature's Track. The
// event is counted for every flag a [CountSource] watches it for,
// against the variant that flag serves the event's targeting key at the
// moment of the event (recomputed with [Bucket], or by evaluating the
// flag's targeting rule with the event's context; never stored per user).
// Events without a targeting key cannot be attributed and are not
// counted; nor are events no CountSource watches.
func (p *Provider) Track(_ context.Context, event string, evalCtx openfeature.EvaluationContext, _ openfeature.TrackingEventDetails) {
	sinks := (*p.sinks.Load())[event]
	if len(sinks) == 0 {
		return
	}
	key := evalCtx.TargetingKey()
	if key == "" {
		return
	}
	var flat map[string]any // for flags with a targeting rule
	for _, k := range sinks {
		s := p.lookup(k.flag)
		switch {
		case s == nil:
		case s.ruled:
			if flat == nil {
				flat = make(map[string]any, len(evalCtx.Attributes())+1)
				for a, v := range evalCtx.Attributes() {
					flat[a] = v
				}
				flat[openfeature.TargetingKey] = key
			}
			if v, _ := s.resolveRule(flat); v != nil {
				k.add(v.name)
			}
		default:
			k.add(s.assign(key).name)
		}
	}
}

// sinkFor returns the sink counting event for flag, creating it.
func (p *Provider) sinkFor(flag, event string) *sink {
	p.mu.Lock()
	defer p.mu.Unlock()
	old := *p.sinks.Load()
	for _, k := range old[event] {
		if k.flag == flag {
			return k
		}
	}
	k := &sink{flag: flag, event: event, counts: map[string]float64{}}
	m := maps.Clone(old)
	m[event] = append(append([]*sink(nil), old[event]...), k)
	p.sinks.Store(&m)
	return k
}

// Metrics says which counts a [CountSource] reports for a flag.
type Metrics struct {
	// Flag is the flag whose variants are compared. Required.
	Flag string
	// Trials is the tracking event counted as a trial, for example
	// "request". Empty counts the flag's successful evaluations instead.
	Trials string
	// Failures is the tracking event counted as a failure, for example
	// "error". Required.
	Failures string
	// Groups names revisions that stand for several variants (a
	// [FractionalTarget]'s Splits): their counts are the sums of their
	// variants' counts.
	Groups map[string][]string
}

// Validate reports every problem with m at once, as an error matching
// [strategy.ErrInvalidConfig], or nil.
func (m Metrics) Validate() error {
	var p []string
	if m.Flag == "" {
		p = append(p, "no flag")
	}
	if m.Failures == "" {
		p = append(p, "no failure event")
	}
	if m.Failures != "" && m.Trials == m.Failures {
		p = append(p, fmt.Sprintf("trials and failures are the same event %q", m.Failures))
	}
	return strategy.Invalid("flag metrics", p...)
}

// CountSource counts trials and failures per variant of a flag from
// tracking events (and evaluations), and reports them to a canary judge:
// it implements judge.CountSource. The baseline is the variant named by
// the release's stable revision, the canary the one named by its canary
// revision. Counts are cumulative from the creation of the first
// CountSource that asked for them. It cannot read the past: wrap it in a
// judge.Recorder, run from when the flag is created, to give a judge the
// baseline's history (it then fails a bad variant sooner).
type CountSource struct {
	p        *Provider
	m        Metrics
	trials   *sink // nil: evaluations
	failures *sink
}

var _ judge.CountSource = (*CountSource)(nil)

// CountSource starts counting m's events for m.Flag and returns the
// source that reports them. Sources for the same flag and events share
// their counts.
func (p *Provider) CountSource(m Metrics) (*CountSource, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if p.lookup(m.Flag) == nil {
		return nil, fmt.Errorf("flags: flag %q is not defined", m.Flag)
	}
	c := &CountSource{p: p, m: m, failures: p.sinkFor(m.Flag, m.Failures)}
	if m.Trials != "" {
		c.trials = p.sinkFor(m.Flag, m.Trials)
	} else {
		p.mu.Lock()
		p.metrics[m.Flag].on.Store(true)
		p.mu.Unlock()
	}
	return c, nil
}

// Name is "flag-events:<flag>".
func (c *CountSource) Name() string { return "flag-events:" + c.m.Flag }

// Variant returns the counts of one variant, or the sums over a group.
func (c *CountSource) Variant(name string) judge.Counts {
	if g, ok := c.m.Groups[name]; ok {
		var sum judge.Counts
		for _, v := range g {
			x := c.variantCounts(v)
			sum.Trials += x.Trials
			sum.Failures += x.Failures
		}
		return sum
	}
	return c.variantCounts(name)
}

func (c *CountSource) variantCounts(name string) judge.Counts {
	out := judge.Counts{Failures: c.failures.load(name)}
	if c.trials != nil {
		out.Trials = c.trials.load(name)
	} else if s := c.p.lookup(c.m.Flag); s != nil {
		out.Trials = float64(s.metrics.load(name))
	}
	return out
}

// Counts reports the cumulative counts of the variants named by
// in.Stable (baseline) and in.Canary (canary).
func (c *CountSource) Counts(ctx context.Context, in strategy.Input) (baseline, canary judge.Counts, err error) {
	if err := ctx.Err(); err != nil {
		return judge.Counts{}, judge.Counts{}, err
	}
	s := c.p.lookup(c.m.Flag)
	if s == nil {
		return judge.Counts{}, judge.Counts{}, fmt.Errorf("flags: flag %q is not defined", c.m.Flag)
	}
	var errs []error
	for _, rev := range []strategy.Revision{in.Stable, in.Canary} {
		if rev == "" {
			errs = append(errs, errors.New("the release names no variant to compare"))
			continue
		}
		if _, group := c.m.Groups[string(rev)]; group {
			continue
		}
		if _, ok := s.values[string(rev)]; !ok {
			errs = append(errs, fmt.Errorf("flag %s has no variant %q", c.m.Flag, rev))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return judge.Counts{}, judge.Counts{}, fmt.Errorf("flags: %w", err)
	}
	return c.Variant(string(in.Stable)), c.Variant(string(in.Canary)), nil
}
