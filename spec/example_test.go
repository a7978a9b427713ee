package spec_test

import (
	"errors"
	"fmt"
	"strings"

	"github.com/glidepath/glidepath/analysis"
	"github.com/glidepath/glidepath/spec"
	"github.com/glidepath/glidepath/strategy"
)

const specs = `
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: success-rate
spec:
  args:
  - name: service
  metrics:
  - name: success-rate
    interval: 1m
    count: 5
    failureLimit: 1
    successCondition: result[0] >= 0.99
    provider:
      prometheus:
        address: http://prometheus.monitoring:9090
        query: sum(rate(http_requests_total{service="{{args.service}}",code!~"5.."}[1m])) / sum(rate(http_requests_total{service="{{args.service}}"}[1m]))
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: checkout
spec:
  replicas: 4
  selector:
    matchLabels: {app: checkout}
  strategy:
    canary:
      steps:
      - setWeight: 25
      - pause: {duration: 10m}
      - analysis:
          templates:
          - templateName: success-rate
          args:
          - name: service
            value: checkout
      - setWeight: 50
      - pause: {}
`

// Decode an Argo Rollout and its AnalysisTemplate into a canary.Config
// whose analysis step holds a Prometheus check.
func ExampleDecode() {
	res, err := spec.Decode([]byte(specs), spec.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	ro := res.Rollouts[0]
	for _, s := range ro.Canary.Steps {
		fmt.Println(s)
	}
	check := ro.Canary.Steps[2].Analyzers[0].(*analysis.Check)
	fmt.Println(check.Label, check.Interval, check.Count, check.FailureLimit, check.SuccessCondition)
	for _, ig := range res.Ignored {
		fmt.Println("ignored:", ig.Path)
	}
	// Output:
	// setWeight 25
	// pause 10m0s
	// analysis [success-rate]
	// setWeight 50
	// pause until promoted
	// success-rate 1m0s 5 1 result[0] >= 0.99
	// ignored: spec.selector
}

// Bad input gets one error naming every problem, with the document index
// and the field path.
func ExampleDecode_errors() {
	_, err := spec.Decode([]byte(`
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: r}
spec:
  strategy:
    canary:
      steps:
      - setWeight: 20
      - experiment: {templates: []}
      - pause: {duration: soon}
      - analysis:
          templates: [{templateName: missing}]
`), spec.Options{})
	fmt.Println(errors.Is(err, strategy.ErrInvalidConfig))
	fmt.Println(err)
	// Output:
	// true
	// invalid configuration: 3 problems in the specs
	//   - document 0, line 10: spec.strategy.canary.steps[1].experiment: not supported: experiments run extra ReplicaSets beside the rollout; glidepath has no experiments
	//   - document 0, line 11: spec.strategy.canary.steps[2].pause.duration: "soon" is not a duration of at least one second like "30s", "5m" or "1h"
	//   - document 0: spec.strategy.canary.steps[3].analysis.templates[0].templateName: unknown AnalysisTemplate "missing" (decoded: none)
}

// Bind a template on its own, outside any Rollout, with the arguments the
// caller knows.
func ExampleResult_Checks() {
	res, err := spec.Decode([]byte(specs), spec.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	checks, err := res.Checks("success-rate", false, map[string]string{"service": "payments"})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range checks {
		fmt.Println(c.Label, c.Args[0].Name, "=", c.Args[0].Value)
	}
	// A required argument left out is named.
	_, err = res.Checks("success-rate", false, nil)
	fmt.Println(err != nil)
	// Output:
	// success-rate service = payments
	// true
}

// Read a Flagger Canary from a reader: a progressive canary whose
// threshold becomes the failures the release tolerates.
func ExampleDecodeReader() {
	const canary = `apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {name: podinfo, namespace: test}
spec:
  provider: linkerd
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
  service: {port: 9898}
  analysis:
    interval: 1m
    threshold: 3
    maxWeight: 30
    stepWeight: 10
    metrics:
    - name: request-success-rate
      thresholdRange: {min: 99}
`
	res, err := spec.DecodeReader(strings.NewReader(canary), spec.Options{PrometheusAddress: "http://prometheus:9090"})
	if err != nil {
		fmt.Println(err)
		return
	}
	c := res.Canaries[0]
	for _, s := range c.Canary.Steps {
		fmt.Println(s)
	}
	fmt.Println("failures allowed:", c.Options.OnFail.Allowed)
	fmt.Println("ignored:", res.Ignored[0].Path)
	// Output:
	// setWeight 10
	// analysis [analysis at 10%]
	// setWeight 20
	// analysis [analysis at 20%]
	// setWeight 30
	// analysis [analysis at 30%]
	// failures allowed: 2
	// ignored: spec.service
}
