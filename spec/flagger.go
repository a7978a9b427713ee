package spec

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/config"

	"github.com/glidepath/glidepath/analysis"
	"github.com/glidepath/glidepath/bluegreen"
	"github.com/glidepath/glidepath/canary"
	"github.com/glidepath/glidepath/strategy"
)

// The subset of Flagger's v1beta1 API (flagger.app/v1beta1) that the
// loader reads, with the same JSON field names.

type flaggerCanary struct {
	typeMeta
	Metadata objectMeta  `json:"metadata"`
	Spec     flaggerSpec `json:"spec"`
	Status   skip        `json:"status" why:"Kubernetes status"`
}

type flaggerRef struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	Namespace  string `json:"namespace"`
}

type flaggerSpec struct {
	Provider                string           `json:"provider"`
	MetricsServer           string           `json:"metricsServer"`
	TargetRef               flaggerRef       `json:"targetRef"`
	AutoscalerRef           skip             `json:"autoscalerRef" why:"autoscaling of the primary is Kubernetes'"`
	IngressRef              *flaggerRef      `json:"ingressRef"`
	RouteRef                *flaggerRef      `json:"routeRef"`
	UpstreamRef             skip             `json:"upstreamRef" why:"Gloo upstream configuration"`
	Service                 located          `json:"service"`
	Analysis                *flaggerAnalysis `json:"analysis"`
	CanaryAnalysis          *flaggerAnalysis `json:"canaryAnalysis"`
	ProgressDeadlineSeconds *int64           `json:"progressDeadlineSeconds"`
	SkipAnalysis            bool             `json:"skipAnalysis"`
	RevertOnDeletion        skip             `json:"revertOnDeletion" why:"Kubernetes object lifecycle"`
	Suspend                 refuse           `json:"suspend" why:"a suspended canary is run-time state; do not start the release"`
}

type flaggerAnalysis struct {
	Interval              string           `json:"interval"`
	Iterations            int64            `json:"iterations"`
	Mirror                *bool            `json:"mirror"`
	MirrorWeight          refuse           `json:"mirrorWeight" why:"traffic mirroring is not modelled"`
	MaxWeight             int64            `json:"maxWeight"`
	StepWeight            int64            `json:"stepWeight"`
	StepWeights           []int64          `json:"stepWeights"`
	StepWeightPromotion   int64            `json:"stepWeightPromotion"`
	Threshold             int64            `json:"threshold"`
	PrimaryReadyThreshold *int64           `json:"primaryReadyThreshold"`
	CanaryReadyThreshold  *int64           `json:"canaryReadyThreshold"`
	Alerts                skip             `json:"alerts" why:"alerting providers; subscribe a strategy.Observer"`
	Metrics               []flaggerMetric  `json:"metrics"`
	Webhooks              []flaggerWebhook `json:"webhooks"`
	Match                 []flaggerMatch   `json:"match"`
	SessionAffinity       refuse           `json:"sessionAffinity" why:"cookie session affinity is not modelled; the HTTP splitter offers sticky sessions in Go"`
}

type flaggerMetric struct {
	Name              string            `json:"name"`
	Interval          string            `json:"interval"`
	Threshold         *float64          `json:"threshold"`
	ThresholdRange    *flaggerRange     `json:"thresholdRange"`
	Query             string            `json:"query"`
	TemplateRef       *flaggerRef       `json:"templateRef"`
	TemplateVariables map[string]string `json:"templateVariables"`
}

type flaggerRange struct {
	Min *float64 `json:"min"`
	Max *float64 `json:"max"`
}

type flaggerWebhook struct {
	Type       string            `json:"type"`
	Name       string            `json:"name"`
	URL        string            `json:"url"`
	MuteAlert  bool              `json:"muteAlert"`
	Timeout    string            `json:"timeout"`
	Metadata   map[string]string `json:"metadata"`
	Retries    int64             `json:"retries"`
	DisableTLS bool              `json:"disableTLS"`
}

// flaggerMatch is the part of an Istio HTTPMatchRequest the loader maps:
// one header.
type flaggerMatch struct {
	Headers      map[string]argoStringMatch `json:"headers"`
	URI          refuse                     `json:"uri" why:"glidepath routes on one header"`
	Method       refuse                     `json:"method" why:"glidepath routes on one header"`
	SourceLabels refuse                     `json:"sourceLabels" why:"glidepath routes on one header"`
	QueryParams  refuse                     `json:"queryParams" why:"glidepath routes on one header"`
	Name         skip                       `json:"name" why:"route name"`
}

type flaggerMetricTemplate struct {
	typeMeta
	Metadata objectMeta         `json:"metadata"`
	Spec     flaggerMetricTSpec `json:"spec"`
	Status   skip               `json:"status" why:"Kubernetes status"`
}

type flaggerMetricTSpec struct {
	Provider flaggerProvider `json:"provider"`
	Query    string          `json:"query"`
}

type flaggerProvider struct {
	Type               string              `json:"type"`
	Address            string              `json:"address"`
	Headers            map[string][]string `json:"headers"`
	SecretRef          refuse              `json:"secretRef" why:"credentials in a Kubernetes Secret: set them on the source with Options.Prometheus"`
	Region             skip                `json:"region" why:"cloud provider region"`
	InsecureSkipVerify bool                `json:"insecureSkipVerify"`
}

type flaggerTemplateEntry struct {
	doc int
	t   *flaggerMetricTemplate
}

type flaggerSet struct {
	templates map[string]*flaggerTemplateEntry // namespace/name
}

// unique returns the only template named name, in any namespace.
func (s *flaggerSet) unique(name string) *flaggerTemplateEntry {
	var found *flaggerTemplateEntry
	for _, e := range s.templates {
		if e.t.Metadata.Name == name {
			if found != nil {
				return nil
			}
			found = e
		}
	}
	return found
}

// flaggerVarRE matches the placeholders of Flagger query templates.
var flaggerVarRE = regexp.MustCompile(`\{\{-?\s*([^{}]*?)\s*-?\}\}`)

var flaggerModel = []string{"name", "namespace", "target", "service", "ingress", "route", "interval"}

func checkMetricTemplate(t *flaggerMetricTemplate, r *report) {
	if t.Metadata.Name == "" {
		r.add(nil, "metadata.name", "required")
	}
	switch t.Spec.Provider.Type {
	case "", "prometheus":
	default:
		r.add(nil, "spec.provider.type", "provider %q is not supported: glidepath queries prometheus", t.Spec.Provider.Type)
	}
	if t.Spec.Query == "" {
		r.add(nil, "spec.query", "required")
	}
	checkFlaggerQuery(t.Spec.Query, r, "spec.query")
}

func checkFlaggerQuery(q string, r *report, path string) {
	for _, m := range flaggerVarRE.FindAllStringSubmatch(q, -1) {
		e := m[1]
		if strings.HasPrefix(e, "variables.") && argNameOK(strings.TrimPrefix(e, "variables.")) {
			continue
		}
		known := false
		for _, f := range flaggerModel {
			known = known || e == f
		}
		if !known {
			r.add(nil, path, "template %s is not supported: use {{ name }}, {{ namespace }}, {{ target }}, {{ service }}, {{ ingress }}, {{ route }}, {{ interval }} or {{ variables.KEY }}", m[0])
		}
	}
}

// flaggerQuery rewrites Flagger's placeholders into glidepath arguments,
// so that the values are escaped where they sit in the query.
func flaggerQuery(q string) string {
	return flaggerVarRE.ReplaceAllStringFunc(q, func(ph string) string {
		e := flaggerVarRE.FindStringSubmatch(ph)[1]
		if k, ok := strings.CutPrefix(e, "variables."); ok {
			return "{{args.variables_" + k + "}}"
		}
		return "{{args." + e + "}}"
	})
}

func (b *binder) flagger(c *flaggerCanary, fl *flaggerSet, r *report) *Canary {
	out := &Canary{Doc: r.doc, Name: c.Metadata.Name, Namespace: c.Metadata.Namespace}
	spec := &c.Spec
	if spec.TargetRef.Name == "" {
		r.add(nil, "spec.targetRef.name", "required")
	}
	out.Options.ProgressDeadline = 600 * time.Second
	if spec.ProgressDeadlineSeconds != nil {
		if *spec.ProgressDeadlineSeconds <= 0 {
			r.add(nil, "spec.progressDeadlineSeconds", "must be positive")
		}
		out.Options.ProgressDeadline = time.Duration(*spec.ProgressDeadlineSeconds) * time.Second
	}
	if spec.Service.set() {
		r.ignore("spec.service", "Kubernetes Service and mesh routing objects that Flagger generates")
	}
	a := spec.Analysis
	p := "spec.analysis"
	switch {
	case a != nil && spec.CanaryAnalysis != nil:
		r.add(nil, "spec.canaryAnalysis", "give analysis or the deprecated canaryAnalysis, not both")
	case a == nil && spec.CanaryAnalysis != nil:
		a, p = spec.CanaryAnalysis, "spec.canaryAnalysis"
	case a == nil:
		r.add(nil, "spec.analysis", "required")
		return out
	}
	// Flagger: interval default 60s, at least 10s.
	interval := time.Minute
	if a.Interval != "" {
		d, err := time.ParseDuration(a.Interval)
		switch {
		case err != nil:
			r.add(nil, p+".interval", "%q is not a duration like \"30s\" or \"1m\"", a.Interval)
		case d < 10*time.Second:
			interval = 10 * time.Second
		default:
			interval = d
		}
	}
	threshold := a.Threshold
	if threshold <= 0 {
		threshold = 1 // Flagger's default
	}
	if threshold > 1<<20 {
		r.add(nil, p+".threshold", "out of range")
		threshold = 1
	}
	out.Options.OnFail = strategy.Policy{Allowed: int(threshold) - 1}
	for _, t := range []struct {
		v    *int64
		name string
	}{{a.PrimaryReadyThreshold, "primaryReadyThreshold"}, {a.CanaryReadyThreshold, "canaryReadyThreshold"}} {
		if t.v != nil && *t.v != 100 {
			r.add(nil, p+"."+t.name, "%d%%: glidepath waits for every instance to be ready (100)", *t.v)
		}
	}
	if a.Mirror != nil && *a.Mirror {
		r.add(nil, p+".mirror", "not supported: traffic mirroring is not modelled")
	}
	if a.StepWeightPromotion != 0 {
		r.ignore(p+".stepWeightPromotion", "Flagger shifts traffic from canary to primary after copying the new revision into the primary, so users see the new revision throughout; glidepath promotes in one Apply")
	}

	namespace := c.Metadata.Namespace
	if b.opts.Namespace != "" {
		namespace = b.opts.Namespace
	}
	if namespace == "" {
		namespace = "default"
	}
	target := spec.TargetRef.Name
	if b.opts.Target != "" {
		target = b.opts.Target
	}
	model := map[string]string{"name": c.Metadata.Name, "namespace": namespace, "target": target, "service": target, "ingress": spec.TargetRef.Name, "route": spec.TargetRef.Name}
	if n := spec.Service.n.get("name"); n != nil && n.kind == kScalar && n.str != "" {
		model["service"] = n.str
	}
	if spec.IngressRef != nil {
		model["ingress"] = spec.IngressRef.Name
	}
	if spec.RouteRef != nil {
		model["route"] = spec.RouteRef.Name
	}
	provider := spec.Provider
	if provider == "" {
		provider = b.opts.MeshProvider
	}
	if provider == "" {
		provider = "istio"
	}
	server := spec.MetricsServer
	if server == "" {
		server = b.opts.PrometheusAddress
	}

	var checks []strategy.Analyzer
	seen := map[string]int{}
	for i, m := range a.Metrics {
		mp := fmt.Sprintf("%s.metrics[%d]", p, i)
		if m.Name == "" {
			r.add(nil, mp+".name", "required")
			continue
		}
		if j, dup := seen[m.Name]; dup {
			r.add(nil, mp+".name", "metric %q is also %s.metrics[%d]: names must be unique", m.Name, p, j)
			continue
		}
		seen[m.Name] = i
		if ch := b.flaggerMetric(m, mp, model, provider, server, c.Metadata.Namespace, fl, r); ch != nil {
			checks = append(checks, ch)
		}
	}
	var pre, gates []strategy.Analyzer
	for i, w := range a.Webhooks {
		wp := fmt.Sprintf("%s.webhooks[%d]", p, i)
		g := b.webhook(w, wp, c.Metadata, r)
		switch w.Type {
		case "", "rollout":
			if g != nil {
				gates = append(gates, g)
			}
		case "pre-rollout":
			if g != nil {
				pre = append(pre, g)
			}
		case "post-rollout", "event":
			r.ignore(wp, "a notification, not a gate: subscribe a strategy.Observer")
		case "confirm-rollout", "confirm-promotion", "confirm-traffic-increase", "rollback":
			r.add(nil, wp+".type", "%q is not supported: Flagger polls it and waits (or rolls back on approval), which a glidepath analyzer does not do; use a pause step and Rollout.Promote or Abort", w.Type)
		default:
			r.add(nil, wp+".type", "unknown webhook type %q", w.Type)
		}
	}
	analyzers := append(checks, gates...)
	if spec.SkipAnalysis {
		r.ignore("spec.skipAnalysis", "analysis skipped: the canary is promoted at once, as Flagger does")
		out.Canary = &canary.Config{Steps: []canary.Step{canary.SetWeight(100)}}
		return out
	}

	cfg := canary.Config{}
	var route *strategy.HeaderRoute
	switch len(a.Match) {
	case 0:
	case 1:
		route = flaggerRoute(a.Match[0], r, p+".match[0]")
	default:
		r.add(nil, p+".match", "glidepath routes on one header; this analysis has %d match conditions", len(a.Match))
	}
	if a.Iterations < 0 || a.Iterations > 10000 {
		r.add(nil, p+".iterations", "want 0..10000, got %d", a.Iterations)
	}
	switch {
	case a.Iterations > 0 && route == nil:
		// Blue/green: no traffic on the new revision until promotion;
		// Flagger's iterations and threshold in one analyzer.
		if a.StepWeight != 0 || len(a.StepWeights) > 0 || a.MaxWeight != 0 {
			r.ignore(p+".stepWeight", "Flagger ignores step weights when iterations is set")
		}
		out.Options.OnFail = strategy.Policy{}
		bg := &bluegreen.Config{PrePromotion: []strategy.Analyzer{&Iterations{
			Label: "iterations", Count: int(min(max(a.Iterations, 0), 10000)), Interval: interval,
			Threshold: int(threshold), Before: pre, Analyzers: analyzers,
		}}}
		if len(r.probs) == 0 {
			validate(bg.Validate(), r, p)
		}
		out.BlueGreen = bg
		return out
	case a.Iterations > 0:
		// A/B testing: the matching requests go to the canary, analysed
		// iterations times; Iterations counts the failed checks.
		if a.StepWeight != 0 || len(a.StepWeights) > 0 || a.MaxWeight != 0 {
			r.ignore(p+".stepWeight", "Flagger ignores step weights when iterations is set")
		}
		out.Options.OnFail = strategy.Policy{}
		cfg.Steps = []canary.Step{
			canary.SetHeaderRoute(*route),
			canary.Analysis(&Iterations{Label: "iterations", Count: int(min(a.Iterations, 10000)), Interval: interval,
				Threshold: int(threshold), Before: pre, Analyzers: analyzers}),
		}
	default:
		// Progressive: each weight is held for the interval and then
		// analysed, in one analyzer, so that a failed check tolerated by
		// the threshold is checked again an interval later, as Flagger
		// does, rather than at once.
		if route != nil {
			r.add(nil, p+".match", "header matching needs iterations (A/B testing), as in Flagger")
		}
		shape := canary.Config{MaxWeight: int(a.MaxWeight)}
		if len(a.StepWeights) > 0 && a.StepWeight > 0 {
			// Flagger's nextStepWeight uses stepWeight whenever it is set.
			r.ignore(p+".stepWeights", "Flagger uses stepWeight when both are set")
		}
		if len(a.StepWeights) > 0 && a.StepWeight <= 0 {
			for _, w := range a.StepWeights {
				if w < 0 || w > 100 {
					r.add(nil, p+".stepWeights", "weights must be 0..100, got %d", w)
					w = 0
				}
				shape.StepWeights = append(shape.StepWeights, int(w))
			}
		} else {
			if a.StepWeight < 0 || a.StepWeight > 100 {
				r.add(nil, p+".stepWeight", "want 0..100, got %d", a.StepWeight)
			} else {
				shape.StepWeight = int(a.StepWeight)
			}
		}
		if a.MaxWeight < 0 || a.MaxWeight > 100 {
			r.add(nil, p+".maxWeight", "want 0..100, got %d", a.MaxWeight)
			shape.MaxWeight = 0
		}
		weights := shape.Weights()
		if len(weights) == 0 && len(r.probs) == 0 {
			r.add(nil, p+".stepWeight", "required: stepWeight or stepWeights (or iterations)")
		}
		if len(pre) > 0 {
			cfg.Steps = append(cfg.Steps, canary.Analysis(&Iterations{Label: "pre-rollout", Count: 1, Interval: interval, Threshold: 1, Analyzers: pre}))
		}
		for _, w := range weights {
			cfg.Steps = append(cfg.Steps, canary.SetWeight(w))
			if len(analyzers) == 0 {
				cfg.Steps = append(cfg.Steps, canary.Pause(interval).Named(fmt.Sprintf("interval at %d%%", w)))
				continue
			}
			cfg.Steps = append(cfg.Steps, canary.Analysis(&Iterations{Label: fmt.Sprintf("analysis at %d%%", w), Count: 1, Interval: interval, Threshold: 1, Analyzers: analyzers}))
		}
	}
	if len(r.probs) == 0 { // Validate's complaints would only echo the ones above
		validate(cfg.Validate(), r, p)
	}
	out.Canary = &cfg
	return out
}

func flaggerRoute(m flaggerMatch, r *report, path string) *strategy.HeaderRoute {
	if len(m.Headers) != 1 {
		r.add(nil, path+".headers", "glidepath routes on exactly one header; this match has %d", len(m.Headers))
		return nil
	}
	for name, v := range m.Headers {
		hr, ok := stringMatch(name, &v, r, path+".headers."+name)
		if !ok {
			return nil
		}
		return &hr
	}
	return nil
}

func (b *binder) flaggerMetric(m flaggerMetric, mp string, model map[string]string, provider, server, namespace string, fl *flaggerSet, r *report) *analysis.Check {
	before := len(r.probs)
	interval := m.Interval
	if interval == "" {
		interval = "1m" // Flagger's default metric interval
	} else if _, err := time.ParseDuration(interval); err != nil {
		r.add(nil, mp+".interval", "%q is not a duration like \"1m\"", interval)
	}
	var query string
	cfg := PrometheusConfig{Address: server}
	lo, hi := (*float64)(nil), (*float64)(nil)
	if m.ThresholdRange != nil {
		lo, hi = m.ThresholdRange.Min, m.ThresholdRange.Max
	}
	switch {
	case m.TemplateRef != nil:
		ns := m.TemplateRef.Namespace
		if ns == "" {
			ns = namespace
		}
		e := fl.templates[ns+"/"+m.TemplateRef.Name]
		if e == nil && m.TemplateRef.Namespace == "" {
			e = fl.templates["/"+m.TemplateRef.Name]
		}
		if e == nil && m.TemplateRef.Namespace == "" {
			e = fl.unique(m.TemplateRef.Name)
		}
		if e == nil {
			names := make([]string, 0, len(fl.templates))
			for k := range fl.templates {
				names = append(names, strconv.Quote(k))
			}
			sort.Strings(names)
			r.add(nil, mp+".templateRef.name", "unknown MetricTemplate %q in namespace %q (decoded: %s)", m.TemplateRef.Name, ns, strings.Join(names, ", "))
			return nil
		}
		query = e.t.Spec.Query
		pr := e.t.Spec.Provider
		if pr.Address != "" {
			cfg.Address = pr.Address
		}
		cfg.HTTP.TLSConfig.InsecureSkipVerify = pr.InsecureSkipVerify
		if len(pr.Headers) > 0 {
			cfg.HTTP.HTTPHeaders = &config.Headers{Headers: map[string]config.Header{}}
			for k, vs := range pr.Headers {
				h := config.Header{}
				for _, v := range vs {
					h.Secrets = append(h.Secrets, config.Secret(v))
				}
				cfg.HTTP.HTTPHeaders.Headers[k] = h
			}
		}
	case m.Name == "request-success-rate" || m.Name == "request-duration":
		q, ok := builtinFor(provider)
		if !ok {
			r.add(nil, mp+".name", "Flagger's built-in %s for provider %q is not built in here: write a MetricTemplate", m.Name, provider)
			return nil
		}
		query = q.successRate
		if m.Name == "request-duration" {
			query = q.duration
		}
		// The deprecated threshold is a minimum success rate, or a
		// maximum duration in milliseconds.
		if m.Threshold != nil && m.ThresholdRange == nil {
			t := *m.Threshold
			if m.Name == "request-success-rate" {
				lo = &t
			} else {
				hi = &t
			}
		}
	case m.Query != "":
		query = m.Query // deprecated inline query
		checkFlaggerQuery(query, r, mp+".query")
		if m.Threshold != nil && m.ThresholdRange == nil {
			t := *m.Threshold
			hi = &t
		}
	default:
		r.add(nil, mp+".templateRef", "required for a metric other than request-success-rate and request-duration")
		return nil
	}
	for _, v := range flaggerVarRE.FindAllStringSubmatch(query, -1) {
		if k, ok := strings.CutPrefix(v[1], "variables."); ok {
			if _, ok := m.TemplateVariables[k]; !ok {
				r.add(nil, mp+".templateVariables", "the query uses {{ variables.%s }}, which templateVariables does not give", k)
			}
		}
	}
	if cfg.Address == "" {
		r.add(nil, mp, "no Prometheus address: set spec.metricsServer, the template's provider.address, or Options.PrometheusAddress")
	} else if u, err := url.Parse(cfg.Address); err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		r.add(nil, mp, "Prometheus address %q is not an http or https URL", cfg.Address)
	}
	if lo != nil && hi != nil && *lo > *hi {
		r.add(nil, mp+".thresholdRange", "min %v exceeds max %v", *lo, *hi)
	}
	if len(r.probs) > before {
		return nil
	}
	vals := map[string]string{"interval": interval}
	for k, v := range model {
		vals[k] = v
	}
	for k, v := range m.TemplateVariables {
		if !argNameOK(k) {
			r.add(nil, mp+".templateVariables."+k, "a variable name may only hold letters, digits, '-' and '_'")
			continue
		}
		vals["variables_"+k] = v
	}
	ch := &analysis.Check{
		Label:                 m.Name,
		Source:                b.promSource(cfg),
		Query:                 flaggerQuery(query),
		SuccessCondition:      flaggerCondition(lo, hi),
		Timeout:               cfg.Timeout,
		ConsecutiveErrorLimit: new(0), // a failed query is a failed check in Flagger
	}
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ch.Args = append(ch.Args, analysis.Arg{Name: k, Value: vals[k]})
	}
	if err := ch.Validate(); err != nil {
		validate(err, r, mp)
		return nil
	}
	return ch
}

// flaggerCondition is Flagger's judgement of a metric: the first value of
// the result must exist, be a number (NaN is "no values found", a failed
// check) and lie within the threshold range.
func flaggerCondition(lo, hi *float64) string {
	c := "len(result) > 0 && !isNaN(result[0])"
	if lo != nil {
		c += " && result[0] >= " + strconv.FormatFloat(*lo, 'g', -1, 64)
	}
	if hi != nil {
		c += " && result[0] <= " + strconv.FormatFloat(*hi, 'g', -1, 64)
	}
	return c
}

func (b *binder) webhook(w flaggerWebhook, wp string, meta objectMeta, r *report) *FlaggerWebhook {
	switch w.Type {
	case "", "rollout", "pre-rollout":
	default:
		return nil
	}
	before := len(r.probs)
	if w.Name == "" {
		r.add(nil, wp+".name", "required")
	}
	if u, err := url.Parse(w.URL); err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		r.add(nil, wp+".url", "%q is not an http or https URL", w.URL)
	}
	timeout := DefaultFlaggerWebhookTimeout
	if len(w.Timeout) >= 2 { // Flagger uses its default below two characters
		d, err := time.ParseDuration(w.Timeout)
		if err != nil || d <= 0 {
			r.add(nil, wp+".timeout", "%q is not a positive duration like \"15s\"", w.Timeout)
		}
		timeout = d
	}
	if w.Retries < 0 || w.Retries > 10 {
		r.add(nil, wp+".retries", "want 0..10, got %d", w.Retries)
	}
	if w.MuteAlert {
		r.ignore(wp+".muteAlert", "alerting providers")
	}
	if len(r.probs) > before {
		return nil
	}
	client := b.opts.HTTPClient
	if w.DisableTLS {
		client = webClient(http.MethodGet, nil, true, client)
	}
	return &FlaggerWebhook{Label: w.Name, URL: w.URL, Canary: meta.Name, Namespace: meta.Namespace,
		Metadata: w.Metadata, Timeout: timeout, Retries: int(w.Retries), Client: client}
}
