package rollback_test

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/glidepath/glidepath/rollback"
	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/strategytest"
)

// frameOffsets returns the offset of every frame in a journal file.
func frameOffsets(t *testing.T, data []byte) []int64 {
	t.Helper()
	var offs []int64
	for off := 0; off < len(data); {
		offs = append(offs, int64(off))
		n := binary.BigEndian.Uint32(data[off+2:])
		off += 14 + int(n)
	}
	return offs
}

// writeJournal appends n records to a fresh FileStore journal and returns
// the store, its lease, and the journal's path.
func writeJournal(t *testing.T, n int) (*rollback.FileStore, rollback.Lease, string) {
	t.Helper()
	s, err := rollback.OpenFileStore(t.TempDir(), rollback.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.Acquire(t.Context(), "svc", "a", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := s.Append(t.Context(), l, "j", rec(strategy.RecordStep, i)); err != nil {
			t.Fatal(err)
		}
	}
	return s, l, s.JournalPath("svc", "j")
}

func TestJournalCorruptionIsReported(t *testing.T) {
	type damage struct {
		name   string
		record int // which frame is damaged
		at     func(off int64, data []byte) int64
	}
	payload := func(off int64, _ []byte) int64 { return off + 20 }
	for _, d := range []damage{
		{"payload of a middle record", 2, payload},
		{"payload of the final record", 4, payload},
		{"magic of a middle record", 1, func(off int64, _ []byte) int64 { return off }},
		{"length of the final record", 4, func(off int64, _ []byte) int64 { return off + 3 }},
		{"checksum of the first record", 0, func(off int64, _ []byte) int64 { return off + 11 }},
	} {
		t.Run(d.name, func(t *testing.T) {
			s, l, path := writeJournal(t, 5)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			offs := frameOffsets(t, data)
			at := d.at(offs[d.record], data)
			data[at] ^= 0x40
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			recs, err := s.Journal(t.Context(), "svc", "j")
			var ce *rollback.CorruptError
			if !errors.As(err, &ce) || !errors.Is(err, rollback.ErrCorrupt) || errors.Is(err, rollback.ErrTornRecord) {
				t.Fatalf("read: %v", err)
			}
			if ce.Path != path || ce.Offset != offs[d.record] || ce.Torn {
				t.Fatalf("error names %s@%d (torn %v), want %s@%d", ce.Path, ce.Offset, ce.Torn, path, offs[d.record])
			}
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("message does not name the file: %v", err)
			}
			if len(recs) != d.record {
				t.Fatalf("read %d good records before the damage, want %d", len(recs), d.record)
			}
			// The journal is never written past damage.
			if err := s.Append(t.Context(), l, "j", rec(strategy.RecordStep, 9)); !errors.Is(err, rollback.ErrCorrupt) {
				t.Fatalf("append after damage: %v", err)
			}
			after, _ := os.ReadFile(path)
			if string(after) != string(data) {
				t.Fatal("a damaged journal was modified")
			}
		})
	}
}

func TestJournalTornFinalRecord(t *testing.T) {
	for _, keep := range []int{1, 5, 13, 14, 30} { // bytes of the final frame that reached the file
		s, l, path := writeJournal(t, 4)
		data, _ := os.ReadFile(path)
		offs := frameOffsets(t, data)
		last := offs[3]
		if err := os.Truncate(path, last+int64(keep)); err != nil {
			t.Fatal(err)
		}
		recs, err := s.Journal(t.Context(), "svc", "j")
		var ce *rollback.CorruptError
		if !errors.Is(err, rollback.ErrTornRecord) || !errors.As(err, &ce) || !ce.Torn || ce.Offset != last || ce.Path != path {
			t.Fatalf("keep %d: %v", keep, err)
		}
		if errors.Is(err, rollback.ErrCorrupt) {
			t.Fatalf("keep %d: a torn record is reported as corrupt", keep)
		}
		if len(recs) != 3 {
			t.Fatalf("keep %d: %d records before the torn one, want 3", keep, len(recs))
		}
		// A fresh store (another process) appends: the torn bytes are cut
		// off and the new record follows the last complete one.
		s2, err := rollback.OpenFileStore(s.Dir(), rollback.FileOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := s2.Append(t.Context(), l, "j", rec(strategy.RecordStep, 7)); err != nil {
			t.Fatalf("keep %d: append after a torn record: %v", keep, err)
		}
		recs, err = s2.Journal(t.Context(), "svc", "j")
		if err != nil || len(recs) != 4 || recs[3].Step != 7 || recs[2].Step != 2 {
			t.Fatalf("keep %d: after repair: %v %v", keep, recs, err)
		}
	}
}

// stoppedRelease leaves a release of v1->v2 active and unfinished on a
// FileStore in dir (cancelled under OnCancel.Leave at its pause).
func stoppedRelease(t *testing.T, dir string, tgt *strategytest.Target) {
	t.Helper()
	s, err := rollback.OpenFileStore(dir, rollback.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	ro, err := newManager(s, "a").Start(ctx, "svc", strategy.Release{Target: tgt, Stable: "v1", Canary: "v2",
		Strategy: canaryPlan(strategytest.Script("checks", strategy.Pass)),
		Options:  strategy.Options{OnCancel: strategy.Policy{Leave: true}}})
	if err != nil {
		t.Fatal(err)
	}
	advance(30 * time.Second) // inside the one-minute pause
	cancel()
	if _, err := ro.Wait(t.Context()); !errors.Is(err, strategy.ErrStopped) {
		t.Fatalf("stop: %v", err)
	}
}

func TestResumeRefusesCorruptJournal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		tgt := strategytest.NewTarget(v1State)
		stoppedRelease(t, dir, tgt)
		s, _ := rollback.OpenFileStore(dir, rollback.FileOptions{})
		path := s.JournalPath("svc", "000001")
		data, _ := os.ReadFile(path)
		offs := frameOffsets(t, data)
		data[offs[1]+16] ^= 1
		os.WriteFile(path, data, 0o644)
		applied := len(tgt.States())

		m := newManager(s, "b")
		if _, err := m.Pending(t.Context(), "svc"); !errors.Is(err, rollback.ErrCorrupt) {
			t.Fatalf("pending: %v", err)
		}
		_, err := m.Resume(t.Context(), "svc", strategy.Release{Target: tgt, Strategy: canaryPlan(strategytest.Script("checks", strategy.Pass))}, rollback.ResumeOptions{})
		var ce *rollback.CorruptError
		if !errors.As(err, &ce) || ce.Offset != offs[1] || ce.Path != path {
			t.Fatalf("resume: %v", err)
		}
		if len(tgt.States()) != applied {
			t.Fatal("resume of a corrupt journal applied something")
		}
		// The lease was released: abandoning is possible, and records the release.
		e, err := m.Abandon(t.Context(), "svc", "journal damaged; target checked by hand")
		if err != nil || e.Phase != strategy.PhaseStopped || !strings.Contains(e.Reason, "checked by hand") {
			t.Fatalf("abandon: %+v %v", e, err)
		}
		if p, err := m.Pending(t.Context(), "svc"); p != nil || err != nil {
			t.Fatalf("pending after abandon: %v %v", p, err)
		}
	})
}

func TestResumeAfterTornRecord(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		tgt := strategytest.NewTarget(v1State)
		stoppedRelease(t, dir, tgt)
		s, _ := rollback.OpenFileStore(dir, rollback.FileOptions{})
		path := s.JournalPath("svc", "000001")
		data, _ := os.ReadFile(path)
		offs := frameOffsets(t, data)
		last := offs[len(offs)-1]
		os.Truncate(path, last+9)

		m := newManager(s, "b")
		p, err := m.Pending(t.Context(), "svc")
		if err != nil || p == nil || p.Torn == nil || p.Torn.Offset != last || p.Torn.Path != path {
			t.Fatalf("pending: %+v %v", p, err)
		}
		if p.Progress.Records != len(offs)-1 {
			t.Fatalf("replayed %d records, want %d", p.Progress.Records, len(offs)-1)
		}
		ro, err := m.Resume(t.Context(), "svc", strategy.Release{Target: tgt, Strategy: canaryPlan(strategytest.Script("checks", strategy.Pass))}, rollback.ResumeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if res, err := ro.Wait(t.Context()); err != nil || res.Phase != strategy.PhasePromoted {
			t.Fatalf("resumed release: %v %v", res.Phase, err)
		}
		if _, err := s.Journal(t.Context(), "svc", "000001"); err != nil {
			t.Fatalf("journal after resume: %v", err)
		}
		if tgt.State() != stateOf("v2") {
			t.Fatalf("target ends on %v", tgt.State())
		}
	})
}
