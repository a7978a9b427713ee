package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clientset "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	gatewayclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"github.com/glidepath/glidepath/analysis"
	"github.com/glidepath/glidepath/canary"
	"github.com/glidepath/glidepath/kubernetes"
	"github.com/glidepath/glidepath/strategy"
)

// errorRateAnnotation carries the error rate a revision's pods report.
const errorRateAnnotation = "example.glidepath.dev/error-rate"

// errorRates is what each revision's pods report: v3 is the bad one.
var errorRates = map[strategy.Revision]string{"v1": "0.001", "v2": "0.002", "v3": "0.08"}

func main() {
	kubeconfig := flag.String("kubeconfig", os.Getenv("GLIDEPATH_KUBECONFIG"), "kubeconfig of the cluster (default $GLIDEPATH_KUBECONFIG)")
	namespace := flag.String("namespace", "glidepath-example", "namespace to release in (created if missing, left behind)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout, *kubeconfig, *namespace, time.Second); err != nil {
		fmt.Fprintln(os.Stderr, "canary:", err)
		os.Exit(1)
	}
}

// run releases v2 (promoted) and then v3 (rolled back) of the Deployment
// "shop" in namespace; interval is the time at each weight.
func run(ctx context.Context, out io.Writer, kubeconfig, namespace string, interval time.Duration) error {
	if kubeconfig == "" {
		return errors.New("no cluster: start one with scripts/k8s-cluster.sh up and pass -kubeconfig or set GLIDEPATH_KUBECONFIG")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	kube, err := clientset.NewForConfig(cfg)
	if err != nil {
		return err
	}
	gw, err := gatewayclient.NewForConfig(cfg)
	if err != nil {
		return err
	}
	_, err = kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	tgt, err := kubernetes.NewGatewayTarget(kubernetes.GatewayConfig{
		Workload: kubernetes.Workload{
			Client: kube, Namespace: namespace, Name: "shop",
			Template: func(rev strategy.Revision) (corev1.PodTemplateSpec, error) {
				return corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{errorRateAnnotation: errorRates[rev]}},
					Spec: corev1.PodSpec{Containers: []corev1.Container{
						{Name: "shop", Image: "registry.example/shop:" + string(rev)}}},
				}, nil
			},
		},
		Gateway: gw,
	})
	if err != nil {
		return err
	}
	// The canary's error rate: the highest its ready pods report.
	errorRate := &analysis.Check{
		Label: "error-rate",
		Source: analysis.SourceFunc(func(ctx context.Context, q analysis.Query) (any, error) {
			pods, err := kube.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{
				LabelSelector: kubernetes.RevisionLabel + "=" + q.Text})
			if err != nil {
				return nil, err
			}
			worst := -1.0
			for _, p := range pods.Items {
				if r, err := strconv.ParseFloat(p.Annotations[errorRateAnnotation], 64); err == nil && r > worst {
					worst = r
				}
			}
			if worst < 0 {
				return nil, fmt.Errorf("no pod of %s reports an error rate", q.Text)
			}
			return worst, nil
		}),
		Query:            "{{release.canary}}",
		SuccessCondition: "result <= 0.01",
	}
	// Start from v1, then release v2 and v3 in turn.
	stable := strategy.Revision("v1")
	if obs, err := tgt.Observe(ctx); err == nil && obs.State.Stable != "" && obs.State.Canary == "" {
		stable = obs.State.Stable
	} else {
		if err := tgt.Apply(ctx, strategy.State{Stable: stable, Replicas: strategy.Replicas{Stable: 3}}); err != nil {
			return err
		}
	}
	for _, next := range []strategy.Revision{"v2", "v3"} {
		if next == stable {
			continue
		}
		fmt.Fprintf(out, "releasing %s over %s\n", next, stable)
		res, err := strategy.Run(ctx, strategy.Release{
			Target: tgt, Stable: stable, Canary: next,
			Strategy: canary.Config{Replicas: 3, TrafficRouting: true, StepWeight: 25, MaxWeight: 75,
				Interval: interval, Analyzers: []strategy.Analyzer{errorRate}},
			Options: strategy.Options{PollInterval: 200 * time.Millisecond, ProgressDeadline: 2 * time.Minute},
			Observer: strategy.ObserverFunc(func(e strategy.Event) {
				if a, ok := e.(strategy.StateApplied); ok {
					fmt.Fprintf(out, "  applied %s\n", a.State)
				}
			}),
		})
		switch {
		case err == nil:
			fmt.Fprintf(out, "%s promoted: %s\n", next, res.Final)
			stable = next
		case errors.Is(err, strategy.ErrAnalysisFailed):
			fmt.Fprintf(out, "%s rolled back: %s\n", next, res.Reason)
		default:
			return err
		}
	}
	return nil
}
