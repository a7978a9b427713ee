package dora_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/glidepath/glidepath/dora"
	"github.com/glidepath/glidepath/rollback"
	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/strategytest"
)

// at is 2025-03-<day> <hh>:<mm> UTC.
func at(day, hh, mm int) time.Time { return time.Date(2025, 3, day, hh, mm, 0, 0, time.UTC) }

const (
	promoted   = strategy.PhasePromoted
	rolledBack = strategy.PhaseRolledBack
	degraded   = strategy.PhaseDegraded
	stopped    = strategy.PhaseStopped
)

// history is a hand-built week of releases of target "web" (and one of
// another target), in no particular order.
func history() []rollback.Entry {
	return []rollback.Entry{
		// Before the window: not counted.
		{Target: "web", CommitTime: at(1, 0, 0).Add(-5 * time.Hour), Result: strategy.Result{Release: "r0", Stable: "v0", Canary: "v1", Phase: promoted,
			Started: at(1, 0, 0).Add(-2 * time.Hour), Finished: at(1, 0, 0).Add(-time.Hour)}},
		// A deployment with a lead time of 10:30 - 06:30 = 4h.
		{Target: "web", CommitTime: at(1, 6, 30), Result: strategy.Result{Release: "r1", Stable: "v1", Canary: "v2", Phase: promoted,
			Started: at(1, 10, 0), Finished: at(1, 10, 30)}},
		// Rolled back: a failure, restored 09:21:30 - 09:20 = 1m30s after
		// the Fail verdict. Not a deployment, so its commit time is not a
		// lead time.
		{Target: "web", CommitTime: at(2, 8, 0), Result: strategy.Result{Release: "r2", Stable: "v2", Canary: "v3", Phase: rolledBack,
			Started: at(2, 9, 0), Finished: at(2, 9, 22), FailedAt: at(2, 9, 20), RollbackFinished: at(2, 9, 21).Add(30 * time.Second)}},
		// A deployment (lead time 12:00 Mar 3 - 12:00 Mar 2 = 24h) that
		// the undo below takes away: a failure too.
		{Target: "web", CommitTime: at(2, 12, 0), Result: strategy.Result{Release: "r3", Stable: "v2", Canary: "v4", Phase: promoted,
			Started: at(3, 11, 0), Finished: at(3, 12, 0)}},
		// The undo of v4: restores the service 14:00 - 12:00 = 2h after
		// the deployment that caused the failure.
		{Target: "web", Undo: true, Result: strategy.Result{Release: "u1", Stable: "v4", Canary: "v2", Phase: promoted,
			Started: at(3, 13, 50), Finished: at(3, 14, 0)}},
		// The same revision name on another target is not undone by it.
		{Target: "api", Result: strategy.Result{Release: "a1", Stable: "v2", Canary: "v4", Phase: promoted,
			Started: at(3, 10, 0), Finished: at(3, 11, 0)}},
		// A deployment with a lead time of 09:00 - 07:00 = 2h.
		{Target: "web", CommitTime: at(5, 7, 0), Result: strategy.Result{Release: "r4", Stable: "v2", Canary: "v5", Phase: promoted,
			Started: at(5, 8, 0), Finished: at(5, 9, 0)}},
		// Degraded: a failure, never restored.
		{Target: "web", Result: strategy.Result{Release: "r5", Stable: "v5", Canary: "v6", Phase: degraded,
			Started: at(6, 10, 0), Finished: at(6, 10, 15), FailedAt: at(6, 10, 10)}},
		// Abandoned: neither a deployment nor a failure.
		{Target: "web", Result: strategy.Result{Release: "r6", Stable: "v5", Canary: "v7", Phase: stopped,
			Started: at(6, 11, 0), Finished: at(6, 12, 0)}},
		// A deployment without a commit time: no lead time.
		{Target: "web", Result: strategy.Result{Release: "r7", Stable: "v5", Canary: "v8", Phase: promoted,
			Started: at(7, 20, 0), Finished: at(7, 21, 0)}},
		// A deployment whose commit time is after it (clock skew): its
		// lead time is not positive and is left out.
		{Target: "web", CommitTime: at(7, 22, 30), Result: strategy.Result{Release: "r9", Stable: "v8", Canary: "v10", Phase: promoted,
			Started: at(7, 21, 30), Finished: at(7, 22, 0)}},
		// At the window's end, which is excluded.
		{Target: "web", CommitTime: at(7, 23, 0), Result: strategy.Result{Release: "r8", Stable: "v10", Canary: "v11", Phase: promoted,
			Started: at(7, 23, 30), Finished: at(8, 0, 0)}},
	}
}

// The week of March 1 to 8 (7 days), worked out by hand:
//
//   - Deployments: promoted, not undos, finished in [Mar 1, Mar 8):
//     r1, r3, a1, r4, r7, r9 = 6 (r0 is before, r8 at the excluded end,
//     u1 is an undo). PerDay = 6 / 7 = 0.857142...
//   - Lead times: r1 4h, r3 24h, r4 2h (a1 and r7 have no commit time,
//     r9's is negative) → sorted 2h, 4h, 24h; median 4h, from 3.
//   - Changes: the 6 deployments + r2 (rolled back) + r5 (degraded) = 8
//     (r6 stopped is not a change). Failures: r2, r5 and r3 (undone by
//     u1; a1 has the same revisions but another target) = 3.
//     Rate 3 / 8 = 0.375.
//   - Restores in the window: r2 1m30s (verdict to stable), r3 2h
//     (deployment to undo) → median (90s + 7200s) / 2 = 3645s = 1h0m45s,
//     from 2. r5 is never restored.
//   - Undos: u1 = 1. Unfinished: r6 = 1.
func TestComputeWeek(t *testing.T) {
	w := dora.Window{From: at(1, 0, 0), To: at(8, 0, 0)}
	m, err := dora.Compute(history(), w)
	if err != nil {
		t.Fatal(err)
	}
	want := dora.Metrics{
		Window:      w,
		Deployments: 6, PerDay: 6.0 / 7,
		LeadTime: 4 * time.Hour, LeadTimes: 3,
		Changes: 8, Failures: 3, FailureRate: 0.375,
		TimeToRestore: time.Hour + 45*time.Second, Restores: 2,
		Undos: 1, Unfinished: 1,
	}
	if m != want {
		t.Errorf("got  %+v\nwant %+v", m, want)
	}
}

// A window holding the undo but not the release it undid, worked out by
// hand (March 3, 13:00 to March 4, 00:00):
//
//   - No change finished in it: 0 deployments, 0 changes, rate 0.
//   - The failure the undo repaired began before it (with r3), so its
//     restore is not this window's: 0 restores.
//   - Undos: 1.
//
// And a window holding r3 but ending before the undo (March 3, 11:30 to
// 13:00): r3 is a deployment (lead time 24h) and, undone later, a failure
// (1 of 1), restored 14:00 - 12:00 = 2h after it. Four Keys likewise
// groups an incident's time to restore by when the incident was opened.
//
// And a rollback whose failure is detected just before a window ends and
// restored just after it: the restore belongs to the window of the
// failure.
func TestFailureAndRestoreBelongToTheWindowOfTheFailure(t *testing.T) {
	after, err := dora.Compute(history(), dora.Window{From: at(3, 13, 0), To: at(4, 0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if after.Changes != 0 || after.Failures != 0 || after.FailureRate != 0 || after.Deployments != 0 ||
		after.Restores != 0 || after.TimeToRestore != 0 || after.Undos != 1 {
		t.Errorf("window with the undo: %+v", after)
	}
	before, err := dora.Compute(history(), dora.Window{From: at(3, 11, 30), To: at(3, 13, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if before.Deployments != 1 || before.Changes != 1 || before.Failures != 1 || before.FailureRate != 1 ||
		before.LeadTime != 24*time.Hour || before.Restores != 1 || before.TimeToRestore != 2*time.Hour || before.Undos != 0 {
		t.Errorf("window with r3 only: %+v", before)
	}

	edge := []rollback.Entry{{Target: "web", Result: strategy.Result{Release: "late", Stable: "v1", Canary: "v2", Phase: rolledBack,
		Started: at(9, 23, 50), Finished: at(10, 0, 5), FailedAt: at(9, 23, 58), RollbackFinished: at(10, 0, 3)}}}
	day9, err := dora.Compute(edge, dora.Window{From: at(9, 0, 0), To: at(10, 0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	day10, err := dora.Compute(edge, dora.Window{From: at(10, 0, 0), To: at(11, 0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	// The change itself finished on the 10th: its failure counts there;
	// the restore (5 minutes) is the 9th's, when the failure began.
	if day9.Restores != 1 || day9.TimeToRestore != 5*time.Minute || day9.Changes != 0 {
		t.Errorf("day of the failure: %+v", day9)
	}
	if day10.Restores != 0 || day10.Changes != 1 || day10.Failures != 1 {
		t.Errorf("day of the restoration: %+v", day10)
	}
}

// With an even number of lead times the median is the mean of the two
// middle ones: 1h, 2h, 5h, 9h → (2h + 5h) / 2 = 3h30m. The mean (4h15m)
// would differ.
func TestMedianOfEvenCount(t *testing.T) {
	var h []rollback.Entry
	for i, lt := range []time.Duration{9 * time.Hour, time.Hour, 5 * time.Hour, 2 * time.Hour} {
		fin := at(10+i, 12, 0)
		h = append(h, rollback.Entry{Target: "web", CommitTime: fin.Add(-lt), Result: strategy.Result{Canary: strategy.Revision(rune('a' + i)), Phase: promoted,
			Started: fin.Add(-time.Minute), Finished: fin}})
	}
	m, err := dora.Compute(h, dora.Window{From: at(10, 0, 0), To: at(20, 0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if m.LeadTime != 3*time.Hour+30*time.Minute || m.LeadTimes != 4 {
		t.Errorf("median lead time %v of %d, want 3h30m of 4", m.LeadTime, m.LeadTimes)
	}
	// 4 deployments in 10 days.
	if m.PerDay != 0.4 {
		t.Errorf("PerDay = %v, want 0.4", m.PerDay)
	}
}

// An undo restores only the latest promoted release of the revision it
// took away; an earlier release of the same revision (later replaced,
// then released again) is not counted as failed twice. A rolled-back undo
// restores nothing.
func TestUndoMatchesLatestRelease(t *testing.T) {
	h := []rollback.Entry{
		{Target: "web", Result: strategy.Result{Release: "x1", Stable: "v1", Canary: "v2", Phase: promoted,
			Started: at(1, 9, 0), Finished: at(1, 10, 0)}},
		{Target: "web", Result: strategy.Result{Release: "x2", Stable: "v2", Canary: "v3", Phase: promoted,
			Started: at(2, 9, 0), Finished: at(2, 10, 0)}},
		{Target: "web", Result: strategy.Result{Release: "x3", Stable: "v3", Canary: "v2", Phase: promoted,
			Started: at(3, 9, 0), Finished: at(3, 10, 0)}},
		{Target: "web", Undo: true, Result: strategy.Result{Release: "bad undo", Stable: "v2", Canary: "v3", Phase: rolledBack,
			Started: at(3, 10, 30), Finished: at(3, 10, 40)}},
		{Target: "web", Undo: true, Result: strategy.Result{Release: "undo", Stable: "v2", Canary: "v3", Phase: promoted,
			Started: at(3, 11, 0), Finished: at(3, 11, 30)}},
	}
	m, err := dora.Compute(h, dora.Window{From: at(1, 0, 0), To: at(4, 0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	// x3 (finished 10:00 on the 3rd) is the one undone: 1 failure of 3,
	// restored 11:30 - 10:00 = 1h30m later. The rolled-back undo is not
	// an undo in the count.
	if m.Changes != 3 || m.Failures != 1 || m.Restores != 1 || m.TimeToRestore != 90*time.Minute || m.Undos != 1 {
		t.Errorf("got %+v", m)
	}
}

// Every invalid release and window problem is named at once.
func TestComputeValidates(t *testing.T) {
	h := []rollback.Entry{
		{Result: strategy.Result{Release: "ok", Phase: promoted, Finished: at(2, 0, 0)}},
		{Result: strategy.Result{Release: "no phase", Finished: at(2, 0, 0)}},
		{Result: strategy.Result{Release: "no finish", Phase: promoted}},
		{Result: strategy.Result{Release: "backwards", Phase: promoted,
			Started: at(3, 0, 0), Finished: at(2, 0, 0)}},
		{Result: strategy.Result{Release: "restored early", Phase: rolledBack, Finished: at(2, 0, 0), FailedAt: at(2, 0, 0), RollbackFinished: at(1, 0, 0)}},
	}
	_, err := dora.Compute(h, dora.Window{To: at(1, 0, 0)})
	if !errors.Is(err, strategy.ErrInvalidConfig) {
		t.Fatalf("Compute = %v, want ErrInvalidConfig", err)
	}
	for _, want := range []string{
		"window: From is zero",
		"release 1 (no phase): no phase",
		"release 2 (no finish): no finish time",
		"release 3 (backwards): finished (2025-03-02T00:00:00Z) before it started (2025-03-03T00:00:00Z)",
		"release 4 (restored early): restored (2025-03-01T00:00:00Z) before it failed (2025-03-02T00:00:00Z)",
	} {
		if !strategytest.HasProblem(err, want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strategytest.HasProblem(err, "(ok)") {
		t.Errorf("a valid release was reported:\n%v", err)
	}
	err = dora.Window{From: at(2, 0, 0), To: at(2, 0, 0)}.Validate()
	if !errors.Is(err, strategy.ErrInvalidConfig) || !strategytest.HasProblem(err, "is not after From") {
		t.Errorf("empty window: %v", err)
	}
}

// No releases: zero metrics, no division by zero.
func TestComputeEmpty(t *testing.T) {
	w := dora.Window{From: at(1, 0, 0), To: at(2, 0, 0)}
	m, err := dora.Compute(nil, w)
	if err != nil {
		t.Fatal(err)
	}
	if m != (dora.Metrics{Window: w}) {
		t.Errorf("got %+v", m)
	}
	var b strings.Builder
	if _, err := m.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"0.00/day", "lead time for changes  n/a", "change failure rate    n/a", "time to restore        n/a"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
}

type failWriter struct{ n int }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.n == 0 {
		return 0, errors.New("disk full")
	}
	f.n--
	return len(p), nil
}

// A write error is returned, not swallowed.
func TestWriteToError(t *testing.T) {
	m := dora.Metrics{Window: dora.Window{From: at(1, 0, 0), To: at(2, 0, 0)}}
	if _, err := m.WriteTo(&failWriter{n: 1}); err == nil || err.Error() != "disk full" {
		t.Errorf("WriteTo = %v, want the writer's error", err)
	}
}
