package spec

import "strings"

// Flagger's built-in metrics, per mesh or ingress provider: the PromQL
// that Flagger's observers run for request-success-rate (a percentage of
// non-5xx responses) and request-duration (the 99th percentile, or the
// mean for ingresses without histograms, in milliseconds), over the
// canary's workload in the last {{ interval }}.
type builtin struct{ successRate, duration string }

func envoyQueries(selector string) builtin {
	return builtin{
		successRate: `sum(rate(envoy_cluster_upstream_rq{` + selector + `,envoy_response_code!~"5.*"}[{{ interval }}])) / sum(rate(envoy_cluster_upstream_rq{` + selector + `}[{{ interval }}])) * 100`,
		duration:    `histogram_quantile(0.99, sum(rate(envoy_cluster_upstream_rq_time_bucket{` + selector + `}[{{ interval }}])) by (le))`,
	}
}

var podNameSelector = `kubernetes_namespace="{{ namespace }}",kubernetes_pod_name=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"`

var builtins = map[string]builtin{
	"istio": {
		successRate: `sum(rate(istio_requests_total{reporter="destination",destination_workload_namespace="{{ namespace }}",destination_workload=~"{{ target }}",response_code!~"5.*"}[{{ interval }}])) / sum(rate(istio_requests_total{reporter="destination",destination_workload_namespace="{{ namespace }}",destination_workload=~"{{ target }}"}[{{ interval }}])) * 100`,
		duration:    `histogram_quantile(0.99, sum(rate(istio_request_duration_milliseconds_bucket{reporter="destination",destination_workload_namespace="{{ namespace }}",destination_workload=~"{{ target }}"}[{{ interval }}])) by (le))`,
	},
	"linkerd": {
		successRate: `sum(rate(response_total{namespace="{{ namespace }}",deployment=~"{{ target }}",classification!="failure",direction="inbound"}[{{ interval }}])) / sum(rate(response_total{namespace="{{ namespace }}",deployment=~"{{ target }}",direction="inbound"}[{{ interval }}])) * 100`,
		duration:    `histogram_quantile(0.99, sum(rate(response_latency_ms_bucket{namespace="{{ namespace }}",deployment=~"{{ target }}",direction="inbound"}[{{ interval }}])) by (le))`,
	},
	"appmesh": envoyQueries(`kubernetes_namespace="{{ namespace }}",kubernetes_pod_name=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"`),
	"contour": envoyQueries(`envoy_cluster_name=~"{{ namespace }}_{{ service }}-canary_[0-9a-zA-Z-]+"`),
	"gloo":    envoyQueries(`envoy_cluster_name=~"{{ namespace }}-{{ target }}-canaryupstream-[0-9a-zA-Z-]+_[0-9a-zA-Z-]+"`),
	"kuma":    envoyQueries(`service=~"{{ target }}-canary_{{ namespace }}_svc_[0-9a-zA-Z-]+"`),
	"knative": envoyQueries(`envoy_cluster_name=~"{{ namespace }}/{{ route }}"`),
	"nginx": {
		successRate: `sum(rate(nginx_ingress_controller_requests{namespace="{{ namespace }}",ingress="{{ ingress }}",canary!="",status!~"5.*"}[{{ interval }}])) / sum(rate(nginx_ingress_controller_requests{namespace="{{ namespace }}",ingress="{{ ingress }}",canary!=""}[{{ interval }}])) * 100`,
		duration:    `sum(rate(nginx_ingress_controller_response_duration_seconds_sum{namespace="{{ namespace }}",ingress="{{ ingress }}",canary!=""}[{{ interval }}])) / sum(rate(nginx_ingress_controller_response_duration_seconds_count{namespace="{{ namespace }}",ingress="{{ ingress }}",canary!=""}[{{ interval }}])) * 1000`,
	},
	"kubernetes": {
		successRate: `sum(rate(http_request_duration_seconds_count{` + podNameSelector + `,status!~"5.*"}[{{ interval }}])) / sum(rate(http_request_duration_seconds_count{` + podNameSelector + `}[{{ interval }}])) * 100`,
		duration:    `histogram_quantile(0.99, sum(rate(http_request_duration_seconds_bucket{` + podNameSelector + `}[{{ interval }}])) by (le))`,
	},
	"traefik": {
		successRate: `sum(rate(traefik_service_request_duration_seconds_bucket{service=~"{{ namespace }}-{{ target }}-canary-[0-9a-zA-Z-]+@kubernetescrd",code!~"5..",le="+Inf"}[{{ interval }}])) / sum(rate(traefik_service_request_duration_seconds_bucket{service=~"{{ namespace }}-{{ target }}-canary-[0-9a-zA-Z-]+@kubernetescrd",le="+Inf"}[{{ interval }}])) * 100`,
		duration:    `histogram_quantile(0.99, sum(rate(traefik_service_request_duration_seconds_bucket{service=~"{{ namespace }}-{{ target }}-canary-[0-9a-zA-Z-]+@kubernetescrd"}[{{ interval }}])) by (le)) * 1000`,
	},
	"osm": {
		successRate: `sum(rate(osm_request_total{destination_namespace="{{ namespace }}",destination_kind="Deployment",destination_name="{{ target }}",response_code!~"5.*"}[{{ interval }}])) / sum(rate(osm_request_total{destination_namespace="{{ namespace }}",destination_kind="Deployment",destination_name="{{ target }}"}[{{ interval }}])) * 100`,
		duration:    `histogram_quantile(0.99, sum(rate(osm_request_duration_ms_bucket{destination_namespace="{{ namespace }}",destination_kind="Deployment",destination_name="{{ target }}"}[{{ interval }}])) by (le))`,
	},
	"apisix": {
		successRate: `sum(rate(apisix_http_status{route=~"{{ namespace }}_{{ route }}-{{ target }}-canary_.+",code!~"5.."}[{{ interval }}])) / sum(rate(apisix_http_status{route=~"{{ namespace }}_{{ route }}-{{ target }}-canary_.+"}[{{ interval }}])) * 100`,
		duration:    `histogram_quantile(0.99, sum(rate(apisix_http_latency_bucket{type=~"request",route=~"{{ namespace }}_{{ route }}-{{ target }}-canary_.+"}[{{ interval }}])) by (le))`,
	},
}

// builtinFor picks the queries the way Flagger's observer factory does:
// prefixes for appmesh, gloo and gatewayapi, istio for anything unknown
// (smi included). Skipper's queries use template variables and are not
// built in.
func builtinFor(provider string) (builtin, bool) {
	switch {
	case strings.HasPrefix(provider, "appmesh"):
		return builtins["appmesh"], true
	case strings.HasPrefix(provider, "gloo"):
		return builtins["gloo"], true
	case provider == "kubernetes" || strings.HasPrefix(provider, "gatewayapi"):
		return builtins["kubernetes"], true
	case provider == "skipper":
		return builtin{}, false
	}
	if b, ok := builtins[provider]; ok {
		return b, true
	}
	return builtins["istio"], true
}
