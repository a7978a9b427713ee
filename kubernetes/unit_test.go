package kubernetes_test

import (
	"errors"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	gatewayfake "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned/fake"

	"github.com/glidepath/glidepath/kubernetes"
	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/strategytest"
)

// The fake clientsets below stand in for the API server only where the
// behaviour under test is the target's own (validation, write order,
// readiness arithmetic); everything about the API server is tested on the
// real cluster.

func fakeGateway(t *testing.T) (*kubernetes.GatewayTarget, *fake.Clientset, *gatewayfake.Clientset) {
	t.Helper()
	kube, gw := fake.NewClientset(), gatewayfake.NewClientset()
	tgt, err := kubernetes.NewGatewayTarget(kubernetes.GatewayConfig{
		Workload: kubernetes.Workload{Client: kube, Namespace: "shop", Name: "web", Template: template()},
		Gateway:  gw,
	})
	if err != nil {
		t.Fatal(err)
	}
	return tgt, kube, gw
}

func TestConfigNamesEveryProblem(t *testing.T) {
	_, err := kubernetes.NewGatewayTarget(kubernetes.GatewayConfig{
		Workload: kubernetes.Workload{Namespace: "Bad_NS", Name: "", Labels: map[string]string{kubernetes.RevisionLabel: "x"},
			MinReadySeconds: 10, ProgressDeadlineSeconds: 5},
		PathPrefix: "api",
	})
	if !errors.Is(err, strategy.ErrInvalidConfig) {
		t.Fatalf("err = %v, want ErrInvalidConfig", err)
	}
	for _, want := range []string{"Client is required", "namespace", "name", "Template is required",
		"set by the target", "ProgressDeadlineSeconds", "Gateway client is required", "PathPrefix"} {
		if !strategytest.HasProblem(err, want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
}

func TestApplyRejectsBadStateBeforeWriting(t *testing.T) {
	tgt, kube, gw := fakeGateway(t)
	bad := strategy.State{Stable: "v1", Canary: "not a label!", Weight: 120,
		Route: strategy.HeaderRoute{Header: "bad header", Regex: "("}}
	err := tgt.Apply(t.Context(), bad)
	if !strategy.IsPermanent(err) || !errors.Is(err, strategy.ErrInvalidConfig) {
		t.Fatalf("err = %v, want a permanent ErrInvalidConfig", err)
	}
	for _, want := range []string{"weight 120", "cannot be a label value", "valid HTTP header name", "regex"} {
		if !strategytest.HasProblem(err, want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
	if n := len(kube.Actions()) + len(gw.Actions()); n != 0 {
		t.Errorf("%d API calls made for a State that cannot be applied", n)
	}
}

// verbs lists "verb resource/name" for the write actions.
func writes(acts ...[]k8stesting.Action) []string {
	var out []string
	for _, list := range acts {
		for _, a := range list {
			switch a := a.(type) {
			case k8stesting.PatchAction:
				out = append(out, "patch "+a.GetResource().Resource+"/"+a.GetName())
			case k8stesting.DeleteAction:
				out = append(out, "delete "+a.GetResource().Resource+"/"+a.GetName())
			}
		}
	}
	return out
}

// TestMakeBeforeBreak: new capacity is written before the route, and the
// old revision is removed only after the route left it.
func TestMakeBeforeBreak(t *testing.T) {
	tgt, kube, gw := fakeGateway(t)
	ctx := t.Context()
	if err := tgt.Apply(ctx, strategy.State{Stable: "v1", Replicas: strategy.Replicas{Stable: 2}}); err != nil {
		t.Fatal(err)
	}
	if err := tgt.Apply(ctx, strategy.State{Stable: "v1", Canary: "v2", Weight: 50, Replicas: strategy.Replicas{Stable: 2, Canary: 2}}); err != nil {
		t.Fatal(err)
	}
	kube.ClearActions()
	gw.ClearActions()
	if err := tgt.Apply(ctx, strategy.State{Stable: "v2", Replicas: strategy.Replicas{Stable: 2}}); err != nil {
		t.Fatal(err)
	}
	// Writes from both clients, in the order the target made them: the
	// fake clients do not share a clock, so check each side's order
	// and that the route came between by counting.
	kw := writes(kube.Actions())
	gww := writes(gw.Actions())
	if len(gww) != 1 || gww[0] != "patch httproutes/web" {
		t.Fatalf("route writes %v", gww)
	}
	want := []string{"patch services/web-v2", "patch deployments/web-v2", "delete deployments/web-v1", "delete services/web-v1"}
	if strings.Join(kw, ",") != strings.Join(want, ",") {
		t.Errorf("writes %v, want %v", kw, want)
	}
	obs, err := tgt.Observe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := (strategy.State{Stable: "v2", Replicas: strategy.Replicas{Stable: 2}}); obs.State != want {
		t.Errorf("observed %s, want %s", obs.State, want)
	}
}

// TestObserveReadiness: readiness never runs ahead of what the Deployment
// controller has observed and made available.
func TestObserveReadiness(t *testing.T) {
	tgt, kube, _ := fakeGateway(t)
	ctx := t.Context()
	s := strategy.State{Stable: "v1", Canary: "v2", Weight: 10, Replicas: strategy.Replicas{Stable: 3, Canary: 1}}
	if err := tgt.Apply(ctx, s); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name                      string
		gen, observed             int64
		ready, available, updated int32
		want                      int
	}{
		{"generation not observed", 2, 1, 3, 3, 3, 0},
		{"observed and available", 2, 2, 3, 3, 3, 3},
		{"ready but not yet available for minReadySeconds", 2, 2, 3, 1, 3, 1},
		{"available but old template", 2, 2, 3, 3, 2, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := kube.AppsV1().Deployments("shop").Get(ctx, "web-v1", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			d.Generation = tc.gen
			d.Status = appsv1.DeploymentStatus{ObservedGeneration: tc.observed, Replicas: 3,
				ReadyReplicas: tc.ready, AvailableReplicas: tc.available, UpdatedReplicas: tc.updated}
			if err := kube.Tracker().Update(appsv1.SchemeGroupVersion.WithResource("deployments"), d, "shop"); err != nil {
				t.Fatal(err)
			}
			obs, err := tgt.Observe(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if obs.Ready.Stable != tc.want {
				t.Errorf("ready %d, want %d", obs.Ready.Stable, tc.want)
			}
			if obs.State != s {
				t.Errorf("observed %s, want %s", obs.State, s)
			}
		})
	}
}

func TestObjectNames(t *testing.T) {
	tgt, kube, _ := fakeGateway(t)
	ctx := t.Context()
	seen := map[string]strategy.Revision{}
	for _, rev := range []strategy.Revision{"v1", "V1", "v1.2.3", "sha256-0123456789abcdef0123456789abcdef0123456789abcdef01234", "release_7", "x.y_Z"} {
		if err := tgt.Apply(ctx, strategy.State{Stable: rev, Replicas: strategy.Replicas{Stable: 1}}); err != nil {
			t.Fatalf("revision %q: %v", rev, err)
		}
		list, err := kube.AppsV1().Deployments("shop").List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Items) != 1 {
			t.Fatalf("revision %q: %d Deployments, want 1 (the previous removed)", rev, len(list.Items))
		}
		name := list.Items[0].Name
		if msgs := validation.IsDNS1123Label(name); len(msgs) > 0 {
			t.Errorf("revision %q: Deployment name %q: %v", rev, name, msgs)
		}
		if other, dup := seen[name]; dup {
			t.Errorf("revisions %q and %q share the name %q", other, rev, name)
		}
		seen[name] = rev
		obs, err := tgt.Observe(ctx)
		if err != nil || obs.State.Stable != rev {
			t.Errorf("revision %q observed as %s (err %v)", rev, obs.State, err)
		}
	}
}

func TestServiceTargetSelector(t *testing.T) {
	kube := fake.NewClientset()
	tgt, err := kubernetes.NewServiceTarget(kubernetes.ServiceConfig{
		Workload: kubernetes.Workload{Client: kube, Namespace: "shop", Name: "web", Template: template()}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for _, tc := range []struct {
		s    strategy.State
		want string // the selector's revision, "" for both
	}{
		{strategy.State{Stable: "v1", Replicas: strategy.Replicas{Stable: 2}}, "v1"},
		{strategy.State{Stable: "v1", Canary: "v2", Replicas: strategy.Replicas{Stable: 2, Canary: 2}}, "v1"},
		{strategy.State{Stable: "v1", Canary: "v2", Weight: 100, Replicas: strategy.Replicas{Stable: 2, Canary: 2}}, "v2"},
		{strategy.State{Stable: "v1", Canary: "v2", Weight: 30, Replicas: strategy.Replicas{Stable: 2, Canary: 1}}, ""},
	} {
		if err := tgt.Apply(ctx, tc.s); err != nil {
			t.Fatal(err)
		}
		svc, err := kube.CoreV1().Services("shop").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := svc.Spec.Selector[kubernetes.RevisionLabel]; got != tc.want {
			t.Errorf("%s: selector revision %q, want %q", tc.s, got, tc.want)
		}
		obs, err := tgt.Observe(ctx)
		if err != nil || obs.State != tc.s {
			t.Errorf("applied %s, observed %s (err %v)", tc.s, obs.State, err)
		}
	}
	err = tgt.Apply(ctx, strategy.State{Stable: "v1", Canary: "v2", Route: strategy.HeaderRoute{Header: "X", Exact: "y"}})
	if !errors.Is(err, strategy.ErrInvalidConfig) || !strings.Contains(err.Error(), "GatewayTarget") {
		t.Errorf("header route on a Service: %v", err)
	}
	// A selector someone pointed elsewhere is reported, not guessed.
	svc, _ := kube.CoreV1().Services("shop").Get(ctx, "web", metav1.GetOptions{})
	svc.Spec.Selector[kubernetes.RevisionLabel] = "v9"
	if _, err := kube.CoreV1().Services("shop").Update(ctx, svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := tgt.Observe(ctx); err == nil || !strings.Contains(err.Error(), "v9") {
		t.Errorf("Observe of a foreign selector: %v", err)
	}
}

// TestObserveRefusesForeignBackends: a route that sends traffic somewhere
// the target does not manage is an error, not a weight.
func TestObserveRefusesForeignBackends(t *testing.T) {
	tgt, _, gw := fakeGateway(t)
	ctx := t.Context()
	if err := tgt.Apply(ctx, strategy.State{Stable: "v1", Canary: "v2", Weight: 40, Replicas: strategy.Replicas{Stable: 1, Canary: 1}}); err != nil {
		t.Fatal(err)
	}
	obs, err := tgt.Observe(ctx)
	if err != nil || obs.State.Weight != 40 {
		t.Fatalf("observed %s, err %v", obs.State, err)
	}
	rt, err := gw.GatewayV1().HTTPRoutes("shop").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rt.Spec.Rules[0].BackendRefs[1].Name = "elsewhere"
	if _, err := gw.GatewayV1().HTTPRoutes("shop").Update(ctx, rt, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := tgt.Observe(ctx); err == nil || !strings.Contains(err.Error(), "elsewhere") {
		t.Errorf("Observe of a foreign backend: %v", err)
	}
}
