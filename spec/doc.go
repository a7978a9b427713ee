// Package spec loads Argo Rollouts and Flagger resources as glidepath
// configs, so release policy already written as Kubernetes YAML carries
// over without a rewrite.
//
// Decode (or DecodeReader) takes YAML or JSON, one document or many
// separated by "---", of these kinds:
//
//   - argoproj.io AnalysisTemplate and ClusterAnalysisTemplate: each metric
//     becomes an [analysis.Check] bound to a [prometheus.Source] or an
//     [analysis.HTTP] source;
//   - argoproj.io Rollout: spec.strategy.canary becomes a [canary.Config],
//     spec.strategy.blueGreen a [bluegreen.Config], with spec.replicas and
//     the analysis templates resolved by name;
//   - flagger.app Canary and MetricTemplate: spec.analysis becomes a
//     [canary.Config] with checks, webhook gates and a failure policy.
//
// Bad input is rejected whole: one [*Error] lists every problem with its
// document index and field path, and no config is returned. Fields that
// only matter to Kubernetes are skipped and listed in Result.Ignored;
// fields that change behaviour and that glidepath cannot honour are
// errors.
package spec
