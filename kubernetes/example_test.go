package kubernetes_test

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/fake"
	gatewayfake "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned/fake"

	"github.com/glidepath/glidepath/kubernetes"
	"github.com/glidepath/glidepath/strategy"
)

// A GatewayTarget turns States into Deployments, Services and an
// HTTPRoute. In a program the clients come from a kubeconfig
// (clientcmd.BuildConfigFromFlags, then kubernetes.NewForConfig and the
// Gateway API's versioned.NewForConfig); here fake clients stand in.
func ExampleNewGatewayTarget() {
	ctx := context.Background()
	kube, gw := fake.NewClientset(), gatewayfake.NewClientset()
	tgt, err := kubernetes.NewGatewayTarget(kubernetes.GatewayConfig{
		Workload: kubernetes.Workload{
			Client: kube, Namespace: "shop", Name: "web",
			Template: func(rev strategy.Revision) (corev1.PodTemplateSpec, error) {
				return corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{
					{Name: "web", Image: "registry.example/web:" + string(rev)}}}}, nil
			},
		},
		Gateway: gw,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	s := strategy.State{Stable: "v1", Canary: "v2", Weight: 10, Replicas: strategy.Replicas{Stable: 3, Canary: 1},
		Route: strategy.HeaderRoute{Header: "X-Canary", Exact: "always"}}
	if err := tgt.Apply(ctx, s); err != nil {
		fmt.Println(err)
		return
	}
	obs, err := tgt.Observe(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	// The fake cluster runs no Deployment controller: nothing is ready.
	fmt.Println(obs.State, obs.Ready)
	// Output: stable=v1 canary=v2 weight=10% replicas=3/1 route=X-Canary {0 0}
}

// A ServiceTarget switches one Service's selector between revisions.
func ExampleNewServiceTarget() {
	ctx := context.Background()
	kube := fake.NewClientset()
	tgt, err := kubernetes.NewServiceTarget(kubernetes.ServiceConfig{Workload: kubernetes.Workload{
		Client: kube, Namespace: "shop", Name: "web",
		Template: func(rev strategy.Revision) (corev1.PodTemplateSpec, error) {
			return corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{
				{Name: "web", Image: "registry.example/web:" + string(rev)}}}}, nil
		},
	}})
	if err != nil {
		fmt.Println(err)
		return
	}
	switched := strategy.State{Stable: "v1", Canary: "v2", Weight: 100, Replicas: strategy.Replicas{Stable: 2, Canary: 2}}
	if err := tgt.Apply(ctx, switched); err != nil {
		fmt.Println(err)
		return
	}
	obs, _ := tgt.Observe(ctx)
	fmt.Println(obs.State)
	// Output: stable=v1 canary=v2 weight=100% replicas=2/2
}
