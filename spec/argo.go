package spec

import (
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

// argsRE matches an Argo argument placeholder, {{args.NAME}}, with
// optional spaces inside the braces.
var argsRE = regexp.MustCompile(`\{\{\s*args\.([A-Za-z0-9_.-]+)\s*\}\}`)

// argValue is the value bound to one argument.
type argValue struct {
	value   string
	secret  bool
	release string // "stable" or "canary": the release's revision, known only at run time
	has     bool
}

// templateEntry is a decoded Argo (Cluster)AnalysisTemplate.
type templateEntry struct {
	doc     int
	cluster bool
	t       *argoTemplate
}

// argoSet holds the Argo templates of one input: namespaced ones by
// "namespace/name", cluster ones by name.
type argoSet struct {
	ns      map[string]*templateEntry
	cluster map[string]*templateEntry
}

// lookup finds a template as Argo does, in the referring object's
// namespace; a template whose document names no namespace, or the only
// one of that name, stands in when the input does not say.
func (s *argoSet) lookup(ref argoTemplateRef, namespace string) *templateEntry {
	if ref.ClusterScope != nil && *ref.ClusterScope {
		return s.cluster[ref.TemplateName]
	}
	if e := s.ns[namespace+"/"+ref.TemplateName]; e != nil {
		return e
	}
	if e := s.ns["/"+ref.TemplateName]; e != nil {
		return e
	}
	var found *templateEntry
	for _, e := range s.ns {
		if e.t.Metadata.Name == ref.TemplateName {
			if found != nil && namespace == "" {
				return nil // ambiguous
			}
			if found == nil {
				found = e
			}
		}
	}
	if found != nil && namespace != "" && found.t.Metadata.Namespace != "" {
		return nil // it lives in another namespace
	}
	return found
}

// checkTemplate reports the problems of a template that do not depend on
// its arguments.
func checkTemplate(e *templateEntry, r *report) {
	spec := &e.t.Spec
	if e.t.Metadata.Name == "" {
		r.add(nil, "metadata.name", "required")
	}
	seen := map[string]int{}
	for i, m := range spec.Metrics {
		p := fmt.Sprintf("spec.metrics[%d]", i)
		if m.Name == "" {
			r.add(nil, p+".name", "required")
		} else if j, dup := seen[m.Name]; dup {
			r.add(nil, p+".name", "metric %q is also spec.metrics[%d]: names must be unique", m.Name, j)
		} else {
			seen[m.Name] = i
		}
		n := 0
		if m.Provider.Prometheus != nil {
			n++
			if m.Provider.Prometheus.Query == "" {
				r.add(nil, p+".provider.prometheus.query", "required")
			}
		}
		if m.Provider.Web != nil {
			n++
			if m.Provider.Web.URL == "" {
				r.add(nil, p+".provider.web.url", "required")
			}
		}
		if n == 0 && !anyRefused(m.Provider) {
			r.add(nil, p+".provider", "required: prometheus or web")
		}
		if n > 1 {
			r.add(nil, p+".provider", "give one provider, not several")
		}
	}
	seenArg := map[string]bool{}
	for i, a := range spec.Args {
		p := fmt.Sprintf("spec.args[%d]", i)
		if a.Name == "" {
			r.add(nil, p+".name", "required")
		}
		if seenArg[a.Name] {
			r.add(nil, p+".name", "argument %q is declared twice", a.Name)
		}
		seenArg[a.Name] = true
		if a.ValueFrom != nil {
			if a.Value != nil {
				r.add(nil, p, "give value or valueFrom, not both")
			}
			if (a.ValueFrom.SecretKeyRef == nil) == (a.ValueFrom.FieldRef == nil) {
				r.add(nil, p+".valueFrom", "give exactly one of secretKeyRef and fieldRef")
			}
		}
	}
	for i, d := range spec.DryRun {
		checkMetricRef(d.MetricName, spec.Metrics, fmt.Sprintf("spec.dryRun[%d].metricName", i), r)
	}
	for i, d := range spec.MeasurementRetention {
		p := fmt.Sprintf("spec.measurementRetention[%d]", i)
		checkMetricRef(d.MetricName, spec.Metrics, p+".metricName", r)
		if d.Limit <= 0 {
			r.add(nil, p+".limit", "must be positive, got %d", d.Limit)
		}
	}
}

func anyRefused(p argoProvider) bool {
	return p.Kayenta.set || p.Job.set || p.Datadog.set || p.Wavefront.set || p.NewRelic.set ||
		p.CloudWatch.set || p.Graphite.set || p.Influxdb.set || p.SkyWalking.set || p.Plugin.set
}

func checkMetricRef(name string, metrics []argoMetric, path string, r *report) {
	if name == "*" {
		return
	}
	for _, m := range metrics {
		if m.Name == name {
			return
		}
	}
	if len(metrics) > 0 {
		r.add(nil, path, "names no metric of this template: %q", name)
	}
}

// binder builds checks from templates for one referring object (a Rollout,
// or the caller asking for a template's checks).
type binder struct {
	opts    *Options
	set     *argoSet
	sources map[string]analysis.Source
	reports map[int]*report // per document
	meta    *objectMeta     // the Rollout, for fieldRef
}

func (b *binder) report(doc int) *report {
	r := b.reports[doc]
	if r == nil {
		r = &report{doc: doc}
		b.reports[doc] = r
	}
	return r
}

// boundMetric is a metric with the template it came from.
type boundMetric struct {
	e    *templateEntry
	i    int // index in the template's metrics
	path string
}

// analyzers resolves a Rollout's analysis block into checks. r and path
// locate the block; problems in the templates are reported against the
// templates' documents.
func (b *binder) analyzers(ra *argoRolloutAnalysis, r *report, path string) []strategy.Analyzer {
	if len(ra.Templates) == 0 {
		r.add(nil, path+".templates", "required: name at least one AnalysisTemplate")
		return nil
	}
	var metrics []boundMetric
	declared := map[string]argoArg{}
	var declaredIn = map[string]*templateEntry{}
	dry := map[string]bool{}
	keep := map[string]int{}
	var visit func(refs []argoTemplateRef, p string, depth int, seen map[*templateEntry]bool)
	visit = func(refs []argoTemplateRef, p string, depth int, seen map[*templateEntry]bool) {
		for i, ref := range refs {
			rp := fmt.Sprintf("%s.templates[%d].templateName", p, i)
			e := b.set.lookup(ref, b.namespace())
			if e == nil {
				kind := "AnalysisTemplate"
				if ref.ClusterScope != nil && *ref.ClusterScope {
					kind = "ClusterAnalysisTemplate"
				}
				r.add(nil, rp, "unknown %s %q (decoded: %s)", kind, ref.TemplateName, b.known(ref.ClusterScope != nil && *ref.ClusterScope))
				continue
			}
			if seen[e] || depth > 8 {
				r.add(nil, rp, "template %q refers to itself", ref.TemplateName)
				continue
			}
			seen[e] = true
			for j := range e.t.Spec.Metrics {
				metrics = append(metrics, boundMetric{e: e, i: j, path: fmt.Sprintf("spec.metrics[%d]", j)})
			}
			for _, a := range e.t.Spec.Args {
				if prev, ok := declared[a.Name]; !ok || prev.Value == nil && prev.ValueFrom == nil {
					declared[a.Name] = a
					declaredIn[a.Name] = e
				}
			}
			for _, d := range e.t.Spec.DryRun {
				dry[d.MetricName] = true
			}
			for _, m := range e.t.Spec.MeasurementRetention {
				keep[m.MetricName] = m.Limit
			}
			visit(e.t.Spec.Templates, "spec", depth+1, seen)
			delete(seen, e)
		}
	}
	visit(ra.Templates, path, 0, map[*templateEntry]bool{})
	for _, d := range ra.DryRun {
		dry[d.MetricName] = true
	}
	for _, m := range ra.MeasurementRetention {
		keep[m.MetricName] = m.Limit
	}

	// Argument values: template defaults, then the rollout's args, then
	// the caller's.
	vals := map[string]argValue{}
	names := make([]string, 0, len(declared))
	for name := range declared {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		a := declared[name]
		switch {
		case a.Value != nil:
			vals[name] = argValue{value: *a.Value, has: true}
		case a.ValueFrom != nil && a.ValueFrom.SecretKeyRef != nil:
			ref := a.ValueFrom.SecretKeyRef
			key := ref.Name + "/" + ref.Key
			if v, ok := b.opts.Secrets[key]; ok {
				vals[name] = argValue{value: v, secret: true, has: true}
			} else {
				vals[name] = argValue{secret: true}
			}
		case a.ValueFrom != nil && a.ValueFrom.FieldRef != nil:
			if v, ok := b.field(a.ValueFrom.FieldRef.FieldPath); ok {
				vals[name] = argValue{value: v, has: true}
			}
		}
	}
	for i, a := range ra.Args {
		p := fmt.Sprintf("%s.args[%d]", path, i)
		if _, ok := declared[a.Name]; !ok {
			r.add(nil, p+".name", "no referenced template declares argument %q", a.Name)
			continue
		}
		prev := vals[a.Name]
		switch {
		case a.ValueFrom != nil && a.Value != "":
			r.add(nil, p, "give value or valueFrom, not both")
		case a.ValueFrom != nil && a.ValueFrom.PodTemplateHashValue != nil:
			switch *a.ValueFrom.PodTemplateHashValue {
			case "Stable":
				vals[a.Name] = argValue{release: "stable", has: true, secret: prev.secret}
			case "Latest":
				vals[a.Name] = argValue{release: "canary", has: true, secret: prev.secret}
			default:
				r.add(nil, p+".valueFrom.podTemplateHashValue", "want Stable or Latest, got %q", *a.ValueFrom.PodTemplateHashValue)
			}
		case a.ValueFrom != nil && a.ValueFrom.FieldRef != nil:
			fp := a.ValueFrom.FieldRef.FieldPath
			if v, ok := b.field(fp); ok {
				vals[a.Name] = argValue{value: v, has: true, secret: prev.secret}
			} else {
				r.add(nil, p+".valueFrom.fieldRef.fieldPath", "cannot resolve %q: only metadata.name, metadata.namespace, metadata.labels['k'] and metadata.annotations['k'] of the Rollout are known; pass other values in Options.Fields", fp)
			}
		case a.ValueFrom != nil:
			r.add(nil, p+".valueFrom", "give podTemplateHashValue or fieldRef")
		default:
			vals[a.Name] = argValue{value: a.Value, has: true, secret: prev.secret}
		}
	}
	for name, v := range b.opts.Args {
		if _, ok := declared[name]; ok {
			vals[name] = argValue{value: v, has: true, secret: vals[name].secret}
		}
	}
	for _, name := range names {
		if _, ok := vals[name]; !ok {
			vals[name] = argValue{}
		}
		if !vals[name].has {
			e := declaredIn[name]
			why := "has no value"
			if a := declared[name]; a.ValueFrom != nil && a.ValueFrom.SecretKeyRef != nil {
				why = fmt.Sprintf("reads secret %s/%s, which Options.Secrets does not hold", a.ValueFrom.SecretKeyRef.Name, a.ValueFrom.SecretKeyRef.Key)
			}
			r.add(nil, path+".args", "argument %q of template %q %s: pass it in args or Options.Args", name, e.t.Metadata.Name, why)
		}
	}

	var out []strategy.Analyzer
	seenName := map[string]string{}
	for _, bm := range metrics {
		m := &bm.e.t.Spec.Metrics[bm.i]
		if other, dup := seenName[m.Name]; dup && m.Name != "" {
			if other == bm.e.t.Metadata.Name {
				continue // reported with the template
			}
			r.add(nil, path+".templates", "metric %q is in template %q and %q: names must be unique across the templates of one analysis", m.Name, other, bm.e.t.Metadata.Name)
			continue
		}
		seenName[m.Name] = bm.e.t.Metadata.Name
		c := b.check(m, bm, vals, dry[m.Name] || dry["*"], keep[m.Name])
		if c != nil {
			out = append(out, c)
		}
	}
	return out
}

// namespace is the referring Rollout's namespace ("" when none).
func (b *binder) namespace() string {
	if b.meta == nil {
		return ""
	}
	return b.meta.Namespace
}

func (b *binder) known(cluster bool) string {
	m := b.set.ns
	if cluster {
		m = b.set.cluster
	}
	if len(m) == 0 {
		return "none"
	}
	names := make([]string, 0, len(m))
	for _, e := range m {
		n := e.t.Metadata.Name
		if !cluster && e.t.Metadata.Namespace != "" {
			n = e.t.Metadata.Namespace + "/" + n
		}
		names = append(names, strconv.Quote(n))
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

var fieldRE = regexp.MustCompile(`^metadata\.(labels|annotations)\['([^']*)'\]$`)

// field resolves a fieldRef path against the Rollout, then Options.Fields.
func (b *binder) field(p string) (string, bool) {
	if v, ok := b.opts.Fields[p]; ok {
		return v, true
	}
	if b.meta == nil {
		return "", false
	}
	switch p {
	case "metadata.name":
		return b.meta.Name, b.meta.Name != ""
	case "metadata.namespace":
		return b.meta.Namespace, b.meta.Namespace != ""
	}
	if m := fieldRE.FindStringSubmatch(p); m != nil {
		src := b.meta.Labels
		if m[1] == "annotations" {
			src = b.meta.Annotations
		}
		v, ok := src[m[2]]
		return v, ok
	}
	return "", false
}

// substitute replaces {{args.NAME}} in s with the values, for fields that
// are resolved when the specs are loaded (durations, counts, URLs).
func substitute(s string, vals map[string]argValue, r *report, path string) string {
	return argsRE.ReplaceAllStringFunc(s, func(ph string) string {
		name := argsRE.FindStringSubmatch(ph)[1]
		v, ok := vals[name]
		switch {
		case !ok:
			r.add(nil, path, "placeholder %s names no declared argument", ph)
		case v.release != "":
			r.add(nil, path, "placeholder %s is a pod template hash, known only while the release runs: use it in a prometheus query", ph)
		case !v.has:
			// reported once, where the argument is bound
		default:
			return v.value
		}
		return ph
	})
}

func (b *binder) check(m *argoMetric, bm boundMetric, vals map[string]argValue, dry bool, keep int) *analysis.Check {
	r := b.report(bm.e.doc)
	p := bm.path
	before := len(r.probs)
	defer redactSince(r, before, vals)
	c := &analysis.Check{
		Label:            m.Name,
		SuccessCondition: substitute(m.SuccessCondition, vals, r, p+".successCondition"),
		FailureCondition: substitute(m.FailureCondition, vals, r, p+".failureCondition"),
		DryRun:           dry,
		HistoryLimit:     keep,
	}
	c.Interval = argoDuration(substitute(m.Interval, vals, r, p+".interval"), r, p+".interval")
	c.InitialDelay = argoDuration(substitute(m.InitialDelay, vals, r, p+".initialDelay"), r, p+".initialDelay")
	c.Count = intOrString(m.Count, vals, r, p+".count", 0)
	c.FailureLimit = intOrString(m.FailureLimit, vals, r, p+".failureLimit", -1)
	c.InconclusiveLimit = intOrString(m.InconclusiveLimit, vals, r, p+".inconclusiveLimit", 0)
	if m.ConsecutiveErrorLimit.set() {
		v := intOrString(m.ConsecutiveErrorLimit, vals, r, p+".consecutiveErrorLimit", 0)
		c.ConsecutiveErrorLimit = &v
	}
	c.ConsecutiveSuccessLimit = intOrString(m.ConsecutiveSuccessLimit, vals, r, p+".consecutiveSuccessLimit", 0)
	if c.Count > 1 && c.Interval == 0 && m.Interval == "" {
		r.add(nil, p+".interval", "required when count is more than 1")
	}
	// Arguments: every bound one, so the query can use them and secrets
	// are redacted wherever they appear.
	names := make([]string, 0, len(vals))
	for n := range vals {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		v := vals[n]
		if v.release == "" && argNameOK(n) {
			c.Args = append(c.Args, analysis.Arg{Name: n, Value: v.value, Secret: v.secret})
		}
	}
	switch {
	case m.Provider.Prometheus != nil:
		c.Query, c.Source, c.Timeout = b.prometheus(m.Provider.Prometheus, vals, r, p+".provider.prometheus")
	case m.Provider.Web != nil:
		c.Query, c.Source, c.Timeout = b.web(m.Provider.Web, vals, r, p+".provider.web")
	default:
		return nil
	}
	if len(r.probs) > before {
		return nil
	}
	if err := c.Validate(); err != nil {
		validate(err, r, p)
		return nil
	}
	return c
}

// redactSince hides secret argument values in the problems reported since
// index from: a malformed URL or count must not print a secret.
func redactSince(r *report, from int, vals map[string]argValue) {
	for i := from; i < len(r.probs); i++ {
		for _, v := range vals {
			if v.secret && v.value != "" {
				r.probs[i].Msg = strings.ReplaceAll(r.probs[i].Msg, v.value, "*****")
			}
		}
	}
}

func argNameOK(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return s != ""
}

// argoDuration reads Argo's DurationString ("30s", "5m", "1h"), as Argo
// does with time.ParseDuration.
func argoDuration(s string, r *report, path string) time.Duration {
	if s == "" || argsRE.MatchString(s) {
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		r.add(nil, path, "%q is not a duration like \"30s\", \"5m\" or \"1h\"", s)
		return 0
	}
	if d < 0 {
		r.add(nil, path, "%q is negative", s)
		return 0
	}
	return d
}

// intOrString reads a Kubernetes IntOrString that must hold a whole
// number (Argo's count and limits), with placeholders substituted.
func intOrString(l located, vals map[string]argValue, r *report, path string, minimum int) int {
	if !l.set() {
		return 0
	}
	n := l.n
	if v, ok := n.intValue(); ok {
		if v < int64(minimum) || v > 1<<30 {
			r.add(n, path, "%d is out of range", v)
			return 0
		}
		return int(v)
	}
	if n.kind != kScalar || n.tag != "str" {
		r.add(n, path, "want an integer, got %s", n.describe())
		return 0
	}
	s := substitute(n.str, vals, r, path)
	if argsRE.MatchString(s) {
		return 0
	}
	v, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || v < minimum || v > 1<<30 {
		r.add(n, path, "%q is not a whole number of at least %d", s, minimum)
		return 0
	}
	return v
}

// queryWithRelease rewrites placeholders of pod-template-hash arguments
// into glidepath's release placeholders.
func queryWithRelease(q string, vals map[string]argValue) string {
	return argsRE.ReplaceAllStringFunc(q, func(ph string) string {
		name := argsRE.FindStringSubmatch(ph)[1]
		if v := vals[name]; v.release != "" {
			return "{{release." + v.release + "}}"
		}
		return ph
	})
}

// checkQueryArgs reports placeholders in a query that name no argument.
func checkQueryArgs(q string, vals map[string]argValue, r *report, path string) {
	for _, m := range argsRE.FindAllStringSubmatch(q, -1) {
		if _, ok := vals[m[1]]; !ok {
			r.add(nil, path, "placeholder %s names no declared argument", m[0])
		}
	}
}

func (b *binder) prometheus(pm *argoPrometheus, vals map[string]argValue, r *report, path string) (string, analysis.Source, time.Duration) {
	checkQueryArgs(pm.Query, vals, r, path+".query")
	query := queryWithRelease(pm.Query, vals)
	cfg := PrometheusConfig{Address: substitute(pm.Address, vals, r, path+".address")}
	if cfg.Address == "" {
		cfg.Address = b.opts.PrometheusAddress
	}
	if cfg.Address == "" {
		r.add(nil, path+".address", "required (or set Options.PrometheusAddress)")
	}
	if pm.Timeout != nil {
		if *pm.Timeout <= 0 || *pm.Timeout > 86400 {
			r.add(nil, path+".timeout", "want seconds between 1 and 86400, got %d", *pm.Timeout)
		} else {
			cfg.Timeout = time.Duration(*pm.Timeout) * time.Second
		}
	}
	cfg.HTTP.TLSConfig.InsecureSkipVerify = pm.Insecure
	if len(pm.Headers) > 0 {
		cfg.HTTP.HTTPHeaders = &config.Headers{Headers: map[string]config.Header{}}
		for i, h := range pm.Headers {
			if h.Key == "" {
				r.add(nil, fmt.Sprintf("%s.headers[%d].key", path, i), "required")
				continue
			}
			hp := fmt.Sprintf("%s.headers[%d].value", path, i)
			v := substitute(h.Value, vals, r, hp)
			if strings.EqualFold(h.Key, "Authorization") {
				// Prometheus' HTTP client reserves the header: it is
				// set from an authorization config instead.
				typ, cred, ok := strings.Cut(strings.TrimSpace(v), " ")
				if !ok || typ == "" || strings.TrimSpace(cred) == "" {
					r.add(nil, hp, "an Authorization header needs a scheme and credentials, such as \"Bearer <token>\"")
					continue
				}
				cfg.HTTP.Authorization = &config.Authorization{Type: typ, Credentials: config.Secret(strings.TrimSpace(cred))}
				continue
			}
			ch := cfg.HTTP.HTTPHeaders.Headers[h.Key]
			ch.Secrets = append(ch.Secrets, config.Secret(v))
			cfg.HTTP.HTTPHeaders.Headers[h.Key] = ch
		}
		if len(cfg.HTTP.HTTPHeaders.Headers) == 0 {
			cfg.HTTP.HTTPHeaders = nil
		}
	}
	if a := pm.Authentication.BasicAuth; a != nil {
		cfg.HTTP.BasicAuth = &config.BasicAuth{
			Username: substitute(a.Username, vals, r, path+".authentication.basicAuth.username"),
			Password: config.Secret(substitute(a.Password, vals, r, path+".authentication.basicAuth.password")),
		}
	}
	if o := pm.Authentication.OAuth2; o != nil {
		cfg.HTTP.OAuth2 = &config.OAuth2{
			ClientID:     substitute(o.ClientID, vals, r, path+".authentication.oauth2.clientId"),
			ClientSecret: config.Secret(substitute(o.ClientSecret, vals, r, path+".authentication.oauth2.clientSecret")),
			TokenURL:     substitute(o.TokenURL, vals, r, path+".authentication.oauth2.tokenUrl"),
			Scopes:       o.Scopes,
		}
	}
	return query, b.promSource(cfg), cfg.Timeout
}

// promSource returns one source per distinct configuration.
func (b *binder) promSource(cfg PrometheusConfig) analysis.Source {
	key, _ := json.Marshal(struct {
		A string
		T time.Duration
		H any
	}{cfg.Address, cfg.Timeout, secretsShown(cfg.HTTP)})
	if s, ok := b.sources[string(key)]; ok {
		return s
	}
	s := b.opts.prometheus(cfg)
	b.sources[string(key)] = s
	return s
}

// secretsShown renders an HTTP client config with its secrets, for use as
// a map key only.
func secretsShown(c config.HTTPClientConfig) string {
	var b strings.Builder
	if c.BasicAuth != nil {
		fmt.Fprintf(&b, "basic %q %q;", c.BasicAuth.Username, string(c.BasicAuth.Password))
	}
	if c.OAuth2 != nil {
		fmt.Fprintf(&b, "oauth2 %q %q %q %q;", c.OAuth2.ClientID, string(c.OAuth2.ClientSecret), c.OAuth2.TokenURL, c.OAuth2.Scopes)
	}
	if c.HTTPHeaders != nil {
		keys := make([]string, 0, len(c.HTTPHeaders.Headers))
		for k := range c.HTTPHeaders.Headers {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "h %q %q;", k, c.HTTPHeaders.Headers[k].Secrets)
		}
	}
	fmt.Fprintf(&b, "insecure %v", c.TLSConfig.InsecureSkipVerify)
	return b.String()
}

// DefaultWebTimeout is Argo Rollouts' default timeoutSeconds for the web
// provider.
const DefaultWebTimeout = 10 * time.Second

func (b *binder) web(w *argoWeb, vals map[string]argValue, r *report, path string) (string, analysis.Source, time.Duration) {
	u := substitute(w.URL, vals, r, path+".url")
	if pu, err := url.Parse(u); u != "" && !argsRE.MatchString(u) && (err != nil || pu.Scheme != "http" && pu.Scheme != "https" || pu.Host == "") {
		r.add(nil, path+".url", "%q is not an http or https URL", u)
	}
	method := strings.ToUpper(w.Method)
	if method == "" {
		method = http.MethodGet
	}
	var body []byte
	switch {
	case w.Body != "" && w.JSONBody.set:
		r.add(nil, path, "give body or jsonBody, not both")
	case w.Body != "":
		body = []byte(substitute(w.Body, vals, r, path+".body"))
	case w.JSONBody.set:
		raw, err := json.Marshal(w.JSONBody.v)
		if err != nil {
			r.add(nil, path+".jsonBody", "%v", err)
		}
		body = []byte(substitute(string(raw), vals, r, path+".jsonBody"))
	}
	switch method {
	case http.MethodGet:
		if body != nil {
			r.add(nil, path+".body", "a body needs method POST or PUT")
		}
	case http.MethodPost, http.MethodPut:
	default:
		r.add(nil, path+".method", "want GET, POST or PUT, got %q", w.Method)
	}
	timeout := DefaultWebTimeout
	if w.TimeoutSeconds != nil {
		if *w.TimeoutSeconds <= 0 || *w.TimeoutSeconds > 86400 {
			r.add(nil, path+".timeoutSeconds", "want seconds between 1 and 86400, got %d", *w.TimeoutSeconds)
		} else {
			timeout = time.Duration(*w.TimeoutSeconds) * time.Second
		}
	}
	h := http.Header{}
	for i, hd := range w.Headers {
		if hd.Key == "" {
			r.add(nil, fmt.Sprintf("%s.headers[%d].key", path, i), "required")
			continue
		}
		h.Add(hd.Key, substitute(hd.Value, vals, r, fmt.Sprintf("%s.headers[%d].value", path, i)))
	}
	if a := w.Authentication.BasicAuth; a != nil {
		user := substitute(a.Username, vals, r, path+".authentication.basicAuth.username")
		pass := substitute(a.Password, vals, r, path+".authentication.basicAuth.password")
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
	}
	if w.Authentication.OAuth2 != nil {
		r.add(nil, path+".authentication.oauth2", "not supported for the web provider: put a bearer token in headers")
	}
	jp := w.JSONPath
	if jp == "" {
		jp = "{$}"
	}
	src := &analysis.HTTP{Header: h, Path: jp, Client: webClient(method, body, w.Insecure, b.opts.HTTPClient)}
	return u, src, timeout
}

// webClient returns the client of a web metric: the caller's (or Go's
// default) transport, with TLS verification off when insecure, and the GET
// the HTTP source sends turned into a POST or PUT with body when the
// metric asks for one.
func webClient(method string, body []byte, insecure bool, base *http.Client) *http.Client {
	if method == http.MethodGet && !insecure {
		return base
	}
	var rt http.RoundTripper = http.DefaultTransport
	if base != nil && base.Transport != nil {
		rt = base.Transport
	}
	if insecure {
		if t, ok := rt.(*http.Transport); ok {
			t = t.Clone()
			if t.TLSClientConfig == nil {
				t.TLSClientConfig = &tls.Config{}
			}
			t.TLSClientConfig.InsecureSkipVerify = true
			rt = t
		}
	}
	c := &http.Client{Transport: &methodRewriter{method: method, body: body, next: rt}}
	if base != nil {
		c.CheckRedirect, c.Jar, c.Timeout = base.CheckRedirect, base.Jar, base.Timeout
	}
	return c
}

// methodRewriter sends each request with its method and body.
type methodRewriter struct {
	method string
	body   []byte
	next   http.RoundTripper
}

// RoundTrip rewrites the request and sends it.
func (m *methodRewriter) RoundTrip(req *http.Request) (*http.Response, error) {
	if m.method == http.MethodGet {
		return m.next.RoundTrip(req)
	}
	r := req.Clone(req.Context())
	r.Method = m.method
	r.Body = newBody(m.body)
	r.GetBody = func() (io.ReadCloser, error) { return newBody(m.body), nil }
	r.ContentLength = int64(len(m.body))
	if r.Header.Get("Content-Type") == "" {
		r.Header.Set("Content-Type", "application/json")
	}
	return m.next.RoundTrip(r)
}

// rollout builds the configs of one Argo Rollout.
func (b *binder) rollout(ro *argoRollout, r *report) *Rollout {
	out := &Rollout{Doc: r.doc, Name: ro.Metadata.Name, Namespace: ro.Metadata.Namespace}
	spec := &ro.Spec
	replicas := 1 // Argo's default when spec.replicas is absent
	if spec.Replicas != nil {
		if *spec.Replicas < 0 || *spec.Replicas > canary.MaxReplicas {
			r.add(nil, "spec.replicas", "want 0..%d, got %d", canary.MaxReplicas, *spec.Replicas)
		}
		replicas = int(*spec.Replicas)
	}
	if spec.ProgressDeadlineSeconds != nil {
		if *spec.ProgressDeadlineSeconds <= 0 {
			r.add(nil, "spec.progressDeadlineSeconds", "must be positive, got %d", *spec.ProgressDeadlineSeconds)
		}
		out.Options.ProgressDeadline = time.Duration(*spec.ProgressDeadlineSeconds) * time.Second
	} else {
		out.Options.ProgressDeadline = 600 * time.Second
	}
	// Argo only reports a missed deadline unless progressDeadlineAbort.
	out.Options.OnDeadline.Pause = !spec.ProgressDeadlineAbort
	st := spec.Strategy
	switch {
	case st.Canary != nil && st.BlueGreen != nil:
		r.add(nil, "spec.strategy", "give canary or blueGreen, not both")
	case st.Canary != nil:
		out.Canary = b.canary(st.Canary, replicas, r)
	case st.BlueGreen != nil:
		out.BlueGreen = b.blueGreen(st.BlueGreen, replicas, r)
	default:
		r.add(nil, "spec.strategy", "required: canary or blueGreen")
	}
	return out
}

func (b *binder) canary(c *argoCanary, replicas int, r *report) *canary.Config {
	const p = "spec.strategy.canary"
	cfg := &canary.Config{Replicas: replicas, DynamicStableScale: c.DynamicStableScale}
	if tr := c.TrafficRouting; tr != nil {
		cfg.TrafficRouting = true
		if tr.MaxTrafficWeight != nil && *tr.MaxTrafficWeight != 100 {
			r.add(nil, p+".trafficRouting.maxTrafficWeight", "weights out of %d are not supported: glidepath weights are percentages (omit it or set 100)", *tr.MaxTrafficWeight)
		}
	}
	cfg.MaxSurge = fencepost(c.MaxSurge, r, p+".maxSurge")
	cfg.MaxUnavailable = fencepost(c.MaxUnavailable, r, p+".maxUnavailable")
	if c.AbortScaleDownDelaySeconds != nil {
		switch {
		case !cfg.TrafficRouting:
			r.ignore(p+".abortScaleDownDelaySeconds", "Argo applies it only with trafficRouting")
		case *c.AbortScaleDownDelaySeconds == 0:
			r.add(nil, p+".abortScaleDownDelaySeconds", "0 leaves the canary running after an abort, which canary.Config cannot do: it removes the canary in the rollback")
		case *c.AbortScaleDownDelaySeconds < 0:
			r.add(nil, p+".abortScaleDownDelaySeconds", "must not be negative")
		default:
			r.ignore(p+".abortScaleDownDelaySeconds", "glidepath removes the canary in the rollback itself, without a delay")
		}
	}
	// Argo applies setCanaryScale and setHeaderRoute together with the
	// step they share; glidepath runs them as steps of their own, so the
	// indexes shift: start[i] is where Argo's step i begins.
	start := make([]int, len(c.Steps)+1)
	for i, s := range c.Steps {
		start[i] = len(cfg.Steps)
		cfg.Steps = append(cfg.Steps, b.steps(s, r, fmt.Sprintf("%s.steps[%d]", p, i))...)
	}
	start[len(c.Steps)] = len(cfg.Steps)
	if a := c.Analysis; a != nil {
		cfg.Background.Analyzers = b.analyzers(&a.argoRolloutAnalysis, r, p+".analysis")
		if a.StartingStep != nil {
			if *a.StartingStep < 0 || int(*a.StartingStep) > len(c.Steps) {
				r.add(nil, p+".analysis.startingStep", "want 0..%d, got %d", len(c.Steps), *a.StartingStep)
			} else {
				cfg.Background.From = start[*a.StartingStep]
			}
		}
	}
	if len(c.Steps) == 0 {
		// Argo with no steps promotes at once: one step to full weight.
		cfg.Steps = []canary.Step{canary.SetWeight(100)}
	}
	if len(r.probs) == 0 { // Validate's complaints would only echo the ones above
		validate(cfg.Validate(), r, p)
	}
	return cfg
}

func fencepost(l located, r *report, path string) *strategy.IntOrPercent {
	if !l.set() {
		return nil
	}
	n := l.n
	if v, ok := n.intValue(); ok {
		if v < 0 || v > canary.MaxReplicas {
			r.add(n, path, "%d is out of range", v)
			return nil
		}
		x := strategy.Int(int(v))
		return &x
	}
	if n.kind != kScalar || n.tag != "str" {
		r.add(n, path, "want an integer or a percentage like \"25%%\", got %s", n.describe())
		return nil
	}
	x, err := strategy.ParseIntOrPercent(n.str)
	if err != nil {
		r.add(n, path, "%v", err)
		return nil
	}
	if !x.IsPercent() {
		// Kubernetes rejects "3" as an IntOrString percentage.
		r.add(n, path, "%q: a string must be a percentage like \"25%%\"", n.str)
		return nil
	}
	return &x
}

// steps maps one Argo step. As in Argo, a step sets at most one of
// setWeight, pause, experiment and analysis; setCanaryScale and
// setHeaderRoute may come with it, and become steps of their own before
// it (capacity and routes first, then the weight).
func (b *binder) steps(s argoStep, r *report, path string) []canary.Step {
	main := 0
	for _, ok := range []bool{s.SetWeight != nil, s.Pause != nil, s.Analysis != nil, s.Experiment.set} {
		if ok {
			main++
		}
	}
	if main > 1 {
		r.add(nil, path, "a step sets one of setWeight, pause, experiment and analysis; this one sets %d", main)
		return nil
	}
	var out []canary.Step
	if s.SetCanaryScale != nil {
		if st, ok := b.step(argoStep{SetCanaryScale: s.SetCanaryScale}, r, path); ok {
			out = append(out, st)
		}
	}
	if s.SetHeaderRoute != nil {
		if st, ok := b.step(argoStep{SetHeaderRoute: s.SetHeaderRoute}, r, path); ok {
			out = append(out, st)
		}
	}
	rest := argoStep{SetWeight: s.SetWeight, Pause: s.Pause, Analysis: s.Analysis}
	if main == 1 && !s.Experiment.set {
		if st, ok := b.step(rest, r, path); ok {
			out = append(out, st)
		}
	}
	if main == 0 && s.SetCanaryScale == nil && s.SetHeaderRoute == nil && !s.SetMirrorRoute.set && !s.Plugin.set {
		r.add(nil, path, "an empty step")
	}
	return out
}

func (b *binder) step(s argoStep, r *report, path string) (canary.Step, bool) {
	switch {
	case s.SetWeight != nil:
		if *s.SetWeight < 0 || *s.SetWeight > 100 {
			r.add(nil, path+".setWeight", "want 0..100, got %d", *s.SetWeight)
			return canary.Step{}, false
		}
		return canary.SetWeight(int(*s.SetWeight)), true
	case s.Pause != nil:
		if !s.Pause.Duration.set() {
			return canary.PauseUntilPromoted(), true
		}
		d, ok := pauseDuration(s.Pause.Duration.n, r, path+".pause.duration")
		return canary.Pause(d), ok
	case s.Analysis != nil:
		as := b.analyzers(s.Analysis, r, path+".analysis")
		for _, a := range as {
			// A metric with an interval and no count measures until its
			// context ends: it could never let an inline step finish.
			if c, ok := a.(*analysis.Check); ok {
				if err := c.ValidateInline(); err != nil {
					r.add(nil, path+".analysis", "metric %q has an interval and no count, so this step would never finish while it passes: give it a count, or run it as background analysis (spec.strategy.canary.analysis)", c.Label)
				}
			}
		}
		return canary.Analysis(as...), len(as) > 0
	case s.SetCanaryScale != nil:
		sc := s.SetCanaryScale
		n := 0
		var out canary.Scale
		if sc.Weight != nil {
			n++
			out = canary.PercentOfReplicas(int(*sc.Weight))
		}
		if sc.Replicas != nil {
			n++
			out = canary.Replicas(int(*sc.Replicas))
		}
		if sc.MatchTrafficWeight {
			n++
			out = canary.MatchTrafficWeight()
		}
		if n != 1 {
			r.add(nil, path+".setCanaryScale", "give exactly one of weight, replicas and matchTrafficWeight")
			return canary.Step{}, false
		}
		if sc.Weight != nil && (*sc.Weight < 0 || *sc.Weight > 1<<20) || sc.Replicas != nil && (*sc.Replicas < 0 || *sc.Replicas > canary.MaxReplicas) {
			r.add(nil, path+".setCanaryScale", "out of range")
			return canary.Step{}, false
		}
		return canary.SetCanaryScale(out), true
	case s.SetHeaderRoute != nil:
		hr := s.SetHeaderRoute
		st := canary.SetHeaderRoute(strategy.HeaderRoute{})
		if hr.Name != "" {
			r.ignore(path+".setHeaderRoute.name", "the route name refers to trafficRouting.managedRoutes")
		}
		switch len(hr.Match) {
		case 0:
			return st, true
		case 1:
		default:
			r.add(nil, path+".setHeaderRoute.match", "glidepath routes on one header; this route matches %d", len(hr.Match))
			return canary.Step{}, false
		}
		m := hr.Match[0]
		mp := path + ".setHeaderRoute.match[0]"
		if m.HeaderName == "" {
			r.add(nil, mp+".headerName", "required")
			return canary.Step{}, false
		}
		route, ok := stringMatch(m.HeaderName, m.HeaderValue, r, mp+".headerValue")
		if !ok {
			return canary.Step{}, false
		}
		return canary.SetHeaderRoute(route), true
	}
	return canary.Step{}, false // refused fields were reported by the decoder
}

func stringMatch(header string, m *argoStringMatch, r *report, path string) (strategy.HeaderRoute, bool) {
	if m == nil {
		r.add(nil, path, "required: exact, prefix or regex")
		return strategy.HeaderRoute{}, false
	}
	n := 0
	for _, s := range []string{m.Exact, m.Prefix, m.Regex} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		r.add(nil, path, "give exactly one of exact, prefix and regex")
		return strategy.HeaderRoute{}, false
	}
	if m.Regex != "" {
		if _, err := regexp.Compile(m.Regex); err != nil {
			r.add(nil, path+".regex", "%v", err)
			return strategy.HeaderRoute{}, false
		}
	}
	return strategy.HeaderRoute{Header: header, Exact: m.Exact, Prefix: m.Prefix, Regex: m.Regex}, true
}

// pauseDuration reads a pause duration as Argo does: an integer is
// seconds, a string of digits is seconds, anything else goes through
// time.ParseDuration.
func pauseDuration(n *node, r *report, path string) (time.Duration, bool) {
	const maxPause = 1 << 31 // seconds, Argo's int32
	if v, ok := n.intValue(); ok {
		if v < 0 || v >= maxPause {
			r.add(n, path, "%d seconds is out of range", v)
			return 0, false
		}
		if v == 0 {
			r.add(n, path, "a pause of 0 seconds: omit duration to pause until promoted, or remove the step")
			return 0, false
		}
		return time.Duration(v) * time.Second, true
	}
	if n.kind != kScalar || n.tag != "str" {
		r.add(n, path, "want seconds or a duration like \"30s\", got %s", n.describe())
		return 0, false
	}
	if v, err := strconv.ParseInt(n.str, 10, 32); err == nil {
		if v <= 0 {
			r.add(n, path, "%q is not a positive number of seconds", n.str)
			return 0, false
		}
		return time.Duration(v) * time.Second, true
	}
	d, err := time.ParseDuration(n.str)
	if err != nil || d < time.Second {
		r.add(n, path, "%q is not a duration of at least one second like \"30s\", \"5m\" or \"1h\"", n.str)
		return 0, false
	}
	return d.Truncate(time.Second), true // Argo counts whole seconds
}

func (b *binder) blueGreen(g *argoBlueGreen, replicas int, r *report) *bluegreen.Config {
	const p = "spec.strategy.blueGreen"
	cfg := &bluegreen.Config{Replicas: replicas}
	if g.PreviewReplicaCount != nil {
		if *g.PreviewReplicaCount < 0 || *g.PreviewReplicaCount > canary.MaxReplicas {
			r.add(nil, p+".previewReplicaCount", "out of range: %d", *g.PreviewReplicaCount)
		} else if *g.PreviewReplicaCount == 0 {
			r.add(nil, p+".previewReplicaCount", "0 runs no preview instances, which bluegreen.Config cannot express (0 means all of them)")
		} else {
			cfg.CanaryReplicas = int(*g.PreviewReplicaCount)
		}
	}
	cfg.ManualPromotion = g.AutoPromotionEnabled != nil && !*g.AutoPromotionEnabled
	if g.AutoPromotionSeconds < 0 {
		r.add(nil, p+".autoPromotionSeconds", "must not be negative")
	} else if g.AutoPromotionSeconds > 0 {
		if cfg.ManualPromotion {
			r.ignore(p+".autoPromotionSeconds", "Argo ignores it when autoPromotionEnabled is false")
		} else {
			cfg.AutoPromotionDelay = time.Duration(g.AutoPromotionSeconds) * time.Second
		}
	}
	if g.ScaleDownDelaySeconds != nil {
		switch d := *g.ScaleDownDelaySeconds; {
		case d < 0:
			r.add(nil, p+".scaleDownDelaySeconds", "must not be negative")
		case d == 0:
			cfg.ScaleDownDelay = -1 // no delay
		default:
			cfg.ScaleDownDelay = time.Duration(d) * time.Second
		}
	}
	// Argo's default abortScaleDownDelaySeconds is 30; 0 keeps the preview.
	cfg.AbortScaleDownDelay = 30 * time.Second
	if g.AbortScaleDownDelaySeconds != nil {
		switch d := *g.AbortScaleDownDelaySeconds; {
		case d < 0:
			r.add(nil, p+".abortScaleDownDelaySeconds", "must not be negative")
		case d == 0:
			cfg.AbortScaleDownDelay, cfg.KeepAborted = 0, true
		default:
			cfg.AbortScaleDownDelay = time.Duration(d) * time.Second
		}
	}
	if g.PrePromotionAnalysis != nil {
		cfg.PrePromotion = b.analyzers(g.PrePromotionAnalysis, r, p+".prePromotionAnalysis")
	}
	if g.PostPromotionAnalysis != nil {
		cfg.PostPromotion = b.analyzers(g.PostPromotionAnalysis, r, p+".postPromotionAnalysis")
	}
	if len(r.probs) == 0 { // Validate's complaints would only echo the ones above
		validate(cfg.Validate(), r, p)
	}
	return cfg
}

// validate reports the problems a glidepath Validate found: those of its
// [*strategy.ConfigError], or its text.
func validate(err error, r *report, path string) {
	var ce *strategy.ConfigError
	switch {
	case err == nil:
	case errors.As(err, &ce):
		for _, line := range ce.Problems {
			r.add(nil, path, "%s", line)
		}
	default:
		r.add(nil, path, "%s", err.Error())
	}
}
