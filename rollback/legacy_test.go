package rollback_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/glidepath/glidepath/dora"
	"github.com/glidepath/glidepath/rollback"
	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/strategytest"
)

// zeroFields names the exported fields of the struct v that hold their
// zero value, so that a test filling every field notices a field added
// later.
func zeroFields(v any) []string {
	var out []string
	rv := reflect.ValueOf(v)
	for i := range rv.NumField() {
		if f := rv.Type().Field(i); f.IsExported() && rv.Field(i).IsZero() {
			out = append(out, f.Name)
		}
	}
	return out
}

func fullResult() strategy.Result {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	st := strategy.State{Stable: "v1", Canary: "v2", Weight: 10, Replicas: strategy.Replicas{Stable: 4, Canary: 1}}
	return strategy.Result{
		Release: "v1->v2", Strategy: "canary", Stable: "v1", Canary: "v2",
		Phase: strategy.PhaseRolledBack, Reason: "analysis failed", Final: strategy.State{Stable: "v1"},
		Steps:           []strategy.StepResult{{Index: 0, Kind: strategy.StepApply, State: st, Started: t0, Finished: t0.Add(time.Second)}},
		Verdicts:        []strategy.Verdict{{Analyzer: "errors", Outcome: strategy.Fail, Reason: "too many", At: t0.Add(time.Minute)}},
		RollbackStarted: t0.Add(2 * time.Minute), RollbackFinished: t0.Add(3 * time.Minute), FailedAt: t0.Add(time.Minute),
		Started: t0, Finished: t0.Add(4 * time.Minute), Err: "analysis failed", JournalErr: "disk full",
	}
}

// roundTrip encodes in and decodes it into a new value of its type.
func roundTrip[T any](t *testing.T, in T) (T, []byte) {
	t.Helper()
	data, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out T
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("decoding %s: %v", data, err)
	}
	return out, data
}

// An Entry and a Progress embed a strategy.Result and inherit its
// UnmarshalJSON; their own keeps every field of theirs. Every field is
// set, so a field that one of them forgot would come back zero.
func TestEntryAndProgressJSONRoundTrip(t *testing.T) {
	res := fullResult()
	t0 := res.Started
	e := rollback.Entry{Result: res, Target: "svc", Journal: "000007", Undo: true, Resumed: 2, CommitTime: t0.Add(-time.Hour)}
	if z := append(zeroFields(e), zeroFields(res)...); len(z) > 0 {
		t.Fatalf("the entry leaves %v zero", z)
	}
	got, data := roundTrip(t, e)
	if !reflect.DeepEqual(got, e) {
		t.Fatalf("entry round trip:\n in %+v\nout %+v\n%s", e, got, data)
	}
	if strings.Contains(string(data), `"outcome":"RolledBack"`) || !strings.Contains(string(data), `"phase":"RolledBack"`) {
		t.Errorf("entry not in the current spelling: %s", data)
	}

	p := rollback.Progress{Result: res, Fingerprint: "fp", Cause: "analysis failed", Starts: 2, Updated: t0.Add(5 * time.Minute),
		Checkpoint: strategy.Checkpoint{Fingerprint: "fp", Step: 3, State: res.Final, Failures: 1, Rollback: true, Promote: true},
		Intents:    []strategy.State{res.Final}, Applied: []strategy.State{res.Final}, Records: 9}
	if z := zeroFields(p); len(z) > 0 {
		t.Fatalf("the progress leaves %v zero", z)
	}
	if gotP, data := roundTrip(t, p); !reflect.DeepEqual(gotP, p) {
		t.Fatalf("progress round trip:\n in %+v\nout %+v\n%s", p, gotP, data)
	}
}

// An entry in the earlier spelling ("outcome" for the phase) decodes; in
// both spellings, the current one wins; a malformed entry is an error.
func TestEntryReadsEarlierSpelling(t *testing.T) {
	var e rollback.Entry
	if err := json.Unmarshal([]byte(`{"target":"svc","release":"r","stable":"v1","canary":"v2","outcome":"RolledBack","undo":true,"resumed":1}`), &e); err != nil {
		t.Fatal(err)
	}
	if e.Target != "svc" || e.Release != "r" || e.Stable != "v1" || e.Canary != "v2" || e.Phase != strategy.PhaseRolledBack || !e.Undo || e.Resumed != 1 {
		t.Fatalf("decoded %+v", e)
	}
	e = rollback.Entry{}
	if err := json.Unmarshal([]byte(`{"phase":"Promoted","outcome":"RolledBack","stableRevision":"x","stable":"v1"}`), &e); err != nil || e.Phase != strategy.PhasePromoted || e.Stable != "v1" {
		t.Fatalf("both spellings: %+v %v", e, err)
	}
	for _, bad := range []string{`{"target":1}`, `{"phase":2}`, `[`} {
		if err := json.Unmarshal([]byte(bad), &e); err == nil {
			t.Errorf("%s decoded", bad)
		}
	}
}

// copyDir copies the files under src to dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// testdata/history-v0 is a file store written by glidepath before the
// history entries shared strategy.Result's spelling: four releases of
// "svc" (v1->v2 promoted with a commit time, v2->v3 rolled back, v2->v4
// promoted, and an immediate undo of v4), and the DORA metrics that
// version computed from them (dora.txt). This version reads the same
// history, computes the same metrics, and appends to it.
func TestReadsHistoryOfAnEarlierVersion(t *testing.T) {
	dir := t.TempDir()
	copyDir(t, "testdata/history-v0", dir)
	raw, err := os.ReadFile(filepath.Join(dir, "t-svc", "target.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"outcome":"Promoted"`) || strings.Contains(string(raw), `"phase"`) {
		t.Fatal("testdata/history-v0 is not in the earlier spelling")
	}
	fs, err := rollback.OpenFileStore(dir, rollback.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m := newManager(fs, "new")
	hist, err := m.History(t.Context(), "svc")
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	type want struct {
		release        string
		stable, canary strategy.Revision
		phase          strategy.Phase
		undo           bool
		commit         bool
	}
	wants := []want{
		{"v1->v2", "v1", "v2", strategy.PhasePromoted, false, true},
		{"v2->v3", "v2", "v3", strategy.PhaseRolledBack, false, false},
		{"v2->v4", "v2", "v4", strategy.PhasePromoted, false, true},
		{"undo v4->v2", "v4", "v2", strategy.PhasePromoted, true, true},
	}
	if len(hist) != len(wants) {
		t.Fatalf("%d entries, want %d", len(hist), len(wants))
	}
	for i, w := range wants {
		e := hist[i]
		if e.Target != "svc" || e.Release != w.release || e.Stable != w.stable || e.Canary != w.canary || e.Phase != w.phase ||
			e.Undo != w.undo || e.CommitTime.IsZero() == w.commit || e.Journal != fmt.Sprintf("%06d", i+1) ||
			e.Started.Before(t0) || e.Finished.Before(e.Started) || e.Final.Stable == "" {
			t.Errorf("entry %d: %+v", i, e)
		}
	}
	if rb := hist[1]; rb.FailedAt.IsZero() || rb.RollbackStarted.IsZero() || rb.RollbackFinished.IsZero() ||
		len(rb.Verdicts) != 1 || rb.Verdicts[0].Outcome != strategy.Fail || !strings.Contains(rb.Reason, "analysis failed") {
		t.Errorf("rolled-back entry: %+v", rb)
	}
	if hist[0].LeadTime() != 3*time.Hour+80*time.Second+100*time.Microsecond {
		t.Errorf("lead time %v", hist[0].LeadTime())
	}

	// The same metrics as the version that wrote the history.
	golden, err := os.ReadFile("testdata/history-v0/dora.txt")
	if err != nil {
		t.Fatal(err)
	}
	met, err := dora.Compute(hist, dora.Window{From: t0.AddDate(0, 0, -1), To: t0.AddDate(0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	var got strings.Builder
	fmt.Fprintf(&got, "%+v\n", met)
	if _, err := met.WriteTo(&got); err != nil {
		t.Fatal(err)
	}
	if got.String() != string(golden) {
		t.Errorf("metrics differ from the earlier version's:\n%s\nwant\n%s", got.String(), golden)
	}

	// A new release appends to the history: the old entries keep their
	// values, the new one is written in the current spelling.
	var after []rollback.Entry
	synctest.Test(t, func(t *testing.T) {
		tgt := strategytest.NewTarget(stateOf("v2"))
		if _, err := release(t, m, tgt, "v2", "v5", strategy.Pass); err != nil {
			t.Fatal(err)
		}
		if after, err = m.History(t.Context(), "svc"); err != nil {
			t.Fatal(err)
		}
	})
	if len(after) != 5 || !reflect.DeepEqual(after[:4], hist) || after[4].Canary != "v5" || after[4].Phase != strategy.PhasePromoted {
		t.Fatalf("history after a new release: %+v", after)
	}
	// The record the new release wrote lives in its lease epoch's file
	// (target.N.json, the highest N).
	raw, err = os.ReadFile(newestTargetRecord(t, filepath.Join(dir, "t-svc")))
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		History []map[string]json.RawMessage `json:"history"`
	}
	if err := json.Unmarshal(raw, &rec); err != nil {
		t.Fatal(err)
	}
	for i, e := range rec.History {
		if _, ok := e["phase"]; !ok || e["outcome"] != nil {
			t.Errorf("rewritten entry %d is not in the current spelling: %v", i, e)
		}
	}
}

// newestTargetRecord returns the path of the target record written by the
// newest lease epoch in a target's directory of a FileStore.
func newestTargetRecord(t *testing.T, dir string) string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "target.*.json"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no epoch target record in %s (%v)", dir, err)
	}
	best, bestN := "", uint64(0)
	for _, name := range names {
		num := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(name), "target."), ".json")
		n, err := strconv.ParseUint(num, 10, 64)
		if err == nil && (best == "" || n > bestN) {
			best, bestN = name, n
		}
	}
	if best == "" {
		t.Fatalf("no epoch target record in %s: %v", dir, names)
	}
	return best
}
