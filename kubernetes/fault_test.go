package kubernetes_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clientset "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	gatewayclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"github.com/glidepath/glidepath/canary"
	"github.com/glidepath/glidepath/kubernetes"
	"github.com/glidepath/glidepath/strategy"
)

// journal is an in-memory strategy.Journal.
type journal struct {
	mu   sync.Mutex
	recs []strategy.Record
}

func (j *journal) Record(_ context.Context, r strategy.Record) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.recs = append(j.recs, r)
	return nil
}

// lastApplied is the last State the journal records as applied, and
// whether every applied record follows an intent for the same State.
func (j *journal) lastApplied() (last strategy.State, intentFirst bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	intentFirst = true
	var intent *strategy.State
	for _, r := range j.recs {
		switch r.Kind {
		case strategy.RecordIntent:
			intent = r.State
		case strategy.RecordApplied:
			if intent == nil || *intent != *r.State {
				intentFirst = false
			}
			last = *r.State
		}
	}
	return last, intentFirst
}

// TestAPIServerRestart restarts kube-apiserver in the middle of a canary.
// Applies fail while it is down, the executor retries them, and the
// release finishes; the cluster ends on the last State the journal
// records, and every applied State was recorded as an intent first.
func TestAPIServerRestart(t *testing.T) {
	c := newCluster(t)
	tgt := c.gateway(t, "restart")
	seed(t, tgt, strategy.State{Stable: "v1", Replicas: strategy.Replicas{Stable: 2}})
	rec := &recorder{}
	j := &journal{}
	restarted := make(chan error, 1)
	var once sync.Once
	rec.on = func(e strategy.Event) {
		if a, ok := e.(strategy.StateApplied); !ok || a.State.Weight != 20 {
			return
		}
		once.Do(func() {
			go func() { restarted <- clusterScript("restart-apiserver") }()
			// Hold the release until the API server is really down,
			// so that the next Apply meets it down.
			for range 300 {
				if _, err := c.kube.Discovery().ServerVersion(); err != nil {
					return
				}
				poll(t, 100*time.Millisecond)
			}
		})
	}
	opts := fast()
	opts.Journal = j
	opts.RetryBudget = 4 * time.Minute
	opts.ApplyTimeout = 15 * time.Second
	opts.ProgressDeadline = 4 * time.Minute
	res, err := strategy.Run(t.Context(), strategy.Release{
		Target: tgt, Stable: "v1", Canary: "v2", Observer: rec, Options: opts,
		Strategy: canary.Config{Replicas: 2, TrafficRouting: true,
			Steps: []canary.Step{canary.SetWeight(20), canary.SetWeight(60)}},
	})
	if rerr := <-restarted; rerr != nil {
		t.Fatalf("restarting the API server: %v", rerr)
	}
	if err != nil && !errors.Is(err, strategy.ErrTarget) {
		t.Fatalf("release: %v", err)
	}
	if res.Phase != strategy.PhasePromoted && res.Phase != strategy.PhaseRolledBack {
		t.Fatalf("release ended %s (%s), want promoted or rolled back", res.Phase, res.Reason)
	}
	if rec.applyFailures() == 0 {
		t.Error("no Apply failed: the API server restart was not met")
	}
	last, intentFirst := j.lastApplied()
	if !intentFirst {
		t.Error("a State was applied without an intent recorded first")
	}
	if last != res.Final {
		t.Errorf("journal's last applied State %s, release final %s", last, res.Final)
	}
	waitFor(t, tgt, res.Final)
	t.Logf("release %s after %d failed Apply attempts", res.Phase, rec.applyFailures())
}

// writeCounter counts the write requests a client sends.
type writeCounter struct{ n atomic.Int64 }

func (w *writeCounter) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripper(func(r *http.Request) (*http.Response, error) {
		switch r.Method {
		case http.MethodPatch, http.MethodPut, http.MethodPost, http.MethodDelete:
			w.n.Add(1)
		}
		return rt.RoundTrip(r)
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestConflictingWriter: while a canary is paused, an HPA-like writer
// scales the canary's Deployment through the scale subresource and a
// person re-weights the route under their own field manager. The target
// writes nothing while it is only observed (no fight), Observe reports
// the other writers' values (the State is not silently taken as still in
// place), and the next Apply restores the plan's State, once.
func TestConflictingWriter(t *testing.T) {
	c := newCluster(t)
	writes := &writeCounter{}
	cfg := rest.CopyConfig(c.cfg)
	cfg.Wrap(writes.wrap)
	tgt, err := kubernetes.NewGatewayTarget(kubernetes.GatewayConfig{
		Workload: kubernetes.Workload{Client: clientset.NewForConfigOrDie(cfg), Namespace: c.ns, Name: "conflict", Template: template()},
		Gateway:  gatewayclient.NewForConfigOrDie(cfg),
	})
	if err != nil {
		t.Fatal(err)
	}
	seed(t, tgt, strategy.State{Stable: "v1", Replicas: strategy.Replicas{Stable: 2}})
	ro, err := strategy.Start(t.Context(), strategy.Release{
		Target: tgt, Stable: "v1", Canary: "v2", Options: fast(),
		Strategy: canary.Config{Replicas: 2, TrafficRouting: true,
			Steps: []canary.Step{canary.SetWeight(20), canary.PauseUntilPromoted(), canary.SetWeight(80)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for ro.Status().Phase != strategy.PhasePaused {
		if ro.Status().Phase.Final() {
			t.Fatalf("release ended before its pause: %s", ro.Status().Reason)
		}
		poll(t, 100*time.Millisecond)
	}
	ctx := t.Context()
	deps := c.kube.AppsV1().Deployments(c.ns)
	scale, err := deps.GetScale(ctx, "conflict-v2", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	scale.Spec.Replicas = 4
	if _, err := deps.UpdateScale(ctx, "conflict-v2", scale, metav1.UpdateOptions{FieldManager: "hpa-like"}); err != nil {
		t.Fatal(err)
	}
	route := map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
		"metadata": map[string]any{"name": "conflict", "namespace": c.ns},
		"spec": map[string]any{"rules": []any{map[string]any{
			"name":    kubernetes.DefaultRule,
			"matches": []any{map[string]any{"path": map[string]any{"type": "PathPrefix", "value": "/"}}},
			"backendRefs": []any{
				map[string]any{"name": "conflict-v1", "port": 80, "weight": 50},
				map[string]any{"name": "conflict-v2", "port": 80, "weight": 50},
			},
		}}},
	}
	body, _ := json.Marshal(route)
	force := true
	if _, err := c.gw.GatewayV1().HTTPRoutes(c.ns).Patch(ctx, "conflict", types.ApplyPatchType, body,
		metav1.PatchOptions{FieldManager: "person", Force: &force}); err != nil {
		t.Fatal(err)
	}

	before := writes.n.Load()
	var obs strategy.Observation
	for range 300 {
		obs, err = tgt.Observe(ctx)
		if err == nil && obs.State.Replicas.Canary == 4 && obs.State.Weight == 50 {
			break
		}
		poll(t, 100*time.Millisecond)
	}
	if obs.State.Replicas.Canary != 4 || obs.State.Weight != 50 {
		t.Fatalf("Observe reports %s (err %v), want the other writers' 4 canary replicas and weight 50", obs.State, err)
	}
	if n := writes.n.Load() - before; n != 0 {
		t.Errorf("the target wrote %d times while it was only observed", n)
	}
	if ro.Status().State.Weight != 20 {
		t.Errorf("the release's status moved to %s without applying it", ro.Status().State)
	}

	if err := ro.Promote(); err != nil {
		t.Fatal(err)
	}
	res, err := ro.Wait(ctx)
	if err != nil {
		t.Fatalf("release after the conflict: %v", err)
	}
	final := strategy.State{Stable: "v2", Replicas: strategy.Replicas{Stable: 2}}
	if res.Final != final {
		t.Errorf("release ended on %s, want %s", res.Final, final)
	}
	waitFor(t, tgt, final)
	d, err := deps.Get(ctx, "conflict-v2", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *d.Spec.Replicas != 2 {
		t.Errorf("canary Deployment has %d replicas, want the State's 2", *d.Spec.Replicas)
	}
	if owner := replicasOwner(d.ManagedFields); owner != kubernetes.DefaultFieldManager {
		t.Errorf("spec.replicas is owned by %q, want the target's manager after its Apply", owner)
	}
}

// replicasOwner names the field manager that owns spec.replicas.
func replicasOwner(mf []metav1.ManagedFieldsEntry) string {
	for _, e := range mf {
		if e.FieldsV1 != nil && strings.Contains(string(e.FieldsV1.Raw), `"f:replicas"`) {
			return e.Manager
		}
	}
	return ""
}
