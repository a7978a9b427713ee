package kubernetes_test

import (
	"errors"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/glidepath/glidepath/kubernetes"
	"github.com/glidepath/glidepath/strategy"
)

// TestFencing: once a newer lease holder wrote the target, an older one's
// Apply is refused before anything moves, and an unfenced Apply keeps the
// recorded token.
func TestFencing(t *testing.T) {
	c := newCluster(t)
	for _, tc := range []struct {
		name string
		tgt  strategy.FencedTarget
		obj  func() (map[string]string, string, error)
	}{
		{"GatewayTarget", c.gateway(t, "fenced-gw"), func() (map[string]string, string, error) {
			r, err := c.gw.GatewayV1().HTTPRoutes(c.ns).Get(t.Context(), "fenced-gw", metav1.GetOptions{})
			if err != nil {
				return nil, "", err
			}
			return r.Annotations, r.ResourceVersion, nil
		}},
		{"ServiceTarget", c.service(t, "fenced-svc"), func() (map[string]string, string, error) {
			s, err := c.kube.CoreV1().Services(c.ns).Get(t.Context(), "fenced-svc", metav1.GetOptions{})
			if err != nil {
				return nil, "", err
			}
			return s.Annotations, s.ResourceVersion, nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			newer := strategy.State{Stable: "v1", Canary: "v2", Replicas: strategy.Replicas{Stable: 1, Canary: 1}}
			if err := tc.tgt.ApplyFenced(ctx, newer, 7); err != nil {
				t.Fatal(err)
			}
			ann, rv, err := tc.obj()
			if err != nil {
				t.Fatal(err)
			}
			if ann[kubernetes.FenceAnnotation] != "7" {
				t.Errorf("fence annotation %q, want 7", ann[kubernetes.FenceAnnotation])
			}
			stale := strategy.State{Stable: "v1", Canary: "v2", Weight: 100, Replicas: strategy.Replicas{Stable: 1, Canary: 1}}
			err = tc.tgt.ApplyFenced(ctx, stale, 6)
			if !errors.Is(err, strategy.ErrFenced) || !strategy.IsPermanent(err) {
				t.Fatalf("stale Apply: %v, want a permanent ErrFenced", err)
			}
			if _, rv2, _ := tc.obj(); rv2 != rv {
				t.Error("the stale Apply changed the traffic object")
			}
			obs, err := tc.tgt.Observe(ctx)
			if err != nil || obs.State != newer {
				t.Errorf("after the stale Apply, observed %s (err %v), want %s", obs.State, err, newer)
			}
			// Same token again: idempotent; token 0: applied, token kept.
			if err := tc.tgt.ApplyFenced(ctx, newer, 7); err != nil {
				t.Errorf("re-applying under the same token: %v", err)
			}
			if err := tc.tgt.Apply(ctx, newer); err != nil {
				t.Errorf("unfenced Apply: %v", err)
			}
			if ann, _, _ := tc.obj(); ann[kubernetes.FenceAnnotation] != "7" {
				t.Errorf("after an unfenced Apply the fence is %q, want 7 kept", ann[kubernetes.FenceAnnotation])
			}
			if err := tc.tgt.ApplyFenced(ctx, stale, 6); !errors.Is(err, strategy.ErrFenced) {
				t.Errorf("stale Apply after an unfenced one: %v", err)
			}
		})
	}
}
