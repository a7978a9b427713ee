package etcdstore

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/glidepath/glidepath/rollback"
	"github.com/glidepath/glidepath/rollback/etcdstore/internal/etcdtest"
	"github.com/glidepath/glidepath/strategy"
)

// testdata/history-v0.json holds the keys of target "svc" (its record and
// four history entries: v1->v2 promoted with a commit time, v2->v3 rolled
// back, v2->v4 promoted, an immediate undo of v4) as an earlier version
// of glidepath wrote them to etcd, before the entries shared
// strategy.Result's spelling ("outcome" for the phase). This version reads
// them, keeps them as they are when it appends an entry, and writes the
// new entry in the current spelling.
func TestReadsHistoryOfAnEarlierVersion(t *testing.T) {
	data, err := os.ReadFile("testdata/history-v0.json")
	if err != nil {
		t.Fatal(err)
	}
	var keys map[string]string
	if err := json.Unmarshal(data, &keys); err != nil {
		t.Fatal(err)
	}
	srv := etcdtest.Start(t)
	s := newStore(t, srv)
	for k, v := range keys {
		if _, err := s.cli.Put(t.Context(), s.Prefix()+k, v); err != nil {
			t.Fatal(err)
		}
	}
	tr, err := s.Load(t.Context(), "svc")
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		stable, canary strategy.Revision
		phase          strategy.Phase
		undo           bool
	}{
		{"v1", "v2", strategy.PhasePromoted, false},
		{"v2", "v3", strategy.PhaseRolledBack, false},
		{"v2", "v4", strategy.PhasePromoted, false},
		{"v4", "v2", strategy.PhasePromoted, true},
	}
	if len(tr.History) != len(want) || tr.Seq != 4 || len(tr.RolledBack) != 2 || len(tr.CommitTimes) != 2 {
		t.Fatalf("record %+v", tr)
	}
	for i, w := range want {
		e := tr.History[i]
		if e.Target != "svc" || e.Stable != w.stable || e.Canary != w.canary || e.Phase != w.phase || e.Undo != w.undo ||
			e.Started.IsZero() || e.Finished.Before(e.Started) || e.Final.Stable == "" {
			t.Errorf("entry %d: %+v", i, e)
		}
	}
	if rb := tr.History[1]; rb.TimeToRestore() <= 0 || len(rb.Verdicts) != 1 || rb.Verdicts[0].Outcome != strategy.Fail {
		t.Errorf("rolled-back entry %+v", rb)
	}
	if tr.History[0].LeadTime() < 3*time.Hour {
		t.Errorf("lead time %v", tr.History[0].LeadTime())
	}

	// Append an entry: the four old keys are kept byte for byte, the new
	// one is in the current spelling.
	err = s.Update(t.Context(), "svc", nil, func(tr *rollback.TargetRecord) error {
		tr.History = append(tr.History, rollback.Entry{Target: "svc", Journal: "000005",
			Result: strategy.Result{Release: "v2->v5", Stable: "v2", Canary: "v5", Phase: strategy.PhasePromoted, Finished: time.Now()}})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range keys {
		if !strings.Contains(k, "/h/") {
			continue
		}
		r, err := s.cli.Get(t.Context(), s.Prefix()+k)
		if err != nil || len(r.Kvs) != 1 || string(r.Kvs[0].Value) != v {
			t.Errorf("old entry %s was rewritten or lost (%v)", k, err)
		}
	}
	r, err := s.cli.Get(t.Context(), s.historyKey("svc", 4))
	if err != nil || len(r.Kvs) != 1 {
		t.Fatalf("new entry: %v", err)
	}
	if v := string(r.Kvs[0].Value); !strings.Contains(v, `"phase":"Promoted"`) || strings.Contains(v, `"outcome"`) {
		t.Errorf("new entry not in the current spelling: %s", v)
	}
	again, err := New(srv.Client(t), Options{Prefix: s.Prefix()})
	if err != nil {
		t.Fatal(err)
	}
	tr2, err := again.Load(t.Context(), "svc")
	if err != nil || len(tr2.History) != 5 || tr2.History[1].Phase != strategy.PhaseRolledBack || tr2.History[4].Canary != "v5" {
		t.Fatalf("reloaded %+v %v", tr2.History, err)
	}
}
