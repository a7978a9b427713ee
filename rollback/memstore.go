package rollback

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/glidepath/glidepath/strategy"
)

// MemStore is a [Store] in memory: for tests and for tools whose releases
// need not survive the process. Leases and fencing work as in every Store,
// so two Managers sharing a MemStore never run the same target at once.
// The zero value is ready to use; it is safe for concurrent use.
type MemStore struct {
	mu      sync.Mutex
	targets map[string]*memTarget
}

type memTarget struct {
	lease    Lease
	record   []byte              // JSON of the TargetRecord
	journals map[string][][]byte // JSON of each record
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore { return &MemStore{} }

var _ Store = (*MemStore)(nil)

func (s *MemStore) target(name string) *memTarget {
	if s.targets == nil {
		s.targets = map[string]*memTarget{}
	}
	t := s.targets[name]
	if t == nil {
		t = &memTarget{journals: map[string][][]byte{}}
		s.targets[name] = t
	}
	return t
}

// Acquire implements [Store].
func (s *MemStore) Acquire(ctx context.Context, target, owner string, ttl time.Duration) (Lease, error) {
	if err := ctx.Err(); err != nil {
		return Lease{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.target(target)
	l, err := acquire(t.lease, target, owner, ttl, time.Now())
	if err != nil {
		return Lease{}, err
	}
	t.lease = l
	return l, nil
}

// Renew implements [Store].
func (s *MemStore) Renew(ctx context.Context, l Lease, ttl time.Duration) (Lease, error) {
	if err := ctx.Err(); err != nil {
		return Lease{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.target(l.Target)
	now := time.Now()
	if err := fence(t.lease, l, now, false); err != nil {
		return Lease{}, err
	}
	t.lease.Expires = now.Add(ttl)
	return t.lease, nil
}

// Release implements [Store].
func (s *MemStore) Release(ctx context.Context, l Lease) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.target(l.Target)
	if err := fence(t.lease, l, time.Now(), false); err != nil {
		return err
	}
	t.lease.Owner = ""
	t.lease.Expires = time.Time{}
	return nil
}

// Append implements [Store].
func (s *MemStore) Append(ctx context.Context, l Lease, journal string, rec strategy.Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("rollback: encoding record: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.target(l.Target)
	if err := fence(t.lease, l, time.Now(), true); err != nil {
		return err
	}
	t.journals[journal] = append(t.journals[journal], data)
	return nil
}

// Journal implements [Store].
func (s *MemStore) Journal(ctx context.Context, target, journal string) ([]strategy.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.target(target)
	out := make([]strategy.Record, 0, len(t.journals[journal]))
	for i, data := range t.journals[journal] {
		var rec strategy.Record
		if err := json.Unmarshal(data, &rec); err != nil {
			return out, &CorruptError{Path: target + "/" + journal, Offset: int64(i), Reason: err.Error()}
		}
		out = append(out, rec)
	}
	return out, nil
}

// Load implements [Store].
func (s *MemStore) Load(ctx context.Context, target string) (TargetRecord, error) {
	if err := ctx.Err(); err != nil {
		return TargetRecord{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return decodeRecord(target, s.target(target).record)
}

// Update implements [Store].
func (s *MemStore) Update(ctx context.Context, target string, fenceLease *Lease, fn func(*TargetRecord) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.target(target)
	if fenceLease != nil {
		if err := fence(t.lease, *fenceLease, time.Now(), true); err != nil {
			return err
		}
	}
	rec, err := decodeRecord(target, t.record)
	if err != nil {
		return err
	}
	if err := fn(&rec); err != nil {
		return err
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("rollback: encoding target record: %w", err)
	}
	t.record = data
	return nil
}

// decodeRecord decodes a stored TargetRecord (a fresh one when data is empty).
func decodeRecord(target string, data []byte) (TargetRecord, error) {
	rec := TargetRecord{Target: target}
	if len(data) == 0 {
		return rec, nil
	}
	if err := json.Unmarshal(data, &rec); err != nil {
		return TargetRecord{}, fmt.Errorf("%w: target record of %q: %v", ErrCorrupt, target, err)
	}
	return rec, nil
}

// Targets implements [TargetLister]: every target with a record, sorted.
func (s *MemStore) Targets(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for name, t := range s.targets {
		if len(t.record) > 0 {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out, nil
}
