package flags

import (
	"fmt"

	"github.com/open-feature/go-sdk/openfeature"
)

// resolveRule resolves a flag with a flagd targeting rule the way flagd
// does (core/pkg/evaluator/json.go): DISABLED for a disabled flag; STATIC
// with the default variant when there is no rule; DEFAULT with the
// default variant when the rule yields null; TARGETING_MATCH with the
// variant the rule names; ERROR with PARSE_ERROR when the rule fails and
// GENERAL when it names an undefined variant. A nil variant means the
// caller's default value (no default variant, disabled, or an error).
func (s *flagState) resolveRule(flat map[string]any) (*variant, openfeature.ProviderResolutionDetail) {
	if s.disabled {
		return nil, openfeature.ProviderResolutionDetail{Reason: openfeature.DisabledReason}
	}
	if s.rule == nil {
		return s.fallback(openfeature.StaticReason)
	}
	e := env{flagKey: s.key, ctx: flat}
	res, err := e.eval(s.rule, &scope{top: true})
	if err != nil {
		return nil, openfeature.ProviderResolutionDetail{
			ResolutionError: openfeature.NewParseErrorResolutionError(fmt.Sprintf("targeting rule of flag %s: %v", s.key, err)),
			Reason:          openfeature.ErrorReason,
		}
	}
	name, ok := variantName(res)
	if !ok {
		return s.fallback(openfeature.DefaultReason)
	}
	v := s.byName[name]
	if v == nil {
		return nil, openfeature.ProviderResolutionDetail{
			ResolutionError: openfeature.NewGeneralResolutionError(fmt.Sprintf("targeting rule of flag %s yields %q, which is not a variant", s.key, name)),
			Reason:          openfeature.ErrorReason,
		}
	}
	return v, openfeature.ProviderResolutionDetail{Reason: openfeature.TargetingMatchReason, Variant: name}
}

// fallback serves the default variant with reason, or the caller's
// default (reason DEFAULT) when the flag has none.
func (s *flagState) fallback(reason openfeature.Reason) (*variant, openfeature.ProviderResolutionDetail) {
	if s.control.name == "" {
		return nil, openfeature.ProviderResolutionDetail{Reason: openfeature.DefaultReason}
	}
	return &s.control, openfeature.ProviderResolutionDetail{Reason: reason, Variant: s.control.name}
}
