package rolling_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/glidepath/glidepath/rolling"
	"github.com/glidepath/glidepath/strategy"
)

// deploymentController replays the Kubernetes Deployment controller's
// RollingUpdate reconciliation for one old and one new ReplicaSet, written
// independently of the planner from the controller's rules:
//
//   - scale up (NewRSNewReplicas): when old + new < N + maxSurge, the new
//     ReplicaSet grows by the difference, but not beyond N;
//   - otherwise scale down (reconcileOldReplicaSets): with minAvailable =
//     N - maxUnavailable, the old ReplicaSet shrinks by the available pods
//     (old, plus new pods that are available) above minAvailable, and not
//     at all while the new ReplicaSet's unavailable pods leave no room;
//   - otherwise nothing can move until pods become available: every new
//     pod becomes available ("|"), and the controller syncs again.
//
// Old pods are all available. It returns the scaling events as "old/new"
// pairs, with "|" where the rollout waits for new pods.
func deploymentController(n, maxSurge, maxUnavailable int) []string {
	maxUnavailable = min(maxUnavailable, n) // MaxUnavailable caps it at N
	old, nw, nwAvail := n, 0, 0
	var out []string
	for range 4*n + 8 {
		if old == 0 && nw == n {
			return out
		}
		if total := old + nw; total < n+maxSurge && nw < n {
			nw += min(n+maxSurge-total, n-nw)
			out = append(out, fmt.Sprintf("%d/%d", old, nw))
			continue
		}
		minAvailable := n - maxUnavailable
		maxScaledDown := old + nw - minAvailable - (nw - nwAvail)
		if old > 0 && maxScaledDown > 0 {
			old -= min(old, old+nwAvail-minAvailable)
			out = append(out, fmt.Sprintf("%d/%d", old, nw))
			continue
		}
		nwAvail = nw
		out = append(out, "|")
	}
	return append(out, "stuck")
}

// scaling lists a plan's instance counts as "old/new" pairs in order,
// leaving out States that only move traffic and the final State.
func scaling(p strategy.Plan) []string {
	var out []string
	prev := p.Stable.Replicas
	for _, s := range p.Steps {
		if s.Kind != strategy.StepApply || s.State == p.Final {
			continue
		}
		r := s.State.Replicas
		if r != prev {
			out = append(out, fmt.Sprintf("%d/%d", r.Stable, r.Canary))
		}
		prev = r
	}
	return out
}

// withoutWaits drops the "|" markers and the "0/0" event a fleet of one
// with no surge passes through (the planner folds it into the scale-up
// that follows).
func withoutWaits(events []string) []string {
	return slices.DeleteFunc(slices.Clone(events), func(e string) bool { return e == "|" || e == "0/0" })
}

// The documented walk-through of a Deployment of 3 replicas with the
// default 25%/25% (surge 1, unavailable 0): the controller scales the new
// ReplicaSet up to 1, the old one down to 2, the new one up to 2, the old
// one down to 1, the new one up to 3 and the old one down to 0, so that at
// least 3 pods are available and at most 4 exist.
func TestKubernetesDocumentedWalkthrough(t *testing.T) {
	want := []string{"3/1", "2/1", "2/2", "1/2", "1/3", "0/3"}
	if got := withoutWaits(deploymentController(3, 1, 0)); !slices.Equal(got, want) {
		t.Fatalf("controller replay %v, want %v", got, want)
	}
	p, err := (&rolling.Config{Replicas: 3}).Plan("v1", "v2")
	if err != nil {
		t.Fatal(err)
	}
	if got := scaling(p); !slices.Equal(got, want) {
		t.Errorf("plan scales %v, want %v", got, want)
	}
	// With 4 replicas the same defaults give surge 1 and unavailable 1:
	// between 3 and 5 pods.
	p, err = (&rolling.Config{Replicas: 4}).Plan("v1", "v2")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := scaling(p), withoutWaits(deploymentController(4, 1, 1)); !slices.Equal(got, want) {
		t.Errorf("plan scales %v, controller %v", got, want)
	}
}

// For any N and bounds, the plan scales the two revisions through exactly
// the replica counts the Deployment controller would, in the same order.
func TestPlanMatchesDeploymentController(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cfg := rolling.Config{
			Replicas:       rapid.IntRange(1, 60).Draw(t, "N"),
			MaxSurge:       new(intOrPercent(t, "surge")),
			MaxUnavailable: new(intOrPercent(t, "unavailable")),
		}
		if cfg.Validate() != nil {
			// Both bounds zero, which Validate rejects: let one instance be
			// unavailable instead of discarding the case.
			cfg.MaxUnavailable = new(strategy.Int(1))
		}
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		p, err := cfg.Plan("v1", "v2")
		if err != nil {
			t.Fatal(err)
		}
		surge, unavail := cfg.Bounds()
		ctrl := deploymentController(cfg.Replicas, surge, unavail)
		if slices.Contains(ctrl, "stuck") {
			t.Fatalf("the controller replay did not finish: %v", ctrl)
		}
		if got, want := scaling(p), withoutWaits(ctrl); !slices.Equal(got, want) {
			t.Fatalf("N=%d surge=%d unavailable=%d\nplan       %s\ncontroller %s", cfg.Replicas, surge, unavail,
				strings.Join(got, " "), strings.Join(ctrl, " "))
		}
	})
}
