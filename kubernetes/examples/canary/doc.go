// Command canary releases a Deployment on a Kubernetes cluster with a
// glidepath canary behind a Gateway API HTTPRoute, gated by a check: a
// healthy v2 is promoted, then a bad v3 is detected and rolled back.
//
// It runs against the project's test cluster:
//
//	scripts/k8s-cluster.sh up
//	cd kubernetes && GLIDEPATH_KUBECONFIG=$(../scripts/k8s-cluster.sh kubeconfig) go run ./examples/canary
//
// The cluster's nodes are simulated by kwok, so no container runs. Each
// revision's pod template carries the error rate its pods would report
// (annotation example.glidepath.dev/error-rate), and the check reads it
// from the canary's pods through the API, standing in for a metrics query.
package main
