// Command sim is glidepath's detection benchmark: it simulates canary
// releases and measures, on the same simulated traffic, how often and how
// fast the sequential judges and threshold checks as Flagger and Argo
// Rollouts users write them roll releases back.
//
// Usage:
//
//	go run ./internal/sim [-runs 20000] [-reg-runs 2000] [-seeds 4] [-seed 1] [-only TEXT] [-quick] [-workers N] [-minutes 30] [-history 20] [-recorder]
//
// Flags:
//
//	-runs      releases per A/A (healthy canary) cell, split over the seeds (default 20000)
//	-reg-runs  releases per regression cell (default 2000)
//	-seeds     independent random streams per cell (default 4)
//	-seed      first seed; the same seeds print the same table (default 1)
//	-only      run only the cells whose row name contains TEXT ("clumps", "latency", "100 rps")
//	-quick     400 A/A and 200 regression runs per cell, for a fast look (the tests use it)
//	-workers   parallel workers (default GOMAXPROCS); results do not depend on it
//	-minutes   release duration in minutes (default 30)
//	-history   minutes of the baseline's past the sources can read (default 20, at most 20);
//	           0 gives the judges sources that cannot read the past at all (only
//	           judge.CountSource and judge.LatencySource, as an in-process counter)
//	-recorder  with -history 0: wrap each such source in a judge.Recorder that read it
//	           every minute of the 20 before the release, as one run for the life of
//	           a service would have
//
// The production path. Each run drives the sequential judges' Analyze —
// [judge.Sequential] on error cells, [judge.SequentialLatency] on latency
// cells, at their defaults — over a source of cumulative counters (and
// histograms) that also answers for the past, as the Prometheus source
// does (with -history 0, one that does not, as an in-process counter
// does not), on a virtual clock carried by the context (internal/vclock): no
// sleeping, no synctest. Once inline (Pass, Fail, or Inconclusive after
// 30 minutes) and once as background analysis that the release ends after
// 30 minutes with strategy.ErrPlanComplete (Fail at once, otherwise its
// last word). Inconclusive is counted as what it is in a release, a
// pause, never as a promotion.
//
// Model. One reading a minute. Unless a row says otherwise, the baseline
// fails 0.5% of requests and the canary takes 10% of the traffic; it
// serves 1, 10 or 100 requests a second. The baseline also served 20
// minutes before the release, drawn from the same model. Cells:
//
//   - independent errors: each request fails independently;
//   - clumps: failures arrive in clumps of geometric size (mean 3 or 10),
//     each clump wholly in one revision, at the rate that keeps the mean;
//   - bursts in both: in 5% of minutes a shared outage multiplies both
//     revisions' failure rates by 5;
//   - drifting baseline: both revisions' rates grow linearly to three
//     times their start over the release;
//   - low baseline rates 0.05% and 0.01%, canary weights 1% and 50%;
//   - regressions of 1.5×, 2× and 3× (the canary's rate over the
//     baseline's);
//   - latency: log-normal, 100 ms median, shape 0.5, recorded in
//     histograms with buckets 2^(1/8) apart (native-histogram schema 3);
//     +20% multiplies every quantile by 1.2; time-correlated latency
//     multiplies each revision's median every minute by exp(z), z an
//     AR(1) series with lag-one correlation 0.5 and standard deviation
//     0.05, separately for each revision.
//
// Threshold judges, on the same traffic: a check per minute (success
// rate ≥ 99%, or p99 latency ≤ 1.1× the baseline's true p99), rolled back
// once failed checks reach Flagger's threshold (1 or 5) or exceed Argo
// Rollouts' failureLimit (2); a release they never roll back is promoted.
//
// Output. A/A cells: false rollbacks with a 95% Wilson interval, the
// share promoted and the share undecided (a pause). Regression cells: the
// share detected, the median and 90th percentile minutes to detect, the
// mean length of Wald's SPRT that knows the baseline's rate (or latency
// distribution) and reads every canary request — a floor no judge can
// beat on average with independent data — and the median's ratio to it
// (the floor taken as at least one reading). A summary checks the goals:
// at most 1% false rollbacks in every A/A cell, inline and background; 2×
// regressions with independent errors detected with a median of at most
// 7 minutes at 10 canary requests a second and 1 minute at 100, with and
// without a history (sources that cannot read the past, such as an
// in-process counter, get the judges' no-history defaults).
//
// The output of the full command is in results.txt; with -history 0
// (every cell) in results-nohistory.txt. With -history 0 -recorder the
// table is the same as results.txt, line for line (the Recorder returns
// the readings the history would: checked with -quick, and for the 2x
// rows with the full run counts), since what the judge reads is then the
// same.
//
// Each run draws from its own stream (seed, cell, run), so the table
// depends only on the seeds and run counts. Runs are spread over a pool
// of workers, in chunks.
package main
