package rollback_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/glidepath/glidepath/rollback"
	"github.com/glidepath/glidepath/strategy"
)

func benchRecord(i int) strategy.Record {
	s := strategy.State{Stable: "sha256:1111", Canary: "sha256:2222", Weight: i % 100, Replicas: strategy.Replicas{Stable: 10, Canary: 3}}
	return strategy.Record{Kind: strategy.RecordIntent, Release: "checkout v1->v2", At: time.Unix(1700000000, 0), Step: i % 12, State: &s}
}

// BenchmarkAppend measures one durable journal append (fenced; for the
// file store: framed, checksummed and fsynced).
func BenchmarkAppend(b *testing.B) {
	for name, open := range map[string]func() rollback.Store{
		"mem": func() rollback.Store { return rollback.NewMemStore() },
		"file": func() rollback.Store {
			s, err := rollback.OpenFileStore(b.TempDir(), rollback.FileOptions{})
			if err != nil {
				b.Fatal(err)
			}
			return s
		},
	} {
		b.Run(name, func(b *testing.B) {
			s := open()
			l, err := s.Acquire(b.Context(), "svc", "bench", time.Hour)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := s.Append(b.Context(), l, "j", benchRecord(i)); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkJournalRead measures reading and verifying a journal of n
// records from the file store, and replaying it into a checkpoint.
func BenchmarkJournalRead(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			s, err := rollback.OpenFileStore(b.TempDir(), rollback.FileOptions{})
			if err != nil {
				b.Fatal(err)
			}
			l, _ := s.Acquire(b.Context(), "svc", "bench", time.Hour)
			for i := range n {
				if err := s.Append(b.Context(), l, "j", benchRecord(i)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				recs, err := s.Journal(b.Context(), "svc", "j")
				if err != nil || len(recs) != n {
					b.Fatal(err)
				}
				if p := rollback.Replay(recs); p.Records != n {
					b.Fatal(p.Records)
				}
			}
		})
	}
}
