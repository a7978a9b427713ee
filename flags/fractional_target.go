package flags

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/glidepath/glidepath/strategy"
)

// fractionalScale is the weight a revision's split carries at 100%; a
// State at weight w gives the canary's split w × fractionalScale / 100
// and the stable's the rest, so steps of 0.01% stay exact.
const fractionalScale = 1_000_000

// FractionalTarget releases a flag with a flagd targeting rule by moving
// the weights of its fractional operation: it is a [strategy.Target], so
// canary and rolling strategies step the weights with their usual
// pauses, analysis and rollback. The flag's rule must contain exactly
// one fractional operation whose distributions are constant; Apply
// rewrites that operation's distributions (keeping its bucketing
// expression and the order of variants, so that a user only moves
// between the variants whose weights change) and leaves the rest of the
// rule alone.
//
// A revision names a variant, or a split among variants declared in
// Splits, so a release can move users from one variant to several:
//
//	State{Stable: "legacy", Canary: "new", Weight: 30}  with Splits{"new": {"fast": 1, "faster": 1}}
//	  ->  legacy 70%, fast 15%, faster 15%
//
// Bucketing is flagd's (MurmurHash3 of flagKey + targetingKey by
// default), so a flag released here assigns users exactly as flagd would
// serve the same file. The weights live in the provider: when the flag
// comes from a watched file, a change of the file's content replaces them
// with the file's (Observe then reports the file's state, and the next
// step applies the release's weights again). Create it with
// [NewFractionalTarget].
type FractionalTarget struct {
	p      *Provider
	flag   string
	splits map[string]map[string]int

	mu      sync.Mutex
	applied strategy.State
	weights map[string]int
	has     bool
}

var _ strategy.Target = (*FractionalTarget)(nil)

// Splits maps a revision name to relative weights among variants.
type Splits map[string]map[string]int

// NewFractionalTarget returns the target releasing the flag flagKey of p,
// which must have a rule with one constant fractional operation, and
// whose variants every split names with non-negative weights that are
// not all zero.
func NewFractionalTarget(p *Provider, flagKey string, splits Splits) (*FractionalTarget, error) {
	s := p.lookup(flagKey)
	if s == nil {
		return nil, fmt.Errorf("flags: flag %q is not defined", flagKey)
	}
	var probs []string
	if _, _, err := findFractional(s.def); err != nil {
		probs = append(probs, err.Error())
	}
	for _, rev := range slices.Sorted(maps.Keys(splits)) {
		total := 0
		for _, v := range slices.Sorted(maps.Keys(splits[rev])) {
			w := splits[rev][v]
			if _, ok := s.values[v]; !ok {
				probs = append(probs, fmt.Sprintf("split %q: variant %q is not defined", rev, v))
			}
			if w < 0 {
				probs = append(probs, fmt.Sprintf("split %q: weight %d of %q is negative", rev, w, v))
			}
			total += max(w, 0)
		}
		if total == 0 {
			probs = append(probs, fmt.Sprintf("split %q: weights are all zero", rev))
		}
	}
	if err := strategy.Invalid("fractional target for flag "+flagKey, probs...); err != nil {
		return nil, err
	}
	return &FractionalTarget{p: p, flag: flagKey, splits: splits}, nil
}

// Name is "flag:<key>".
func (t *FractionalTarget) Name() string { return "flag:" + t.flag }

// split returns the relative weights a revision stands for.
func (t *FractionalTarget) split(rev strategy.Revision) (map[string]int, bool) {
	if s, ok := t.splits[string(rev)]; ok {
		return s, true
	}
	st := t.p.lookup(t.flag)
	if st == nil {
		return nil, false
	}
	if _, ok := st.values[string(rev)]; !ok {
		return nil, false
	}
	return map[string]int{string(rev): 1}, true
}

// WeightsFor returns the fractional weights a State stands for.
func (t *FractionalTarget) WeightsFor(s strategy.State) (map[string]int, error) {
	stable, ok := t.split(s.Stable)
	if !ok {
		return nil, fmt.Errorf("revision %q is neither a variant of flag %s nor a split", s.Stable, t.flag)
	}
	out := map[string]int{}
	w := s.Weight
	if s.Canary == "" || s.Canary == s.Stable {
		w = 0
	}
	add := func(split map[string]int, share int) {
		total := 0
		for _, x := range split {
			total += x
		}
		for v, x := range split {
			out[v] += x * share * (fractionalScale / 100) / total
		}
	}
	add(stable, 100-w)
	if w > 0 {
		canary, ok := t.split(s.Canary)
		if !ok {
			return nil, fmt.Errorf("revision %q is neither a variant of flag %s nor a split", s.Canary, t.flag)
		}
		add(canary, w)
	}
	return out, nil
}

// Apply rewrites the flag's fractional weights to the ones desired stands
// for. It is idempotent. Invalid States, header routes, unknown
// revisions and a flag without a suitable rule are permanent errors.
func (t *FractionalTarget) Apply(ctx context.Context, desired strategy.State) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var probs []string
	var ce *strategy.ConfigError
	if errors.As(desired.Validate(), &ce) {
		probs = append(probs, ce.Problems...)
	}
	if !desired.Route.IsZero() {
		probs = append(probs, "a flag cannot route requests by header")
	}
	if len(probs) > 0 {
		return strategy.Permanent(strategy.Invalid(fmt.Sprintf("state %s for flag %s", desired, t.flag), probs...))
	}
	weights, err := t.WeightsFor(desired)
	if err != nil {
		return strategy.Permanent(err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	err = t.p.updateFlag(t.flag, func(f Flag) (Flag, error) { return withWeights(f, weights) })
	if err != nil {
		return strategy.Permanent(err)
	}
	t.applied, t.weights, t.has = desired, weights, true
	return nil
}

// Observe reports the State last applied while the flag still has the
// weights it set; otherwise the variant with the largest weight as the
// stable revision.
func (t *FractionalTarget) Observe(ctx context.Context) (strategy.Observation, error) {
	if err := ctx.Err(); err != nil {
		return strategy.Observation{}, err
	}
	s := t.p.lookup(t.flag)
	if s == nil {
		return strategy.Observation{}, strategy.Permanent(errors.New("flags: flag " + t.flag + " is not defined"))
	}
	current, err := Weights(s.def)
	if err != nil {
		return strategy.Observation{}, strategy.Permanent(err)
	}
	t.mu.Lock()
	st := t.applied
	if !t.has || !maps.Equal(nonZero(current), nonZero(t.weights)) {
		best, bw := "", -1
		for _, v := range slices.Sorted(maps.Keys(current)) {
			if current[v] > bw {
				best, bw = v, current[v]
			}
		}
		st = strategy.State{Stable: strategy.Revision(best)}
	}
	t.mu.Unlock()
	o := strategy.Observation{State: st}
	if st.Stable != "" {
		o.Ready.Stable = max(1, st.Replicas.Stable)
	}
	if st.Canary != "" && st.Canary != st.Stable {
		o.Ready.Canary = max(1, st.Replicas.Canary)
	}
	return o, nil
}

// findFractional decodes f's rule and returns it with the one fractional
// operation's operand list.
func findFractional(f Flag) (rule any, frac map[string]any, err error) {
	if len(f.Targeting) == 0 {
		return nil, nil, fmt.Errorf("flag %s has no targeting rule", f.Key)
	}
	if err := json.Unmarshal(f.Targeting, &rule); err != nil {
		return nil, nil, err
	}
	var found []map[string]any
	var walk func(x any)
	walk = func(x any) {
		switch v := x.(type) {
		case map[string]any:
			if _, ok := v["fractional"]; ok && len(v) == 1 {
				found = append(found, v)
			}
			for _, e := range v {
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(rule)
	if len(found) != 1 {
		return nil, nil, fmt.Errorf("flag %s: the rule has %d fractional operations, a fractional target needs exactly one", f.Key, len(found))
	}
	args, ok := found[0]["fractional"].([]any)
	if !ok {
		return nil, nil, fmt.Errorf("flag %s: the fractional operand is not an array", f.Key)
	}
	for _, d := range fractionalDists(args) {
		dist, ok := d.([]any)
		if !ok || len(dist) == 0 {
			return nil, nil, fmt.Errorf("flag %s: a fractional distribution is not constant", f.Key)
		}
		if _, ok := dist[0].(string); !ok {
			return nil, nil, fmt.Errorf("flag %s: a fractional variant is not a constant name", f.Key)
		}
		if len(dist) > 1 {
			if _, ok := dist[1].(float64); !ok {
				return nil, nil, fmt.Errorf("flag %s: a fractional weight is not a constant", f.Key)
			}
		}
	}
	return rule, found[0], nil
}

// fractionalDists returns the distributions of a fractional operand.
func fractionalDists(args []any) []any {
	if len(args) > 0 {
		if _, ok := args[0].([]any); !ok {
			return args[1:]
		}
	}
	return args
}

// Weights returns the weights of the one fractional operation of f's rule.
func Weights(f Flag) (map[string]int, error) {
	_, frac, err := findFractional(f)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, d := range fractionalDists(frac["fractional"].([]any)) {
		dist := d.([]any)
		w := 1
		if len(dist) > 1 {
			w = int(dist[1].(float64))
		}
		out[dist[0].(string)] += w
	}
	return out, nil
}

// withWeights returns f with its fractional operation's distributions
// set to weights: variants already listed keep their place, new ones are
// appended in name order, and listed variants not in weights get 0.
func withWeights(f Flag, weights map[string]int) (Flag, error) {
	rule, frac, err := findFractional(f)
	if err != nil {
		return Flag{}, err
	}
	args := frac["fractional"].([]any)
	var out []any
	if len(args) > 0 {
		if _, ok := args[0].([]any); !ok {
			out = append(out, args[0])
		}
	}
	seen := map[string]bool{}
	for _, d := range fractionalDists(args) {
		name := d.([]any)[0].(string)
		if seen[name] {
			continue
		}
		seen[name] = true
		out = append(out, []any{name, weights[name]})
	}
	for _, name := range slices.Sorted(maps.Keys(weights)) {
		if !seen[name] {
			out = append(out, []any{name, weights[name]})
		}
	}
	frac["fractional"] = out
	b, err := json.Marshal(rule)
	if err != nil {
		return Flag{}, err
	}
	f.Targeting = b
	return f, nil
}

func nonZero(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

// updateFlag replaces the definition of the flag key by fn's rewrite of
// it, atomically with respect to other changes (a reload of the file
// cannot slip in between), and emits PROVIDER_CONFIGURATION_CHANGED.
func (p *Provider) updateFlag(key string, fn func(Flag) (Flag, error)) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.lookup(key)
	if s == nil {
		return fmt.Errorf("flags: flag %q is not defined", key)
	}
	f, err := fn(s.def)
	if err != nil {
		return err
	}
	if err := f.Validate(); err != nil {
		return err
	}
	p.store(p.compile(f))
	p.changed(key)
	return nil
}
