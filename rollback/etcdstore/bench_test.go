package etcdstore

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/glidepath/glidepath/rollback"
	"github.com/glidepath/glidepath/rollback/etcdstore/internal/etcdtest"
	"github.com/glidepath/glidepath/strategy"
)

// BenchmarkAppend measures journal appends (one durable, fenced record
// each, as the executor writes before every Apply) on etcd and on the file
// store, reporting appends per second and the 99th-percentile latency:
//
//	cd rollback/etcdstore && go test -run '^$' -bench Append -benchtime 2s
func BenchmarkAppend(b *testing.B) {
	state := strategy.State{Stable: "v1", Canary: "v2", Weight: 25, Replicas: strategy.Replicas{Stable: 4, Canary: 1}}
	rec := strategy.Record{Kind: strategy.RecordIntent, Release: "v1->v2", Step: 3, State: &state, At: time.Now()}
	run := func(b *testing.B, s rollback.Store) {
		ctx := context.Background()
		l, err := s.Acquire(ctx, "svc", "bench", time.Hour)
		if err != nil {
			b.Fatal(err)
		}
		lat := make([]time.Duration, 0, b.N)
		b.ResetTimer()
		start := time.Now()
		for range b.N {
			t0 := time.Now()
			if err := s.Append(ctx, l, "j", rec); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t0))
		}
		total := time.Since(start)
		b.StopTimer()
		slices.Sort(lat)
		b.ReportMetric(float64(b.N)/total.Seconds(), "appends/s")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	}
	b.Run("etcd", func(b *testing.B) {
		srv := etcdtest.Start(b)
		s, err := New(srv.Client(b), Options{Prefix: "bench/"})
		if err != nil {
			b.Fatal(err)
		}
		run(b, s)
	})
	b.Run("file", func(b *testing.B) {
		s, err := rollback.OpenFileStore(b.TempDir(), rollback.FileOptions{})
		if err != nil {
			b.Fatal(err)
		}
		run(b, s)
	})
}
