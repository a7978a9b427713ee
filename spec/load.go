package spec

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"time"

	"github.com/prometheus/common/config"

	"github.com/glidepath/glidepath/analysis"
	"github.com/glidepath/glidepath/analysis/prometheus"
	"github.com/glidepath/glidepath/bluegreen"
	"github.com/glidepath/glidepath/canary"
	"github.com/glidepath/glidepath/strategy"
)

// Options are the values the specs refer to but cannot hold, and the
// sources to bind metrics to. The zero value is usable.
type Options struct {
	// Args are values for template arguments ({{args.NAME}}), by name:
	// revision, service or namespace names only the caller knows. They
	// override the values the specs give.
	Args map[string]string
	// Secrets are the values of Argo args read from Kubernetes secrets
	// (valueFrom.secretKeyRef), keyed "SECRET-NAME/KEY". They are marked
	// secret, so they never appear in verdicts or errors.
	Secrets map[string]string
	// Fields are values for Argo args read with valueFrom.fieldRef, keyed
	// by field path ("metadata.labels['team']"). metadata.name,
	// metadata.namespace and the Rollout's own labels and annotations are
	// known without them.
	Fields map[string]string

	// PrometheusAddress is used by metrics that name no address: Argo
	// prometheus metrics without one, and Flagger metrics (Flagger's
	// -metrics-server flag; spec.metricsServer wins).
	PrometheusAddress string
	// Prometheus builds the source of a prometheus metric. Nil builds a
	// *prometheus.Source; tests and examples can answer in-process.
	Prometheus func(PrometheusConfig) analysis.Source
	// HTTPClient sends the requests of web metrics and webhooks; nil uses
	// Go's default transport.
	HTTPClient *http.Client

	// Flagger

	// MeshProvider is Flagger's -mesh-provider flag: which built-in
	// queries request-success-rate and request-duration use when the
	// Canary names no spec.provider (default "istio", Flagger's default).
	MeshProvider string
	// Target, when set, replaces the Canary's targetRef.name in Flagger
	// queries ({{ target }}).
	Target string
	// Namespace, when set, replaces the Canary's metadata.namespace in
	// Flagger queries ({{ namespace }}).
	Namespace string
	// Limits bound the cost of decoding untrusted input.
	Limits Limits
}

// PrometheusConfig is what a prometheus metric says about its server.
type PrometheusConfig struct {
	// Address is the server's base URL.
	Address string
	// HTTP holds authentication, headers and TLS settings.
	HTTP config.HTTPClientConfig
	// Timeout bounds each query; 0 is the source's default.
	Timeout time.Duration
}

func (o *Options) prometheus(cfg PrometheusConfig) analysis.Source {
	if o.Prometheus != nil {
		return o.Prometheus(cfg)
	}
	return &prometheus.Source{Address: cfg.Address, HTTP: cfg.HTTP, Timeout: cfg.Timeout}
}

// Result is what the specs decoded to.
type Result struct {
	// Templates are the Argo AnalysisTemplates and ClusterAnalysisTemplates,
	// in input order. Checks binds one to arguments.
	Templates []Template
	// Rollouts are the Argo Rollouts, in input order.
	Rollouts []Rollout
	// Canaries are the Flagger Canaries, in input order.
	Canaries []Canary
	// MetricTemplates are the names of the Flagger MetricTemplates.
	MetricTemplates []string
	// Ignored lists the fields that have no meaning for glidepath and were
	// skipped, so that nothing is dropped without a word.
	Ignored []Ignored

	opts *Options
	set  *argoSet
}

// Template is a decoded Argo (Cluster)AnalysisTemplate.
type Template struct {
	// Doc is the 0-based index of its document.
	Doc int
	// Name is metadata.name.
	Name string
	// Cluster is true for a ClusterAnalysisTemplate.
	Cluster bool
	// Args are the names of its arguments, in order.
	Args []string
	// Metrics are the names of its metrics, in order.
	Metrics []string
}

// Rollout is a decoded Argo Rollout: exactly one of Canary and BlueGreen is
// set.
type Rollout struct {
	// Doc is the 0-based index of its document.
	Doc int
	// Name and Namespace are from metadata.
	Name, Namespace string
	// Canary is spec.strategy.canary, with spec.replicas.
	Canary *canary.Config
	// BlueGreen is spec.strategy.blueGreen, with spec.replicas.
	BlueGreen *bluegreen.Config
	// Options carry spec.progressDeadlineSeconds and
	// spec.progressDeadlineAbort (Argo only reports a missed deadline
	// unless it is true, so OnDeadline.Pause is its negation).
	Options strategy.Options
}

// Strategy returns the rollout's strategy config.
func (r Rollout) Strategy() strategy.Strategy {
	if r.Canary != nil {
		return *r.Canary
	}
	return *r.BlueGreen
}

// Canary is a decoded Flagger Canary.
type Canary struct {
	// Doc is the 0-based index of its document.
	Doc int
	// Name and Namespace are from metadata.
	Name, Namespace string
	// Canary is spec.analysis of a progressive canary (stepWeight or
	// stepWeights) or an A/B test (iterations with a header match): the
	// weights or the header route, the interval, metric checks and
	// webhooks.
	Canary *canary.Config
	// BlueGreen is spec.analysis of a blue/green release (iterations
	// without a match): one [Iterations] analyzer before promotion.
	BlueGreen *bluegreen.Config
	// Options carry the failure policy of a canary (the release rolls
	// back at the threshold-th failed check, so OnFail.Allowed is
	// threshold-1; in blue/green the Iterations analyzer counts them) and
	// spec.progressDeadlineSeconds.
	Options strategy.Options
}

// Strategy returns the canary's strategy config.
func (c Canary) Strategy() strategy.Strategy {
	if c.Canary != nil {
		return *c.Canary
	}
	return *c.BlueGreen
}

// Decode reads YAML or JSON documents (one or many, "---" separated) of
// Argo Rollouts AnalysisTemplate, ClusterAnalysisTemplate and Rollout
// resources and Flagger Canary and MetricTemplate resources, and maps them
// to glidepath configs. Bad input gets one *Error naming every problem,
// and no Result.
func Decode(data []byte, opts Options) (*Result, error) {
	o := opts
	o.Limits = o.Limits.withDefaults()
	docs, probs := parse(data, o.Limits)
	if len(probs) > 0 {
		return nil, asError(probs)
	}
	res := &Result{opts: &o, set: &argoSet{ns: map[string]*templateEntry{}, cluster: map[string]*templateEntry{}}}
	reports := map[int]*report{}
	rep := func(doc int) *report {
		if reports[doc] == nil {
			reports[doc] = &report{doc: doc}
		}
		return reports[doc]
	}
	var rollouts []*argoRollout
	var rolloutDocs []int
	fl := &flaggerSet{templates: map[string]*flaggerTemplateEntry{}}
	var canaries []*flaggerCanary
	var canaryDocs []int
	for _, d := range docs {
		r := rep(d.index)
		if d.root.kind != kMap {
			r.add(d.root, "", "want a Kubernetes resource (a mapping), got %s", d.root.describe())
			continue
		}
		var tm typeMeta
		tr := &report{doc: d.index}
		tmNode := &node{kind: kMap}
		for _, k := range []string{"apiVersion", "kind"} {
			if v := d.root.get(k); v != nil {
				tmNode.keys = append(tmNode.keys, k)
				tmNode.vals = append(tmNode.vals, v)
			}
		}
		decodeInto(tmNode, &tm, "", tr)
		if len(tr.probs) > 0 {
			r.probs = append(r.probs, tr.probs...)
			continue
		}
		group, _, _ := cutVersion(tm.APIVersion)
		switch {
		case group == "argoproj.io" && (tm.Kind == "AnalysisTemplate" || tm.Kind == "ClusterAnalysisTemplate"):
			t := &argoTemplate{}
			decodeInto(d.root, t, "", r)
			e := &templateEntry{doc: d.index, cluster: tm.Kind == "ClusterAnalysisTemplate", t: t}
			idx, key := res.set.ns, t.Metadata.Namespace+"/"+t.Metadata.Name
			if e.cluster {
				idx, key = res.set.cluster, t.Metadata.Name
			}
			if prev, dup := idx[key]; dup && t.Metadata.Name != "" {
				r.add(nil, "metadata.name", "%s %q is also document %d", tm.Kind, t.Metadata.Name, prev.doc)
			} else {
				idx[key] = e
			}
			checkTemplate(e, r)
			tpl := Template{Doc: d.index, Name: t.Metadata.Name, Cluster: e.cluster}
			for _, a := range t.Spec.Args {
				tpl.Args = append(tpl.Args, a.Name)
			}
			for _, m := range t.Spec.Metrics {
				tpl.Metrics = append(tpl.Metrics, m.Name)
			}
			res.Templates = append(res.Templates, tpl)
		case group == "argoproj.io" && tm.Kind == "Rollout":
			ro := &argoRollout{}
			decodeInto(d.root, ro, "", r)
			rollouts = append(rollouts, ro)
			rolloutDocs = append(rolloutDocs, d.index)
		case group == "flagger.app" && tm.Kind == "Canary":
			c := &flaggerCanary{}
			decodeInto(d.root, c, "", r)
			canaries = append(canaries, c)
			canaryDocs = append(canaryDocs, d.index)
		case group == "flagger.app" && tm.Kind == "MetricTemplate":
			t := &flaggerMetricTemplate{}
			decodeInto(d.root, t, "", r)
			key := t.Metadata.Namespace + "/" + t.Metadata.Name
			if prev, dup := fl.templates[key]; dup {
				r.add(nil, "metadata.name", "MetricTemplate %q is also document %d", t.Metadata.Name, prev.doc)
			} else {
				fl.templates[key] = &flaggerTemplateEntry{doc: d.index, t: t}
			}
			checkMetricTemplate(t, r)
			res.MetricTemplates = append(res.MetricTemplates, t.Metadata.Name)
		case tm.APIVersion == "" || tm.Kind == "":
			r.add(d.root, "", "not a Kubernetes resource: apiVersion and kind are required")
		default:
			// Services, Ingresses, Deployments... often share the file:
			// they are not release policy.
			r.ignore("", fmt.Sprintf("a %s %s is not release policy (glidepath reads argoproj.io AnalysisTemplate, ClusterAnalysisTemplate and Rollout, and flagger.app Canary and MetricTemplate)", tm.APIVersion, tm.Kind))
		}
	}
	b := &binder{opts: &o, set: res.set, sources: map[string]analysis.Source{}, reports: reports}
	for i, ro := range rollouts {
		b.meta = &ro.Metadata
		if out := b.rollout(ro, rep(rolloutDocs[i])); out != nil {
			res.Rollouts = append(res.Rollouts, *out)
		}
	}
	b.meta = nil
	for i, c := range canaries {
		if out := b.flagger(c, fl, rep(canaryDocs[i])); out != nil {
			res.Canaries = append(res.Canaries, *out)
		}
	}
	var all []Problem
	docsSeen := make([]int, 0, len(reports))
	for d := range reports {
		docsSeen = append(docsSeen, d)
	}
	sort.Ints(docsSeen)
	for _, d := range docsSeen {
		all = append(all, reports[d].probs...)
		res.Ignored = append(res.Ignored, reports[d].ignored...)
	}
	if err := asError(all); err != nil {
		return nil, err
	}
	return res, nil
}

// DecodeReader reads r (within Options.Limits.MaxBytes) and decodes it.
func DecodeReader(r io.Reader, opts Options) (*Result, error) {
	data, err := readBounded(r, opts.Limits.withDefaults().MaxBytes)
	if err != nil {
		return nil, err
	}
	return Decode(data, opts)
}

// Checks binds the Argo template named name (a ClusterAnalysisTemplate
// when cluster is true) to args, on top of the template's own values and
// Options.Args, and returns its metrics as checks. Every argument must
// have a value.
func (res *Result) Checks(name string, cluster bool, args map[string]string) ([]*analysis.Check, error) {
	b := &binder{opts: res.opts, set: res.set, sources: map[string]analysis.Source{}, reports: map[int]*report{}}
	ra := &argoRolloutAnalysis{Templates: []argoTemplateRef{{TemplateName: name, ClusterScope: &cluster}}}
	keys := make([]string, 0, len(args))
	for k := range args {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ra.Args = append(ra.Args, argoRunArg{Name: k, Value: args[k]})
	}
	r := &report{doc: -1}
	as := b.analyzers(ra, r, "")
	probs := r.probs
	for _, rr := range b.reports {
		probs = append(probs, rr.probs...)
	}
	if err := asError(probs); err != nil {
		return nil, err
	}
	out := make([]*analysis.Check, 0, len(as))
	for _, a := range as {
		out = append(out, a.(*analysis.Check))
	}
	return out, nil
}

func cutVersion(apiVersion string) (group, version string, ok bool) {
	for i := len(apiVersion) - 1; i >= 0; i-- {
		if apiVersion[i] == '/' {
			return apiVersion[:i], apiVersion[i+1:], true
		}
	}
	return "", apiVersion, false
}
