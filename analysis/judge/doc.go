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
// # The sequential judge
//
// Model. In interval t the baseline serves n_B(t) requests and the canary
// n_C(t); failures are rare, so the failures of each revision are modelled
// as Poisson counts with means λ_B·n_B(t) and λ_C·n_C(t). The quantity of
// interest is the ratio ρ = λ_C / λ_B. Conditioning on the total number of
// failures K(t) = B(t) + C(t) of the interval removes the unknown baseline
// rate: the canary's share C(t) is Binomial(K(t), θ_t(ρ)) with
//
//	θ_t(ρ) = ρ·n_C(t) / (ρ·n_C(t) + n_B(t)),
//
// the classical conditional test of two Poisson rates, used sequentially
// by Lindon, Sanden and Shirikian, "Rapid Regression Detection in Software
// Deployments through Sequential Testing" (KDD 2022), on which this judge
// is modelled. Traffic may vary between intervals (the weight can change);
// θ_t follows it.
//
// Test. For a fixed alternative ρ₁ and null ρ₀ the likelihood ratio of the
// data so far,
//
//	L_t(ρ₁; ρ₀) = ∏ (θ_s(ρ₁)/θ_s(ρ₀))^C(s) · ((1−θ_s(ρ₁))/(1−θ_s(ρ₀)))^B(s),
//
// is a non-negative martingale with mean 1 when ρ = ρ₀; when ρ < ρ₀ < ρ₁ it
// is a supermartingale, because each factor's expectation, θρ₁/θρ₀·θ +
// (1−θρ₁)/(1−θρ₀)·(1−θ), grows with the true θ and equals 1 at θ = θρ₀.
// A mixture over alternatives, M_t = Σ_k w_k·L_t(ρ_k; ρ₀) with prior
// weights w_k summing to one, is then a supermartingale with M_0 = 1 for
// every ρ ≤ ρ₀ (Robbins' method of mixtures), and Ville's inequality gives
//
//	P(M_t ≥ 1/α for some t ≥ 0) ≤ α.
//
// The bound is uniform over time: it holds whatever the number of looks,
// when they happen, and when the analysis stops — this is the property
// that fixed-sample tests lack and that makes the judge safe to poll every
// minute. (Ville, "Étude critique de la notion de collectif", 1939;
// Robbins, "Statistical methods related to the law of the iterated
// logarithm", 1970; Howard, Ramdas, McAuliffe and Sekhon, "Time-uniform,
// nonparametric, nonasymptotic confidence sequences", Ann. Statist. 2021.)
//
// Decisions. [Sequential] runs two such tests:
//
//   - Fail: null ρ ≤ 1+Tolerance against a mixture of 48 alternatives
//     (1+Tolerance)·e^u, u from log 1.05 to log 20, with weights from a
//     normal prior on u (standard deviation 0.75) centred on the
//     Regression the judge is tuned for (default 2×). The canary fails
//     when the mixture reaches 1/Alpha (default 0.01). Hence: the chance of
//     ever failing a canary whose failure rate is at most (1+Tolerance)
//     times the baseline's is at most Alpha.
//   - Pass: null ρ ≥ Regression against the mirrored mixture of
//     alternatives below it, centred on 1+Tolerance. The canary passes
//     when that mixture reaches 1/Beta (default 0.05) and the canary has
//     served MinTrials requests: the chance of ever passing a canary whose
//     rate is Regression times the baseline's or worse is at most Beta.
//
// Inline analysis that reaches neither by MaxDuration (default 30 minutes)
// is Inconclusive. Background analysis never passes early: it watches
// until it fails the release or the release ends. At the end of the
// release (strategy.ErrPlanComplete) it has a last word, Pass when the
// canary served requests without a regression being found and
// Inconclusive when it served none, so a release that saw no data is not
// promoted. A background [Comparison] likewise answers with its last
// judgement, or Inconclusive when it never judged.
//
// Caveats. The Poisson model treats each request's failure as rare; for
// failure probabilities of a few percent the conditional binomial is an
// excellent approximation, and for equal probabilities (an A/A test with
// Tolerance 0) the guarantee holds exactly for binomial counts too, since
// the conditional (hypergeometric) distribution is then less dispersed
// than the binomial and every factor of L_t is convex in C(s). A service
// with no failures at all gives no evidence either way: the judge then
// ends Inconclusive.
//
// # The sequential latency judge
//
// Reduction. Latency is reduced to exceedances: in interval t the judge
// counts the baseline's requests slower than a threshold q_t, and the
// canary's slower than (1+Tolerance)·q_t. The threshold is the bucket
// bound nearest the median of the baseline's recent observations, all
// made before interval t (the last interval, or as many recent intervals
// as hold 100 observations; at the start, the baseline's history up to
// the judge's first reading), so it is fixed before the interval's data
// arrive — the one requirement on it.
//
// Hypotheses. Write L_B and L_C for the latency of a baseline and a
// canary request in interval t. "No regression beyond Tolerance" is the
// null
//
//	H_F: P(L_C > (1+Tolerance)·x) ≤ P(L_B > x) for every x,
//
// that is, the canary's latency is stochastically at most (1+Tolerance)
// times the baseline's; for a change that scales latency (every quantile
// times r) it says r ≤ 1+Tolerance, and the judge needs it only at the
// thresholds it uses, around the median. "A regression of Regression or
// worse" is H_P: P(L_C > Regression·x) ≥ P(L_B > x) for every x. With
// histograms, a canary threshold that is not a bucket bound is rounded to
// one on the safe side: up for the Fail test, down for the Pass test, so
// both nulls still imply the inequalities below.
//
// Test. Let n_B, n_C be the requests of the interval, a_B, a_C the
// exceedances, m = n_B·n_C/(n_B+n_C), and d = a_C/n_C − a_B/n_B, the
// difference of the shares of slow requests. Assume that, given the past
// and the request counts, the interval's latencies are independent, each
// drawn from its revision's distribution for the interval (the
// distributions may drift over time, as long as both revisions serve the
// same traffic). Then d is an average of independent terms bounded in
// intervals of length 1/n_C (n_C of them) and 1/n_B (n_B of them), whose
// squared lengths sum to 1/m. Hoeffding's lemma (Hoeffding, "Probability
// inequalities for sums of bounded random variables", JASA 1963) gives
// E[exp(s·(d − E[d])) | past] ≤ exp(s²/(8m)), so with s = 4m·λ, for every
// λ ≥ 0,
//
//	E[exp(4m·(λ·d − λ²/2)) | past] ≤ exp(4m·λ·E[d]) ≤ 1 under H_F,
//
// since E[d] = P(L_C > (1+Tolerance)q_t) − P(L_B > q_t) ≤ 0 there. The
// product of these factors over intervals, E_t(λ), is therefore a
// non-negative supermartingale with E_0 = 1 for each λ, and so is a
// mixture over λ — here 40 bets log-spaced from 0.005 to 1, weighted by a
// normal prior on log λ (standard deviation 0.75) centred on the
// difference of shares a canary slowed by Regression would make, as
// estimated from the baseline's observations before the first interval
// weighed (clamped to [0.02, 0.5]). Ville's inequality, as for
// [Sequential], bounds the chance that the mixture ever reaches 1/Alpha by
// Alpha, whatever the number of looks. This is the sub-Gaussian mixture
// martingale of Robbins (1970) and Howard, Ramdas, McAuliffe and Sekhon
// (Ann. Statist. 2021, section 3), applied to Hoeffding-bounded
// increments.
//
// The Pass side mirrors it: the canary's threshold is Regression·q_t,
// the increment is a_B/n_B − a_C/n_C, whose mean is at most 0 under H_P,
// and its mixture reaching 1/Beta (after MinSamples canary requests)
// passes the canary: the chance of ever passing a canary Regression times
// slower or worse is at most Beta.
//
// Why this test. At the median the share of slow requests is about one
// half, where Hoeffding's variance bound of 1/4 per request is exact, so
// the test loses nothing to it; a +20% shift of a log-normal latency with
// shape 0.5 raises the canary's share above the baseline's median from
// 50% to Φ(ln 1.2/0.5) = 64%. The conditional binomial model of
// [Sequential] is also valid for these counts when Tolerance is folded
// into the threshold (given the number of slow requests, the canary's
// share is hypergeometric, less dispersed than the binomial), but for
// shares near one half it overstates the variance about twofold (the
// finite-population factor 1 − K/N), and so needs about twice the
// requests. For tail latency (the p99) the opposite holds: exceedances of
// a tail objective are rare, and counting them as failures for
// [Sequential] is the better test.
//
// Caveats. The threshold sits on a bucket bound, so the judge resolves
// regressions only as finely as the buckets near the median; with
// decade-spaced buckets (0.1 s, 0.25 s) it sees a +20% shift only where
// the baseline's median happens to lie near a bound. A histogram that
// changes its bounds starts the threshold afresh. The judge compares the
// median: a regression confined to the tail, leaving the median alone, is
// not its to find.
//
// The benchmark in internal/sim (go run ./internal/sim) measures false
// rollbacks and time to detection against Flagger- and Argo-style
// threshold checks on simulated traffic.
package judge
