package kubernetes_test

import (
	"errors"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/glidepath/glidepath/bluegreen"
	"github.com/glidepath/glidepath/canary"
	"github.com/glidepath/glidepath/rolling"
	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/strategytest"
)

// seed applies s and waits until it is ready.
func seed(t *testing.T, tgt strategy.Target, s strategy.State) {
	t.Helper()
	if err := tgt.Apply(t.Context(), s); err != nil {
		t.Fatalf("seeding %s: %v", s, err)
	}
	waitFor(t, tgt, s)
}

// checkGone fails unless rev's Deployment is gone (or going).
func (c *cluster) checkGone(t *testing.T, name string, rev strategy.Revision) {
	t.Helper()
	d, err := c.kube.AppsV1().Deployments(c.ns).Get(t.Context(), name+"-"+string(rev), metav1.GetOptions{})
	if err == nil && d.DeletionTimestamp == nil {
		t.Errorf("Deployment of %s still exists with %d replicas", rev, *d.Spec.Replicas)
	} else if err != nil && !apierrors.IsNotFound(err) {
		t.Error(err)
	}
}

// readBack checks, after every State the executor applied, that Observe
// reads the same traffic back from the cluster.
func readBack(t *testing.T, tgt strategy.Target, rec *recorder) {
	rec.on = func(e strategy.Event) {
		a, ok := e.(strategy.StateApplied)
		if !ok {
			return
		}
		obs, err := tgt.Observe(t.Context())
		if err != nil {
			t.Errorf("Observe after applying %s: %v", a.State, err)
			return
		}
		got, want := obs.State, a.State
		if got.Stable != want.Stable || got.Canary != want.Canary || got.Weight != want.Weight || got.Route != want.Route ||
			got.Replicas != want.Replicas {
			t.Errorf("applied %s, observed %s", want, got)
		}
	}
}

func TestCanaryRelease(t *testing.T) {
	c := newCluster(t)
	for _, tc := range []struct {
		name    string
		verdict strategy.Outcome
		want    error
	}{{"promoted", strategy.Pass, nil}, {"rolled back", strategy.Fail, strategy.ErrAnalysisFailed}} {
		t.Run(tc.name, func(t *testing.T) {
			name := "canary-" + map[bool]string{true: "good", false: "bad"}[tc.want == nil]
			tgt := c.gateway(t, name)
			seed(t, tgt, strategy.State{Stable: "v1", Replicas: strategy.Replicas{Stable: 2}})
			rec := &recorder{}
			readBack(t, tgt, rec)
			res, err := strategy.Run(t.Context(), strategy.Release{
				Target: tgt, Stable: "v1", Canary: "v2", Observer: rec, Options: fast(),
				Strategy: canary.Config{Replicas: 2, TrafficRouting: true, Steps: []canary.Step{
					canary.SetCanaryScale(canary.Replicas(1)),
					canary.SetHeaderRoute(strategy.HeaderRoute{Header: "X-Canary", Prefix: "yes"}),
					canary.SetWeight(25),
					canary.Analysis(strategytest.Script("check", tc.verdict)),
					canary.SetWeight(50),
				}},
			})
			if !errors.Is(err, tc.want) && !(tc.want == nil && err == nil) {
				t.Fatalf("release: %v (want %v)", err, tc.want)
			}
			final := strategy.State{Stable: "v2", Replicas: strategy.Replicas{Stable: 2}}
			gone := strategy.Revision("v1")
			if tc.want != nil {
				final, gone = strategy.State{Stable: "v1", Replicas: strategy.Replicas{Stable: 2}}, "v2"
			}
			if res.Final != final {
				t.Errorf("release ended on %s, want %s", res.Final, final)
			}
			waitFor(t, tgt, final)
			c.checkGone(t, name, gone)
			if len(rec.applied()) < 3 {
				t.Errorf("only %d States applied", len(rec.applied()))
			}
		})
	}
}

func TestBlueGreenRelease(t *testing.T) {
	c := newCluster(t)
	for _, tc := range []struct {
		name    string
		verdict strategy.Outcome
		want    error
	}{{"promoted", strategy.Pass, nil}, {"switched back", strategy.Fail, strategy.ErrAnalysisFailed}} {
		t.Run(tc.name, func(t *testing.T) {
			name := "bg-" + map[bool]string{true: "good", false: "bad"}[tc.want == nil]
			tgt := c.service(t, name)
			seed(t, tgt, strategy.State{Stable: "v1", Replicas: strategy.Replicas{Stable: 2}})
			rec := &recorder{}
			readBack(t, tgt, rec)
			_, err := strategy.Run(t.Context(), strategy.Release{
				Target: tgt, Stable: "v1", Canary: "v2", Observer: rec, Options: fast(),
				Strategy: &bluegreen.Config{Replicas: 2, ScaleDownDelay: -1,
					PostPromotion: []strategy.Analyzer{strategytest.Script("after-switch", tc.verdict)}},
			})
			if !errors.Is(err, tc.want) && !(tc.want == nil && err == nil) {
				t.Fatalf("release: %v (want %v)", err, tc.want)
			}
			final := strategy.State{Stable: "v2", Replicas: strategy.Replicas{Stable: 2}}
			gone := strategy.Revision("v1")
			if tc.want != nil {
				final, gone = strategy.State{Stable: "v1", Replicas: strategy.Replicas{Stable: 2}}, "v2"
			}
			waitFor(t, tgt, final)
			c.checkGone(t, name, gone)
			// The switch (and the switch back) is one Apply of the
			// selector while both revisions run at full capacity.
			switched := false
			for _, s := range rec.applied() {
				if s.Weight == 100 {
					switched = true
					if s.Replicas != (strategy.Replicas{Stable: 2, Canary: 2}) {
						t.Errorf("switched to the new revision at %s", s)
					}
				}
			}
			if !switched {
				t.Error("traffic never switched to the new revision")
			}
		})
	}
}

func TestRollingRelease(t *testing.T) {
	c := newCluster(t)
	one := strategy.Int(1)
	zero := strategy.Int(0)
	for _, tc := range []struct {
		name     string
		verdicts []strategy.Outcome
		want     error
	}{{"promoted", []strategy.Outcome{strategy.Pass}, nil},
		{"rolled back", []strategy.Outcome{strategy.Pass, strategy.Fail}, strategy.ErrAnalysisFailed}} {
		t.Run(tc.name, func(t *testing.T) {
			name := "roll-" + map[bool]string{true: "good", false: "bad"}[tc.want == nil]
			tgt := c.gateway(t, name)
			seed(t, tgt, strategy.State{Stable: "v1", Replicas: strategy.Replicas{Stable: 3}})
			rec := &recorder{}
			readBack(t, tgt, rec)
			_, err := strategy.Run(t.Context(), strategy.Release{
				Target: tgt, Stable: "v1", Canary: "v2", Observer: rec, Options: fast(),
				Strategy: rolling.Config{Replicas: 3, MaxSurge: &one, MaxUnavailable: &zero,
					Analyzers: []strategy.Analyzer{strategytest.Script("batch", tc.verdicts...)}},
			})
			if !errors.Is(err, tc.want) && !(tc.want == nil && err == nil) {
				t.Fatalf("release: %v (want %v)", err, tc.want)
			}
			final := strategy.State{Stable: "v2", Replicas: strategy.Replicas{Stable: 3}}
			gone := strategy.Revision("v1")
			if tc.want != nil {
				final, gone = strategy.State{Stable: "v1", Replicas: strategy.Replicas{Stable: 3}}, "v2"
			}
			waitFor(t, tgt, final)
			c.checkGone(t, name, gone)
			// Surge 1, unavailable 0: never more than 4 instances asked
			// for, never fewer than 3.
			for _, s := range rec.applied() {
				if tot := s.Replicas.Total(); tot > 4 || tot < 3 {
					t.Errorf("applied %s: %d instances outside 3..4", s, tot)
				}
			}
		})
	}
}

// TestNeverReady: the canary's pods never become ready (kwok is told so by
// a label). The progress deadline fires and the release rolls back, and
// the canary never received traffic: capacity comes before traffic.
func TestNeverReady(t *testing.T) {
	c := newCluster(t)
	tgt := c.gateway(t, "stuck", "v2")
	seed(t, tgt, strategy.State{Stable: "v1", Replicas: strategy.Replicas{Stable: 2}})
	rec := &recorder{}
	opts := fast()
	opts.ProgressDeadline = 8 * time.Second
	_, err := strategy.Run(t.Context(), strategy.Release{
		Target: tgt, Stable: "v1", Canary: "v2", Observer: rec, Options: opts,
		Strategy: canary.Config{Replicas: 2, TrafficRouting: true, Steps: []canary.Step{canary.SetWeight(50)}},
	})
	if !errors.Is(err, strategy.ErrDeadlineExceeded) {
		t.Fatalf("release: %v, want the progress deadline", err)
	}
	for _, s := range rec.applied() {
		if s.Share("v2") > 0 {
			t.Errorf("applied %s: the canary that never became ready got traffic", s)
		}
	}
	stable := strategy.State{Stable: "v1", Replicas: strategy.Replicas{Stable: 2}}
	obs := waitFor(t, tgt, stable)
	if obs.Ready.Stable != 2 {
		t.Errorf("stable ready %d after the rollback, want 2", obs.Ready.Stable)
	}
	c.checkGone(t, "stuck", "v2")
}
