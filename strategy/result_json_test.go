package strategy_test

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/glidepath/glidepath/strategy"
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
	v := strategy.Verdict{Analyzer: "errors", Outcome: strategy.Fail, Reason: "too many", At: t0.Add(time.Minute)}
	st := strategy.State{Stable: "v1", Canary: "v2", Weight: 10, Replicas: strategy.Replicas{Stable: 4, Canary: 1}}
	return strategy.Result{
		Release: "v1->v2", Strategy: "canary", Stable: "v1", Canary: "v2",
		Phase: strategy.PhaseRolledBack, Reason: "analysis failed", Final: strategy.State{Stable: "v1"},
		Steps:           []strategy.StepResult{{Index: 0, Kind: strategy.StepApply, State: st, Started: t0, Finished: t0.Add(time.Second)}},
		Verdicts:        []strategy.Verdict{v},
		RollbackStarted: t0.Add(2 * time.Minute), RollbackFinished: t0.Add(3 * time.Minute), FailedAt: t0.Add(time.Minute),
		Started: t0, Finished: t0.Add(4 * time.Minute), Err: "analysis failed", JournalErr: "disk full",
	}
}

// Every field survives a round trip through JSON, each under one name.
func TestResultJSONRoundTrip(t *testing.T) {
	in := fullResult()
	if z := zeroFields(in); len(z) > 0 {
		t.Fatalf("fullResult leaves %v zero", z)
	}
	data, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out strategy.Result
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip changed the result:\n in %+v\nout %+v", in, out)
	}
	for _, old := range []string{`"stableRevision"`, `"canaryRevision"`, `"outcome":"RolledBack"`} {
		if strings.Contains(string(data), old) {
			t.Errorf("encoded result uses the earlier spelling %s:\n%s", old, data)
		}
	}
	for _, key := range []string{`"stable":"v1"`, `"canary":"v2"`, `"phase":"RolledBack"`} {
		if !strings.Contains(string(data), key) {
			t.Errorf("encoded result lacks %s:\n%s", key, data)
		}
	}
}

// testdata/result-v0.json is a Result as glidepath encoded it before its
// fields had one spelling ("stableRevision", "canaryRevision"): it still
// decodes whole.
func TestResultReadsEarlierSpelling(t *testing.T) {
	data, err := os.ReadFile("testdata/result-v0.json")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"stableRevision"`) {
		t.Fatal("testdata/result-v0.json is not in the earlier spelling")
	}
	var r strategy.Result
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	if r.Release != "v1->v2" || r.Strategy != "test-canary" || r.Stable != "v1" || r.Canary != "v2" ||
		r.Phase != strategy.PhaseRolledBack || r.Final != (strategy.State{Stable: "v1", Replicas: strategy.Replicas{Stable: 4}}) ||
		len(r.Steps) != 3 || len(r.Verdicts) != 1 || r.Verdicts[0].Outcome != strategy.Fail ||
		!r.Started.Equal(t0) || !r.FailedAt.Equal(t0.Add(time.Minute)) || !r.RollbackFinished.Equal(t0.Add(time.Minute)) ||
		!r.Finished.Equal(t0.Add(time.Minute)) || !strings.Contains(r.Err, "analysis failed") {
		t.Fatalf("decoded %+v", r)
	}
	// Encoded again, it is in the current spelling and decodes the same.
	again, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var r2 strategy.Result
	if err := json.Unmarshal(again, &r2); err != nil || !reflect.DeepEqual(r, r2) || strings.Contains(string(again), "Revision\"") {
		t.Fatalf("re-encoded %s: %+v (%v)", again, r2, err)
	}
}

// A field given in both spellings takes the current one; the earlier one
// alone is enough; a malformed document is an error.
func TestResultSpellings(t *testing.T) {
	var r strategy.Result
	if err := json.Unmarshal([]byte(`{"stable":"a","stableRevision":"b","canaryRevision":"c","phase":"Promoted","outcome":"RolledBack"}`), &r); err != nil {
		t.Fatal(err)
	}
	if r.Stable != "a" || r.Canary != "c" || r.Phase != strategy.PhasePromoted {
		t.Fatalf("decoded %+v", r)
	}
	r = strategy.Result{}
	if err := json.Unmarshal([]byte(`{"outcome":"Degraded"}`), &r); err != nil || r.Phase != strategy.PhaseDegraded {
		t.Fatalf("outcome alone: %+v %v", r, err)
	}
	if err := json.Unmarshal([]byte(`{"stable":1}`), &r); err == nil {
		t.Fatal("a number for a revision decoded")
	}
}

// TimeToRestore runs from the failure to the end of the rollback.
func TestResultTimeToRestore(t *testing.T) {
	r := fullResult()
	if got := r.TimeToRestore(); got != 2*time.Minute {
		t.Errorf("TimeToRestore = %v, want 2m", got)
	}
	r.RollbackFinished = time.Time{}
	if got := r.TimeToRestore(); got != 0 {
		t.Errorf("without a rollback TimeToRestore = %v, want 0", got)
	}
}
