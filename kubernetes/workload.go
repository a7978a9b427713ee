package kubernetes

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	clientset "k8s.io/client-go/kubernetes"

	"github.com/glidepath/glidepath/strategy"
)

// Labels and annotations the targets write.
const (
	// RevisionLabel carries the revision on every Deployment, pod template
	// and Service a target manages; Services select on it.
	RevisionLabel = "glidepath.dev/revision"
	// WorkloadLabel names the [Workload] an object belongs to.
	WorkloadLabel = "glidepath.dev/workload"
	// StableAnnotation and CanaryAnnotation record on the traffic object
	// (the HTTPRoute or the switching Service) which revision holds which
	// role, written in the same apply as the traffic itself.
	StableAnnotation = "glidepath.dev/stable"
	CanaryAnnotation = "glidepath.dev/canary"
	// FenceAnnotation records the highest fencing token an object was
	// written under (see [strategy.FencedTarget]).
	FenceAnnotation = "glidepath.dev/fence"
	// DefaultFieldManager is the server-side apply field manager used when
	// Workload.FieldManager is empty.
	DefaultFieldManager = "glidepath"
)

// Workload describes the Deployments a target manages: one per revision.
type Workload struct {
	// Client talks to the API server. Required.
	Client clientset.Interface
	// Namespace holds every object. Required.
	Namespace string
	// Name is the application's name: a DNS label of at most 40
	// characters. A revision's Deployment and Service are named
	// <Name>-<revision> (lower-cased, with a hash suffix when the revision
	// is not already a DNS label). Required.
	Name string
	// Labels identify the application's pods (default {"app": Name}).
	// Each Deployment's selector and pod template carry them plus
	// RevisionLabel and WorkloadLabel.
	Labels map[string]string
	// Template returns the pod template of a revision (its image, say).
	// The target adds the labels above; everything else is the caller's.
	// Required.
	Template func(rev strategy.Revision) (corev1.PodTemplateSpec, error)
	// MinReadySeconds is each Deployment's minReadySeconds: a pod counts
	// as ready capacity once it has been ready this long.
	MinReadySeconds int32
	// ProgressDeadlineSeconds is each Deployment's progressDeadlineSeconds
	// (0: the Kubernetes default, 600). The release's own deadline is
	// strategy.Options.ProgressDeadline.
	ProgressDeadlineSeconds int32
	// KeepScaledDown keeps a revision's Deployment, scaled to zero, when
	// the State gives it no instances and no traffic, instead of deleting
	// it (and its Service).
	KeepScaledDown bool
	// Port is the port the Services expose (default 80); TargetPort the
	// pods' port (default Port).
	Port, TargetPort int32
	// FieldManager is the server-side apply field manager (default
	// DefaultFieldManager).
	FieldManager string
}

func (w *Workload) fieldManager() string {
	if w.FieldManager == "" {
		return DefaultFieldManager
	}
	return w.FieldManager
}

func (w *Workload) appLabels() map[string]string {
	if len(w.Labels) == 0 {
		return map[string]string{"app": w.Name}
	}
	return w.Labels
}

// problems lists what is wrong with the Workload's configuration.
func (w *Workload) problems() []string {
	var p []string
	if w.Client == nil {
		p = append(p, "workload: Client is required")
	}
	for _, m := range validation.IsDNS1123Label(w.Namespace) {
		p = append(p, fmt.Sprintf("workload: namespace %q: %s", w.Namespace, m))
	}
	if len(w.Name) > 40 {
		p = append(p, fmt.Sprintf("workload: name %q is longer than 40 characters", w.Name))
	}
	for _, m := range validation.IsDNS1123Label(w.Name) {
		p = append(p, fmt.Sprintf("workload: name %q: %s", w.Name, m))
	}
	if w.Template == nil {
		p = append(p, "workload: Template is required")
	}
	for k, v := range w.Labels {
		for _, m := range validation.IsQualifiedName(k) {
			p = append(p, fmt.Sprintf("workload: label key %q: %s", k, m))
		}
		for _, m := range validation.IsValidLabelValue(v) {
			p = append(p, fmt.Sprintf("workload: label %s=%q: %s", k, v, m))
		}
		if k == RevisionLabel || k == WorkloadLabel {
			p = append(p, fmt.Sprintf("workload: label %s is set by the target", k))
		}
	}
	if w.MinReadySeconds < 0 || w.ProgressDeadlineSeconds < 0 {
		p = append(p, "workload: MinReadySeconds and ProgressDeadlineSeconds must not be negative")
	}
	if w.ProgressDeadlineSeconds > 0 && w.ProgressDeadlineSeconds <= w.MinReadySeconds {
		p = append(p, "workload: ProgressDeadlineSeconds must be greater than MinReadySeconds (a Deployment's rule)")
	}
	if w.Port < 0 || w.Port > 65535 || w.TargetPort < 0 || w.TargetPort > 65535 {
		p = append(p, "workload: ports must be within 1..65535")
	}
	return p
}

// objectName is the name of rev's Deployment and Service: <Name>-<rev>
// when rev is a valid DNS label once lower-cased and the result fits in 63
// characters, else <Name>-<sanitized prefix>-<hash of rev>.
func (w *Workload) objectName(rev strategy.Revision) string {
	s := string(rev)
	clean := strings.ToLower(s)
	if clean == s && len(validation.IsDNS1123Label(clean)) == 0 && len(w.Name)+1+len(clean) <= 63 {
		return w.Name + "-" + clean
	}
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else if b.Len() > 0 && !strings.HasSuffix(b.String(), "-") {
			b.WriteByte('-')
		}
	}
	sum := sha256.Sum256([]byte(s))
	prefix := strings.TrimSuffix(b.String(), "-")
	if room := 63 - len(w.Name) - 2 - 10; len(prefix) > room {
		prefix = strings.TrimSuffix(prefix[:max(room, 0)], "-")
	}
	if prefix == "" {
		return w.Name + "-" + hex.EncodeToString(sum[:5])
	}
	return w.Name + "-" + prefix + "-" + hex.EncodeToString(sum[:5])
}

// revisionProblems lists what keeps rev from being a label value.
func revisionProblems(rev strategy.Revision) []string {
	var p []string
	for _, m := range validation.IsValidLabelValue(string(rev)) {
		p = append(p, fmt.Sprintf("revision %q cannot be a label value: %s", rev, m))
	}
	return p
}

// podLabels are the labels of rev's pods and the selector of its Deployment.
func (w *Workload) podLabels(rev strategy.Revision) map[string]string {
	l := maps.Clone(w.appLabels())
	l[RevisionLabel] = string(rev)
	l[WorkloadLabel] = w.Name
	return l
}

// ownedSelector selects every Deployment and Service of the Workload.
func (w *Workload) ownedSelector() string {
	return labels.SelectorFromSet(labels.Set{WorkloadLabel: w.Name}).String()
}

// checkState returns one permanent error naming every problem that keeps s
// from being applied, or nil.
func (w *Workload) checkState(s strategy.State, extra []string) error {
	p := w.problems()
	var ce *strategy.ConfigError
	if errors.As(s.Validate(), &ce) {
		p = append(p, ce.Problems...)
	}
	p = append(p, extra...)
	if s.Stable != "" && s.Stable == s.Canary {
		p = append(p, fmt.Sprintf("stable and canary are the same revision %q", s.Stable))
	}
	for _, rev := range []strategy.Revision{s.Stable, s.Canary} {
		if rev == "" {
			continue
		}
		p = append(p, revisionProblems(rev)...)
		if w.Template != nil && s.Desired(rev) > 0 {
			if _, err := w.Template(rev); err != nil {
				p = append(p, fmt.Sprintf("pod template of %s: %v", rev, err))
			}
		}
	}
	if len(p) > 0 {
		return strategy.Permanent(strategy.Invalid("kubernetes target: the State cannot be applied", p...))
	}
	return nil
}

// keeps reports whether rev needs its Deployment in s: s names it and it
// has instances or receives traffic.
func (w *Workload) keeps(s strategy.State, rev strategy.Revision) bool {
	if rev == "" || (rev != s.Stable && rev != s.Canary) {
		return false
	}
	return s.Desired(rev) > 0 || s.Share(rev) > 0 || (rev == s.Canary && !s.Route.IsZero())
}

// deployment builds rev's Deployment at n replicas.
func (w *Workload) deployment(rev strategy.Revision, n int) (*appsv1.Deployment, error) {
	tpl, err := w.Template(rev)
	if err != nil {
		return nil, fmt.Errorf("pod template of %s: %w", rev, err)
	}
	pl := w.podLabels(rev)
	if tpl.Labels == nil {
		tpl.Labels = map[string]string{}
	}
	maps.Copy(tpl.Labels, pl)
	replicas := int32(n)
	d := &appsv1.Deployment{
		TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{
			Name: w.objectName(rev), Namespace: w.Namespace,
			Labels:      map[string]string{RevisionLabel: string(rev), WorkloadLabel: w.Name},
			Annotations: map[string]string{},
		},
		Spec: appsv1.DeploymentSpec{
			Replicas:        &replicas,
			Selector:        &metav1.LabelSelector{MatchLabels: pl},
			Template:        tpl,
			MinReadySeconds: w.MinReadySeconds,
		},
	}
	if w.ProgressDeadlineSeconds > 0 {
		pd := w.ProgressDeadlineSeconds
		d.Spec.ProgressDeadlineSeconds = &pd
	}
	return d, nil
}

// service builds rev's Service.
func (w *Workload) service(name string, selector map[string]string, rev strategy.Revision) *corev1.Service {
	port := w.Port
	if port == 0 {
		port = 80
	}
	target := w.TargetPort
	if target == 0 {
		target = port
	}
	l := map[string]string{WorkloadLabel: w.Name}
	if rev != "" {
		l[RevisionLabel] = string(rev)
	}
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: w.Namespace, Labels: l, Annotations: map[string]string{}},
		Spec: corev1.ServiceSpec{
			Selector: selector,
			Ports:    []corev1.ServicePort{{Name: "http", Port: port, TargetPort: intstr.FromInt32(target), Protocol: corev1.ProtocolTCP}},
		},
	}
}

// applyBody renders obj for server-side apply: no status, no empty
// creationTimestamp claims, and, when rv is set, a resourceVersion
// precondition.
func applyBody(obj any, rv string) ([]byte, error) {
	raw, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	delete(m, "status")
	if md, ok := m["metadata"].(map[string]any); ok {
		delete(md, "creationTimestamp")
		if rv != "" {
			md["resourceVersion"] = rv
		}
	}
	if spec, ok := m["spec"].(map[string]any); ok {
		if tpl, ok := spec["template"].(map[string]any); ok {
			if md, ok := tpl["metadata"].(map[string]any); ok {
				delete(md, "creationTimestamp")
			}
		}
	}
	return json.Marshal(m)
}

// patchFunc is the Patch method of a typed client.
type patchFunc func(ctx context.Context, name string, pt types.PatchType, data []byte, opts metav1.PatchOptions, subresources ...string) error

// fence is the fencing token of one Apply: 0 for an unfenced Apply.
type fence uint64

// check returns ErrFenced when annotations carry a newer token than f.
func (f fence) check(kind, name string, ann map[string]string) error {
	if f == 0 {
		return nil
	}
	if v, ok := ann[FenceAnnotation]; ok {
		have, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return strategy.Permanent(fmt.Errorf("%s %s: unreadable %s annotation %q: %w", kind, name, FenceAnnotation, v, err))
		}
		if have > uint64(f) {
			return strategy.Permanent(fmt.Errorf("%w: %s %s was written under token %d, this Apply holds %d", strategy.ErrFenced, kind, name, have, f))
		}
	}
	return nil
}

// stamp adds the token to annotations (when fenced).
func (f fence) stamp(ann map[string]string) {
	if f != 0 {
		ann[FenceAnnotation] = strconv.FormatUint(uint64(f), 10)
	}
}

// apply server-side applies obj (whose annotations map must be non-nil)
// under the Workload's field manager. get returns the object's current
// annotations and resourceVersion (found false when it does not exist).
// With a fence, the token is checked and the write is conditioned on that
// resourceVersion, so a concurrent newer writer makes it fail; without
// one, a token recorded earlier is kept.
func (w *Workload) apply(ctx context.Context, f fence, kind, name string, obj any, ann map[string]string, patch patchFunc,
	get func(context.Context) (map[string]string, string, bool, error)) error {
	// A conflict on a fenced write usually means a controller updated the
	// object's status (which moves its resourceVersion), not that a newer
	// lease holder wrote it: read it again, check the token again, and
	// write again, a bounded number of times.
	var err error
	for range fencedConflictRetries {
		err = w.applyOnce(ctx, f, kind, name, obj, ann, patch, get)
		if !errors.Is(err, errFencedConflict) {
			return err
		}
	}
	return err
}

// fencedConflictRetries bounds the read-check-write rounds of one fenced
// write of one object.
const fencedConflictRetries = 5

// errFencedConflict marks a fenced write refused because the object changed
// since it was read.
var errFencedConflict = errors.New("changed while a fenced Apply was writing it")

func (w *Workload) applyOnce(ctx context.Context, f fence, kind, name string, obj any, ann map[string]string, patch patchFunc,
	get func(context.Context) (map[string]string, string, bool, error)) error {
	rv := ""
	have, v, found, err := get(ctx)
	if err != nil {
		return fmt.Errorf("reading %s %s: %w", kind, name, err)
	}
	if f != 0 {
		if found {
			if err := f.check(kind, name, have); err != nil {
				return err
			}
			rv = v
		}
		f.stamp(ann)
	} else if token, ok := have[FenceAnnotation]; ok {
		// An unfenced Apply keeps the token a fenced one recorded:
		// dropping it from the applied fields would remove it.
		ann[FenceAnnotation] = token
	}
	body, err := applyBody(obj, rv)
	if err != nil {
		return strategy.Permanent(fmt.Errorf("rendering %s %s: %w", kind, name, err))
	}
	force := true
	err = patch(ctx, name, types.ApplyPatchType, body, metav1.PatchOptions{FieldManager: w.fieldManager(), Force: &force})
	if err != nil {
		if f != 0 && apierrors.IsConflict(err) {
			return fmt.Errorf("%s %s %w (it is checked again on retry): %w", kind, name, errFencedConflict, err)
		}
		return fmt.Errorf("applying %s %s: %w", kind, name, classify(err))
	}
	return nil
}

// classify marks API errors that retrying cannot fix as permanent.
func classify(err error) error {
	switch {
	case apierrors.IsInvalid(err), apierrors.IsBadRequest(err), apierrors.IsForbidden(err),
		apierrors.IsUnauthorized(err), apierrors.IsMethodNotSupported(err), apierrors.IsNotAcceptable(err),
		apierrors.IsUnsupportedMediaType(err), apierrors.IsRequestEntityTooLargeError(err):
		return strategy.Permanent(err)
	}
	return err
}

// applyDeployment applies rev's Deployment at n replicas.
func (w *Workload) applyDeployment(ctx context.Context, f fence, rev strategy.Revision, n int) error {
	d, err := w.deployment(rev, n)
	if err != nil {
		return strategy.Permanent(err)
	}
	c := w.Client.AppsV1().Deployments(w.Namespace)
	return w.apply(ctx, f, "Deployment", d.Name, d, d.Annotations,
		func(ctx context.Context, name string, pt types.PatchType, data []byte, o metav1.PatchOptions, sub ...string) error {
			_, err := c.Patch(ctx, name, pt, data, o, sub...)
			return err
		},
		func(ctx context.Context) (map[string]string, string, bool, error) {
			got, err := c.Get(ctx, d.Name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return nil, "", false, nil
			}
			if err != nil {
				return nil, "", false, err
			}
			return got.Annotations, got.ResourceVersion, true, nil
		})
}

// applyService applies a Service.
func (w *Workload) applyService(ctx context.Context, f fence, svc *corev1.Service) error {
	c := w.Client.CoreV1().Services(w.Namespace)
	return w.apply(ctx, f, "Service", svc.Name, svc, svc.Annotations,
		func(ctx context.Context, name string, pt types.PatchType, data []byte, o metav1.PatchOptions, sub ...string) error {
			_, err := c.Patch(ctx, name, pt, data, o, sub...)
			return err
		},
		func(ctx context.Context) (map[string]string, string, bool, error) {
			got, err := c.Get(ctx, svc.Name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return nil, "", false, nil
			}
			if err != nil {
				return nil, "", false, err
			}
			return got.Annotations, got.ResourceVersion, true, nil
		})
}

// scaleUp applies the Deployments of s that must exist, each at its
// desired count. Call it before the traffic moves.
func (w *Workload) scaleUp(ctx context.Context, f fence, s strategy.State, current map[strategy.Revision]appsv1.Deployment) error {
	for _, rev := range []strategy.Revision{s.Stable, s.Canary} {
		if !w.keeps(s, rev) {
			continue
		}
		want := s.Desired(rev)
		if d, ok := current[rev]; ok && d.Spec.Replicas != nil && int(*d.Spec.Replicas) > want {
			continue // scaled down after the traffic moved
		}
		if err := w.applyDeployment(ctx, f, rev, want); err != nil {
			return err
		}
	}
	return nil
}

// scaleDown scales down the Deployments of s that shrink, and removes (or,
// with KeepScaledDown, scales to zero) every Deployment of the Workload s
// does not keep. Call it after the traffic moved. remove is called for each
// removed revision so the caller can remove its other objects.
func (w *Workload) scaleDown(ctx context.Context, f fence, s strategy.State, current map[strategy.Revision]appsv1.Deployment,
	remove func(context.Context, strategy.Revision) error) error {
	for _, rev := range slices.Sorted(maps.Keys(current)) {
		d := current[rev]
		if w.keeps(s, rev) {
			want := s.Desired(rev)
			if d.Spec.Replicas != nil && int(*d.Spec.Replicas) > want {
				if err := w.applyDeployment(ctx, f, rev, want); err != nil {
					return err
				}
			}
			continue
		}
		if w.KeepScaledDown {
			if specReplicas(d) > 0 {
				if err := w.applyDeployment(ctx, f, rev, 0); err != nil {
					return err
				}
			}
			continue
		}
		if err := w.deleteDeployment(ctx, f, d); err != nil {
			return err
		}
		if remove != nil {
			if err := remove(ctx, rev); err != nil {
				return err
			}
		}
	}
	return nil
}

// deleteDeployment deletes d (conditioned on its resourceVersion and fence
// when fenced). Its pods go with it (foreground deletion is not waited for:
// a deleted Deployment serves no traffic, since the route or selector no
// longer points at it).
func (w *Workload) deleteDeployment(ctx context.Context, f fence, d appsv1.Deployment) error {
	if err := f.check("Deployment", d.Name, d.Annotations); err != nil {
		return err
	}
	opts := metav1.DeleteOptions{}
	if f != 0 {
		opts.Preconditions = &metav1.Preconditions{ResourceVersion: &d.ResourceVersion}
	}
	bg := metav1.DeletePropagationBackground
	opts.PropagationPolicy = &bg
	err := w.Client.AppsV1().Deployments(w.Namespace).Delete(ctx, d.Name, opts)
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting Deployment %s: %w", d.Name, classify(err))
	}
	return nil
}

// deleteService deletes a Service of the Workload, if it exists.
func (w *Workload) deleteService(ctx context.Context, f fence, name string) error {
	c := w.Client.CoreV1().Services(w.Namespace)
	opts := metav1.DeleteOptions{}
	if f != 0 {
		got, err := c.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading Service %s: %w", name, err)
		}
		if err := f.check("Service", name, got.Annotations); err != nil {
			return err
		}
		opts.Preconditions = &metav1.Preconditions{ResourceVersion: &got.ResourceVersion}
	}
	if err := c.Delete(ctx, name, opts); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting Service %s: %w", name, classify(err))
	}
	return nil
}

// deployments lists the Workload's Deployments by revision. Two
// Deployments claiming one revision is an error: Observe would have to
// guess.
func (w *Workload) deployments(ctx context.Context) (map[strategy.Revision]appsv1.Deployment, error) {
	list, err := w.Client.AppsV1().Deployments(w.Namespace).List(ctx, metav1.ListOptions{LabelSelector: w.ownedSelector()})
	if err != nil {
		return nil, fmt.Errorf("listing Deployments: %w", err)
	}
	out := make(map[strategy.Revision]appsv1.Deployment, len(list.Items))
	var errs []error
	for _, d := range list.Items {
		rev := strategy.Revision(d.Labels[RevisionLabel])
		if rev == "" {
			continue
		}
		if prev, dup := out[rev]; dup {
			errs = append(errs, fmt.Errorf("two Deployments, %s and %s, claim revision %s", prev.Name, d.Name, rev))
			continue
		}
		out[rev] = d
	}
	return out, errors.Join(errs...)
}

// readyReplicas is how many of d's instances Kubernetes reports ready as
// capacity: none while the controller has not observed d's current
// generation (a fresh scale or template change is not reflected yet);
// otherwise its updated replicas that have been available for
// minReadySeconds.
func readyReplicas(d appsv1.Deployment) int {
	if d.Status.ObservedGeneration < d.Generation {
		return 0
	}
	return int(min(d.Status.AvailableReplicas, d.Status.UpdatedReplicas, d.Status.ReadyReplicas))
}

// specReplicas is d's desired replica count (Kubernetes defaults nil to 1).
func specReplicas(d appsv1.Deployment) int {
	if d.Spec.Replicas == nil {
		return 1
	}
	return int(*d.Spec.Replicas)
}

// observeReplicas fills obs.State.Replicas and obs.Ready from the
// Deployments of obs.State's revisions.
func observeReplicas(obs *strategy.Observation, deps map[strategy.Revision]appsv1.Deployment) {
	if d, ok := deps[obs.State.Stable]; ok && obs.State.Stable != "" {
		obs.State.Replicas.Stable = specReplicas(d)
		obs.Ready.Stable = readyReplicas(d)
	}
	if d, ok := deps[obs.State.Canary]; ok && obs.State.Canary != "" {
		obs.State.Replicas.Canary = specReplicas(d)
		obs.Ready.Canary = readyReplicas(d)
	}
}
