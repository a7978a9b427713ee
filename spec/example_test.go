package spec_test

import (
	"errors"
	"fmt"

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
