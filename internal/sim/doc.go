// Command sim is glidepath's detection benchmark: it simulates canary
// releases and compares, on the same simulated traffic, how often and how
// fast different judges roll them back.
//
// Usage:
//
//	go run ./internal/sim [-runs 2000] [-quick] [-seed 1] [-workers N] [-minutes 30]
//
// Flags:
//
//	-runs     simulated releases per scenario and traffic level (default 2000)
//	-quick    200 runs per cell, for a fast look (overrides -runs)
//	-seed     random seed; the same seed prints the same table (default 1)
//	-workers  parallel workers (default GOMAXPROCS); results do not depend on it
//	-minutes  maximum release duration in minutes (default 30)
//
// Model. The baseline fails 0.5% of requests. The canary takes 10% of the
// traffic, so the baseline serves 9 requests for each canary request; the
// canary serves 1, 10 or 100 requests per second (low, medium, high
// traffic). Scenarios: errors A/A (the canary fails as often as the
// baseline), errors 2× and 4× (it fails twice or four times as often),
// and latency A/A and +20% (log-normal latency with a 100 ms median and
// shape 0.5; the regression multiplies every quantile by 1.2). Every judge
// evaluates once per simulated minute, for at most 30 minutes; a release
// that is not rolled back by then is promoted.
//
// Judges:
//
//   - flagger threshold=1 and threshold=5: a check per minute (success rate
//     ≥ 99%, or p99 latency ≤ 1.1× the baseline's true p99), rolled back
//     once the number of failed checks reaches Flagger's threshold.
//   - argo failureLimit=2: the same check, failing when failed measurements
//     exceed Argo Rollouts' failureLimit (on the 3rd).
//   - mann-whitney 10m window: the comparison judge's classifier (Kayenta's
//     Mann–Whitney classifier at 98% confidence, direction increase) on the
//     per-minute error rates or median latencies since the start, judged at
//     10, 20 and 30 minutes.
//   - sequential: on error scenarios the sequential judge with its
//     defaults (Alpha 0.01, Beta 0.05, Tolerance 0, Regression 2), fed
//     each minute's counts; on latency scenarios the sequential latency
//     judge with its defaults (Alpha 0.01, Beta 0.05, Tolerance 0,
//     Regression 1.2), fed each minute's latency histograms, its first
//     threshold taken from a minute of the baseline's traffic before the
//     release (as the judge does from its first reading). A Pass promotes
//     the release.
//
// The table gives, per scenario and traffic level, the share of runs
// rolled back (false rollbacks on A/A rows, detections otherwise) and the
// median and 90th percentile minutes to rollback among them. For
// regressions it also gives the expected length of Wald's sequential
// probability ratio test that knows the baseline exactly (α 0.01, β 0.05):
// its failure rate, or its latency distribution, of which it reads every
// canary request's latency rather than a histogram — a floor no judge can
// beat on average — its value when decisions can only happen once a
// minute, and the sequential judge's mean time relative to that. On the
// A/A rows it gives the same test's expected time to accept a healthy
// canary (against the 2× or +20% the sequential judges are tuned for),
// with the share of runs the sequential judge passed and its mean time to
// Pass relative to that floor. Means taken over the
// runs that decided are biased low when few runs decide in 30 minutes, so
// a ratio below 1 there is not a judge beating the floor. A summary checks
// the sequential judge's goals: false rollbacks at most 1% on A/A at every
// traffic level, and 2× regressions detected at least twice as fast
// (median) as the best threshold configuration whose false-rollback rate
// is no worse; and it gives the sequential latency judge's A/A false
// rollbacks and its detection of the +20% regression.
//
// Each run draws from its own seeded stream, so the table depends only on
// -seed and -runs. The binomial failure counts are drawn by geometric
// skipping. A minute's latencies are drawn as a histogram (bucket bounds a
// factor of 2^(1/8) apart from 50 to 200 ms, as a Prometheus native
// histogram would record them; the bucket counts a multinomial drawn as a
// chain of binomials, each exact in O(log n) steps), and the quantiles
// the threshold and Mann–Whitney judges read are order statistics of the
// same observations, drawn within the bucket their rank falls in; so
// every judge sees the same requests, and the full 2,000-run table takes
// seconds.
package main
