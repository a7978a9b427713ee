package canary

import (
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/glidepath/glidepath/internal/replicas"
	"github.com/glidepath/glidepath/strategy"
)

// StepKind says what a [Step] does.
type StepKind string

// The kinds of canary step.
const (
	// KindSetWeight sends Step.Weight percent of the traffic to the
	// canary (Argo Rollouts' setWeight).
	KindSetWeight StepKind = "setWeight"
	// KindPause pauses for Step.Duration, or until promoted when it is 0.
	KindPause StepKind = "pause"
	// KindAnalysis runs Step.Analyzers inline; the rollout goes on when
	// they pass.
	KindAnalysis StepKind = "analysis"
	// KindSetCanaryScale sets the canary's instance count independently
	// of its traffic weight (Argo Rollouts' setCanaryScale), for targets
	// whose router splits traffic separately from capacity.
	KindSetCanaryScale StepKind = "setCanaryScale"
	// KindSetHeaderRoute sends requests whose header matches Step.Route
	// to the canary whatever the weight (Argo Rollouts' setHeaderRoute);
	// a zero Route removes the route.
	KindSetHeaderRoute StepKind = "setHeaderRoute"
)

// Step is one step of an explicit canary. Build steps with [SetWeight],
// [Pause], [PauseUntilPromoted], [Analysis], [SetCanaryScale] and
// [SetHeaderRoute]; the zero Step is invalid.
type Step struct {
	// Kind says what the step does and which field below it uses.
	Kind StepKind `json:"kind" yaml:"kind"`
	// Name labels the step in the plan, events and status (optional).
	Name string `json:"name,omitempty" yaml:"name,omitempty"`
	// Weight is the canary's traffic percentage (KindSetWeight), 0..100.
	Weight int `json:"weight,omitempty" yaml:"weight,omitempty"`
	// Duration is how long a KindPause lasts; 0 waits for Promote.
	Duration time.Duration `json:"-" yaml:"duration,omitempty"`
	// Analyzers run in a KindAnalysis step.
	Analyzers []strategy.Analyzer `json:"-" yaml:"-"`
	// Scale is the canary's capacity (KindSetCanaryScale).
	Scale Scale `json:"scale,omitempty" yaml:"scale,omitempty"`
	// Route is the header route (KindSetHeaderRoute); zero removes it.
	Route strategy.HeaderRoute `json:"route,omitempty" yaml:"route,omitempty"`
}

// SetWeight returns a step that sends weight percent of the traffic to the
// canary.
func SetWeight(weight int) Step { return Step{Kind: KindSetWeight, Weight: weight} }

// Pause returns a step that pauses for d; d == 0 pauses until promoted.
func Pause(d time.Duration) Step { return Step{Kind: KindPause, Duration: d} }

// PauseUntilPromoted returns a step that waits for Rollout.Promote.
func PauseUntilPromoted() Step { return Step{Kind: KindPause} }

// Analysis returns a step that runs analyzers inline.
func Analysis(analyzers ...strategy.Analyzer) Step {
	return Step{Kind: KindAnalysis, Analyzers: analyzers}
}

// SetCanaryScale returns a step that sizes the canary by s instead of by
// its traffic weight, until a later SetCanaryScale([MatchTrafficWeight]).
func SetCanaryScale(s Scale) Step { return Step{Kind: KindSetCanaryScale, Scale: s} }

// SetHeaderRoute returns a step that sends requests matching r to the
// canary; a zero r removes the route.
func SetHeaderRoute(r strategy.HeaderRoute) Step { return Step{Kind: KindSetHeaderRoute, Route: r} }

// Named returns a copy of s labelled name.
func (s Step) Named(name string) Step { s.Name = name; return s }

// String describes the step in a few words.
func (s Step) String() string {
	var d string
	switch s.Kind {
	case KindSetWeight:
		d = fmt.Sprintf("setWeight %d", s.Weight)
	case KindPause:
		if s.Duration == 0 {
			d = "pause until promoted"
		} else {
			d = "pause " + s.Duration.String()
		}
	case KindAnalysis:
		d = fmt.Sprintf("analysis %v", strategy.AnalyzerNames(s.Analyzers))
	case KindSetCanaryScale:
		d = "setCanaryScale " + s.Scale.String()
	case KindSetHeaderRoute:
		if s.Route.IsZero() {
			d = "setHeaderRoute off"
		} else {
			d = "setHeaderRoute " + routeString(s.Route)
		}
	default:
		d = fmt.Sprintf("unknown step %q", string(s.Kind))
	}
	if s.Name != "" {
		d = s.Name + ": " + d
	}
	return d
}

func routeString(r strategy.HeaderRoute) string {
	switch {
	case r.Exact != "":
		return fmt.Sprintf("%s=%q", r.Header, r.Exact)
	case r.Prefix != "":
		return fmt.Sprintf("%s^=%q", r.Header, r.Prefix)
	default:
		return fmt.Sprintf("%s~=%q", r.Header, r.Regex)
	}
}

// ScaleMode says how a [Scale] sizes the canary.
type ScaleMode string

// The ways to size a canary.
const (
	// ScaleMatchWeight sizes the canary from its traffic weight again
	// (Argo's matchTrafficWeight). The zero Scale.
	ScaleMatchWeight ScaleMode = ""
	// ScaleReplicas gives the canary exactly Scale.Value instances.
	ScaleReplicas ScaleMode = "replicas"
	// ScalePercent gives the canary ceil(Scale.Value × Replicas / 100)
	// instances: a percentage of the full count, which may exceed 100.
	ScalePercent ScaleMode = "percent"
)

// Scale is the canary's capacity set by a [SetCanaryScale] step. The zero
// Scale matches the traffic weight.
type Scale struct {
	// Mode says how Value is read (see [ScaleMode]).
	Mode ScaleMode `json:"mode,omitempty" yaml:"mode,omitempty"`
	// Value is an instance count or a percentage of Replicas, per Mode.
	Value int `json:"value,omitempty" yaml:"value,omitempty"`
}

// Replicas returns a Scale of exactly n canary instances.
func Replicas(n int) Scale { return Scale{Mode: ScaleReplicas, Value: n} }

// PercentOfReplicas returns a Scale of p percent of Config.Replicas.
func PercentOfReplicas(p int) Scale { return Scale{Mode: ScalePercent, Value: p} }

// MatchTrafficWeight returns the Scale that sizes the canary from its
// traffic weight again.
func MatchTrafficWeight() Scale { return Scale{} }

// String renders "replicas=3", "percent=50" or "matchTrafficWeight".
func (s Scale) String() string {
	switch s.Mode {
	case ScaleReplicas:
		return fmt.Sprintf("replicas=%d", s.Value)
	case ScalePercent:
		return fmt.Sprintf("percent=%d", s.Value)
	case ScaleMatchWeight:
		return "matchTrafficWeight"
	}
	return fmt.Sprintf("%s=%d", string(s.Mode), s.Value)
}

// count resolves s against total instances and the current weight.
func (s Scale) count(total, weight int) int {
	switch s.Mode {
	case ScaleReplicas:
		return s.Value
	case ScalePercent:
		return weightToReplicas(total, s.Value)
	}
	return weightToReplicas(total, weight)
}

// Background runs analyzers alongside the release from a given step on,
// like [strategy.Background] (Argo Rollouts' canary.analysis with
// startingStep). A Fail verdict rolls the release back whatever step it is
// in, pauses included, so the analyzers should measure on a fixed interval
// and return Fail as soon as they see a failure; they are stopped when the
// release ends.
type Background struct {
	// Analyzers run concurrently for the rest of the release.
	Analyzers []strategy.Analyzer `json:"-" yaml:"-"`
	// From is the index in Config.Steps from which the analysis runs
	// (Argo's startingStep; with the shorthand: the index of the weight,
	// so 0 is the first weight). The zero value starts it with the first
	// step, once the canary is deployed and ready.
	From int `json:"from,omitempty" yaml:"from,omitempty"`
}

// BackgroundAnalysis is the former name of [Background].
//
// Deprecated: use Background.
type BackgroundAnalysis = Background

// Config configures a canary release. It is either a list of explicit
// Steps (Argo Rollouts style) or the shorthand StepWeight/MaxWeight or
// StepWeights with an Interval (Flagger style), not both. The zero value
// is invalid: it has no steps.
type Config struct {
	// Steps is the explicit list of steps. Leave it empty to use the
	// shorthand.
	Steps []Step `json:"steps,omitempty" yaml:"steps,omitempty"`

	// StepWeight is the shorthand's weight increment: the canary gets
	// StepWeight, 2×StepWeight, ... percent until it reaches MaxWeight
	// (the last step may exceed MaxWeight up to the next multiple,
	// capped at 100, as Flagger does), then it is promoted.
	StepWeight int `json:"stepWeight,omitempty" yaml:"stepWeight,omitempty"`
	// MaxWeight is the weight at which the shorthand promotes; the zero
	// value is 100, as in Flagger.
	MaxWeight int `json:"maxWeight,omitempty" yaml:"maxWeight,omitempty"`
	// StepWeights is the shorthand's explicit, strictly increasing list
	// of weights (Flagger's stepWeights), used instead of StepWeight.
	StepWeights []int `json:"stepWeights,omitempty" yaml:"stepWeights,omitempty"`
	// Interval is how long the shorthand waits at each weight before it
	// runs Analyzers (Flagger's analysis interval). Required with the
	// shorthand.
	Interval time.Duration `json:"-" yaml:"interval,omitempty"`
	// Analyzers run after each Interval at each weight of the shorthand;
	// with none, each weight only lasts its Interval.
	Analyzers []strategy.Analyzer `json:"-" yaml:"-"`

	// Background analysis runs alongside the steps; see [Background].
	Background Background `json:"background,omitempty" yaml:"background,omitempty"`

	// Replicas is the full instance count of the service. The zero value
	// is a target without instances (a traffic splitter in front of fixed
	// upstreams, a feature flag): States carry weights only. At most
	// [MaxReplicas].
	Replicas int `json:"replicas,omitempty" yaml:"replicas,omitempty"`
	// TrafficRouting says that the target routes traffic by weight
	// independently of its instance counts (a mesh, an ingress, a load
	// balancer with weights). Without it, an instance target is a basic
	// canary: the traffic split is the instance split.
	TrafficRouting bool `json:"trafficRouting,omitempty" yaml:"trafficRouting,omitempty"`
	// DynamicStableScale scales the stable revision down as the canary's
	// weight rises (and back up before traffic returns to it), instead of
	// keeping it fully scaled until promotion. Requires TrafficRouting.
	DynamicStableScale bool `json:"dynamicStableScale,omitempty" yaml:"dynamicStableScale,omitempty"`
	// MaxSurge is how many instances above Replicas a basic canary may
	// run while it moves; nil is 25%, as in Argo Rollouts.
	MaxSurge *strategy.IntOrPercent `json:"maxSurge,omitempty" yaml:"maxSurge,omitempty"`
	// MaxUnavailable is how many of Replicas may be unavailable while a
	// basic canary moves; nil is 25%, as in Argo Rollouts. MaxSurge and
	// MaxUnavailable may not both be zero.
	MaxUnavailable *strategy.IntOrPercent `json:"maxUnavailable,omitempty" yaml:"maxUnavailable,omitempty"`
	// ProgressDeadline bounds each wait for the instances to become ready;
	// 0 uses the release's progress deadline.
	ProgressDeadline time.Duration `json:"-" yaml:"progressDeadline,omitempty"`
}

// MaxReplicas is the largest instance count a Config accepts (2^24), for
// Replicas and for a SetCanaryScale: far beyond any service released by
// canary, and small enough that no weight or percentage of it overflows.
const MaxReplicas = 1 << 24

// maxPlanSteps bounds the size of a plan, so that a large basic canary
// moved a few instances at a time cannot make Plan run out of memory.
const maxPlanSteps = 500_000

// surgeAndUnavailable returns MaxSurge and MaxUnavailable with Argo
// Rollouts' default of 25% each.
func (c Config) surgeAndUnavailable() (strategy.IntOrPercent, strategy.IntOrPercent) {
	return replicas.Bounds(c.MaxSurge, c.MaxUnavailable)
}

func (c Config) shorthand() bool {
	return c.StepWeight != 0 || len(c.StepWeights) > 0 || c.MaxWeight != 0 || c.Interval != 0 || len(c.Analyzers) > 0
}

// Weights returns the weights the shorthand walks through, in order, or
// nil when the Config uses explicit steps. With StepWeight S and MaxWeight
// M they are S, 2S, ... up to the first that reaches M (capped at 100):
// 10 and 50 give 10 20 30 40 50; 20 and 50 give 20 40 60.
func (c Config) Weights() []int {
	if len(c.StepWeights) > 0 {
		out := make([]int, 0, len(c.StepWeights))
		for _, w := range c.StepWeights {
			out = append(out, min(w, 100))
		}
		return out
	}
	if c.StepWeight <= 0 {
		return nil
	}
	maxW := c.MaxWeight
	if maxW <= 0 {
		maxW = 100
	}
	maxW = min(maxW, 100)
	var out []int
	for w := 0; w < maxW; {
		w = min(w+c.StepWeight, 100)
		out = append(out, w)
	}
	return out
}

// steps returns the explicit steps, expanding the shorthand: each weight
// is followed by a pause of Interval and, when there are Analyzers, an
// analysis.
func (c Config) steps() []Step {
	if len(c.Steps) > 0 || !c.shorthand() {
		return c.Steps
	}
	var out []Step
	for _, w := range c.Weights() {
		out = append(out, SetWeight(w))
		out = append(out, Pause(c.Interval).Named(fmt.Sprintf("interval at %d%%", w)))
		if len(c.Analyzers) > 0 {
			out = append(out, Analysis(c.Analyzers...))
		}
	}
	return out
}

// backgroundStart maps Background.From to an index of steps().
func (c Config) backgroundStart() int {
	k := c.Background.From
	if len(c.Steps) > 0 || !c.shorthand() {
		return k
	}
	per := 2
	if len(c.Analyzers) > 0 {
		per = 3
	}
	return k * per
}

// Validate reports every problem with the configuration at once, in an
// error matching [strategy.ErrInvalidConfig], or returns nil. Besides the
// fields themselves it walks the steps, so it also rejects traffic sent
// to a canary scaled to no instance, a basic canary that cannot reach a
// weight within its bounds, and a plan that would exceed half a million
// steps (a large basic canary moved one instance at a time).
func (c Config) Validate() error {
	probs := c.problems()
	if len(probs) == 0 {
		// The checks that need the steps walked through (a route or
		// traffic onto a canary with no instance).
		_, probs = c.build("stable", "canary")
	}
	return strategy.Invalid("canary config", probs...)
}

func (c Config) problems() []string {
	var p []string
	add := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }

	// Instances.
	if c.Replicas < 0 {
		add("Replicas is negative (%d)", c.Replicas)
	}
	if c.Replicas > MaxReplicas {
		add("Replicas (%d) is more than %d", c.Replicas, MaxReplicas)
	}
	if c.ProgressDeadline < 0 {
		add("ProgressDeadline is negative (%v)", c.ProgressDeadline)
	}
	surge, unavailable := c.surgeAndUnavailable()
	surgeOK, unavailableOK := true, true
	var ce *strategy.ConfigError
	if errors.As(surge.Validate(), &ce) {
		for _, q := range ce.Problems {
			add("MaxSurge: %s", q)
		}
		surgeOK = false
	}
	if errors.As(unavailable.Validate(), &ce) {
		for _, q := range ce.Problems {
			add("MaxUnavailable: %s", q)
		}
		unavailableOK = false
	}
	if surgeOK && unavailableOK && replicas.IsZero(surge) && replicas.IsZero(unavailable) {
		add("MaxSurge and MaxUnavailable are both zero: no instance could ever move")
	}
	if c.DynamicStableScale && !c.TrafficRouting {
		add("DynamicStableScale needs TrafficRouting: a basic canary already scales the stable down as it moves")
	}
	if c.DynamicStableScale && c.Replicas == 0 {
		add("DynamicStableScale needs Replicas")
	}

	// Shorthand against explicit steps.
	short := c.shorthand()
	if len(c.Steps) > 0 && short {
		add("both Steps and the shorthand (StepWeight, MaxWeight, StepWeights, Interval, Analyzers) are set; use one")
	}
	if len(c.Steps) == 0 && !short {
		add("no steps: set Steps, or StepWeight or StepWeights with an Interval")
	}
	if short && len(c.Steps) == 0 {
		p = append(p, c.shorthandProblems()...)
	}

	// Explicit steps.
	traffic := false
	for i, s := range c.Steps {
		where := fmt.Sprintf("Steps[%d] (%s)", i, s.Kind)
		switch s.Kind {
		case KindSetWeight:
			if s.Weight < 0 || s.Weight > 100 {
				add("%s: weight %d is outside 0..100", where, s.Weight)
			}
			if s.Weight > 0 && s.Weight <= 100 {
				traffic = true
			}
		case KindPause:
			if s.Duration < 0 {
				add("%s: negative duration %v", where, s.Duration)
			}
		case KindAnalysis:
			p = append(p, analyzerProblems(where, s.Analyzers)...)
		case KindSetCanaryScale:
			switch s.Scale.Mode {
			case ScaleReplicas, ScalePercent:
				if s.Scale.Value < 0 {
					add("%s: negative %s %d", where, s.Scale.Mode, s.Scale.Value)
				} else if s.Scale.Mode == ScaleReplicas && s.Scale.Value > MaxReplicas ||
					s.Scale.Mode == ScalePercent && s.Scale.Value > 100*MaxReplicas/max(c.Replicas, 1) {
					add("%s: %s gives the canary more than %d instances", where, s.Scale, MaxReplicas)
				}
			case ScaleMatchWeight:
				if s.Scale.Value != 0 {
					add("%s: matchTrafficWeight takes no value (got %d)", where, s.Scale.Value)
				}
			default:
				add("%s: unknown scale mode %q", where, string(s.Scale.Mode))
			}
			if c.Replicas == 0 {
				add("%s: setCanaryScale needs Replicas (the target has no instances to scale)", where)
			} else if !c.TrafficRouting {
				add("%s: setCanaryScale needs TrafficRouting (a basic canary sizes the canary from its weight)", where)
			}
		case KindSetHeaderRoute:
			if !s.Route.IsZero() {
				traffic = true
				p = append(p, routeProblems(where, s.Route)...)
				if c.Replicas > 0 && !c.TrafficRouting {
					add("%s: setHeaderRoute needs TrafficRouting (a basic canary has no router to match headers)", where)
				}
			}
		default:
			add("Steps[%d]: unknown step kind %q", i, string(s.Kind))
		}
	}
	if len(c.Steps) > 0 && !traffic {
		add("no step sends traffic to the canary (a setWeight above 0 or a header route) before it is promoted")
	}

	// Background analysis.
	b := c.Background
	if len(b.Analyzers) > 0 {
		p = append(p, analyzerProblems("Background", b.Analyzers)...)
	}
	n := len(c.Steps)
	what := "Steps"
	if len(c.Steps) == 0 {
		n = len(c.Weights())
		what = "the shorthand's weights"
	}
	if b.From < 0 || (n > 0 && b.From >= n) {
		add("Background.From %d is outside %s (0..%d)", b.From, what, n-1)
	}
	if b.From != 0 && len(b.Analyzers) == 0 {
		add("Background.From is set but Background has no analyzers")
	}
	return p
}

func (c Config) shorthandProblems() []string {
	var p []string
	add := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	if c.StepWeight != 0 && len(c.StepWeights) > 0 {
		add("both StepWeight and StepWeights are set; use one")
	}
	if c.StepWeight == 0 && len(c.StepWeights) == 0 {
		add("the shorthand needs StepWeight or StepWeights")
	}
	if c.StepWeight < 0 || c.StepWeight > 100 {
		add("StepWeight %d is outside 1..100", c.StepWeight)
	}
	if c.MaxWeight < 0 || c.MaxWeight > 100 {
		add("MaxWeight %d is outside 1..100 (0 means 100)", c.MaxWeight)
	}
	if c.MaxWeight != 0 && len(c.StepWeights) > 0 {
		add("MaxWeight is set with StepWeights; the last of StepWeights is the maximum")
	}
	if c.MaxWeight != 0 && c.StepWeight == 0 && len(c.StepWeights) == 0 {
		add("MaxWeight is set without StepWeight")
	}
	prev := 0
	for i, w := range c.StepWeights {
		if w < 1 || w > 100 {
			add("StepWeights[%d] = %d is outside 1..100", i, w)
		} else if w <= prev {
			add("StepWeights[%d] = %d does not increase on %d", i, w, prev)
		}
		prev = max(prev, w)
	}
	if c.Interval <= 0 {
		add("Interval must be positive with the shorthand (got %v)", c.Interval)
	}
	p = append(p, analyzerProblemsOptional("Analyzers", c.Analyzers)...)
	return p
}

func analyzerProblems(where string, as []strategy.Analyzer) []string {
	if len(as) == 0 {
		return []string{where + ": no analyzers"}
	}
	return analyzerProblemsOptional(where, as)
}

func analyzerProblemsOptional(where string, as []strategy.Analyzer) []string {
	var p []string
	for j, a := range as {
		if a == nil {
			p = append(p, fmt.Sprintf("%s: analyzer %d is nil", where, j))
		}
	}
	return p
}

func routeProblems(where string, r strategy.HeaderRoute) []string {
	var p []string
	if r.Header == "" {
		p = append(p, where+": header route has no header name")
	}
	set := 0
	for _, v := range []string{r.Exact, r.Prefix, r.Regex} {
		if v != "" {
			set++
		}
	}
	if set != 1 {
		p = append(p, where+": header route must set exactly one of Exact, Prefix and Regex")
	}
	if r.Regex != "" {
		if _, err := regexp.Compile(r.Regex); err != nil {
			p = append(p, fmt.Sprintf("%s: header route regex: %v", where, err))
		}
	}
	return p
}
