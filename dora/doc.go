// Package dora computes DORA's four key metrics of software delivery —
// deployment frequency, lead time for changes, change failure rate and
// time to restore service — from a target's release history.
//
// The history is a slice of [rollback.Entry], as package rollback keeps
// it ([rollback.Manager.History]) or built by hand: each entry is a
// [strategy.Result] with the target, the commit time and whether the
// release was an undo. [Compute] returns the [Metrics] of any time
// [Window], and [Metrics.WriteTo] prints them as a small text table.
//
// # Definitions
//
// DORA (the DevOps Research and Assessment programme behind the
// Accelerate book and the State of DevOps reports) defines the four keys
// in words; its Four Keys project (github.com/dora-team/fourkeys,
// METRICS.md) fixes the statistic of each. glidepath follows those:
//
//   - Deployment frequency: how often an organisation successfully
//     releases to production. Four Keys counts distinct deployments per
//     day. Here: Deployments is the number of changes promoted (phase
//     Promoted) whose Finished time is in the window, and PerDay is that
//     count divided by the window's length in days of 24 hours.
//
//   - Lead time for changes: the median time for a commit to be deployed
//     into production. Here: for each deployment in the window whose
//     CommitTime is known, Finished − CommitTime; as in Four Keys,
//     non-positive values (clock skew, a commit time attached after the
//     fact) are left out. The statistic is the median, the mean of the two
//     middle values for an even count (Four Keys' PERCENTILE_CONT 0.5).
//     Attach commit times with [rollback.Manager.SetCommitTime].
//
//   - Change failure rate: the number of failures per the number of
//     deployments (four deployments in a day of which one fails: 25%).
//     Here the denominator, Changes, counts every change that finished in
//     the window and reached production: promoted, rolled back or
//     degraded (a canary that was rolled back served production traffic,
//     and failed there). The numerator, Failures, counts those that were
//     rolled back, that are degraded (their rollback could not be
//     applied), or that were promoted and later undone by
//     [rollback.Manager.Undo], at any time after the window too. A failure
//     belongs to the window of the change that caused it.
//
//   - Time to restore service: for a failure, the median time from the
//     failure to the restoration. Here, for a release rolled back by
//     glidepath, from the moment the failure was detected (FailedAt: the
//     deciding Fail verdict, or the start of the rollback) to the stable
//     State restored (RollbackFinished); for a promoted release undone later,
//     glidepath does not know when the failure began, so, as Four Keys
//     does, the time runs from the deployment that caused the failure
//     (its Finished) to the restoration (the undo's Finished). A restore
//     belongs to the window in which its failure began (FailedAt, or the
//     undone deployment's Finished), as Four Keys groups incidents by
//     the time they were opened, whenever the restoration came; the
//     statistic is the median. A degraded release is never restored.
//
// Undos are remediations, not changes: they count in none of the four
// (Metrics.Undos reports them). Stopped releases (abandoned, or left for a
// resume that never came) are neither deployments nor failures
// (Metrics.Unfinished). A release is in a window when From <= t < To for
// the time that matters to the metric (Finished, or FailedAt for the
// restore of a rollback).
//
// # What these numbers are not
//
// DORA counts failures that users notice, whatever found them; glidepath
// sees only what its own analysis and undos found. A failure detected by
// an incident process and fixed forward is invisible here.
package dora
