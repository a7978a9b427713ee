package spec

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/glidepath/glidepath/analysis"
	"github.com/glidepath/glidepath/analysis/prometheus"
	"github.com/glidepath/glidepath/canary"
	"github.com/glidepath/glidepath/strategy"
)

var secrets = Options{Secrets: map[string]string{"prometheus-auth/token": "s3cret"}}

func argoCorpus(t *testing.T) *Result {
	return mustDecode(t, corpus(t, "argo/analysis-prometheus.yaml", "argo/analysis-web.yaml", "argo/rollout-canary.yaml",
		"argo/rollout-bluegreen.yaml", "argo/rollout-basic.yaml", "argo/rollout-bluegreen-auto.yaml"), secrets)
}

func TestArgoAnalysisTemplateFields(t *testing.T) {
	res := argoCorpus(t)
	if len(res.Templates) != 3 || res.Templates[0].Name != "success-rate" || !res.Templates[1].Cluster {
		t.Fatalf("templates: %+v", res.Templates)
	}
	checks, err := res.Checks("success-rate", false, map[string]string{"service-name": "checkout", "canary-hash": "abc123"})
	if err != nil {
		t.Fatal(err)
	}
	if len(checks) != 3 {
		t.Fatalf("%d checks", len(checks))
	}
	sr, lat, guard := checks[0], checks[1], checks[2]
	if sr.Label != "success-rate" || sr.Interval != 5*time.Minute || sr.InitialDelay != 30*time.Second || sr.Count != 4 ||
		sr.FailureLimit != 1 || sr.InconclusiveLimit != 2 || sr.ConsecutiveErrorLimit == nil || *sr.ConsecutiveErrorLimit != 3 ||
		sr.SuccessCondition != "result[0] >= 0.95" || sr.FailureCondition != "result[0] < 0.90" || sr.HistoryLimit != 20 || sr.DryRun {
		t.Errorf("success-rate: %+v", sr)
	}
	src, ok := sr.Source.(*prometheus.Source)
	if !ok || src.Address != "http://prometheus.monitoring.svc.cluster.local:9090" || src.Timeout != 20*time.Second || !src.HTTP.TLSConfig.InsecureSkipVerify {
		t.Fatalf("source: %+v", sr.Source)
	}
	// Prometheus' client reserves the Authorization header: it becomes
	// the client's authorization config.
	if a := src.HTTP.Authorization; a == nil || a.Type != "Bearer" || string(a.Credentials) != "s3cret" {
		t.Errorf("authorization: %+v", a)
	}
	if err := src.Validate(); err != nil {
		t.Errorf("source does not validate: %v", err)
	}
	if sr.Timeout != 20*time.Second {
		t.Errorf("timeout %v", sr.Timeout)
	}
	// Args carried into the check, the secret marked.
	args := map[string]analysis.Arg{}
	for _, a := range sr.Args {
		args[a.Name] = a
	}
	if args["service-name"].Value != "checkout" || args["namespace"].Value != "shop" || !args["api-token"].Secret || args["api-token"].Value != "s3cret" {
		t.Errorf("args: %+v", sr.Args)
	}
	// latency: count from an argument, dry run, failureLimit -1 with a
	// consecutive success limit, basic auth.
	if lat.Count != 5 || !lat.DryRun || lat.FailureLimit != -1 || lat.ConsecutiveSuccessLimit != 3 || lat.ConsecutiveErrorLimit != nil {
		t.Errorf("latency: %+v", lat)
	}
	ls := lat.Source.(*prometheus.Source)
	if ls.HTTP.BasicAuth == nil || ls.HTTP.BasicAuth.Username != "grafana" || string(ls.HTTP.BasicAuth.Password) != "s3cret" {
		t.Errorf("basic auth: %+v", ls.HTTP.BasicAuth)
	}
	// Defaults: no interval, no count: one measurement; failureLimit 0;
	// consecutiveErrorLimit nil (4).
	if guard.Count != 0 || guard.Interval != 0 || guard.FailureLimit != 0 || guard.ConsecutiveErrorLimit != nil {
		t.Errorf("guard: %+v", guard)
	}
	if gs := guard.Source.(*prometheus.Source); gs == src || gs.Timeout != 0 || gs.HTTP.HTTPHeaders != nil {
		t.Errorf("a metric without timeout or headers got another metric's source: %+v", gs)
	}
}

func TestArgoWebProvider(t *testing.T) {
	res := argoCorpus(t)
	checks, err := res.Checks("web-checks", true, map[string]string{"release": "v2"})
	if err != nil {
		t.Fatal(err)
	}
	get, post := checks[0], checks[1]
	if get.Query != "http://metrics.internal:8080/api/v1/error-rate?release=v2" || get.Timeout != 5*time.Second || get.Interval != 30*time.Second || get.Count != 3 {
		t.Errorf("get: %+v", get)
	}
	h := get.Source.(*analysis.HTTP)
	if h.Path != "{$.data.rate}" || h.Header.Get("Accept") != "application/json" || h.Client != nil {
		t.Errorf("get source: %+v", h)
	}
	p := post.Source.(*analysis.HTTP)
	if post.Timeout != DefaultWebTimeout || p.Path != "{$.ok}" || p.Header.Get("Authorization") != "Basic Y2k6aHVudGVyMg==" {
		t.Errorf("post: %+v %+v", post, p)
	}
	mr, ok := p.Client.Transport.(*methodRewriter)
	if !ok || mr.method != http.MethodPost || string(mr.body) != `{"depth":2,"release":"v2"}` {
		t.Fatalf("post transport: %+v", p.Client.Transport)
	}
	if tr, ok := mr.next.(*http.Transport); !ok || !tr.TLSClientConfig.InsecureSkipVerify {
		t.Error("insecure not honoured")
	}
}

func TestArgoCanaryRollout(t *testing.T) {
	res := argoCorpus(t)
	ro := res.Rollouts[0]
	if ro.Name != "checkout" || ro.Canary == nil || ro.BlueGreen != nil {
		t.Fatalf("%+v", ro)
	}
	c := ro.Canary
	want := []string{
		"setCanaryScale replicas=1", `setHeaderRoute X-Canary="yes"`, "setWeight 10", "pause 1h0m0s", "setWeight 20",
		"pause 10m0s", "setCanaryScale percent=50", "setWeight 40", "pause 1m30s", "analysis [error-budget smoke]",
		"setCanaryScale matchTrafficWeight", "setHeaderRoute off", "setWeight 80", "pause until promoted",
	}
	if len(c.Steps) != len(want) {
		t.Fatalf("steps: %v", c.Steps)
	}
	for i, s := range c.Steps {
		if s.String() != want[i] {
			t.Errorf("step %d = %q, want %q", i, s.String(), want[i])
		}
	}
	if c.Replicas != 10 || !c.TrafficRouting || !c.DynamicStableScale || c.MaxSurge.String() != "25%" || c.MaxUnavailable.String() != "0" {
		t.Errorf("config: %+v", c)
	}
	if c.Background.From != 2 || len(c.Background.Analyzers) != 3 {
		t.Errorf("background: %+v", c.Background)
	}
	bg := checksOf(t, c.Background.Analyzers)
	// podTemplateHashValue: Latest is the canary revision, substituted
	// when each measurement is taken.
	if q := bg["success-rate"].Query; !contains(q, `rollouts_pod_template_hash="{{release.canary}}"`) {
		t.Errorf("query: %s", q)
	}
	if bg["latency-p99"].Count != 3 {
		t.Errorf("rollout args do not override template values: count %d", bg["latency-p99"].Count)
	}
	step := checksOf(t, c.Steps[9].Analyzers)
	if step["error-budget"].Query != "http://metrics.internal:8080/api/v1/error-rate?release=checkout" {
		t.Errorf("fieldRef label: %s", step["error-budget"].Query)
	}
	if ro.Options.ProgressDeadline != 15*time.Minute || ro.Options.OnDeadline.Pause {
		t.Errorf("options: %+v", ro.Options)
	}
	ig := ignoredPaths(res)
	for _, p := range []string{"spec.selector", "spec.template", "spec.strategy.canary.trafficRouting.istio", "spec.strategy.canary.canaryService", "spec.revisionHistoryLimit", "spec.strategy.canary.abortScaleDownDelaySeconds"} {
		if !ig[p] {
			t.Errorf("%s not listed as ignored", p)
		}
	}
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
}

func contains(s, sub string) bool { return len(s) >= len(sub) && (s == sub || index(s, sub) >= 0) }

func index(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

func TestArgoBasicCanaryDefaults(t *testing.T) {
	res := argoCorpus(t)
	ro := res.Rollouts[2]
	c := ro.Canary
	if c.TrafficRouting || c.Replicas != 5 || c.MaxSurge.String() != "1" || c.MaxUnavailable.String() != "20%" {
		t.Errorf("%+v", c)
	}
	if c.Steps[1].Duration != 30*time.Second || c.Steps[3].Duration != 45*time.Second {
		t.Errorf("pause durations: %v", c.Steps)
	}
	// Argo's defaults: progress deadline 600s, reported but not aborted.
	if ro.Options.ProgressDeadline != 10*time.Minute || !ro.Options.OnDeadline.Pause {
		t.Errorf("options %+v", ro.Options)
	}
}

func TestArgoBlueGreen(t *testing.T) {
	res := argoCorpus(t)
	g := res.Rollouts[1].BlueGreen
	if g == nil || g.Replicas != 4 || g.CanaryReplicas != 2 || !g.ManualPromotion || g.ScaleDownDelay != 2*time.Minute || !g.KeepAborted || g.AbortScaleDownDelay != 0 {
		t.Fatalf("%+v", g)
	}
	pre := checksOf(t, g.PrePromotion)["http-ok"]
	post := checksOf(t, g.PostPromotion)["http-ok"]
	if pre.Query != "http://ledger:8080/healthz" || post.Query != "http://ledger-active.finance:8080/healthz" {
		t.Errorf("pre %q post %q", pre.Query, post.Query)
	}
	auto := res.Rollouts[3].BlueGreen
	// Defaults: replicas 1, automatic promotion, abort delay 30s; 0s
	// scale-down delay removes the old revision at once.
	if auto.Replicas != 1 || auto.ManualPromotion || auto.AutoPromotionDelay != 30*time.Second || auto.ScaleDownDelay >= 0 || auto.AbortScaleDownDelay != 30*time.Second {
		t.Errorf("%+v", auto)
	}
}

func TestArgoRolloutWithoutSteps(t *testing.T) {
	res := mustDecode(t, []byte(`{"apiVersion":"argoproj.io/v1alpha1","kind":"Rollout","metadata":{"name":"x"},"spec":{"replicas":2,"strategy":{"canary":{}}}}`), Options{})
	if s := res.Rollouts[0].Canary.Steps; len(s) != 1 || s[0].String() != "setWeight 100" {
		t.Errorf("%v", s)
	}
}

func TestArgoBadInputNamesEveryProblem(t *testing.T) {
	bad := `apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: t
spec:
  args:
  - name: svc
  metrics:
  - name: a
    interval: 5 minutes
    successCondition: result[0] >=
    provider:
      prometheus:
        address: http://prom:9090
        query: up{service="{{args.svc}}"}
  - name: a
    provider:
      job:
        spec: {}
  - name: c
    count: many
    succesCondition: "true"
    provider:
      kayenta:
        address: http://kayenta
  - name: d
    failureLimit: true
    provider:
      prometheus:
        address: http://prom:9090
        query: up
        rangeQuery:
          start: now() - duration("1h")
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: r
spec:
  replicas: "3"
  strategy:
    canary:
      trafficRouting:
        maxTrafficWeight: 1000
        mirror: {}
      steps:
      - experiment:
          templates: []
      - setWeight: 120
      - pause:
          duration: 5x
      - analysis:
          templates:
          - templateName: t
      - analysis:
          templates:
          - templateName: missing
      - setMirrorRoute:
          name: m
      - setWeight: 10
        pause: {}
`
	probs := problems(t, bad, Options{})
	wantProblem(t, probs, 0, "spec.metrics[0].interval", `"5 minutes" is not a duration`)
	wantProblem(t, probs, 0, "spec.metrics[1].name", `metric "a" is also spec.metrics[0]`)
	wantProblem(t, probs, 0, "spec.metrics[1].provider.job", "not supported")
	wantProblem(t, probs, 0, "spec.metrics[2].succesCondition", `unknown field (did you mean "successCondition"?)`)
	wantProblem(t, probs, 0, "spec.metrics[2].provider.kayenta", "not supported")
	wantProblem(t, probs, 0, "spec.metrics[3].provider.prometheus.rangeQuery", "not supported")
	wantProblem(t, probs, 0, "spec.metrics[2].count", `"many" is not a whole number`)
	wantProblem(t, probs, 0, "spec.metrics[3].failureLimit", "want an integer")
	wantProblem(t, probs, 1, "spec.replicas", "want an integer")
	wantProblem(t, probs, 1, "spec.strategy.canary.trafficRouting.maxTrafficWeight", "out of 1000")
	wantProblem(t, probs, 1, "spec.strategy.canary.trafficRouting.mirror", "not supported")
	wantProblem(t, probs, 1, "spec.strategy.canary.steps[0].experiment", "not supported")
	wantProblem(t, probs, 1, "spec.strategy.canary.steps[1].setWeight", "want 0..100")
	wantProblem(t, probs, 1, "spec.strategy.canary.steps[2].pause.duration", `"5x"`)
	wantProblem(t, probs, 1, "spec.strategy.canary.steps[3].analysis.args", `argument "svc" of template "t" has no value`)
	wantProblem(t, probs, 1, "spec.strategy.canary.steps[4].analysis.templates[0].templateName", `unknown AnalysisTemplate "missing"`)
	wantProblem(t, probs, 1, "spec.strategy.canary.steps[5].setMirrorRoute", "not supported")
	wantProblem(t, probs, 1, "spec.strategy.canary.steps[6]", "a step sets one of setWeight, pause, experiment and analysis; this one sets 2")
	for _, p := range probs {
		if p.Doc < 0 || p.Path == "" && p.Doc >= 0 && p.Line == 0 {
			t.Errorf("problem without a location: %v", p)
		}
	}
}

func TestArgoBadConditionNamesTheMetric(t *testing.T) {
	bad := `apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: t}
spec:
  metrics:
  - name: a
    successCondition: result[0] >=
    provider:
      prometheus: {address: "http://prom:9090", query: up}
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: r}
spec:
  strategy:
    canary:
      analysis:
        templates: [{templateName: t}]
`
	probs := problems(t, bad, Options{})
	wantProblem(t, probs, 0, "spec.metrics[0]", "SuccessCondition")
}

func TestArgoSecretMissing(t *testing.T) {
	data := corpus(t, "argo/analysis-prometheus.yaml", "argo/rollout-canary.yaml", "argo/analysis-web.yaml")
	probs := problems(t, string(data), Options{})
	wantProblem(t, probs, 1, "spec.strategy.canary.analysis.args", "reads secret prometheus-auth/token, which Options.Secrets does not hold")
}

func TestArgoCallerArgsOverride(t *testing.T) {
	data := corpus(t, "argo/analysis-prometheus.yaml", "argo/rollout-canary.yaml", "argo/analysis-web.yaml")
	o := secrets
	o.Args = map[string]string{"service-name": "override.svc"}
	res := mustDecode(t, data, o)
	c := checksOf(t, res.Rollouts[0].Canary.Background.Analyzers)["success-rate"]
	for _, a := range c.Args {
		if a.Name == "service-name" && a.Value != "override.svc" {
			t.Errorf("caller arg did not win: %q", a.Value)
		}
	}
}

var (
	_ = strategy.Int
	_ = canary.SetWeight
)

func TestSecretsStayOutOfErrors(t *testing.T) {
	bad := `apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: t}
spec:
  args:
  - name: token
    valueFrom:
      secretKeyRef: {name: s, key: k}
  metrics:
  - name: web
    count: "{{args.token}}"
    interval: "{{args.token}}"
    provider:
      web:
        url: "{{args.token}}/x"
  - name: prom
    successCondition: result[0] > 0 && "{{args.token}}" != ""
    provider:
      prometheus: {address: "http://prom:9090", query: "up{token=\"{{args.token}}\"} ] broken"}
`
	o := Options{Secrets: map[string]string{"s/k": "hunter2-secret"}}
	// Bound by a Rollout: the problems are found while binding.
	_, err := Decode([]byte(bad+"---\napiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {name: r}\nspec:\n  strategy:\n    canary:\n      analysis:\n        templates: [{templateName: t}]\n"), o)
	if err == nil || contains(err.Error(), "hunter2") || !contains(err.Error(), "*****") {
		t.Errorf("want an error with the secret redacted, got:\n%v", err)
	}
	// Bound on its own with Result.Checks.
	res := mustDecode(t, []byte(bad), o)
	_, err = res.Checks("t", false, nil)
	if err == nil || contains(err.Error(), "hunter2") {
		t.Errorf("want an error with the secret redacted, got:\n%v", err)
	}
}

func TestArgoTemplateComposition(t *testing.T) {
	data := `apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: composite}
spec:
  templates:
  - templateName: base
  - templateName: shared
    clusterScope: true
  metrics:
  - name: own
    provider:
      web:
        method: PUT
        url: http://probe:8080/check
        body: '{"service": "{{args.svc}}"}'
        jsonPath: "{$.ok}"
    successCondition: result == true
  args:
  - name: svc
---
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: base}
spec:
  metrics:
  - name: from-base
    provider:
      prometheus: {address: "http://prom:9090", query: "up"}
    successCondition: result[0] == 1
---
apiVersion: argoproj.io/v1alpha1
kind: ClusterAnalysisTemplate
metadata: {name: shared}
spec:
  metrics:
  - name: from-shared
    provider:
      prometheus: {address: "http://prom:9090", query: "up"}
    successCondition: result[0] == 1
`
	res := mustDecode(t, []byte(data), Options{})
	checks, err := res.Checks("composite", false, map[string]string{"svc": "cart"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range checks {
		names = append(names, c.Label)
	}
	if len(names) != 3 || names[0] != "own" || names[1] != "from-base" || names[2] != "from-shared" {
		t.Fatalf("%v", names)
	}
	mr := checks[0].Source.(*analysis.HTTP).Client.Transport.(*methodRewriter)
	if mr.method != http.MethodPut || string(mr.body) != `{"service": "cart"}` {
		t.Errorf("%+v", mr)
	}
	// A template that includes itself is refused, not looped on.
	cyc := `apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: a}
spec:
  templates: [{templateName: b}]
---
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: b}
spec:
  templates: [{templateName: a}]
`
	res = mustDecode(t, []byte(cyc), Options{})
	if _, err := res.Checks("a", false, nil); err == nil || !contains(err.Error(), "refers to itself") {
		t.Errorf("cycle: %v", err)
	}
}

func TestWebMethodRewriterSendsTheBody(t *testing.T) {
	var got struct {
		method, body, ctype string
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.method, got.body, got.ctype = r.Method, string(b), r.Header.Get("Content-Type")
		_, _ = io.WriteString(w, `{"ok": true}`)
	}))
	defer srv.Close()
	data := `apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: t}
spec:
  metrics:
  - name: post
    successCondition: result == true
    provider:
      web:
        method: POST
        url: ` + srv.URL + `/probe
        jsonBody: {release: v2}
        jsonPath: "{$.ok}"
`
	res := mustDecode(t, []byte(data), Options{})
	checks, err := res.Checks("t", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	v, err := checks[0].Analyze(t.Context(), strategy.Input{Release: "r", Stable: "v1", Canary: "v2"})
	if err != nil || v.Outcome != strategy.Pass {
		t.Fatalf("%v %v", v, err)
	}
	if got.method != http.MethodPost || got.body != `{"release":"v2"}` || got.ctype != "application/json" {
		t.Errorf("%+v", got)
	}
}

func TestInlineAnalysisMustFinish(t *testing.T) {
	data := `apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: forever}
spec:
  metrics:
  - name: watch
    interval: 1m
    successCondition: result[0] > 0
    provider:
      prometheus: {address: "http://prom:9090", query: up}
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: r}
spec:
  strategy:
    canary:
      analysis:
        templates: [{templateName: forever}]
      steps:
      - setWeight: 50
      - analysis:
          templates: [{templateName: forever}]
`
	probs := problems(t, data, Options{})
	if len(probs) != 1 {
		t.Errorf("background use must be accepted, the inline one refused: %v", probs)
	}
	wantProblem(t, probs, 1, "spec.strategy.canary.steps[1].analysis", `metric "watch" has an interval and no count`)
}

// Argo applies setCanaryScale and setHeaderRoute with the step they share;
// they become steps of their own, and the background analysis' starting
// step follows the shift.
func TestArgoCombinedStepAndShiftedStartingStep(t *testing.T) {
	res := mustDecode(t, []byte(`apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: r}
spec:
  replicas: 4
  strategy:
    canary:
      trafficRouting: {plugins: {x: {}}}
      steps:
      - setCanaryScale: {replicas: 1}
        setHeaderRoute:
          name: h
          match: [{headerName: trace, headerValue: {exact: debug}}]
        setWeight: 5
      - pause: {duration: 10}
      - setWeight: 50
`), Options{})
	c := res.Rollouts[0].Canary
	var got []string
	for _, s := range c.Steps {
		got = append(got, s.String())
	}
	want := []string{"setCanaryScale replicas=1", `setHeaderRoute trace="debug"`, "setWeight 5", "pause 10s", "setWeight 50"}
	if len(got) != len(want) {
		t.Fatalf("%v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("step %d = %q, want %q", i, got[i], want[i])
		}
	}
	res = mustDecode(t, []byte(`apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: t}
spec:
  metrics:
  - name: m
    interval: 1m
    successCondition: result[0] > 0
    provider: {prometheus: {address: "http://prom:9090", query: up}}
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: r}
spec:
  strategy:
    canary:
      trafficRouting: {plugins: {x: {}}}
      analysis:
        templates: [{templateName: t}]
        startingStep: 2
      steps:
      - setCanaryScale: {weight: 10}
        setWeight: 10
      - pause: {duration: 1m}
      - setWeight: 50
`), Options{})
	if bg := res.Rollouts[0].Canary.Background.From; bg != 3 {
		t.Errorf("starting step %d, want 3 (Argo's step 2 is glidepath's step 3)", bg)
	}
}

// Templates are found in the Rollout's namespace, as in Argo; one of the
// same name in another namespace is not used.
func TestArgoTemplateNamespaces(t *testing.T) {
	tmpl := func(ns, cond string) string {
		return `apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: t, namespace: ` + ns + `}
spec:
  metrics:
  - name: m
    successCondition: ` + cond + `
    provider: {prometheus: {address: "http://prom:9090", query: up}}
`
	}
	ro := func(ns string) string {
		return `apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: r, namespace: ` + ns + `}
spec:
  strategy:
    canary:
      steps:
      - analysis: {templates: [{templateName: t}]}
      - setWeight: 50
`
	}
	res := mustDecode(t, []byte(tmpl("a", "result[0] == 1")+"---\n"+tmpl("b", "result[0] == 2")+"---\n"+ro("b")), Options{})
	if c := res.Rollouts[0].Canary.Steps[0].Analyzers[0].(*analysis.Check); c.SuccessCondition != "result[0] == 2" {
		t.Errorf("took the template of another namespace: %s", c.SuccessCondition)
	}
	probs := problems(t, tmpl("a", "result[0] == 1")+"---\n"+ro("c"), Options{})
	wantProblem(t, probs, 1, "spec.strategy.canary.steps[0].analysis.templates[0].templateName", `unknown AnalysisTemplate "t" (decoded: "a/t")`)
	// Without namespaces, names match.
	mustDecode(t, []byte(strings.ReplaceAll(tmpl("x", "result[0] == 1"), "namespace: x", "")+"---\n"+ro("prod")), Options{})
}
