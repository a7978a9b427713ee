package strategy

import (
	"context"
	"fmt"
)

// Revision names one version of whatever is being released: an image digest,
// a git SHA, a configuration hash, a feature-flag variant.
type Revision string

// Replicas holds desired (or, in an [Observation], ready) instance counts per
// revision. Targets without instances (a feature flag, a traffic splitter in
// front of fixed upstreams) leave it zero in the States they are given and
// report readiness as 1 (up) or 0 (down) per revision.
type Replicas struct {
	Stable int `json:"stable"` // instances of the stable revision
	Canary int `json:"canary"` // instances of the canary revision
}

// Total is Stable + Canary.
func (r Replicas) Total() int { return r.Stable + r.Canary }

// HeaderRoute sends requests whose header matches to the canary revision,
// whatever the weight (A/B routing). The zero value routes nothing. Exactly one
// of Exact, Prefix and Regex is set in a valid route. Only targets that
// implement [HeaderRouter] accept States that carry a route.
type HeaderRoute struct {
	Header string `json:"header,omitempty"` // header name, for example "X-Canary"
	Exact  string `json:"exact,omitempty"`  // the whole value must equal this
	Prefix string `json:"prefix,omitempty"` // the value must start with this
	Regex  string `json:"regex,omitempty"`  // the value must match this RE2 expression
}

// IsZero reports whether the route routes nothing.
func (h HeaderRoute) IsZero() bool { return h == HeaderRoute{} }

// State is what a [Target] should look like at one moment of a release. It is
// comparable with ==.
type State struct {
	// Stable is the known-good revision: the rollback point.
	Stable Revision `json:"stable"`
	// Canary is the revision being released; empty when there is none.
	Canary Revision `json:"canary,omitempty"`
	// Weight is the percentage of traffic sent to Canary, 0..100. With no
	// Canary it must be 0.
	Weight int `json:"weight"`
	// Replicas is the desired instance count of each revision. Targets
	// without instances ignore it.
	Replicas Replicas `json:"replicas"`
	// Route optionally sends header-matched requests to Canary.
	Route HeaderRoute `json:"route,omitzero"`
}

// String renders the State compactly, for logs and progress lines.
func (s State) String() string {
	out := fmt.Sprintf("stable=%s", s.Stable)
	if s.Canary != "" {
		out += fmt.Sprintf(" canary=%s weight=%d%%", s.Canary, s.Weight)
	}
	if s.Replicas != (Replicas{}) {
		out += fmt.Sprintf(" replicas=%d/%d", s.Replicas.Stable, s.Replicas.Canary)
	}
	if !s.Route.IsZero() {
		out += fmt.Sprintf(" route=%s", s.Route.Header)
	}
	return out
}

// Share is the percentage of ordinary (not header-routed) traffic that rev
// receives in s.
func (s State) Share(rev Revision) int {
	if rev == "" {
		return 0
	}
	share := 0
	if s.Canary == "" {
		if s.Stable == rev {
			share = 100
		}
		return share
	}
	if s.Stable == rev {
		share += 100 - s.Weight
	}
	if s.Canary == rev {
		share += s.Weight
	}
	return share
}

// Desired is the instance count s asks for rev (0 when rev is in neither slot).
func (s State) Desired(rev Revision) int {
	n := 0
	if s.Stable == rev {
		n += s.Replicas.Stable
	}
	if s.Canary == rev && s.Canary != "" {
		n += s.Replicas.Canary
	}
	return n
}

// Validate reports everything wrong with s as one [*ConfigError], or nil.
func (s State) Validate() error {
	p := s.problems()
	if len(p) == 0 {
		return nil // no name to render: Apply calls this on every State
	}
	return &ConfigError{What: "state " + s.String(), Problems: p}
}

// problems lists what is wrong with s, or nil. Each problem is a short phrase.
func (s State) problems() []string {
	var p []string
	if s.Stable == "" && s.Canary == "" {
		p = append(p, "state names no revision")
	}
	if s.Weight < 0 || s.Weight > 100 {
		p = append(p, fmt.Sprintf("weight %d is outside 0..100", s.Weight))
	}
	if s.Canary == "" && s.Weight != 0 {
		p = append(p, fmt.Sprintf("weight %d with no canary revision", s.Weight))
	}
	if s.Stable == "" && s.Canary != "" && s.Weight != 100 {
		p = append(p, fmt.Sprintf("no stable revision but only %d%% of traffic on the canary", s.Weight))
	}
	if s.Replicas.Stable < 0 || s.Replicas.Canary < 0 {
		p = append(p, fmt.Sprintf("negative replicas %d/%d", s.Replicas.Stable, s.Replicas.Canary))
	}
	if !s.Route.IsZero() {
		if s.Canary == "" {
			p = append(p, "header route with no canary revision")
		}
		if s.Route.Header == "" {
			p = append(p, "header route with no header name")
		}
		set := 0
		for _, v := range []string{s.Route.Exact, s.Route.Prefix, s.Route.Regex} {
			if v != "" {
				set++
			}
		}
		if set != 1 {
			p = append(p, "header route must set exactly one of exact, prefix and regex")
		}
	}
	return p
}

// Observation is what a [Target] reports: the State it is serving, as far as
// it can tell, and how much of each revision is ready.
type Observation struct {
	// State is the State the target currently serves.
	State State `json:"state"`
	// Ready counts ready instances of State.Stable and State.Canary.
	// Targets without instances report 1 for a revision that is up and
	// 0 for one that is down.
	Ready Replicas `json:"ready"`
}

// ReadyCount is how many ready instances of rev the observation reports.
func (o Observation) ReadyCount(rev Revision) int {
	n := 0
	if rev == "" {
		return 0
	}
	if o.State.Stable == rev {
		n += o.Ready.Stable
	}
	if o.State.Canary == rev {
		n += o.Ready.Canary
	}
	return n
}

// Satisfies reports whether every revision that desired gives traffic or
// instances to is ready at the desired capacity: at least its desired
// instance count, and at least one (up) when it receives traffic.
func (o Observation) Satisfies(desired State) bool {
	for _, rev := range []Revision{desired.Stable, desired.Canary} {
		if rev == "" {
			continue
		}
		if o.ReadyCount(rev) < desired.Needs(rev) {
			return false
		}
	}
	return true
}

// Needs is the ready capacity rev needs in s: its desired instance count,
// and at least 1 (up) when it receives traffic (by weight or by header
// route). In a State without instance counts (Replicas zero: a target
// without instances) every revision s names needs to be up.
func (s State) Needs(rev Revision) int {
	if rev == "" || (rev != s.Stable && rev != s.Canary) {
		return 0
	}
	n := s.Desired(rev)
	receives := s.Share(rev) > 0 || (rev == s.Canary && !s.Route.IsZero())
	if (receives || s.Replicas == Replicas{}) && n < 1 {
		n = 1
	}
	return n
}

// Target is anything glidepath can release to. It is declarative: it is told
// the desired State and reports the observed one.
//
// Apply must be idempotent: applying the same State twice has the effect of
// applying it once, so the executor may retry it, replay it after a crash,
// and roll back by applying the stable State. Apply returns once the target
// has accepted the State; readiness is reported later by Observe. Errors are
// retried with backoff unless marked with [Permanent].
type Target interface {
	Apply(ctx context.Context, desired State) error
	Observe(ctx context.Context) (Observation, error)
}

// HeaderRouter is an optional [Target] capability: the target can send
// requests that match a [HeaderRoute] to the canary. A plan whose States carry
// a route is rejected before anything is applied when the target does not
// implement HeaderRouter or its SupportsHeaderRouting returns false (a
// wrapper that forwards to another target reports what the wrapped one can do).
type HeaderRouter interface {
	Target
	SupportsHeaderRouting() bool
}

// CanRouteHeaders reports whether t accepts States with a [HeaderRoute].
func CanRouteHeaders(t Target) bool {
	hr, ok := t.(HeaderRouter)
	return ok && hr.SupportsHeaderRouting()
}

// FencedTarget is an optional [Target] capability: the target can enforce
// the fencing token of the lease under which a release is driven. When the
// release's Journal is a [Fencer], the executor calls ApplyFenced instead of
// Apply with the token the Fencer returned just before the attempt. A target
// that implements it remembers the highest token it has accepted and rejects
// a write carrying a lower one with an error matching [ErrFenced] (made
// [Permanent]), so a driver that lost its lease cannot move traffic after
// its successor did. A token of 0 means "no lease": the target applies the
// State as Apply would, without raising its remembered token.
type FencedTarget interface {
	Target
	ApplyFenced(ctx context.Context, desired State, token uint64) error
}

// Fencer is an optional [Journal] capability: Fence proves, by a write that
// the store orders against every other holder's (not by a read), that the
// journal's writer still holds the target's lease, and returns the lease's
// fencing token. The executor calls it before every Apply attempt,
// retries included, and stops without applying when it fails.
type Fencer interface {
	Fence(ctx context.Context) (token uint64, err error)
}
