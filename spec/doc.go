// Package spec loads Argo Rollouts and Flagger resources as glidepath
// configs, so release policy already written as Kubernetes YAML carries
// over without a rewrite.
//
// [Decode] (or [DecodeReader]) takes YAML or JSON, one document or many
// separated by "---", of these kinds:
//
//   - argoproj.io AnalysisTemplate and ClusterAnalysisTemplate: each metric
//     becomes an [analysis.Check] bound to a [prometheus.Source] or an
//     [analysis.HTTP] source ([Result.Checks] binds a template to
//     arguments on its own);
//   - argoproj.io Rollout: spec.strategy.canary becomes a [canary.Config],
//     spec.strategy.blueGreen a [bluegreen.Config], with spec.replicas and
//     the analysis templates resolved by name among the decoded ones;
//   - flagger.app Canary and MetricTemplate: spec.analysis becomes a
//     [canary.Config] (progressive or A/B) or a [bluegreen.Config]
//     (iterations), with checks, webhooks and a failure policy.
//
// Bad input is rejected whole: one [*Error] lists every problem (unknown
// fields, wrong types, malformed durations, unknown template references,
// missing arguments, duplicate metric names, fields glidepath cannot
// honour) with its document index (0-based) and field path, such as
// "document 1: spec.metrics[1].successCondition: ...", and no config is
// returned. Fields that only matter to Kubernetes are skipped and listed
// in [Result.Ignored], so nothing is dropped without a word.
//
// # Untrusted input
//
// Decoding is bounded by [Limits]: the input's size (4 MiB by default),
// the number of documents (1000), the nesting depth (64) and the number
// of values after alias expansion (200,000 a document, so a "billion
// laughs" document fails fast). The decoder is fuzzed (FuzzDecode).
//
// # Values the caller supplies
//
// Argument placeholders are substituted as the projects do:
// {{args.NAME}} in Argo templates (values from the template's defaults,
// then the Rollout's args, then [Options].Args, which wins), and Flagger's
// {{ name }}, {{ namespace }}, {{ target }}, {{ service }}, {{ ingress }},
// {{ route }}, {{ interval }} and {{ variables.KEY }}. In Prometheus
// queries the placeholders stay placeholders of the check, so glidepath
// escapes each value where it sits (a revision name cannot change the
// query); elsewhere (durations, counts, URLs, conditions) they are
// substituted when the specs are loaded. Argo's podTemplateHashValue
// Stable and Latest become {{release.stable}} and {{release.canary}}: the
// release's revision names. Secrets (valueFrom.secretKeyRef) come from
// Options.Secrets keyed "NAME/KEY" and are redacted from verdicts and
// errors; fieldRef reads the Rollout's metadata.name, metadata.namespace,
// labels and annotations, or Options.Fields.
//
// # Argo Rollouts
//
//	AnalysisTemplate field              glidepath
//	spec.args[].value                   Check.Args (default value)
//	spec.args[].valueFrom.secretKeyRef  Check.Args, Secret: true (Options.Secrets)
//	spec.args[].valueFrom.fieldRef      Check.Args (Rollout metadata or Options.Fields)
//	spec.metrics[].name                 Check.Label (unique)
//	spec.metrics[].interval             Check.Interval ("30s", "5m": Go durations, as Argo)
//	spec.metrics[].initialDelay         Check.InitialDelay
//	spec.metrics[].count                Check.Count (integer or "{{args.x}}")
//	spec.metrics[].successCondition     Check.SuccessCondition (expr, as Argo)
//	spec.metrics[].failureCondition     Check.FailureCondition
//	spec.metrics[].failureLimit         Check.FailureLimit (default 0; -1 disables)
//	spec.metrics[].inconclusiveLimit    Check.InconclusiveLimit (default 0)
//	spec.metrics[].consecutiveErrorLimit   Check.ConsecutiveErrorLimit (default 4)
//	spec.metrics[].consecutiveSuccessLimit Check.ConsecutiveSuccessLimit
//	spec.dryRun[].metricName ("*": all) Check.DryRun
//	spec.measurementRetention[]         Check.HistoryLimit
//	spec.templates[]                    the referenced templates' metrics, merged
//	provider.prometheus.address         prometheus.Source.Address (or Options.PrometheusAddress)
//	provider.prometheus.query           Check.Query
//	provider.prometheus.timeout         Source.Timeout and Check.Timeout (seconds)
//	provider.prometheus.headers         Source.HTTP.HTTPHeaders
//	provider.prometheus.insecure        Source.HTTP.TLSConfig.InsecureSkipVerify
//	provider.prometheus.authentication.basicAuth, .oauth2   Source.HTTP.BasicAuth, .OAuth2
//	provider.web.url                    Check.Query of an analysis.HTTP source
//	provider.web.method, body, jsonBody GET as is; POST and PUT send the body
//	provider.web.headers, basicAuth     analysis.HTTP.Header
//	provider.web.jsonPath               analysis.HTTP.Path (default "{$}")
//	provider.web.timeoutSeconds         Check.Timeout (default 10s)
//	provider.web.insecure               the client skips TLS verification
//
//	Rollout field                       glidepath
//	spec.replicas                       Config.Replicas (default 1, as Argo)
//	spec.progressDeadlineSeconds        Rollout.Options.ProgressDeadline (default 600s)
//	spec.progressDeadlineAbort          Options.OnDeadline.Pause = !progressDeadlineAbort
//	canary.steps[].setWeight            canary.SetWeight
//	canary.steps[].pause                canary.Pause (seconds, "90", "5m"); {} PauseUntilPromoted
//	canary.steps[].analysis             canary.Analysis with the templates' checks
//	canary.steps[].setCanaryScale       canary.SetCanaryScale: Replicas, PercentOfReplicas, MatchTrafficWeight
//	canary.steps[].setHeaderRoute       canary.SetHeaderRoute (one header; no match removes it)
//	canary.maxSurge, maxUnavailable     Config.MaxSurge, MaxUnavailable
//	canary.analysis, .startingStep      Config.Background
//	canary.dynamicStableScale           Config.DynamicStableScale
//	canary.trafficRouting (any)         Config.TrafficRouting = true
//	canary with no steps                one SetWeight(100) step, as Argo promotes at once
//	blueGreen.autoPromotionEnabled      bluegreen.Config.ManualPromotion = !autoPromotionEnabled
//	blueGreen.autoPromotionSeconds      AutoPromotionDelay (ignored, as Argo does, when manual)
//	blueGreen.scaleDownDelaySeconds     ScaleDownDelay (0: at once)
//	blueGreen.abortScaleDownDelaySeconds   AbortScaleDownDelay (default 30s); 0: KeepAborted
//	blueGreen.previewReplicaCount       CanaryReplicas
//	blueGreen.prePromotionAnalysis      PrePromotion
//	blueGreen.postPromotionAnalysis     PostPromotion
//
// Ignored (listed in Result.Ignored): documents of other kinds (Services,
// Ingresses, Deployments, Experiments...); metadata other than name, namespace,
// labels and annotations; status; spec.selector, template, workloadRef,
// minReadySeconds, revisionHistoryLimit, restartAt, analysis (run
// retention); canaryService, stableService, activeService,
// previewService, pingPong, antiAffinity, canaryMetadata, stableMetadata,
// previewMetadata, activeMetadata, scaleDownDelayRevisionLimit, the
// canary's scaleDownDelaySeconds and (with a delay) abortScaleDownDelaySeconds,
// blueGreen.maxUnavailable; trafficRouting's istio, nginx, alb, smi,
// ambassador, appMesh, traefik, apisix, plugins and managedRoutes;
// analysisRunMetadata; setHeaderRoute.name.
//
// Errors (behaviour glidepath cannot honour): experiment, setMirrorRoute
// and plugin steps; trafficRouting.mirror and a maxTrafficWeight other
// than 100; the kayenta, job, datadog, wavefront, newRelic, cloudWatch,
// graphite, influxdb, skywalking and plugin providers; prometheus
// rangeQuery and sigv4; web oauth2; rollbackWindow; paused;
// minPodsPerReplicaSet; replicaProgressThreshold; a canary
// abortScaleDownDelaySeconds of 0 with traffic routing (it would keep
// the canary running); a previewReplicaCount of 0.
//
// # Flagger
//
//	Canary field                        glidepath
//	spec.analysis.stepWeight, maxWeight the weights of canary.Config.Weights (Flagger's
//	spec.analysis.stepWeights           progression; stepWeight wins), each a SetWeight step
//	                                    then an Analysis step holding one Iterations analyzer
//	                                    (wait the interval, run every metric and webhook once)
//	spec.analysis.interval              Iterations.Interval (default 60s, at least 10s, as Flagger)
//	spec.analysis.threshold             Canary.Options.OnFail.Allowed = threshold-1
//	                                    (default 1): a tolerated failed check is checked again
//	                                    an interval later, as Flagger does
//	spec.analysis.iterations            blue/green: bluegreen.Config, PrePromotion one Iterations
//	                                    analyzer (Count iterations, Threshold threshold);
//	                                    A/B (with match): a header route, then that analyzer
//	spec.analysis.match[0].headers      canary.SetHeaderRoute (one header: exact, prefix or regex)
//	spec.analysis.metrics[].thresholdRange  Check.SuccessCondition on result[0] (min, max)
//	spec.analysis.metrics[].threshold   deprecated: a minimum success rate, a maximum duration
//	request-success-rate, request-duration  Flagger's built-in query for spec.provider
//	                                    (Options.MeshProvider, default istio): istio, linkerd,
//	                                    appmesh, contour, gloo, nginx, kubernetes, gatewayapi,
//	                                    traefik, osm, kuma, apisix, knative
//	spec.analysis.metrics[].templateRef a MetricTemplate (prometheus) decoded with it
//	spec.analysis.metrics[].interval    {{ interval }} (default 1m)
//	spec.analysis.metrics[].templateVariables  {{ variables.KEY }}
//	spec.analysis.webhooks (rollout)    a FlaggerWebhook run with the metrics each interval
//	spec.analysis.webhooks (pre-rollout)   an Iterations step before the first weight
//	webhooks[].timeout, retries, metadata, disableTLS   FlaggerWebhook fields (timeout 10s)
//	spec.metricsServer                  the Prometheus address (or Options.PrometheusAddress)
//	spec.progressDeadlineSeconds        Canary.Options.ProgressDeadline (default 600s)
//	spec.skipAnalysis                   one SetWeight(100) step
//
// A Flagger metric is judged as Flagger judges it: one query each
// interval, whose first value must exist, not be NaN and lie within the
// threshold range; a failed query is a failed check. Webhooks post
// Flagger's own payload and pass on a status of 202 or less, so Flagger's
// load tester and existing receivers work unchanged.
//
// Ignored: post-rollout and event webhooks (subscribe a strategy.Observer),
// webhook muteAlert, stepWeightPromotion (Flagger
// shifts traffic between two copies of the new revision), autoscalerRef,
// upstreamRef, service, revertOnDeletion, alerts, MetricTemplate region.
// Errors: confirm-rollout, confirm-promotion, confirm-traffic-increase
// and rollback webhooks (Flagger polls them and waits);
// mirror, mirrorWeight, sessionAffinity, suspend; primaryReadyThreshold
// and canaryReadyThreshold other than 100; match conditions on anything
// but one header; MetricTemplate providers other than prometheus and
// secretRef; query templates other than the placeholders above; skipper's
// built-in metrics.
//
// # Known differences
//
// An AnalysisTemplate is looked up in the Rollout's namespace, as in Argo;
// one whose document names no namespace, or the only one of its name when
// the Rollout names none, stands in (Result.Checks looks up by name, and
// needs it unique). A web metric's JSON path must select a
// number, a list of numbers, a string, a bool or null (not an object).
// Placeholder values in Prometheus queries are escaped, so a value that
// is not a number, a duration or a name cannot sit outside a string
// literal.
package spec
