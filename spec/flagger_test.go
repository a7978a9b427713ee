package spec

import (
	"strings"
	"testing"
	"time"

	"github.com/glidepath/glidepath/analysis"
	"github.com/glidepath/glidepath/analysis/prometheus"
	"github.com/glidepath/glidepath/canary"
)

var hookSecret = Options{PrometheusAddress: "http://prometheus:9090"}

func argsOf(c *analysis.Check) map[string]string {
	m := map[string]string{}
	for _, a := range c.Args {
		m[a.Name] = a.Value
	}
	return m
}

func TestFlaggerProgressiveCanary(t *testing.T) {
	res := mustDecode(t, corpus(t, "flagger/canary-istio.yaml"), hookSecret)
	if len(res.Canaries) != 1 || len(res.MetricTemplates) != 1 {
		t.Fatalf("%+v", res)
	}
	c := res.Canaries[0]
	// threshold 5: the fifth failed check rolls back.
	if c.Options.OnFail.Allowed != 4 || c.Options.ProgressDeadline != time.Minute {
		t.Errorf("options %+v", c.Options)
	}
	// The pre-rollout webhook, then 10..50 by 10, each held for the
	// interval and analysed in one Iterations analyzer.
	steps := c.Canary.Steps
	var kinds []string
	for _, s := range steps {
		kinds = append(kinds, s.String())
	}
	want := "analysis [pre-rollout]|setWeight 10|analysis [analysis at 10%]|setWeight 20|analysis [analysis at 20%]"
	if got := strings.Join(kinds, "|"); !strings.HasPrefix(got, want) || len(steps) != 11 || kinds[9] != "setWeight 50" {
		t.Errorf("steps:\n%s\nwant prefix\n%s", got, want)
	}
	it := steps[2].Analyzers[0].(*Iterations)
	if it.Count != 1 || it.Interval != time.Minute || it.Threshold != 1 || len(it.Analyzers) != 4 {
		t.Fatalf("%+v", it)
	}
	checks := checksOf(t, it.Analyzers[:3])
	sr := checks["request-success-rate"]
	if !strings.Contains(sr.Query, `destination_workload=~"{{args.target}}"`) || !strings.Contains(sr.Query, "[{{args.interval}}]") {
		t.Errorf("query %s", sr.Query)
	}
	if a := argsOf(sr); a["target"] != "podinfo" || a["namespace"] != "test" || a["interval"] != "1m" {
		t.Errorf("args %v", a)
	}
	if sr.SuccessCondition != "len(result) > 0 && !isNaN(result[0]) && result[0] >= 99" || sr.Count != 0 || sr.Interval != 0 || *sr.ConsecutiveErrorLimit != 0 {
		t.Errorf("success rate check %+v", sr)
	}
	if d := checks["request-duration"]; d.SuccessCondition != "len(result) > 0 && !isNaN(result[0]) && result[0] <= 500" || argsOf(d)["interval"] != "30s" {
		t.Errorf("duration %+v", d)
	}
	nf := checks["not-found-percentage"]
	src := nf.Source.(*prometheus.Source)
	if src.Address != "http://prometheus.istio-system:9090" || string(src.HTTP.HTTPHeaders.Headers["X-Scope-OrgID"].Secrets[0]) != "tenant-1" {
		t.Errorf("template source %+v", src)
	}
	if sr.Source != checks["request-duration"].Source {
		t.Error("built-in metrics of one server should share a source")
	}
	hook := it.Analyzers[3].(*FlaggerWebhook)
	if hook.URL != "http://flagger-loadtester.test/" || hook.Timeout != 5*time.Second || hook.Canary != "podinfo" || hook.Namespace != "test" ||
		hook.Metadata["cmd"] != "hey -z 1m -q 10 -c 2 http://podinfo-canary.test:9898/" {
		t.Errorf("hook %+v", hook)
	}
	pre := steps[0].Analyzers[0].(*Iterations)
	if h := pre.Analyzers[0].(*FlaggerWebhook); h.Timeout != 30*time.Second || h.Metadata["type"] != "bash" || pre.Interval != time.Minute {
		t.Errorf("pre-rollout hook %+v", h)
	}
	ig := ignoredPaths(res)
	for _, p := range []string{"spec.autoscalerRef", "spec.service", "spec.analysis.stepWeightPromotion", "spec.analysis.webhooks[2]"} {
		if !ig[p] {
			t.Errorf("%s not ignored: %v", p, res.Ignored)
		}
	}
	if err := c.Canary.Validate(); err != nil {
		t.Error(err)
	}
}

func TestFlaggerABTesting(t *testing.T) {
	res := mustDecode(t, corpus(t, "flagger/canary-ab.yaml"), hookSecret)
	c := res.Canaries[0]
	s := c.Canary.Steps
	if len(s) != 2 || s[0].Kind != canary.KindSetHeaderRoute || s[0].Route.Header != "cookie" || s[0].Route.Regex != "^(.*?;)?(canary=always)(;.*)?$" {
		t.Fatalf("steps %v", s)
	}
	// Flagger's interval floor is 10s; the threshold is counted by the
	// Iterations analyzer.
	it := s[1].Analyzers[0].(*Iterations)
	if it.Interval != 10*time.Second || it.Count != 10 || it.Threshold != 2 || c.Options.OnFail.Allowed != 0 {
		t.Errorf("%+v, policy %+v", it, c.Options.OnFail)
	}
	checks := checksOf(t, it.Analyzers)
	sr := checks["request-success-rate"]
	if !strings.Contains(sr.Query, `ingress="{{args.ingress}}"`) || argsOf(sr)["ingress"] != "frontend-ingress" {
		t.Errorf("nginx query %s args %v", sr.Query, argsOf(sr))
	}
	// The deprecated threshold of request-success-rate is a minimum.
	if !strings.HasSuffix(sr.SuccessCondition, "result[0] >= 99") {
		t.Errorf("%s", sr.SuccessCondition)
	}
	if sr.Source.(*prometheus.Source).Address != "http://prometheus:9090" {
		t.Error("Options.PrometheusAddress not used")
	}
}

func TestFlaggerBlueGreen(t *testing.T) {
	res := mustDecode(t, corpus(t, "flagger/canary-bluegreen.yaml"), hookSecret)
	c := res.Canaries[0]
	if c.BlueGreen == nil || len(c.BlueGreen.PrePromotion) != 1 || c.Options.OnFail.Allowed != 0 {
		t.Fatalf("%+v %+v", c.BlueGreen, c.Options)
	}
	it := c.BlueGreen.PrePromotion[0].(*Iterations)
	if it.Count != 5 || it.Interval != 30*time.Second || it.Threshold != 3 || len(it.Analyzers) != 3 {
		t.Fatalf("%+v", it)
	}
	if h, ok := it.Analyzers[2].(*FlaggerWebhook); !ok || h.Label != "smoke" || h.Retries != 2 || h.Client == nil {
		t.Errorf("rollout webhook: %+v", it.Analyzers[2])
	}
	checks := checksOf(t, it.Analyzers[:2])
	if q := checks["request-success-rate"].Query; !strings.Contains(q, "http_request_duration_seconds_count") {
		t.Errorf("kubernetes provider query: %s", q)
	}
	// The deprecated threshold of request-duration is a maximum (ms).
	if !strings.HasSuffix(checks["request-duration"].SuccessCondition, "result[0] <= 250") {
		t.Error(checks["request-duration"].SuccessCondition)
	}
	// The namespace defaults to Kubernetes' "default".
	if argsOf(checks["request-duration"])["namespace"] != "default" {
		t.Error(argsOf(checks["request-duration"]))
	}
}

func TestFlaggerStepWeightsAndVariables(t *testing.T) {
	o := hookSecret
	o.Target, o.Namespace = "orders-v2", "shop-canary"
	res := mustDecode(t, corpus(t, "flagger/canary-linkerd.yaml"), o)
	c := res.Canaries[0].Canary
	if len(c.Steps) != 8 || c.Steps[0].String() != "setWeight 1" || c.Steps[6].String() != "setWeight 50" {
		t.Fatalf("%v", c.Steps)
	}
	it := c.Steps[1].Analyzers[0].(*Iterations)
	if it.Interval != 2*time.Minute || len(it.Analyzers) != 2 {
		t.Fatalf("%+v", it)
	}
	checks := checksOf(t, it.Analyzers)
	e := checks["errors-by-route"]
	if !strings.Contains(e.Query, `rt_route="{{args.variables_route}}"`) {
		t.Error(e.Query)
	}
	a := argsOf(e)
	if a["variables_route"] != "/api/orders" || a["target"] != "orders-v2" || a["namespace"] != "shop-canary" || a["interval"] != "1m" {
		t.Errorf("%v", a)
	}
	// The template is found in the canary's namespace from the spec
	// (shop), not the caller's override used in queries.
	if !strings.Contains(checks["request-success-rate"].Query, "response_total") {
		t.Error("linkerd query")
	}
}

func TestFlaggerBadInput(t *testing.T) {
	bad := `apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {name: c, namespace: ns}
spec:
  targetRef: {name: app}
  analysis:
    interval: soon
    stepWeight: 10
    mirror: true
    metrics:
    - name: request-success-rate
      thresholdRange: {min: 99}
    - name: request-success-rate
      thresholdRange: {min: 98}
    - name: custom
      templateRef: {name: nope}
    - name: other
      templateRef: {name: bad-template}
      thresholdRange: {min: 5, max: 1}
    webhooks:
    - name: gate
      type: confirm-promotion
      url: http://gate/
    - name: load
      url: http://load/
      timeout: forever
---
apiVersion: flagger.app/v1beta1
kind: MetricTemplate
metadata: {name: bad-template, namespace: ns}
spec:
  provider: {type: datadog}
  query: "{{ range .x }}"
`
	probs := problems(t, bad, Options{})
	wantProblem(t, probs, 0, "spec.analysis.interval", `"soon"`)
	wantProblem(t, probs, 0, "spec.analysis.mirror", "not supported")
	wantProblem(t, probs, 0, "spec.analysis.metrics[1].name", "names must be unique")
	wantProblem(t, probs, 0, "spec.analysis.metrics[0]", "no Prometheus address")
	wantProblem(t, probs, 0, "spec.analysis.metrics[2].templateRef.name", `unknown MetricTemplate "nope"`)
	wantProblem(t, probs, 0, "spec.analysis.webhooks[0].type", "not supported")
	wantProblem(t, probs, 0, "spec.analysis.webhooks[1].timeout", `"forever"`)
	wantProblem(t, probs, 1, "spec.provider.type", `"datadog" is not supported`)
	wantProblem(t, probs, 1, "spec.query", "{{ range .x }}")
}

func TestFlaggerMissingTemplateVariable(t *testing.T) {
	data := strings.Replace(string(corpus(t, "flagger/canary-linkerd.yaml")), `"templateVariables": {"route": "/api/orders"}, `, "", 1)
	probs := problems(t, data, hookSecret)
	wantProblem(t, probs, 0, "spec.analysis.metrics[1].templateVariables", "{{ variables.route }}")
}

// The deprecated spec.canaryAnalysis is read like spec.analysis; giving
// both is an error, and an unknown mesh provider falls back to Istio's
// queries as Flagger's observer factory does.
func TestFlaggerDeprecatedCanaryAnalysis(t *testing.T) {
	data := `apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {name: old, namespace: ns}
spec:
  provider: smi:v1alpha3
  targetRef: {name: old}
  canaryAnalysis:
    interval: 30s
    maxWeight: 30
    stepWeight: 15
    metrics:
    - name: request-success-rate
      threshold: 99
`
	res := mustDecode(t, []byte(data), hookSecret)
	c := res.Canaries[0].Canary
	if len(c.Steps) != 4 || c.Steps[2].String() != "setWeight 30" {
		t.Fatalf("%v", c.Steps)
	}
	it := c.Steps[1].Analyzers[0].(*Iterations)
	if it.Interval != 30*time.Second || !strings.Contains(it.Analyzers[0].(*analysis.Check).Query, "istio_requests_total") {
		t.Errorf("%+v", it)
	}
	both := strings.Replace(data, "  canaryAnalysis:", "  analysis: {interval: 1m, stepWeight: 10}\n  canaryAnalysis:", 1)
	wantProblem(t, problems(t, both, hookSecret), 0, "spec.canaryAnalysis", "not both")
}

// Flagger's nextStepWeight uses stepWeight whenever it is set, even with
// stepWeights.
func TestFlaggerStepWeightWinsOverStepWeights(t *testing.T) {
	data := `apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {name: x}
spec:
  targetRef: {name: x}
  analysis:
    stepWeight: 25
    stepWeights: [1, 2, 3]
`
	res := mustDecode(t, []byte(data), hookSecret)
	var got []string
	for _, s := range res.Canaries[0].Canary.Steps {
		got = append(got, s.String())
	}
	if strings.Join(got, "|") != "setWeight 25|interval at 25%: pause 1m0s|setWeight 50|interval at 50%: pause 1m0s|setWeight 75|interval at 75%: pause 1m0s|setWeight 100|interval at 100%: pause 1m0s" {
		t.Errorf("%v", got)
	}
	if !ignoredPaths(res)["spec.analysis.stepWeights"] {
		t.Error("stepWeights not listed as ignored")
	}
}
