package kubernetes

import (
	"context"
	"fmt"
	"maps"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/glidepath/glidepath/strategy"
)

// WeightAnnotation records, on the switching Service, the weight of a State
// that selects both revisions (see [ServiceTarget]).
const WeightAnnotation = "glidepath.dev/weight"

// ServiceConfig configures a [ServiceTarget].
type ServiceConfig struct {
	// Workload is the Deployments.
	Workload
	// Service is the switching Service's name (default Workload.Name).
	Service string
}

// ServiceTarget releases a [Workload] behind one Service whose selector
// switches between revisions: weight 0 selects the stable revision's pods,
// weight 100 the canary's, in one write — the instant switch and
// switch-back blue-green needs.
//
// A Service cannot weight traffic. A State with a weight strictly between
// 0 and 100 makes the Service select the pods of both revisions, so
// requests spread over their ready endpoints: the canary's real share is
// its share of ready instances, as with any target without weighted
// routing (canary.Config without TrafficRouting plans its States that way).
// The weight is recorded on the Service (annotation glidepath.dev/weight,
// in the same write as the selector) and Observe reports it only while the
// selector really spans both revisions. It does not route headers.
//
// It implements [strategy.FencedTarget].
type ServiceTarget struct {
	cfg ServiceConfig
}

var _ strategy.FencedTarget = (*ServiceTarget)(nil)

// NewServiceTarget checks cfg and returns the target. It writes nothing: the
// first Apply creates the objects.
func NewServiceTarget(cfg ServiceConfig) (*ServiceTarget, error) {
	if cfg.Service == "" {
		cfg.Service = cfg.Name
	}
	if err := strategy.Invalid("kubernetes.ServiceConfig", cfg.Workload.problems()...); err != nil {
		return nil, err
	}
	return &ServiceTarget{cfg: cfg}, nil
}

// Apply makes the cluster serve desired: Deployments scaled up, then the
// Service's selector switched, then Deployments scaled down or removed.
func (t *ServiceTarget) Apply(ctx context.Context, desired strategy.State) error {
	return t.apply(ctx, desired, 0)
}

// ApplyFenced is Apply under a fencing token (see [strategy.FencedTarget]).
func (t *ServiceTarget) ApplyFenced(ctx context.Context, desired strategy.State, token uint64) error {
	return t.apply(ctx, desired, fence(token))
}

func (t *ServiceTarget) apply(ctx context.Context, s strategy.State, f fence) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var extra []string
	if !s.Route.IsZero() {
		extra = append(extra, "header routes need weighted routing: use GatewayTarget")
	}
	w := &t.cfg.Workload
	if err := w.checkState(s, extra); err != nil {
		return err
	}
	svcs := w.Client.CoreV1().Services(w.Namespace)
	if f != 0 {
		got, err := svcs.Get(ctx, t.cfg.Service, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			return fmt.Errorf("reading Service %s: %w", t.cfg.Service, err)
		default:
			if err := f.check("Service", t.cfg.Service, got.Annotations); err != nil {
				return err
			}
		}
	}
	current, err := w.deployments(ctx)
	if err != nil {
		return err
	}
	if err := w.scaleUp(ctx, f, s, current); err != nil {
		return err
	}
	if err := w.applyService(ctx, f, t.service(s)); err != nil {
		return err
	}
	return w.scaleDown(ctx, f, s, current, nil)
}

// service builds the switching Service for s.
func (t *ServiceTarget) service(s strategy.State) *corev1.Service {
	w := &t.cfg.Workload
	sel := maps.Clone(w.appLabels())
	sel[WorkloadLabel] = w.Name
	switch {
	case s.Canary == "" || s.Weight == 0:
		sel[RevisionLabel] = string(s.Stable)
	case s.Weight == 100:
		sel[RevisionLabel] = string(s.Canary)
	}
	svc := w.service(t.cfg.Service, sel, "")
	svc.Annotations[StableAnnotation] = string(s.Stable)
	svc.Annotations[CanaryAnnotation] = string(s.Canary)
	svc.Annotations[WeightAnnotation] = strconv.Itoa(s.Weight)
	return svc
}

// Observe reads the Service and the Deployments back. The weight comes from
// the selector: 0 when it selects the stable revision, 100 when it selects
// the canary, and the recorded weight when it spans both. A selector that
// picks any other revision is an error rather than a guess.
func (t *ServiceTarget) Observe(ctx context.Context) (strategy.Observation, error) {
	if err := ctx.Err(); err != nil {
		return strategy.Observation{}, err
	}
	w := &t.cfg.Workload
	svc, err := w.Client.CoreV1().Services(w.Namespace).Get(ctx, t.cfg.Service, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return strategy.Observation{}, nil
	}
	if err != nil {
		return strategy.Observation{}, fmt.Errorf("reading Service %s: %w", t.cfg.Service, err)
	}
	var obs strategy.Observation
	st := &obs.State
	st.Stable = strategy.Revision(svc.Annotations[StableAnnotation])
	st.Canary = strategy.Revision(svc.Annotations[CanaryAnnotation])
	if st.Stable == "" && st.Canary == "" {
		return obs, fmt.Errorf("switching Service %s names no revision (annotations %s and %s are missing)", svc.Name, StableAnnotation, CanaryAnnotation)
	}
	for k, v := range w.appLabels() {
		if svc.Spec.Selector[k] != v {
			return obs, fmt.Errorf("switching Service %s does not select the workload's pods (selector %v)", svc.Name, svc.Spec.Selector)
		}
	}
	active, one := svc.Spec.Selector[RevisionLabel]
	switch {
	case one && st.Stable != "" && active == string(st.Stable):
		st.Weight = 0
	case one && st.Canary != "" && active == string(st.Canary):
		st.Weight = 100
	case one:
		return obs, fmt.Errorf("switching Service %s selects revision %s, which is neither stable %s nor canary %s", svc.Name, active, st.Stable, st.Canary)
	default:
		wt, err := strconv.Atoi(svc.Annotations[WeightAnnotation])
		if err != nil || wt <= 0 || wt >= 100 || st.Canary == "" || st.Stable == "" {
			return obs, fmt.Errorf("switching Service %s selects every revision, but records no weight between both (annotation %s=%q)",
				svc.Name, WeightAnnotation, svc.Annotations[WeightAnnotation])
		}
		st.Weight = wt
	}
	deps, err := w.deployments(ctx)
	if err != nil {
		return obs, err
	}
	observeReplicas(&obs, deps)
	return obs, nil
}
