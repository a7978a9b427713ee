package etcdstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/glidepath/glidepath/internal/sleep"
	"maps"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/glidepath/glidepath/rollback"
	"github.com/glidepath/glidepath/strategy"
)

// Defaults of [Options]' zero fields.
const (
	// DefaultPrefix is the key prefix under which a Store keeps its keys.
	DefaultPrefix = "glidepath/"
	// DefaultMaxTxnOps is etcd's default --max-txn-ops.
	DefaultMaxTxnOps = 128
	// DefaultMaxValueBytes bounds one value: one journal record, one
	// history entry or a target record without its history. etcd refuses
	// requests above --max-request-bytes (1.5 MiB by default); a write
	// carries at most one value of this size plus small keys.
	DefaultMaxValueBytes = 1 << 20
)

// ErrTooLarge marks a write refused before it reached etcd because one of
// its values, or the number of its operations, exceeds the Store's limits.
var ErrTooLarge = errors.New("etcdstore: write exceeds the store's limits")

// Options tune a [Store]. The zero value is the production setting.
type Options struct {
	// Prefix is prepended to every key (default DefaultPrefix). Stores
	// with different prefixes on one etcd are independent.
	Prefix string
	// MaxTxnOps is the largest number of operations one transaction may
	// carry (default DefaultMaxTxnOps, etcd's own default). Set it to the
	// server's --max-txn-ops when that was raised or lowered.
	MaxTxnOps int
	// MaxValueBytes bounds one value (default DefaultMaxValueBytes). Keep
	// it below the server's --max-request-bytes minus a few KiB.
	MaxValueBytes int
}

// Store is a [rollback.Store] on etcd. See the package documentation for
// its key layout, fencing and limits. It is safe for concurrent use, and
// any number of processes may share one etcd through Stores with the same
// prefix.
type Store struct {
	cli  *clientv3.Client
	opts Options

	mu      sync.Mutex
	tails   map[string]journalTail // journal prefix -> what this Store last wrote or verified
	records map[string]snapshot    // target -> its record as this Store last read or wrote it

	// beforeTxn, set by tests, runs before each write transaction is sent.
	beforeTxn func(op string)
}

// journalTail is the next record index of a journal and the revision of
// the Store's last write to it (or of its last verification): no key of the
// journal may have changed after that revision when the next record is
// written.
type journalTail struct {
	next uint64
	rev  int64
}

var _ rollback.Store = (*Store)(nil)

// New returns a Store that keeps its keys in the etcd that cli talks to.
// The Store does not own cli: close it after the last use of the Store.
func New(cli *clientv3.Client, opts Options) (*Store, error) {
	var p []string
	if cli == nil {
		p = append(p, "no etcd client")
	}
	if opts.MaxTxnOps < 0 {
		p = append(p, fmt.Sprintf("MaxTxnOps is negative (%d)", opts.MaxTxnOps))
	} else if opts.MaxTxnOps > 0 && opts.MaxTxnOps < 4 {
		p = append(p, fmt.Sprintf("MaxTxnOps %d is below 4, the operations of one journal append", opts.MaxTxnOps))
	}
	if opts.MaxValueBytes < 0 {
		p = append(p, fmt.Sprintf("MaxValueBytes is negative (%d)", opts.MaxValueBytes))
	}
	if err := strategy.Invalid("etcd store", p...); err != nil {
		return nil, err
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if opts.MaxTxnOps == 0 {
		opts.MaxTxnOps = DefaultMaxTxnOps
	}
	if opts.MaxValueBytes == 0 {
		opts.MaxValueBytes = DefaultMaxValueBytes
	}
	return &Store{cli: cli, opts: opts, tails: map[string]journalTail{}, records: map[string]snapshot{}}, nil
}

// Prefix returns the prefix under which the Store keeps its keys.
func (s *Store) Prefix() string { return s.opts.Prefix }

// esc makes a name one key segment: it never contains '/', and distinct
// names give distinct segments.
func esc(name string) string { return url.PathEscape(name) }

func (s *Store) targetKey(target string) string { return s.opts.Prefix + "t/" + esc(target) + "/" }

// LeaseKey is the key holding target's lease.
func (s *Store) LeaseKey(target string) string { return s.targetKey(target) + "lease" }

// RecordKey is the key holding target's record, without its history.
func (s *Store) RecordKey(target string) string { return s.targetKey(target) + "record" }

// HistoryPrefix is the prefix of target's history entries, one key each.
func (s *Store) HistoryPrefix(target string) string { return s.targetKey(target) + "h/" }

// JournalPrefix is the prefix of the records of target's named journal,
// one key each.
func (s *Store) JournalPrefix(target, journal string) string {
	return s.targetKey(target) + "j/" + esc(journal) + "/"
}

// JournalKey is the key of the i-th record (from 0) of target's journal.
func (s *Store) JournalKey(target, journal string, i uint64) string {
	return s.JournalPrefix(target, journal) + seqKey(i)
}

func (s *Store) historyKey(target string, id uint64) string {
	return s.HistoryPrefix(target) + seqKey(id)
}

// seqKey formats n so that keys sort as numbers do.
func seqKey(n uint64) string { return fmt.Sprintf("%020d", n) }

func parseSeq(key, prefix string) (uint64, bool) {
	n, err := strconv.ParseUint(strings.TrimPrefix(key, prefix), 10, 64)
	return n, err == nil && len(key)-len(prefix) == 20
}

// fenceCmps is the condition that l is target's current lease: the lease
// key exists, was created by l's acquisition (its create revision is l's
// token) and names l's owner. It is evaluated by etcd inside the
// transaction that writes, so no other holder can come in between.
func (s *Store) fenceCmps(l rollback.Lease) []clientv3.Cmp {
	k := s.LeaseKey(l.Target)
	return []clientv3.Cmp{
		clientv3.Compare(clientv3.CreateRevision(k), "=", int64(l.Token)),
		clientv3.Compare(clientv3.Value(k), "=", l.Owner),
	}
}

// lost explains why l is not target's lease, given the lease key as etcd
// had it when the transaction failed.
func lost(l rollback.Lease, kvs []*mvccKV) error {
	if len(kvs) == 0 {
		return fmt.Errorf("%w: target %q: lease %d of %q expired or was released", rollback.ErrLeaseLost, l.Target, l.Token, l.Owner)
	}
	kv := kvs[0]
	return fmt.Errorf("%w: target %q: lease %d of %q was taken over by %q (token %d)", rollback.ErrLeaseLost, l.Target, l.Token, l.Owner, kv.value, kv.create)
}

// mvccKV is the part of an etcd key-value the store looks at.
type mvccKV struct {
	key    string
	value  string
	create int64
	mod    int64
	lease  int64
}

func kvsOf(r *clientv3.TxnResponse, i int) []*mvccKV {
	if r == nil || i >= len(r.Responses) {
		return nil
	}
	rr := r.Responses[i].GetResponseRange()
	if rr == nil {
		return nil
	}
	out := make([]*mvccKV, len(rr.Kvs))
	for j, kv := range rr.Kvs {
		out[j] = &mvccKV{key: string(kv.Key), value: string(kv.Value), create: kv.CreateRevision, mod: kv.ModRevision, lease: kv.Lease}
	}
	return out
}

func (s *Store) txn(ctx context.Context, op string, ifs []clientv3.Cmp, then, els []clientv3.Op) (*clientv3.TxnResponse, error) {
	if len(then) > s.opts.MaxTxnOps || len(els) > s.opts.MaxTxnOps {
		return nil, fmt.Errorf("%w: %s needs %d operations, more than MaxTxnOps %d", ErrTooLarge, op, max(len(then), len(els)), s.opts.MaxTxnOps)
	}
	if s.beforeTxn != nil {
		s.beforeTxn(op)
	}
	r, err := s.cli.Txn(ctx).If(ifs...).Then(then...).Else(els...).Commit()
	if err != nil {
		return nil, fmt.Errorf("etcdstore: %s: %w", op, err)
	}
	return r, nil
}

func ttlSeconds(ttl time.Duration) int64 {
	return max(int64((ttl+time.Second-1)/time.Second), 1)
}

// Acquire implements [rollback.Store]. The lease is an etcd lease of ttl
// rounded up to whole seconds, and the lease key is attached to it, so etcd
// deletes the key when the lease expires. The fencing token is the lease
// key's create revision: etcd's revision grows with every write, so each
// acquisition's token is larger than every earlier one.
func (s *Store) Acquire(ctx context.Context, target, owner string, ttl time.Duration) (rollback.Lease, error) {
	if err := ctx.Err(); err != nil {
		return rollback.Lease{}, err
	}
	if owner == "" {
		return rollback.Lease{}, strategy.Invalid("etcd store", "empty lease owner")
	}
	start := time.Now()
	g, err := s.cli.Grant(ctx, ttlSeconds(ttl))
	if err != nil {
		return rollback.Lease{}, fmt.Errorf("etcdstore: granting a lease for %q: %w", target, err)
	}
	k := s.LeaseKey(target)
	r, err := s.txn(ctx, "acquiring the lease of "+strconv.Quote(target),
		[]clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(k), "=", 0)},
		[]clientv3.Op{clientv3.OpPut(k, owner, clientv3.WithLease(g.ID))},
		[]clientv3.Op{clientv3.OpGet(k)})
	if err != nil || !r.Succeeded {
		revokeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		_, _ = s.cli.Revoke(revokeCtx, g.ID)
		cancel()
	}
	if err != nil {
		return rollback.Lease{}, err
	}
	if !r.Succeeded {
		held := &rollback.LeaseHeldError{Target: target, Expires: time.Now()}
		if kvs := kvsOf(r, 0); len(kvs) > 0 {
			held.Owner = kvs[0].value
			if ttl, err := s.cli.TimeToLive(ctx, clientv3.LeaseID(kvs[0].lease)); err == nil && ttl.TTL > 0 {
				held.Expires = time.Now().Add(time.Duration(ttl.TTL) * time.Second)
			}
		}
		return rollback.Lease{}, held
	}
	return rollback.Lease{Target: target, Owner: owner, Token: uint64(r.Header.Revision), Expires: start.Add(time.Duration(g.TTL) * time.Second)}, nil
}

// Renew implements [rollback.Store]. etcd renews a lease for the TTL it was
// granted with, so ttl is ignored beyond that.
func (s *Store) Renew(ctx context.Context, l rollback.Lease, _ time.Duration) (rollback.Lease, error) {
	if err := ctx.Err(); err != nil {
		return rollback.Lease{}, err
	}
	start := time.Now()
	r, err := s.cli.Get(ctx, s.LeaseKey(l.Target))
	if err != nil {
		return rollback.Lease{}, fmt.Errorf("etcdstore: renewing the lease of %q: %w", l.Target, err)
	}
	if len(r.Kvs) == 0 || r.Kvs[0].CreateRevision != int64(l.Token) || string(r.Kvs[0].Value) != l.Owner {
		var kvs []*mvccKV
		if len(r.Kvs) > 0 {
			kvs = []*mvccKV{{value: string(r.Kvs[0].Value), create: r.Kvs[0].CreateRevision}}
		}
		return rollback.Lease{}, lost(l, kvs)
	}
	// The etcd lease behind the key is l's: keeping it alive cannot
	// extend anyone else's (etcd never reuses a lease ID).
	ka, err := s.cli.KeepAliveOnce(ctx, clientv3.LeaseID(r.Kvs[0].Lease))
	if errors.Is(err, rpctypes.ErrLeaseNotFound) {
		return rollback.Lease{}, lost(l, nil)
	}
	if err != nil {
		return rollback.Lease{}, fmt.Errorf("etcdstore: renewing the lease of %q: %w", l.Target, err)
	}
	l.Expires = start.Add(time.Duration(ka.TTL) * time.Second)
	return l, nil
}

// Release implements [rollback.Store]: it deletes the lease key, fenced by
// l, and revokes the etcd lease.
func (s *Store) Release(ctx context.Context, l rollback.Lease) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	k := s.LeaseKey(l.Target)
	r, err := s.txn(ctx, "releasing the lease of "+strconv.Quote(l.Target), s.fenceCmps(l),
		[]clientv3.Op{clientv3.OpGet(k), clientv3.OpDelete(k)},
		[]clientv3.Op{clientv3.OpGet(k)})
	if err != nil {
		return err
	}
	kvs := kvsOf(r, 0)
	if !r.Succeeded {
		return lost(l, kvs)
	}
	if len(kvs) > 0 && kvs[0].lease != 0 {
		_, _ = s.cli.Revoke(ctx, clientv3.LeaseID(kvs[0].lease))
	}
	return nil
}

// Append implements [rollback.Store]. Each record is one key; the write is
// one transaction whose condition holds only when l is the target's lease
// and no key of the journal changed since this Store last wrote or verified
// it. Before its first write to a journal (and after a conflict) the Store
// reads the whole journal and refuses to append to a damaged one.
func (s *Store) Append(ctx context.Context, l rollback.Lease, journal string, rec strategy.Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("etcdstore: encoding record: %w", err)
	}
	if len(data) > s.opts.MaxValueBytes {
		return fmt.Errorf("%w: a journal record of %d bytes exceeds MaxValueBytes %d", ErrTooLarge, len(data), s.opts.MaxValueBytes)
	}
	prefix := s.JournalPrefix(l.Target, journal)
	const maxUnavailable = 50 // about two minutes of an unreachable etcd
	unavailable := 0
	for attempt := 0; ; attempt++ {
		s.mu.Lock()
		t, known := s.tails[prefix]
		s.mu.Unlock()
		if !known {
			recs, rev, err := s.readJournal(ctx, l.Target, journal)
			if err != nil {
				return err
			}
			t = journalTail{next: uint64(len(recs)), rev: rev}
		}
		key := prefix + seqKey(t.next)
		ifs := append(s.fenceCmps(l),
			clientv3.Compare(clientv3.ModRevision(prefix).WithPrefix(), "<", t.rev+1))
		r, err := s.txn(ctx, "appending to journal "+strconv.Quote(journal)+" of "+strconv.Quote(l.Target), ifs,
			[]clientv3.Op{clientv3.OpPut(key, string(data))},
			[]clientv3.Op{clientv3.OpGet(s.LeaseKey(l.Target))})
		if err != nil {
			s.forget(prefix)
			if !transient(err) || ctx.Err() != nil || unavailable >= maxUnavailable {
				return err
			}
			// etcd restarted or a connection broke: the append may or may
			// not have been applied. Once etcd answers again, the journal
			// says which: the record in place means it was (it is not
			// written twice); otherwise the append is tried again, still
			// fenced.
			unavailable++
			attempt = -1
			if err := sleepCtx(ctx, time.Duration(unavailable)*100*time.Millisecond); err != nil {
				return err
			}
			recs, _, rerr := s.readJournal(ctx, l.Target, journal)
			if rerr != nil {
				if transient(rerr) {
					continue
				}
				return rerr
			}
			if uint64(len(recs)) == t.next+1 {
				if got, _ := json.Marshal(recs[t.next]); string(got) == string(data) {
					return nil
				}
			}
			continue
		}
		if r.Succeeded {
			s.mu.Lock()
			if len(s.tails) >= 1024 {
				clear(s.tails) // a forgotten journal is verified again
			}
			s.tails[prefix] = journalTail{next: t.next + 1, rev: r.Header.Revision}
			s.mu.Unlock()
			return nil
		}
		s.forget(prefix)
		kvs := kvsOf(r, 0)
		if len(kvs) == 0 || kvs[0].create != int64(l.Token) || kvs[0].value != l.Owner {
			return lost(l, kvs)
		}
		// The lease holds, so the journal changed under this Store: another
		// Store of the same holder wrote, or someone altered it. Verify it
		// again (a damaged journal fails there) and retry.
		if attempt >= 3 {
			return fmt.Errorf("etcdstore: journal %q of %q keeps changing under the lease holder", journal, l.Target)
		}
	}
}

func (s *Store) forget(prefix string) {
	s.mu.Lock()
	delete(s.tails, prefix)
	s.mu.Unlock()
}

// readJournal reads a journal at one revision, in pages, and checks that
// its records are numbered 0, 1, 2... and decode.
func (s *Store) readJournal(ctx context.Context, target, journal string) ([]strategy.Record, int64, error) {
	prefix := s.JournalPrefix(target, journal)
	var (
		recs []strategy.Record
		rev  int64
		from = prefix
	)
	end := clientv3.GetPrefixRangeEnd(prefix)
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(256), clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend)}
		if rev != 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		r, err := s.cli.Get(ctx, from, opts...)
		if err != nil {
			return recs, 0, fmt.Errorf("etcdstore: reading journal %q of %q: %w", journal, target, err)
		}
		if rev == 0 {
			rev = r.Header.Revision
		}
		for _, kv := range r.Kvs {
			i := len(recs)
			n, ok := parseSeq(string(kv.Key), prefix)
			if !ok || n != uint64(i) {
				return recs, 0, &rollback.CorruptError{Path: string(kv.Key), Offset: int64(i),
					Reason: fmt.Sprintf("record %d expected, found key %q (a gap or a foreign key)", i, kv.Key)}
			}
			var rec strategy.Record
			if err := json.Unmarshal(kv.Value, &rec); err != nil {
				return recs, 0, &rollback.CorruptError{Path: string(kv.Key), Offset: int64(i), Reason: "record does not decode: " + err.Error()}
			}
			recs = append(recs, rec)
		}
		if !r.More || len(r.Kvs) == 0 {
			return recs, rev, nil
		}
		from = string(r.Kvs[len(r.Kvs)-1].Key) + "\x00"
	}
}

// Journal implements [rollback.Store]. etcd writes each record atomically,
// so a journal has no torn records; a record that does not decode, or a gap
// in the numbering, is a [*rollback.CorruptError] naming the key.
func (s *Store) Journal(ctx context.Context, target, journal string) ([]strategy.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	recs, _, err := s.readJournal(ctx, target, journal)
	return recs, err
}

// storedRecord is a target record as kept under its record key: the
// history lives in separate keys, listed here in order.
type storedRecord struct {
	rollback.TargetRecord
	HistoryIDs    []uint64 `json:"historyIds,omitempty"`
	NextHistoryID uint64   `json:"nextHistoryId,omitempty"`
}

type snapshot struct {
	rec     storedRecord
	entries map[uint64][]byte // encoded history entries by id
	modRev  int64             // of the record key; 0 when absent
}

// read returns target's record and history. Every change of the history
// rewrites the record key in the same transaction, so when the record key's
// revision is the one this Store last saw, its cached history is current and
// only the record key is read.
func (s *Store) read(ctx context.Context, target string) (snapshot, error) {
	s.mu.Lock()
	cached, ok := s.records[target]
	s.mu.Unlock()
	if ok {
		r, err := s.cli.Get(ctx, s.RecordKey(target))
		if err != nil {
			return snapshot{}, fmt.Errorf("etcdstore: reading the record of %q: %w", target, err)
		}
		if len(r.Kvs) > 0 && r.Kvs[0].ModRevision == cached.modRev {
			cached.rec.TargetRecord = cloneTarget(cached.rec.TargetRecord)
			return cached, nil
		}
	}
	snap, err := s.readAll(ctx, target)
	if err == nil {
		s.remember(target, snap)
	}
	return snap, err
}

func (s *Store) remember(target string, snap snapshot) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if snap.modRev == 0 {
		delete(s.records, target)
		return
	}
	if len(s.records) >= 256 {
		clear(s.records)
	}
	snap.rec.TargetRecord = cloneTarget(snap.rec.TargetRecord)
	s.records[target] = snap
}

// cloneTarget copies what a caller's function may change in place (the
// slices, the map and the active release), so that the cached record is
// never shared with one: concurrent Updates each get their own.
func cloneTarget(tr rollback.TargetRecord) rollback.TargetRecord {
	tr.History = slices.Clone(tr.History)
	tr.RolledBack = slices.Clone(tr.RolledBack)
	tr.CommitTimes = maps.Clone(tr.CommitTimes)
	if tr.Active != nil {
		a := *tr.Active
		tr.Active = &a
	}
	return tr
}

func (s *Store) readAll(ctx context.Context, target string) (snapshot, error) {
	r, err := s.cli.Txn(ctx).Then(
		clientv3.OpGet(s.RecordKey(target)),
		clientv3.OpGet(s.HistoryPrefix(target), clientv3.WithPrefix()),
	).Commit()
	if err != nil {
		return snapshot{}, fmt.Errorf("etcdstore: reading the record of %q: %w", target, err)
	}
	snap := snapshot{rec: storedRecord{TargetRecord: rollback.TargetRecord{Target: target}}, entries: map[uint64][]byte{}}
	if kvs := kvsOf(r, 0); len(kvs) > 0 {
		snap.modRev = kvs[0].mod
		if err := json.Unmarshal([]byte(kvs[0].value), &snap.rec); err != nil {
			return snapshot{}, fmt.Errorf("%w: record of %q at %s: %v", rollback.ErrCorrupt, target, kvs[0].key, err)
		}
		snap.rec.Target = target
	}
	hp := s.HistoryPrefix(target)
	for _, kv := range kvsOf(r, 1) {
		id, ok := parseSeq(kv.key, hp)
		if !ok {
			return snapshot{}, fmt.Errorf("%w: history of %q has a foreign key %q", rollback.ErrCorrupt, target, kv.key)
		}
		snap.entries[id] = []byte(kv.value)
	}
	hist, err := decodeHistory(target, s, snap.rec.HistoryIDs, snap.entries)
	if err != nil {
		return snapshot{}, err
	}
	snap.rec.History = hist
	return snap, nil
}

// decodeHistory decodes the entries ids name, in order.
func decodeHistory(target string, s *Store, ids []uint64, entries map[uint64][]byte) ([]rollback.Entry, error) {
	var hist []rollback.Entry
	for _, id := range ids {
		data, ok := entries[id]
		if !ok {
			return nil, fmt.Errorf("%w: history entry %s of %q is missing", rollback.ErrCorrupt, s.historyKey(target, id), target)
		}
		var e rollback.Entry
		if err := json.Unmarshal(data, &e); err != nil {
			return nil, fmt.Errorf("%w: history entry %s of %q: %v", rollback.ErrCorrupt, s.historyKey(target, id), target, err)
		}
		hist = append(hist, e)
	}
	return hist, nil
}

// Load implements [rollback.Store].
func (s *Store) Load(ctx context.Context, target string) (rollback.TargetRecord, error) {
	if err := ctx.Err(); err != nil {
		return rollback.TargetRecord{}, err
	}
	snap, err := s.read(ctx, target)
	return snap.rec.TargetRecord, err
}

// Update implements [rollback.Store]. It reads the record and its history,
// applies fn, and writes what changed (the record key, new history entries,
// deletions of dropped ones) in one transaction conditioned on the record
// being unchanged since the read and, with a fence, on the fence being the
// target's lease. A conflict with another writer reads and applies fn
// again.
func (s *Store) Update(ctx context.Context, target string, fence *rollback.Lease, fn func(*rollback.TargetRecord) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if fence != nil && fence.Target != target {
		return fmt.Errorf("%w: a lease of %q does not fence %q", rollback.ErrLeaseLost, fence.Target, target)
	}
	for {
		snap, err := s.read(ctx, target)
		if err != nil {
			return err
		}
		rec := snap.rec.TargetRecord
		rec.History = append([]rollback.Entry(nil), rec.History...)
		if err := fn(&rec); err != nil {
			return err
		}
		rec.Target = target
		then, err := s.writeOps(target, snap, rec)
		if err != nil {
			return err
		}
		rk := s.RecordKey(target)
		ifs := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(rk), "=", snap.modRev)}
		if fence != nil {
			ifs = append(ifs, s.fenceCmps(*fence)...)
		}
		r, err := s.txn(ctx, "updating the record of "+strconv.Quote(target), ifs, then.ops,
			[]clientv3.Op{clientv3.OpGet(s.LeaseKey(target))})
		if err != nil {
			return err
		}
		if r.Succeeded {
			then.snap.modRev = r.Header.Revision
			s.remember(target, then.snap)
			return nil
		}
		if fence != nil {
			kvs := kvsOf(r, 0)
			if len(kvs) == 0 || kvs[0].create != int64(fence.Token) || kvs[0].value != fence.Owner {
				return lost(*fence, kvs)
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// writes is a transaction's operations and the snapshot they leave.
type writes struct {
	ops  []clientv3.Op
	snap snapshot
}

// writeOps lists the operations that turn snap into rec: entries that are
// unchanged keep their keys, others get new ones.
func (s *Store) writeOps(target string, snap snapshot, rec rollback.TargetRecord) (writes, error) {
	out := storedRecord{TargetRecord: rec, NextHistoryID: snap.rec.NextHistoryID}
	out.History = nil
	next := snapshot{entries: map[uint64][]byte{}}
	kept := map[uint64]bool{}
	var ops []clientv3.Op
	j := 0 // the old entries are matched in order: a history only loses its oldest and gains newer ones
	for i, e := range rec.History {
		for j < len(snap.rec.History) && !reflect.DeepEqual(snap.rec.History[j], e) {
			j++
		}
		if j < len(snap.rec.History) {
			id := snap.rec.HistoryIDs[j]
			kept[id] = true
			next.entries[id] = snap.entries[id]
			next.rec.History = append(next.rec.History, snap.rec.History[j])
			out.HistoryIDs = append(out.HistoryIDs, id)
			j++
			continue
		}
		data, err := json.Marshal(e)
		if err != nil {
			return writes{}, fmt.Errorf("etcdstore: encoding history entry: %w", err)
		}
		if len(data) > s.opts.MaxValueBytes {
			return writes{}, fmt.Errorf("%w: history entry %d of %q is %d bytes, more than MaxValueBytes %d", ErrTooLarge, i, target, len(data), s.opts.MaxValueBytes)
		}
		id := out.NextHistoryID
		out.NextHistoryID++
		out.HistoryIDs = append(out.HistoryIDs, id)
		next.entries[id] = data
		var dec rollback.Entry // as the next reader will see it
		if err := json.Unmarshal(data, &dec); err != nil {
			return writes{}, fmt.Errorf("etcdstore: encoding history entry: %w", err)
		}
		next.rec.History = append(next.rec.History, dec)
		ops = append(ops, clientv3.OpPut(s.historyKey(target, id), string(data)))
	}
	for _, id := range snap.rec.HistoryIDs {
		if !kept[id] {
			ops = append(ops, clientv3.OpDelete(s.historyKey(target, id)))
		}
	}
	data, err := json.Marshal(out)
	if err != nil {
		return writes{}, fmt.Errorf("etcdstore: encoding the record of %q: %w", target, err)
	}
	if len(data) > s.opts.MaxValueBytes {
		return writes{}, fmt.Errorf("%w: the record of %q is %d bytes without its history, more than MaxValueBytes %d", ErrTooLarge, target, len(data), s.opts.MaxValueBytes)
	}
	hist := next.rec.History
	next.rec = out
	next.rec.History = hist
	return writes{ops: append(ops, clientv3.OpPut(s.RecordKey(target), string(data))), snap: next}, nil
}

// Targets implements [rollback.TargetLister]: every target with a record,
// sorted.
func (s *Store) Targets(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	base := s.opts.Prefix + "t/"
	var out []string
	from, end := base, clientv3.GetPrefixRangeEnd(base)
	for {
		r, err := s.cli.Get(ctx, from, clientv3.WithRange(end), clientv3.WithKeysOnly(), clientv3.WithLimit(1024),
			clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
		if err != nil {
			return out, fmt.Errorf("etcdstore: listing targets: %w", err)
		}
		for _, kv := range r.Kvs {
			seg, rest, ok := strings.Cut(strings.TrimPrefix(string(kv.Key), base), "/")
			if !ok || rest != "record" {
				continue
			}
			if name, err := url.PathUnescape(seg); err == nil {
				out = append(out, name)
			}
		}
		if !r.More || len(r.Kvs) == 0 {
			return out, nil
		}
		from = string(r.Kvs[len(r.Kvs)-1].Key) + "\x00"
	}
}

// transient reports an error after which etcd may answer again: it was
// unreachable, restarting, or electing a leader.
func transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	switch status.Code(errors.Unwrap(err)) {
	case codes.Unavailable:
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "Unavailable") || strings.Contains(msg, "leader changed") || strings.Contains(msg, "no leader")
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if !sleep.For(ctx, d) {
		return context.Cause(ctx)
	}
	return nil
}
