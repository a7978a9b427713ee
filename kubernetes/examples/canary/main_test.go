package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clientset "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// TestRun runs the example on the test cluster: v2 promoted, v3 rolled
// back.
func TestRun(t *testing.T) {
	path := os.Getenv("GLIDEPATH_KUBECONFIG")
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("GLIDEPATH_KUBECONFIG is not set: under CI the cluster must be up (scripts/k8s-cluster.sh up)")
		}
		t.Skip("no cluster: run scripts/k8s-cluster.sh up and set GLIDEPATH_KUBECONFIG to the kubeconfig it prints")
	}
	ns := fmt.Sprintf("example-%d", time.Now().UnixNano()%1_000_000_000)
	t.Cleanup(func() {
		cfg, err := clientcmd.BuildConfigFromFlags("", path)
		if err == nil {
			_ = clientset.NewForConfigOrDie(cfg).CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
		}
	})
	var out bytes.Buffer
	if err := run(t.Context(), &out, path, ns, 300*time.Millisecond); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"v2 promoted", "v3 rolled back"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
