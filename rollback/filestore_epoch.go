package rollback

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/glidepath/glidepath/strategy"
)

// A FileStore target's files belong to epochs. Every Acquire starts a new
// epoch whose number is the lease's fencing token, and everything written
// under that lease, or by anyone while it is the target's newest epoch,
// goes to files named after the epoch:
//
//	lock.N           the epoch's lock file (its creation claims the epoch)
//	lease.N.json     the lease (token N), renewed and released in place
//	target.N.json    the TargetRecord, copied from the previous epoch
//	journal.N.J.log  journal J's records written under lease N
//	epoch.N.json     written last, once: commits the epoch (its base, the
//	                 previous committed epoch, and the seals), or marks a
//	                 claim that was abandoned ("aborted")
//
// Epoch 0 is the layout of stores written before epochs existed (and of a
// target no one has leased yet): lock, lease.json, target.json and
// journal-J.log.
//
// Taking over epoch B to start epoch N: claim lock.N (a file locked before
// it is linked into place, so its lock is held from the moment it
// exists), mark every unfinished claim between B and N aborted, seal B's
// journal files (record how many of their bytes hold complete records),
// copy B's record and write N's lease, and commit epoch.N.json. Any write
// in epoch B checks, after it is done, that no later epoch was claimed;
// one that finds a claim reports the lease lost. A write that lands in B's
// files after the seal (a process frozen in the middle of a write, woken
// after the takeover) is outside every sealed length and never read: a
// reader takes B's journal files up to their seals and B's record not at
// all once N is committed. So a takeover never needs the lock of the epoch
// it replaces, and readers never need a lock.

func lockName(e uint64) string {
	if e == 0 {
		return "lock"
	}
	return fmt.Sprintf("lock.%020d", e)
}

func leaseName(e uint64) string {
	if e == 0 {
		return "lease.json"
	}
	return fmt.Sprintf("lease.%020d.json", e)
}

func targetName(e uint64) string {
	if e == 0 {
		return "target.json"
	}
	return fmt.Sprintf("target.%020d.json", e)
}

func epochName(e uint64) string { return fmt.Sprintf("epoch.%020d.json", e) }

// segmentName names journal's file of epoch e.
func segmentName(journal string, e uint64) string {
	if e == 0 {
		return "journal-" + fileName(journal) + ".log"
	}
	return fmt.Sprintf("journal.%020d.%s.log", e, portableName(journal))
}

// segmentEpoch parses a journal file name: its epoch and escaped journal
// name.
func segmentEpoch(name string) (e uint64, esc string, ok bool) {
	if rest, ok := strings.CutPrefix(name, "journal-"); ok {
		esc, ok := strings.CutSuffix(rest, ".log")
		return 0, esc, ok
	}
	rest, ok := strings.CutPrefix(name, "journal.")
	if !ok {
		return 0, "", false
	}
	num, rest, ok := strings.Cut(rest, ".")
	if !ok {
		return 0, "", false
	}
	e, err := strconv.ParseUint(num, 10, 64)
	if err != nil || e == 0 {
		return 0, "", false
	}
	esc, ok = strings.CutSuffix(rest, ".log")
	return e, esc, ok
}

// numbered parses prefix+digits+suffix.
func numbered(name, prefix, suffix string) (uint64, bool) {
	rest, ok := strings.CutPrefix(name, prefix)
	if !ok {
		return 0, false
	}
	if rest, ok = strings.CutSuffix(rest, suffix); !ok {
		return 0, false
	}
	e, err := strconv.ParseUint(rest, 10, 64)
	return e, err == nil && e > 0
}

// epochFile is the content of epoch.N.json.
type epochFile struct {
	Token   uint64 `json:"token"`
	Base    uint64 `json:"base,omitempty"`
	Aborted bool   `json:"aborted,omitempty"`
	// Seals maps each journal file of the base epoch to the number of its
	// bytes that belong to the journal.
	Seals map[string]int64 `json:"seals,omitempty"`
}

// view is one listing of a target's directory.
type view struct {
	tdir     string
	names    []string
	claims   []uint64 // epochs with a lock file, ascending
	marked   []uint64 // epochs with an epoch file, ascending
	files    map[uint64]*epochFile
	cur      uint64 // the newest committed epoch
	maxClaim uint64
}

// scan lists tdir. A directory that does not exist is an empty epoch 0.
func scan(tdir string) (*view, error) {
	v := &view{tdir: tdir, files: map[uint64]*epochFile{}}
	ents, err := os.ReadDir(tdir)
	if errors.Is(err, fs.ErrNotExist) {
		return v, nil
	}
	if err != nil {
		return nil, err
	}
	for _, ent := range ents {
		name := ent.Name()
		v.names = append(v.names, name)
		if e, ok := numbered(name, "lock.", ""); ok {
			v.claims = append(v.claims, e)
			v.maxClaim = max(v.maxClaim, e)
		} else if e, ok := numbered(name, "epoch.", ".json"); ok {
			v.marked = append(v.marked, e)
			v.maxClaim = max(v.maxClaim, e)
		}
	}
	slices.Sort(v.claims)
	slices.Sort(v.marked)
	for i := len(v.marked) - 1; i >= 0; i-- {
		f, err := v.epoch(v.marked[i])
		if err != nil {
			return nil, err
		}
		if f != nil && !f.Aborted {
			v.cur = v.marked[i]
			break
		}
	}
	return v, nil
}

// epoch reads epoch e's file (nil when it has none).
func (v *view) epoch(e uint64) (*epochFile, error) {
	if f, ok := v.files[e]; ok {
		return f, nil
	}
	f := new(epochFile)
	path := filepath.Join(v.tdir, epochName(e))
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		f = nil
	} else if err != nil {
		return nil, err
	} else if err := json.Unmarshal(data, f); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, path, err)
	}
	v.files[e] = f
	return f, nil
}

// successor returns the epoch committed after e, which holds the seals
// of e's journal files (nil when e is the newest).
func (v *view) successor(e uint64) (*epochFile, error) {
	for _, m := range v.marked {
		if m <= e {
			continue
		}
		f, err := v.epoch(m)
		if err != nil {
			return nil, err
		}
		if f != nil && !f.Aborted {
			return f, nil
		}
	}
	return nil, nil
}

// pending lists the claims above the newest committed epoch that are not
// marked: takeovers in progress, or abandoned by a process that died.
func (v *view) pending() []uint64 {
	var out []uint64
	for _, c := range v.claims {
		if c > v.cur && !slices.Contains(v.marked, c) {
			out = append(out, c)
		}
	}
	return out
}

// superseded reports whether an epoch after e was claimed and not
// aborted: e's writes may no longer be seen.
func superseded(tdir string, e uint64) (bool, error) {
	v, err := scan(tdir)
	if err != nil {
		return false, err
	}
	if v.cur > e {
		return true, nil
	}
	for _, c := range v.pending() {
		if c > e {
			return true, nil
		}
	}
	return false, nil
}

// journalFiles lists journal's files in tdir, oldest epoch first.
func (v *view) journalFiles(journal string) []uint64 {
	legacy, esc := fileName(journal), portableName(journal)
	var out []uint64
	for _, n := range v.names {
		// Epoch 0 is a store written before lease epochs, whose journal
		// files carry the earlier escaping.
		if e, name, ok := segmentEpoch(n); ok && (e == 0 && name == legacy || e > 0 && name == esc) {
			out = append(out, e)
		}
	}
	slices.Sort(out)
	return out
}

// readJournal reads journal as v sees it: each earlier epoch's file up to
// its seal, and the newest epoch's file whole.
func (v *view) readJournal(journal string) ([]strategy.Record, error) {
	var out []strategy.Record
	for _, e := range v.journalFiles(journal) {
		if e > v.cur {
			continue // written by no lease (a claim that never committed)
		}
		name := segmentName(journal, e)
		path := filepath.Join(v.tdir, name)
		limit := int64(-1)
		if e < v.cur {
			succ, err := v.successor(e)
			if err != nil {
				return out, err
			}
			if succ == nil {
				continue
			}
			n, ok := succ.Seals[name]
			if !ok {
				continue // created after its epoch ended: never part of the journal
			}
			limit = n
		}
		data, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) && limit <= 0 {
			continue
		}
		if err != nil {
			return out, err
		}
		if limit >= 0 {
			if int64(len(data)) < limit {
				return out, &CorruptError{Path: path, Offset: int64(len(data)), Reason: fmt.Sprintf("file has %d bytes, %d were sealed", len(data), limit)}
			}
			data = data[:limit]
		}
		recs, _, err := decodeFrames(path, data)
		if limit < 0 && errors.Is(err, ErrTornRecord) {
			recs, err = v.settled(path, data, recs, err)
		}
		if out == nil {
			out = recs
		} else {
			out = append(out, recs...)
		}
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// settled reads the current epoch's journal file again while its torn
// tail may be a frame being written right now: readers take no lock, and
// a write can become visible in parts. While the epoch's lock is held (a
// write is in progress) it reads again as the file grows, for at most
// about a quarter of a second; a tail that stays torn with the lock free
// (or under a writer frozen that long) is reported as torn.
func (v *view) settled(path string, data []byte, recs []strategy.Record, err error) ([]strategy.Record, error) {
	lockPath := filepath.Join(v.tdir, lockName(v.cur))
	wait := time.Millisecond
	for range 8 {
		if st, serr := os.Stat(path); serr == nil && st.Size() != int64(len(data)) {
			if data, serr = os.ReadFile(path); serr != nil {
				return recs, err
			}
			if recs, _, err = decodeFrames(path, data); !errors.Is(err, ErrTornRecord) {
				return recs, err
			}
			continue
		}
		f, oerr := os.Open(lockPath)
		if oerr != nil {
			return recs, err
		}
		l, ok, lerr := try(f, lockPath)
		if ok {
			l.release()
		} else {
			f.Close()
		}
		if ok || lerr != nil {
			return recs, err // no write in progress: the tail is torn
		}
		time.Sleep(wait)
		wait *= 2
	}
	return recs, err
}

// seal returns, for each journal file of epoch b, how many of its bytes
// are complete records (all of them when it is damaged other than by a
// torn final record, so that readers keep reporting the damage). Each
// file is synced after it is read, so every sealed byte is durable even
// when the write that put it there was still in flight.
func (s *FileStore) seal(v *view, b uint64) (map[string]int64, error) {
	seals := map[string]int64{}
	for _, n := range v.names {
		e, _, ok := segmentEpoch(n)
		if !ok || e != b {
			continue
		}
		path := filepath.Join(v.tdir, n)
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			return nil, err
		}
		data, err := io.ReadAll(f)
		if err == nil {
			if err = s.fault(FileSync, path); err == nil {
				err = f.Sync()
			}
		}
		f.Close()
		if err != nil {
			return nil, err
		}
		_, good, err := decodeFrames(n, data)
		if err != nil && !errors.Is(err, ErrTornRecord) {
			good = int64(len(data))
		}
		seals[n] = good
	}
	return seals, nil
}

// errSuperseded: the epoch whose lock was wanted is gone (collected after
// a takeover); errRetry: the epochs changed, look again.
var (
	errSuperseded = errors.New("epoch superseded")
	errRetry      = errors.New("epochs changed")
)

// epochLock is a held epoch lock; nil when an Acquire took over without it.
type epochLock struct {
	f   *os.File
	sem chan struct{}
}

func (l *epochLock) release() {
	if l == nil {
		return
	}
	_ = unlock(l.f)
	_ = l.f.Close()
	if l.sem != nil {
		<-l.sem
	}
}

// localLocks excludes the FileStores of one process from each other on
// platforms without file locks (see lock_other.go).
var localLocks sync.Map // lock path -> chan struct{} of capacity 1

// try takes f's lock (and, without file locks, the path's process-local
// one) without waiting.
func try(f *os.File, path string) (*epochLock, bool, error) {
	var sem chan struct{}
	if !lockSupported {
		ch, _ := localLocks.LoadOrStore(path, make(chan struct{}, 1))
		sem = ch.(chan struct{})
		select {
		case sem <- struct{}{}:
		default:
			return nil, false, nil
		}
	}
	busy, err := tryLock(f)
	if err != nil || busy {
		if sem != nil {
			<-sem
		}
		if err != nil {
			return nil, false, fmt.Errorf("rollback: locking %s: %w", path, err)
		}
		return nil, false, nil
	}
	return &epochLock{f: f, sem: sem}, true, nil
}

// lockEpoch takes epoch e's lock, waiting while ctx lasts and for at most
// timeout. With grace > 0 (an Acquire of a lease that is not held), a lock
// still held after grace is left to its holder: lockEpoch returns nil and
// the caller takes over without it.
func (s *FileStore) lockEpoch(ctx context.Context, tdir string, e uint64, grace, timeout time.Duration) (*epochLock, error) {
	path := filepath.Join(tdir, lockName(e))
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) && e == 0 {
		if err = s.fault(FileCreate, path); err == nil {
			f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		}
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errSuperseded
	}
	if err != nil {
		return nil, err
	}
	start := time.Now()
	wait := 100 * time.Microsecond
	for {
		l, ok, err := try(f, path)
		if err != nil {
			f.Close()
			return nil, err
		}
		if ok {
			return l, nil
		}
		waited := time.Since(start)
		if grace > 0 && waited >= grace {
			f.Close()
			return nil, nil
		}
		if waited >= timeout {
			f.Close()
			return nil, fmt.Errorf("rollback: %w: %s was held by another operation for %v", ErrLockTimeout, path, timeout)
		}
		next := min(wait, timeout-waited)
		if grace > 0 {
			next = min(next, grace-waited)
		}
		t := time.NewTimer(next)
		select {
		case <-ctx.Done():
			t.Stop()
			f.Close()
			return nil, fmt.Errorf("rollback: waiting for the lock %s: %w", path, context.Cause(ctx))
		case <-t.C:
		}
		wait = min(2*wait, 10*time.Millisecond)
	}
}

// claimAlive reports whether the process that claimed epoch c still holds
// its lock (its takeover is in progress); a claim whose lock is free was
// abandoned by a process that died.
func claimAlive(tdir string, c uint64) (bool, error) {
	path := filepath.Join(tdir, lockName(c))
	f, err := os.Open(path) // a lock needs no write access: this works on a read-only store

	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	l, ok, err := try(f, path)
	if err != nil || !ok {
		f.Close()
		return !ok, err
	}
	l.release()
	return false, nil
}

// claim creates epoch x's lock file, already locked: on Unix and Windows
// a locked temporary file is linked into place, so no one else can lock
// it first. It fails with fs.ErrExist when x was claimed already.
func (s *FileStore) claim(tdir string, x uint64) (*epochLock, error) {
	path := filepath.Join(tdir, lockName(x))
	if err := s.fault(FileCreate, path); err != nil {
		return nil, err
	}
	if !lockSupported {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return nil, err
		}
		l, _, err := try(f, path)
		if l == nil && err == nil {
			err = fs.ErrExist
		}
		if err != nil {
			f.Close()
		}
		return l, err
	}
	f, err := os.CreateTemp(tdir, "claim-*.tmp")
	if err != nil {
		return nil, err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	l, ok, err := try(f, path)
	if err == nil && !ok {
		err = fmt.Errorf("rollback: a new lock file %s is locked by someone else", tmp)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	if err := os.Link(tmp, path); err != nil {
		l.release()
		return nil, err
	}
	return l, nil
}

// mark writes epoch e's file once: it fails with fs.ErrExist when e is
// marked already. The content is complete when the name appears
// (temporary file, fsync, link, fsync of the directory).
func (s *FileStore) mark(tdir string, e uint64, ef epochFile) error {
	path := filepath.Join(tdir, epochName(e))
	data, err := json.Marshal(ef)
	if err != nil {
		return err
	}
	if err := s.fault(FileWrite, path); err != nil {
		return err
	}
	f, err := os.CreateTemp(tdir, "epoch-*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	_, err = f.Write(data)
	if err == nil {
		if err = s.fault(FileSync, tmp); err == nil {
			err = f.Sync()
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := s.fault(FileRename, path); err != nil {
		return err
	}
	if err := os.Link(tmp, path); err != nil {
		return err
	}
	return s.syncDir(tdir)
}

// collect removes the lock, lease and record files of epochs before b (a
// takeover committed an epoch based on b, so no one reads them again; a
// process still working in one finds its lock file gone, or its writes
// superseded), and their commits when they seal nothing. Journal
// files, and the epoch files that seal them, stay: readers need them.
func collect(v *view, b uint64) {
	for _, e := range v.marked {
		if e >= b {
			break
		}
		// An aborted mark stays: it keeps a claimant that froze before its
		// commit from ever committing.
		if f, err := v.epoch(e); err == nil && f != nil && !f.Aborted && len(f.Seals) == 0 {
			os.Remove(filepath.Join(v.tdir, epochName(e)))
		}
	}
	for _, n := range v.names {
		if strings.HasSuffix(n, ".tmp") { // left by a process that died while writing; a live one's is younger
			if st, err := os.Stat(filepath.Join(v.tdir, n)); err == nil && time.Since(st.ModTime()) > time.Hour {
				os.Remove(filepath.Join(v.tdir, n))
			}
			continue
		}
		for _, kind := range []struct{ prefix, suffix string }{{"lock.", ""}, {"lease.", ".json"}, {"target.", ".json"}} {
			if e, ok := numbered(n, kind.prefix, kind.suffix); ok && e < b {
				os.Remove(filepath.Join(v.tdir, n))
			}
		}
	}
}
