// Package judge decides whether a canary is worse than its baseline with
// statistics rather than fixed thresholds.
//
// Threshold checks ("success rate ≥ 99% every minute", as Flagger and Argo
// Rollouts users write them) are slow and noisy at once: at low traffic a
// single failed request breaks the threshold and rolls back a good release;
// at high traffic an obvious regression has to break the threshold several
// times before anything happens. The judges here compare the canary with
// the baseline that serves the same traffic at the same time, and size
// their decisions to the evidence.
//
// Three judges are provided, all [strategy.Analyzer]s fed through small
// source interfaces ([SampleSource], [CountSource], [LatencySource]) that
// other packages implement (Prometheus queries, test fakes):
//
//   - [Comparison]: Kayenta-style automated canary analysis over metric
//     samples (one value per interval per revision), with a Mann–Whitney
//     test per metric and a group-weighted score.
//   - [Sequential]: an always-valid sequential test of a failure rate
//     (errors over requests) from cumulative counters, which fails a
//     regression as soon as the evidence is in and can be looked at every
//     minute without inflating its false-alarm rate. [RateTest] is the same
//     test as a plain state machine.
//   - [SequentialLatency]: the same kind of always-valid test for
//     latency, read from latency histograms ([Histogram], the shape of
//     Prometheus histograms), which fails a canary whose median latency
//     is shown to exceed the baseline's. [LatencyTest] is the same test
//     as a plain state machine.
//
// # The comparison judge
//
// For each [Metric], NaN observations are removed or replaced with zero
// ([NaNStrategy], Kayenta's nanStrategy "remove" / "replace"), outliers are
// optionally dropped with Kayenta's reduced-sensitivity fences (below
// min(P1, Q1 − f·IQR) or above max(P99, Q3 + f·IQR) for OutlierFactor f;
// Kayenta's judge always applies f = 3), and the canary's observations are
// compared with the baseline's by the two-sided Wilcoxon rank-sum
// (Mann–Whitney U) test ([RankSum]), which also estimates the shift
// (Hodges–Lehmann) with a confidence interval at ConfidenceLevel (default
// 0.98, the level of Kayenta's NetflixACAJudge).
//
// A metric is classified as in Kayenta's Mann–Whitney classifier:
//
//   - NoData when either revision has no observations. A Critical metric
//     without data fails the whole judgement (Kayenta marks it critical);
//     otherwise a metric that MustHaveData is NoDataFail;
//   - Pass when the two samples are identical or all equal;
//   - High when the direction allows an increase, the lower confidence
//     bound exceeds Tolerance (default 0.25) times the absolute estimate,
//     and the ratio of means (canary / baseline) is at least
//     AllowedIncrease (Kayenta's effectSize.allowedIncrease, default 1);
//   - Low symmetrically, with the upper bound below minus Tolerance times
//     the estimate and the ratio of means at most AllowedDecrease;
//   - Pass otherwise; Error when the observations cannot be read or tested.
//
// A Critical metric classified High with a ratio of at least
// CriticalIncrease, or Low with a ratio of at most CriticalDecrease (both
// default 1), fails the whole judgement.
//
// The score follows Kayenta's weighted-sum scorer: a group's score is 100
// times its Pass metrics over its Pass, High, Low and NoDataFail metrics,
// and a group with none of those (only NoData or Error metrics) counts as
// 100; the summary is the sum of group scores times their weights over
// 100, rounded to two decimals, where groups without a weight share what
// remains of 100 equally. The summary is then overridden as in Kayenta: a
// critical failure sets it to 0 and fails the judgement, and so does
// NoData on half or more of the metrics. Otherwise a score below
// MarginalScore (default 75) fails, a score below PassScore (default 95)
// is Inconclusive (Kayenta's "marginal"), and higher scores pass.
//
// Where glidepath departs from Kayenta, it is towards not passing a
// release it knows too little about:
//
//   - A metric that could not be read or tested (Error) keeps the
//     judgement from passing (it is Inconclusive at best), and a
//     judgement in which no metric could be read is an error.
//   - A metric with no observations at all is NoData even when NaNs are
//     replaced with zero (Kayenta passes it).
//   - When the baseline's mean is zero and the canary's is not, the ratio
//     of means is ±Inf rather than Kayenta's 1, so an effect-size
//     allowance cannot pass a canary that fails where the baseline never
//     does.
//   - Outlier removal is off unless OutlierFactor is set, and with a zero
//     interquartile range it drops nothing, so a count that is usually
//     zero keeps its rare non-zero values.
//   - Small tie-free samples (fewer than 50 observations each) use the
//     exact distribution for the interval, as R's wilcox.test does;
//     Kayenta's own port always uses the normal approximation.
//
// [RankSum] reproduces R's wilcox.test defaults: the exact null
// distribution when both samples have fewer than 50 observations and no
// ties, otherwise the normal approximation with tie-corrected variance and
// a continuity correction; the confidence interval and estimate follow R's
// construction (exact order statistics of the pairwise differences, or
// the root of the normal score found by Brent's method). Its tests check
// R's own help-page examples.
//
// # The sequential judges
//
// [Sequential] compares failure rates. Given the failures of an interval,
// each is the canary's with a probability set by the ratio of the rates
// and the traffic split (the conditional test of two Poisson rates, as in
// Lindon, Sanden and Shirikian, KDD 2022), so a baseline rate that drifts,
// or bursts in both revisions at once, does not disturb it. Two mixtures
// of likelihood ratios are e-processes: the canary fails when the
// evidence of a regression (rate above (1+Tolerance)× the baseline's)
// reaches 1/Alpha, and passes when the evidence of no regression (rate
// below Regression×, or at most Margin above the baseline's) reaches
// 1/Beta. By Ville's inequality the chance of ever failing a healthy
// canary is at most Alpha, however often the judge looks.
//
// Failures are not independent in real traffic: retries, one bad pod, a
// broken connection pool produce them in clumps. The judge learns how
// much more the split varies than independent failures would let it (a
// dispersion φ, from consecutive intervals of both revisions and, when
// the source can read the past, from the baseline's history) and tempers
// its evidence by it: exactly valid when no clump is larger than φ,
// approximately otherwise, and measured below. A source that cannot read
// the past (a [CountSource] that is not a [CountHistory], such as an
// in-process counter) leaves the judge without a history: it then starts
// from a conservative φ (20) that fades as soon as the release's
// intervals speak, and learns from the baseline's intervals (against its
// rate before the release and against each other) and from the split of
// consecutive intervals, each counted by how many failures it rests on,
// taking the larger of the two estimates; so it is careful with clumps
// and still quick when failures are independent. A [Recorder] gives such
// a source a memory: run it for the life of the process and use it as the
// judge's Source, and the judge reads the baseline's past from it as it
// does from Prometheus, and decides as fast.
//
// [SequentialLatency] reduces latency to the shares of requests slower
// than the baseline's median (a bucket bound) and bets on their
// difference with Hoeffding-bounded e-processes; time-correlated latency
// (slow minutes, pauses, a noisy neighbour) is learned and tempered for
// the same way: from consecutive intervals, and from the long-run
// variance of the baseline's share of slow requests, in its history or,
// without one, in the release (from a conservative start), so slowness
// that lasts several minutes is weighed as such.
//
// Both read counters as Prometheus does (a drop is a reset, the value
// after it the increase since), count impossible data (NaN, negative, more
// failures than requests) toward ErrorLimit and name it, and in
// background analysis pass at the end of the release only on the evidence
// an inline Pass needs (LenientLastWord restores Argo Rollouts' lenient
// behaviour). Their verdicts carry the evidence as measurement Values
// ("trials", "failures", "rate", "e_fail", "e_pass", "dispersion").
//
// METHODS.md in this package derives the tests and their guarantees, the
// dispersion model, the absolute margin (default 0.1 percentage points)
// and how it combines with the relative test.
//
// # Measured
//
// go run ./internal/sim drives Analyze over cumulative counters, inline
// and in background mode, on a virtual clock (20,000 A/A runs per cell
// over 4 seeds, 2,000 per regression cell; defaults Alpha 0.01, Beta 0.05,
// one reading a minute, 30 minutes; baseline failure rate 0.5%, canary
// weight 10%):
//
//	                                        sequential   sequential   best threshold check
//	                                        inline       background   (Flagger / Argo)
//	A/A false rollbacks (worst cell of each kind; 95% intervals in results.txt):
//	  independent errors, 1-100 rps         0.14%        0.15%        flagger threshold=5: 0.27% at 10 rps, 92% at 1 rps
//	  clumps of mean 3 / 10, 1-100 rps      0.38%/0.39%  0.38%/0.40%  flagger threshold=5: 15% / 48%
//	  bursts in both, drifting baseline     0.12%        0.15%        drift: 99.9% or more
//	  base 0.05% / 0.01%, weight 1% / 50%   0.24%        0.27%
//	  latency independent / time-correlated 0.07%/0.24%  0.10%/0.57%  flagger threshold=5: 1.7-5% (independent)
//	2x regression, independent errors: median (p90) minutes to detect
//	  10 rps                                7 (14), 99%  7 (14)       flagger threshold=1: 2, with 64% false rollbacks;
//	                                                                  argo failureLimit=2: 7, with 7.6%
//	  100 rps                               1 (2)        1 (2)        flagger threshold=1: 2
//	latency +20%: median minutes            1 rps: 4, 10-100 rps: 1; time-correlated 6-8
//	healthy canary at 0.05% errors, 10 rps: 73% promoted inline within 30 minutes (27% pause)
//	2x regression, clumps of mean 3, 10 rps: detected in 46% of releases within 30 minutes (56% before the
//	margin of the history estimate was raised from 2 to 4: METHODS.md, "Learning the dispersion")
//	60-minute releases (-minutes 60 -only "A/A" -runs 8000): every A/A cell at most 0.78% (clumps of mean 10,
//	10 rps, background; 1.0% with clumps of mean 3 at 1 rps before pairs were weighed by their failures)
//
// The same with sources that cannot read the past (go run ./internal/sim
// -history 0, every cell; output in internal/sim/results-nohistory.txt):
//
//	A/A false rollbacks, every error cell     at most 0.60% inline and background (clumps of mean 10, 10 rps;
//	                                          95% interval 0.50-0.72%); 0.04% or less with independent errors
//	A/A false rollbacks, latency              time-correlated at most 0.47% (10 rps, background); independent 0.01%
//	2x regression, independent errors         10 rps: median 8 (p90 16); 100 rps: 2 (4) -- a minute each above
//	                                          the goals of 7 and 1, which a history meets; a Recorder gives
//	                                          one to any source (METHODS.md, "Without a history")
//	latency +20%: median minutes              independent 5 (6 at 1 rps); time-correlated 6-8
//	60-minute releases (-history 0 -minutes 60 -only "A/A" -runs 8000): every A/A cell at most 0.88% (clumps of
//	                                          mean 10, 10 rps; scaling the start's excess by 1 + 3/sqrt(df) instead
//	                                          of 2 would give 0.57%, but 9 and 3 minutes for the 2x rows above)
//
// Ratios to Wald's SPRT floor, every cell, and the threshold checks side by
// side are in internal/sim/results.txt (the command's output; 20 minutes
// on two shared cores).
package judge
