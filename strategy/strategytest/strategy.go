package strategytest

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/glidepath/glidepath/strategy"
)

// CheckStrategy checks that a strategy behaves as the executor expects,
// for authors of strategies (and of fuzz tests of configurations):
//
//   - when s has a Validate method, Validate and Plan agree: both accept
//     the configuration or both reject it;
//   - a rejection is an error matching strategy.ErrInvalidConfig;
//   - Plan is pure: planning twice gives the same plan (same fingerprint);
//   - an accepted plan is one the executor accepts (strategy.Plan.Problems)
//     and its steps end on its Final State;
//   - when the plan has a Rollback path, the path from the States the plan
//     applies (every one of a plan of up to 64, 64 spread evenly over a
//     larger one) and from Final ends on the plan's Stable State.
//
// It returns the plan, whether the configuration was accepted, and one
// error naming every violation (nil when there is none).
func CheckStrategy(s strategy.Strategy, stable, canary strategy.Revision) (plan strategy.Plan, accepted bool, err error) {
	var errs []error
	fail := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	var verr error
	v, hasValidate := s.(strategy.Validator)
	if hasValidate {
		verr = v.Validate()
	}
	p, perr := s.Plan(stable, canary)
	if hasValidate && (verr == nil) != (perr == nil) {
		fail("Validate = %v but Plan = %v", verr, perr)
	}
	if perr != nil {
		if !errors.Is(perr, strategy.ErrInvalidConfig) {
			fail("Plan's error %v does not match strategy.ErrInvalidConfig", perr)
		}
		return strategy.Plan{}, false, errors.Join(errs...)
	}
	if again, err := s.Plan(stable, canary); err != nil || again.Fingerprint() != p.Fingerprint() {
		fail("Plan is not pure: planning again gave a different plan (error %v)", err)
	}
	var last strategy.State
	for _, st := range p.Steps {
		if st.Kind == strategy.StepApply {
			last = st.State
		}
	}
	// The executor's own defaults: a zero Stable is the stable revision
	// alone, a zero Final the last State applied.
	checked := p
	if checked.Stable == (strategy.State{}) {
		checked.Stable = strategy.State{Stable: stable}
	}
	if checked.Final == (strategy.State{}) {
		checked.Final = last
	}
	if err := checked.Validate(nil); err != nil {
		fail("the executor would reject the plan: %v", err)
	}
	if p.Final != (strategy.State{}) && last != p.Final {
		fail("the plan's last Apply is %s, not its Final State %s", last, p.Final)
	}
	if p.Rollback != nil {
		stablePoint := p.Stable
		if stablePoint == (strategy.State{}) {
			stablePoint = strategy.State{Stable: stable}
		}
		var applied []strategy.State
		for _, st := range p.Steps {
			if st.Kind == strategy.StepApply {
				applied = append(applied, st.State)
			}
		}
		// Every State of a small plan; of a large one, 64 spread evenly
		// (a rollback path costs up to the plan's length to build).
		from := []strategy.State{p.Final}
		stride := max(1, len(applied)/64)
		for k := 0; k < len(applied); k += stride {
			from = append(from, applied[k])
		}
		for _, f := range from {
			if path := p.Rollback(f); len(path) == 0 || path[len(path)-1] != stablePoint {
				fail("the rollback from %s is %v; it must end on the Stable State %s", f, path, stablePoint)
			}
		}
	}
	return p, true, errors.Join(errs...)
}

// Problems returns the problems of the [*strategy.ConfigError] err holds,
// or nil when it holds none. Tests check these rather than the error's
// wording.
func Problems(err error) []string {
	var ce *strategy.ConfigError
	if errors.As(err, &ce) {
		return ce.Problems
	}
	return nil
}

// HasProblem reports whether err holds a [*strategy.ConfigError] one of
// whose problems contains phrase.
func HasProblem(err error, phrase string) bool {
	return slices.ContainsFunc(Problems(err), func(p string) bool { return strings.Contains(p, phrase) })
}
