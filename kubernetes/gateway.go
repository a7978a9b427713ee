package kubernetes

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"github.com/glidepath/glidepath/strategy"
)

// Rule names and the annotation the GatewayTarget writes on its HTTPRoute.
const (
	// DefaultRule is the name of the HTTPRoute rule that splits ordinary
	// traffic by weight.
	DefaultRule = "glidepath-default"
	// HeaderRule is the name of the HTTPRoute rule that sends requests
	// matching the State's header route to the canary.
	HeaderRule = "glidepath-header"
	// HeaderPrefixAnnotation records a prefix header route: the Gateway
	// API has no prefix header match, so the rule matches the regular
	// expression ^<quoted prefix>.* and the annotation tells Observe that
	// the expression stands for the prefix.
	HeaderPrefixAnnotation = "glidepath.dev/header-prefix"
)

// GatewayConfig configures a [GatewayTarget].
type GatewayConfig struct {
	// Workload is the Deployments and their Services.
	Workload
	// Gateway is the Gateway API client. Required.
	Gateway gatewayclient.Interface
	// Route is the HTTPRoute's name (default Workload.Name).
	Route string
	// ParentRefs attach the route to Gateways. A route without parents is
	// still written and read back, but no Gateway serves it.
	ParentRefs []gatewayv1.ParentReference
	// Hostnames are the route's hostnames (none: every host).
	Hostnames []gatewayv1.Hostname
	// PathPrefix is the path every rule matches (default "/").
	PathPrefix string
}

// GatewayTarget releases a [Workload] behind a Gateway API HTTPRoute: one
// Deployment and one Service per revision, and a route whose default rule
// weights the stable and canary Services by the State's weight (stable
// 100-weight, canary weight). A State's header route becomes a second rule
// that matches the header and sends to the canary's Service. Observe reads
// the weights and the header match back from the route.
//
// It implements [strategy.HeaderRouter] and [strategy.FencedTarget].
type GatewayTarget struct {
	cfg GatewayConfig
}

var (
	_ strategy.HeaderRouter = (*GatewayTarget)(nil)
	_ strategy.FencedTarget = (*GatewayTarget)(nil)
)

// NewGatewayTarget checks cfg and returns the target. It writes nothing: the
// first Apply creates the objects.
func NewGatewayTarget(cfg GatewayConfig) (*GatewayTarget, error) {
	p := cfg.Workload.problems()
	if cfg.Gateway == nil {
		p = append(p, "gateway: Gateway client is required")
	}
	if cfg.Route == "" {
		cfg.Route = cfg.Name
	}
	if cfg.PathPrefix == "" {
		cfg.PathPrefix = "/"
	}
	if !strings.HasPrefix(cfg.PathPrefix, "/") {
		p = append(p, fmt.Sprintf("gateway: PathPrefix %q must start with /", cfg.PathPrefix))
	}
	if err := strategy.Invalid("kubernetes.GatewayConfig", p...); err != nil {
		return nil, err
	}
	return &GatewayTarget{cfg: cfg}, nil
}

// SupportsHeaderRouting reports true: header routes become HTTPRoute rules.
func (g *GatewayTarget) SupportsHeaderRouting() bool { return true }

// Apply makes the cluster serve desired; see the package documentation for
// the order of writes.
func (g *GatewayTarget) Apply(ctx context.Context, desired strategy.State) error {
	return g.apply(ctx, desired, 0)
}

// ApplyFenced is Apply under a fencing token (see [strategy.FencedTarget]).
// Every object is written only after checking that no newer token wrote it,
// under a resourceVersion precondition.
func (g *GatewayTarget) ApplyFenced(ctx context.Context, desired strategy.State, token uint64) error {
	return g.apply(ctx, desired, fence(token))
}

// headerNameRE is the Gateway API's HTTPHeaderName pattern.
var headerNameRE = regexp.MustCompile("^[A-Za-z0-9!#$%&'*+\\-.^_`|~]+$")

func (g *GatewayTarget) apply(ctx context.Context, s strategy.State, f fence) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var extra []string
	if !s.Route.IsZero() && s.Route.Header != "" && !headerNameRE.MatchString(s.Route.Header) {
		extra = append(extra, fmt.Sprintf("header route: %q is not a valid HTTP header name", s.Route.Header))
	}
	if s.Route.Regex != "" {
		if _, err := regexp.Compile(s.Route.Regex); err != nil {
			extra = append(extra, fmt.Sprintf("header route: regex: %v", err))
		}
	}
	w := &g.cfg.Workload
	if err := w.checkState(s, extra); err != nil {
		return err
	}
	routes := g.cfg.Gateway.GatewayV1().HTTPRoutes(w.Namespace)
	if f != 0 {
		// Refuse early, before any Deployment moves, when a newer
		// holder already wrote the route.
		got, err := routes.Get(ctx, g.cfg.Route, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			return fmt.Errorf("reading HTTPRoute %s: %w", g.cfg.Route, err)
		default:
			if err := f.check("HTTPRoute", g.cfg.Route, got.Annotations); err != nil {
				return err
			}
		}
	}
	current, err := w.deployments(ctx)
	if err != nil {
		return err
	}
	for _, rev := range []strategy.Revision{s.Stable, s.Canary} {
		if !w.keeps(s, rev) {
			continue
		}
		name := w.objectName(rev)
		if err := w.applyService(ctx, f, w.service(name, w.podLabels(rev), rev)); err != nil {
			return err
		}
	}
	if err := w.scaleUp(ctx, f, s, current); err != nil {
		return err
	}
	route := g.route(s)
	err = w.apply(ctx, f, "HTTPRoute", route.Name, route, route.Annotations,
		func(ctx context.Context, name string, pt types.PatchType, data []byte, o metav1.PatchOptions, sub ...string) error {
			_, err := routes.Patch(ctx, name, pt, data, o, sub...)
			return err
		},
		func(ctx context.Context) (map[string]string, string, bool, error) {
			got, err := routes.Get(ctx, route.Name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return nil, "", false, nil
			}
			if err != nil {
				return nil, "", false, err
			}
			return got.Annotations, got.ResourceVersion, true, nil
		})
	if err != nil {
		return err
	}
	if err := w.scaleDown(ctx, f, s, current, nil); err != nil {
		return err
	}
	if w.KeepScaledDown {
		return nil
	}
	// Services of revisions that no longer need one (including any left
	// behind by an earlier Apply that stopped half-way).
	svcs, err := w.Client.CoreV1().Services(w.Namespace).List(ctx, metav1.ListOptions{LabelSelector: w.ownedSelector()})
	if err != nil {
		return fmt.Errorf("listing Services: %w", err)
	}
	for _, svc := range svcs.Items {
		rev, ok := svc.Labels[RevisionLabel]
		if !ok || w.keeps(s, strategy.Revision(rev)) {
			continue
		}
		if err := w.deleteService(ctx, f, svc.Name); err != nil {
			return err
		}
	}
	return nil
}

// route builds the HTTPRoute for s.
func (g *GatewayTarget) route(s strategy.State) *gatewayv1.HTTPRoute {
	w := &g.cfg.Workload
	port := gatewayv1.PortNumber(w.Port)
	if port == 0 {
		port = 80
	}
	ref := func(rev strategy.Revision, weight int) gatewayv1.HTTPBackendRef {
		wt := int32(weight)
		return gatewayv1.HTTPBackendRef{BackendRef: gatewayv1.BackendRef{
			BackendObjectReference: gatewayv1.BackendObjectReference{
				Name: gatewayv1.ObjectName(w.objectName(rev)), Port: &port,
			},
			Weight: &wt,
		}}
	}
	var refs []gatewayv1.HTTPBackendRef
	if s.Stable != "" && w.keeps(s, s.Stable) {
		refs = append(refs, ref(s.Stable, 100-s.Weight))
	}
	if s.Canary != "" && w.keeps(s, s.Canary) {
		refs = append(refs, ref(s.Canary, s.Weight))
	}
	pathType := gatewayv1.PathMatchPathPrefix
	prefix := g.cfg.PathPrefix
	path := &gatewayv1.HTTPPathMatch{Type: &pathType, Value: &prefix}
	ann := map[string]string{StableAnnotation: string(s.Stable), CanaryAnnotation: string(s.Canary)}
	var rules []gatewayv1.HTTPRouteRule
	if !s.Route.IsZero() {
		hm := gatewayv1.HTTPHeaderMatch{Name: gatewayv1.HTTPHeaderName(s.Route.Header)}
		exact, re := gatewayv1.HeaderMatchExact, gatewayv1.HeaderMatchRegularExpression
		switch {
		case s.Route.Exact != "":
			hm.Type, hm.Value = &exact, s.Route.Exact
		case s.Route.Prefix != "":
			hm.Type, hm.Value = &re, prefixRegex(s.Route.Prefix)
			ann[HeaderPrefixAnnotation] = s.Route.Prefix
		default:
			hm.Type, hm.Value = &re, s.Route.Regex
		}
		name := gatewayv1.SectionName(HeaderRule)
		rules = append(rules, gatewayv1.HTTPRouteRule{
			Name:        &name,
			Matches:     []gatewayv1.HTTPRouteMatch{{Path: path, Headers: []gatewayv1.HTTPHeaderMatch{hm}}},
			BackendRefs: []gatewayv1.HTTPBackendRef{ref(s.Canary, 1)},
		})
	}
	name := gatewayv1.SectionName(DefaultRule)
	rules = append(rules, gatewayv1.HTTPRouteRule{
		Name:        &name,
		Matches:     []gatewayv1.HTTPRouteMatch{{Path: path}},
		BackendRefs: refs,
	})
	return &gatewayv1.HTTPRoute{
		TypeMeta: metav1.TypeMeta{APIVersion: gatewayv1.GroupVersion.String(), Kind: "HTTPRoute"},
		ObjectMeta: metav1.ObjectMeta{Name: g.cfg.Route, Namespace: w.Namespace, Annotations: ann,
			Labels: map[string]string{WorkloadLabel: w.Name}},
		Spec: gatewayv1.HTTPRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: g.cfg.ParentRefs},
			Hostnames:       g.cfg.Hostnames,
			Rules:           rules,
		},
	}
}

// prefixRegex is the regular expression a prefix header route becomes.
func prefixRegex(prefix string) string { return "^" + regexp.QuoteMeta(prefix) + ".*" }

// Observe reads the route and the Deployments back. A route the target has
// not written yet is an empty State. A route that sends traffic to backends
// the target does not manage, or that has rules it did not write, is an
// error rather than a guess.
func (g *GatewayTarget) Observe(ctx context.Context) (strategy.Observation, error) {
	if err := ctx.Err(); err != nil {
		return strategy.Observation{}, err
	}
	w := &g.cfg.Workload
	rt, err := g.cfg.Gateway.GatewayV1().HTTPRoutes(w.Namespace).Get(ctx, g.cfg.Route, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return strategy.Observation{}, nil
	}
	if err != nil {
		return strategy.Observation{}, fmt.Errorf("reading HTTPRoute %s: %w", g.cfg.Route, err)
	}
	var obs strategy.Observation
	st := &obs.State
	st.Stable = strategy.Revision(rt.Annotations[StableAnnotation])
	st.Canary = strategy.Revision(rt.Annotations[CanaryAnnotation])
	if st.Stable == "" && st.Canary == "" {
		return obs, fmt.Errorf("HTTPRoute %s names no revision (annotations %s and %s are missing)", rt.Name, StableAnnotation, CanaryAnnotation)
	}
	roles := map[string]strategy.Revision{}
	for _, rev := range []strategy.Revision{st.Stable, st.Canary} {
		if rev != "" {
			roles[w.objectName(rev)] = rev
		}
	}
	backend := func(r gatewayv1.HTTPBackendRef) (strategy.Revision, int, error) {
		if (r.Group != nil && *r.Group != "") || (r.Kind != nil && *r.Kind != "Service") ||
			(r.Namespace != nil && string(*r.Namespace) != w.Namespace) {
			return "", 0, fmt.Errorf("HTTPRoute %s sends traffic to %s, which the target does not manage", rt.Name, r.Name)
		}
		rev, ok := roles[string(r.Name)]
		if !ok {
			return "", 0, fmt.Errorf("HTTPRoute %s sends traffic to Service %s, which is neither the stable nor the canary revision's", rt.Name, r.Name)
		}
		wt := 1
		if r.Weight != nil {
			wt = int(*r.Weight)
		}
		return rev, wt, nil
	}
	var sawDefault bool
	for _, rule := range rt.Spec.Rules {
		name := ""
		if rule.Name != nil {
			name = string(*rule.Name)
		}
		switch name {
		case DefaultRule:
			sawDefault = true
			var sw, cw int
			for _, r := range rule.BackendRefs {
				rev, wt, err := backend(r)
				if err != nil {
					return obs, err
				}
				if rev == st.Stable {
					sw += wt
				} else {
					cw += wt
				}
			}
			switch {
			case sw+cw == 0:
				return obs, fmt.Errorf("HTTPRoute %s: rule %s has no backend with weight: it serves no traffic", rt.Name, DefaultRule)
			case st.Canary == "":
				st.Weight = 0
			default:
				// Round to the nearest percent.
				st.Weight = (cw*100*2 + sw + cw) / (2 * (sw + cw))
			}
		case HeaderRule:
			if len(rule.Matches) != 1 || len(rule.Matches[0].Headers) != 1 || len(rule.BackendRefs) != 1 {
				return obs, fmt.Errorf("HTTPRoute %s: rule %s is not one header match to one backend", rt.Name, HeaderRule)
			}
			rev, _, err := backend(rule.BackendRefs[0])
			if err != nil {
				return obs, err
			}
			if rev != st.Canary || st.Canary == "" {
				return obs, fmt.Errorf("HTTPRoute %s: rule %s routes to %s, not to the canary", rt.Name, HeaderRule, rev)
			}
			hm := rule.Matches[0].Headers[0]
			st.Route.Header = string(hm.Name)
			switch {
			case hm.Type == nil || *hm.Type == gatewayv1.HeaderMatchExact:
				st.Route.Exact = hm.Value
			case *hm.Type == gatewayv1.HeaderMatchRegularExpression:
				if p, ok := rt.Annotations[HeaderPrefixAnnotation]; ok && prefixRegex(p) == hm.Value {
					st.Route.Prefix = p
				} else {
					st.Route.Regex = hm.Value
				}
			default:
				return obs, fmt.Errorf("HTTPRoute %s: rule %s has header match type %s", rt.Name, HeaderRule, *hm.Type)
			}
		default:
			return obs, fmt.Errorf("HTTPRoute %s has a rule %q the target did not write", rt.Name, name)
		}
	}
	if !sawDefault {
		return obs, fmt.Errorf("HTTPRoute %s has no rule %s", rt.Name, DefaultRule)
	}
	deps, err := w.deployments(ctx)
	if err != nil {
		return obs, err
	}
	observeReplicas(&obs, deps)
	return obs, nil
}
