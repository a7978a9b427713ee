package kubernetes_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clientset "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	gatewayclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"github.com/glidepath/glidepath/kubernetes"
	"github.com/glidepath/glidepath/strategy"
)

// KubeconfigEnv names the environment variable that points the tests at a
// running cluster (scripts/k8s-cluster.sh up prints its kubeconfig path).
const KubeconfigEnv = "GLIDEPATH_KUBECONFIG"

// NeverReadyLabel makes the test cluster's kwok start a pod that never
// becomes ready (a stage that scripts/k8s-cluster.sh installs).
const NeverReadyLabel = "glidepath.dev/never-ready"

type cluster struct {
	cfg  *rest.Config
	kube clientset.Interface
	gw   gatewayclient.Interface
	ns   string
}

// newCluster connects to the test cluster and creates a namespace for the
// test, deleted when it ends. Without a cluster the test fails under
// CI=true and skips otherwise.
func newCluster(t *testing.T) *cluster {
	t.Helper()
	path := os.Getenv(KubeconfigEnv)
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set: under CI the cluster must be up (scripts/k8s-cluster.sh up)", KubeconfigEnv)
		}
		t.Skipf("no cluster: run scripts/k8s-cluster.sh up and set %s to the kubeconfig it prints", KubeconfigEnv)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatalf("kubeconfig %s: %v", path, err)
	}
	cfg.QPS, cfg.Burst = 200, 400
	cfg.Timeout = 20 * time.Second
	c := &cluster{cfg: cfg, kube: clientset.NewForConfigOrDie(cfg), gw: gatewayclient.NewForConfigOrDie(cfg)}
	c.ns = fmt.Sprintf("gp-%d-%d", time.Now().UnixNano()%1_000_000_000, nsSeq.Add(1))
	ctx := context.Background()
	if _, err := c.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: c.ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	t.Cleanup(func() {
		_ = c.kube.CoreV1().Namespaces().Delete(context.Background(), c.ns, metav1.DeleteOptions{})
	})
	return c
}

var nsSeq atomic.Int64

// template is a pod template whose image names the revision; revisions in
// bad never become ready.
func template(bad ...strategy.Revision) func(strategy.Revision) (corev1.PodTemplateSpec, error) {
	return func(rev strategy.Revision) (corev1.PodTemplateSpec, error) {
		tpl := corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{}},
			Spec: corev1.PodSpec{
				Containers: []corev1.Container{{Name: "app", Image: "registry.invalid/app:" + string(rev)}},
				// kwok's fake node carries this taint-free label; pods
				// land on it.
				NodeSelector: map[string]string{"type": "kwok"},
				Tolerations: []corev1.Toleration{{Key: "kwok.x-k8s.io/node", Operator: corev1.TolerationOpExists,
					Effect: corev1.TaintEffectNoSchedule}},
			},
		}
		for _, b := range bad {
			if b == rev {
				tpl.Labels[NeverReadyLabel] = "true"
			}
		}
		return tpl, nil
	}
}

func (c *cluster) workload(name string, bad ...strategy.Revision) kubernetes.Workload {
	return kubernetes.Workload{Client: c.kube, Namespace: c.ns, Name: name, Template: template(bad...)}
}

func (c *cluster) gateway(t *testing.T, name string, bad ...strategy.Revision) *kubernetes.GatewayTarget {
	t.Helper()
	tgt, err := kubernetes.NewGatewayTarget(kubernetes.GatewayConfig{Workload: c.workload(name, bad...), Gateway: c.gw})
	if err != nil {
		t.Fatal(err)
	}
	return tgt
}

func (c *cluster) service(t *testing.T, name string, bad ...strategy.Revision) *kubernetes.ServiceTarget {
	t.Helper()
	tgt, err := kubernetes.NewServiceTarget(kubernetes.ServiceConfig{Workload: c.workload(name, bad...)})
	if err != nil {
		t.Fatal(err)
	}
	return tgt
}

// waitFor observes tgt until it serves want with want's capacity ready.
func waitFor(t *testing.T, tgt strategy.Target, want strategy.State) strategy.Observation {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	var last strategy.Observation
	var lastErr error
	for time.Now().Before(deadline) {
		obs, err := tgt.Observe(t.Context())
		if err == nil && obs.State == want && obs.Satisfies(want) {
			return obs
		}
		last, lastErr = obs, err
		poll(t, 200*time.Millisecond)
	}
	t.Fatalf("target never served %s ready: last observed %s ready %+v, err %v", want, last.State, last.Ready, lastErr)
	return last
}

// poll waits d between two reads of the cluster (the cluster's own pace,
// not a timing assertion).
func poll(t *testing.T, d time.Duration) {
	select {
	case <-t.Context().Done():
	case <-time.After(d):
	}
}

// clusterScript runs scripts/k8s-cluster.sh with args.
func clusterScript(args ...string) error {
	script, err := filepath.Abs(filepath.Join("..", "scripts", "k8s-cluster.sh"))
	if err != nil {
		return err
	}
	out, err := exec.Command(script, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %v: %w\n%s", script, args, err, out)
	}
	return nil
}

// recorder keeps the events of a release.
type recorder struct {
	mu     sync.Mutex
	events []strategy.Event
	on     func(strategy.Event)
}

func (r *recorder) OnEvent(e strategy.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	on := r.on
	r.mu.Unlock()
	if on != nil {
		on(e)
	}
}

func (r *recorder) applied() []strategy.State {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []strategy.State
	for _, e := range r.events {
		if a, ok := e.(strategy.StateApplied); ok {
			out = append(out, a.State)
		}
	}
	return out
}

func (r *recorder) applyFailures() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if _, ok := e.(strategy.ApplyFailed); ok {
			n++
		}
	}
	return n
}

// fast are executor options for a cluster where pods are ready in about a
// second.
func fast() strategy.Options {
	return strategy.Options{PollInterval: 200 * time.Millisecond, ProgressDeadline: 90 * time.Second,
		RetryInitial: 200 * time.Millisecond, RetryMax: 2 * time.Second}
}
