package etcdstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/glidepath/glidepath/rollback"
	"github.com/glidepath/glidepath/rollback/etcdstore/internal/etcdtest"
	"github.com/glidepath/glidepath/rollback/storetest"
	"github.com/glidepath/glidepath/strategy"
)

func TestMain(m *testing.M) {
	if helperMain() {
		return
	}
	goleak.VerifyTestMain(m)
}

var prefixes atomic.Int64

func newStore(t *testing.T, srv *etcdtest.Server) *Store {
	t.Helper()
	s, err := New(srv.Client(t), Options{Prefix: fmt.Sprintf("test-%d/", prefixes.Add(1))})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	srv := etcdtest.Start(t)
	storetest.TestStore(t, storetest.Harness{
		New: func(t *testing.T) rollback.Store { return newStore(t, srv) },
		Reopen: func(t *testing.T, s rollback.Store) rollback.Store {
			o, err := New(srv.Client(t), Options{Prefix: s.(*Store).Prefix()})
			if err != nil {
				t.Fatal(err)
			}
			return o
		},
		RealClock:   true,
		MinTTL:      time.Second,
		ExpiryGrace: time.Second, // etcd reaps expired leases every 500ms, through raft
		Corrupt: func(t *testing.T, s rollback.Store, target, journal string, i int) {
			es := s.(*Store)
			if _, err := es.cli.Put(t.Context(), es.JournalKey(target, journal, uint64(i)), `{"kind":`); err != nil {
				t.Fatal(err)
			}
		},
	})
}

// TestFenceIsInsideTheTransaction takes the lease over between the moment
// the writer decides to write and the moment etcd applies the write: a
// store that checked the lease before its transaction would write.
func TestFenceIsInsideTheTransaction(t *testing.T) {
	srv := etcdtest.Start(t)
	s := newStore(t, srv)
	other, err := New(srv.Client(t), Options{Prefix: s.Prefix()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	a, err := s.Acquire(ctx, "svc", "a", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Append(ctx, a, "j", strategy.Record{Kind: strategy.RecordStarted}); err != nil {
		t.Fatal(err)
	}
	var b rollback.Lease
	takeover := func(string) {
		// The lease key is deleted (as when etcd reaps an expired lease) and
		// another process acquires it.
		if _, err := s.cli.Delete(ctx, s.LeaseKey("svc")); err != nil {
			t.Error(err)
		}
		var err error
		if b, err = other.Acquire(ctx, "svc", "b", time.Minute); err != nil {
			t.Error(err)
		}
	}
	for _, write := range []struct {
		name string
		do   func() error
	}{
		{"append", func() error { return s.Append(ctx, a, "j", strategy.Record{Kind: strategy.RecordStep, Step: 1}) }},
		{"update", func() error {
			return s.Update(ctx, "svc", &a, func(tr *rollback.TargetRecord) error { tr.Seq = 42; return nil })
		}},
		{"release", func() error { return s.Release(ctx, a) }},
	} {
		t.Run(write.name, func(t *testing.T) {
			s.beforeTxn = takeover
			err := write.do()
			s.beforeTxn = nil
			if !errors.Is(err, rollback.ErrLeaseLost) {
				t.Fatalf("%s after a takeover inside the write: %v, want ErrLeaseLost", write.name, err)
			}
			if err := other.Release(ctx, b); err != nil {
				t.Fatalf("the new holder's lease was disturbed: %v", err)
			}
		})
	}
	recs, err := s.Journal(ctx, "svc", "j")
	if err != nil || len(recs) != 1 {
		t.Fatalf("journal has %d records (%v), want only the one written under the lease", len(recs), err)
	}
	if tr, err := s.Load(ctx, "svc"); err != nil || tr.Seq == 42 {
		t.Fatalf("fenced update landed: %+v %v", tr, err)
	}
}

func TestNewValidates(t *testing.T) {
	_, err := New(nil, Options{MaxTxnOps: 2, MaxValueBytes: -1})
	if !errors.Is(err, strategy.ErrInvalidConfig) {
		t.Fatalf("got %v", err)
	}
	for _, want := range []string{"no etcd client", "MaxTxnOps 2", "MaxValueBytes is negative"} {
		if !containsLine(err.Error(), want) {
			t.Errorf("error does not name %q: %v", want, err)
		}
	}
}

func TestLimits(t *testing.T) {
	srv := etcdtest.Start(t)
	s, err := New(srv.Client(t), Options{Prefix: "limits/", MaxValueBytes: 4096, MaxTxnOps: 8})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	l, err := s.Acquire(ctx, "svc", "a", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	big := strategy.Record{Kind: strategy.RecordStep, Reason: string(make([]byte, 5000))}
	if err := s.Append(ctx, l, "j", big); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("append of a 5000-byte record with a 4096-byte limit: %v", err)
	}
	err = s.Update(ctx, "svc", &l, func(tr *rollback.TargetRecord) error {
		for i := range 10 {
			tr.History = append(tr.History, rollback.Entry{Result: strategy.Result{Release: fmt.Sprint(i)}})
		}
		return nil
	})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("one update adding 10 entries with MaxTxnOps 8: %v", err)
	}
	if tr, err := s.Load(ctx, "svc"); err != nil || len(tr.History) != 0 {
		t.Fatalf("a refused update wrote: %+v %v", tr, err)
	}
}

func containsLine(s, sub string) bool {
	return strings.Contains(s, sub)
}
