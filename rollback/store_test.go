package rollback_test

import (
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/glidepath/glidepath/rollback"
	"github.com/glidepath/glidepath/strategy"
)

// advance lets d pass on the synctest bubble's fake clock.
func advance(d time.Duration) { <-time.After(d) }

func stores(t *testing.T) map[string]func(t *testing.T) rollback.Store {
	return map[string]func(t *testing.T) rollback.Store{
		"mem": func(*testing.T) rollback.Store { return rollback.NewMemStore() },
		"file": func(t *testing.T) rollback.Store {
			s, err := rollback.OpenFileStore(t.TempDir(), rollback.FileOptions{})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
	}
}

func rec(kind strategy.RecordKind, step int) strategy.Record {
	return strategy.Record{Kind: kind, Release: "r", Step: step, At: time.Now()}
}

func TestStoreLeasesAndFencing(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := t.Context()
				s := open(t)
				const ttl = 10 * time.Second
				a, err := s.Acquire(ctx, "svc", "a", ttl)
				if err != nil {
					t.Fatal(err)
				}
				if a.Token != 1 || a.Owner != "a" || !a.Expires.Equal(time.Now().Add(ttl)) {
					t.Fatalf("lease %+v", a)
				}
				for _, owner := range []string{"b", "a"} {
					_, err = s.Acquire(ctx, "svc", owner, ttl)
					var held *rollback.LeaseHeldError
					if !errors.Is(err, rollback.ErrLeaseHeld) || !errors.As(err, &held) || held.Owner != "a" || !held.Expires.Equal(a.Expires) {
						t.Fatalf("second acquire by %s: %v", owner, err)
					}
					if !strings.Contains(err.Error(), `"a"`) || !strings.Contains(err.Error(), a.Expires.Format(time.RFC3339)[:10]) {
						t.Fatalf("error does not name the holder and expiry: %v", err)
					}
				}
				// Another target is independent.
				if _, err := s.Acquire(ctx, "other", "b", ttl); err != nil {
					t.Fatal(err)
				}
				if err := s.Append(ctx, a, "j1", rec(strategy.RecordStarted, 0)); err != nil {
					t.Fatal(err)
				}
				// Renewal extends the lease past the original expiry.
				advance(ttl / 2)
				a, err = s.Renew(ctx, a, ttl)
				if err != nil || !a.Expires.Equal(time.Now().Add(ttl)) {
					t.Fatalf("renew: %+v %v", a, err)
				}
				advance(ttl * 3 / 4)
				if err := s.Append(ctx, a, "j1", rec(strategy.RecordStep, 1)); err != nil {
					t.Fatalf("append within the renewed lease: %v", err)
				}
				// Expired: no writes, even though nobody took over.
				advance(ttl)
				if err := s.Append(ctx, a, "j1", rec(strategy.RecordStep, 2)); !errors.Is(err, rollback.ErrLeaseLost) || !strings.Contains(err.Error(), "expired") {
					t.Fatalf("append on an expired lease: %v", err)
				}
				// Taken over: a larger token; the old holder is fenced off.
				b, err := s.Acquire(ctx, "svc", "b", ttl)
				if err != nil || b.Token <= a.Token {
					t.Fatalf("takeover: %+v %v", b, err)
				}
				if err := s.Append(ctx, a, "j1", rec(strategy.RecordStep, 2)); !errors.Is(err, rollback.ErrLeaseLost) || !strings.Contains(err.Error(), "taken over") {
					t.Fatalf("append by the old holder: %v", err)
				}
				if _, err := s.Renew(ctx, a, ttl); !errors.Is(err, rollback.ErrLeaseLost) {
					t.Fatalf("renew by the old holder: %v", err)
				}
				if err := s.Release(ctx, a); !errors.Is(err, rollback.ErrLeaseLost) {
					t.Fatalf("release by the old holder: %v", err)
				}
				if err := s.Update(ctx, "svc", &a, func(*rollback.TargetRecord) error { return nil }); !errors.Is(err, rollback.ErrLeaseLost) {
					t.Fatalf("fenced update by the old holder: %v", err)
				}
				if err := s.Append(ctx, b, "j1", rec(strategy.RecordStep, 3)); err != nil {
					t.Fatal(err)
				}
				recs, err := s.Journal(ctx, "svc", "j1")
				if err != nil {
					t.Fatal(err)
				}
				var steps []int
				for _, r := range recs {
					steps = append(steps, r.Step)
				}
				if len(steps) != 3 || steps[0] != 0 || steps[1] != 1 || steps[2] != 3 {
					t.Fatalf("journal steps %v, want [0 1 3]", steps)
				}
				// Released: anyone may acquire at once, with a larger token.
				if err := s.Release(ctx, b); err != nil {
					t.Fatal(err)
				}
				c, err := s.Acquire(ctx, "svc", "c", ttl)
				if err != nil || c.Token <= b.Token {
					t.Fatalf("acquire after release: %+v %v", c, err)
				}
				// Updates are atomic and persistent.
				err = s.Update(ctx, "svc", &c, func(tr *rollback.TargetRecord) error {
					tr.Seq = 7
					tr.Active = &rollback.Active{Journal: "j1", Release: "r"}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				boom := errors.New("boom")
				if err := s.Update(ctx, "svc", nil, func(tr *rollback.TargetRecord) error { tr.Seq = 99; return boom }); !errors.Is(err, boom) {
					t.Fatalf("update error: %v", err)
				}
				tr, err := s.Load(ctx, "svc")
				if err != nil || tr.Seq != 7 || tr.Active == nil || tr.Active.Journal != "j1" || tr.Target != "svc" {
					t.Fatalf("load: %+v %v", tr, err)
				}
				if recs, err := s.Journal(ctx, "svc", "never-written"); err != nil || len(recs) != 0 {
					t.Fatalf("unwritten journal: %v %v", recs, err)
				}
			})
		})
	}
}

func TestManagerValidate(t *testing.T) {
	err := (&rollback.Manager{LeaseTTL: -1, Keep: -1, Window: -2}).Validate()
	if !errors.Is(err, strategy.ErrInvalidConfig) {
		t.Fatalf("got %v", err)
	}
	for _, want := range []string{"no Store", "no Owner", "LeaseTTL", "Keep", "Window"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %q: %v", want, err)
		}
	}
	if err := newManager(rollback.NewMemStore(), "a").Validate(); err != nil {
		t.Fatal(err)
	}
	var nilm *rollback.Manager
	if err := nilm.Validate(); !errors.Is(err, strategy.ErrInvalidConfig) {
		t.Fatalf("nil manager: %v", err)
	}
}
