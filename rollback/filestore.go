package rollback

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/glidepath/glidepath/strategy"
)

// FileStore is a [Store] in one directory, the embedded default. Each
// target has a subdirectory, "t-" and the target's name with every byte but
// a-z, 0-9, '-' and '_' escaped as %XX, so that names differing only by
// case stay apart on macOS and Windows and no name holds a character some
// file system refuses (a directory named by an earlier version, which kept
// case and '.', is still used for its target). Its files belong to lease epochs: every
// Acquire starts an epoch numbered by the new lease's fencing token N, and
// the epoch has its own
//
//   - lock.N: a lock file; every write operation of the epoch holds an
//     exclusive lock on it (flock(2) on Unix, LockFileEx on Windows) for
//     its duration, so processes sharing the directory (and separate
//     FileStores in one process) see each other's changes atomically.
//     Waiting for it honours the operation's context and
//     [FileOptions.LockTimeout]. On platforms without file locks (plan9,
//     js, wasip1) only the FileStores of one process exclude each other;
//   - lease.N.json: the lease, rewritten atomically (write a temporary
//     file, fsync, rename, fsync the directory);
//   - target.N.json: the [TargetRecord] (active release, history), copied
//     from the previous epoch when the epoch starts and rewritten the same
//     way;
//   - journal.N.<name>.log: the records of journal name written under
//     lease N; each record is framed with its length and a CRC-32C
//     checksum and fsynced before Append returns. A journal is the
//     concatenation of its files in epoch order;
//   - epoch.N.json: written once, last, when the epoch starts (its
//     "commit"): the previous epoch's number and its seals, how many bytes
//     of each of that epoch's journal files are complete records.
//
// Stores written before epochs existed (lock, lease.json, target.json,
// journal-<name>.log) are read as epoch 0 and need no migration: their
// next Acquire starts the first epoch on top of them (numbered by the next
// fencing token) and seals their journals,
// which are never written again; it also writes its lease to lease.json,
// so that a process of the earlier release still driving a release there
// finds its lease taken over at its next write. Every process sharing a
// store must otherwise run a glidepath that knows epochs.
//
// A kernel lock rather than O_EXCL lock files: the kernel drops it when its
// process dies, even by SIGKILL, so a crash never leaves a stale lock that
// needs guessing about; liveness across crashes is the lease's job (it
// expires), mutual exclusion of each read-check-write is the lock's.
// The lock is advisory and local: the directory must not be on a network
// file system that does not implement it.
//
// A process frozen (SIGSTOP, a VM pause) inside a store operation keeps
// its epoch's lock while it is frozen, and the lease it holds runs out.
// Writes under that lease by other goroutines or processes wait for at
// most their context and LockTimeout ([ErrLockTimeout]); reads do not
// wait for it (below). An Acquire of a lease that has expired (or was released)
// waits for the lock for at most [FileOptions.TakeoverGrace] (default
// [DefaultTakeoverGrace], 200 ms) and then takes the lease over without it:
// it claims the next epoch by linking a lock file it already holds into
// place (so exactly one claimant wins), lists and seals the old epoch's
// journal files, copies the target record, writes its lease, and commits.
// The frozen process can therefore delay a takeover by at most the
// lease's TTL (from its last renewal) plus TakeoverGrace plus the few
// fsyncs of the takeover itself. When it wakes, every write it finishes
// checks whether a newer epoch was claimed and, if so, fails with
// [ErrLeaseLost] (so its next Fence fails with [strategy.ErrFenced] and
// it applies nothing); what such a write left on disk is in the old
// epoch's files beyond their seals, or in its superseded record and lease
// files, which no one reads. A write that finished before the claim is
// part of the sealed history; one that raced the takeover (it finished
// after the claim but before the seal) may be kept even though it reported
// the lease lost, exactly as if it had landed just before the takeover.
// A claimant that dies or freezes before it commits leaves a claim that the
// next Acquire (or a write that finds its lock free) marks aborted.
//
// Reads (Load, Journal, Targets, and so Manager.History and
// Manager.Pending) take no lock: every file they read is replaced
// atomically or only appended to, and they read again when an epoch was
// committed while they read. They work while a writer is frozen and on a
// read-only store. They wait only while a takeover is committing (it
// holds its new lock) or a record at a journal's end is still being
// written (the epoch's lock is held), and for at most about a quarter of
// a second each: a frozen claimant or writer cannot hold them up longer.
// The one thing a read can then get wrong needs two frozen processes: a
// claimant frozen for longer than that between its seal and its commit,
// and an old holder woken in that time whose last record lands beyond the
// seal; such a read shows that record, which later reads do not.
//
// A takeover removes the lock, lease and record files of the epochs
// before the one it replaces. What stays per lease that journaled is its
// journal file and its successor's small commit file, which seals it;
// every operation lists the target's directory (twice or three times), so
// its cost grows slowly with the number of journals kept there.
type FileStore struct {
	dir  string
	opts FileOptions

	mu    sync.Mutex
	tails map[string]tail // journal path -> its state after this store's last verified write

	// legacy holds the names, exactly as listed, of the target directories
	// present when the store was opened that an earlier version of
	// glidepath named (see targetDir); this version never makes one.
	legacy map[string]bool
}

// tail is what a FileStore knows of a journal it verified or wrote: the
// offset just past its last record, and the file's size and modification
// time then. A file that changed since (another process appended, or
// someone damaged it) is verified again before the next write.
type tail struct {
	end   int64
	mtime time.Time
}

// FileOptions tune a [FileStore]. The zero value is the production setting.
type FileOptions struct {
	// Fault, when set, is called before every change the store makes to
	// the file system, with the operation and the path; an error it
	// returns is returned as if the file system had failed. It lets tests
	// simulate a full disk (syscall.ENOSPC) or a read-only directory
	// (syscall.EROFS), which permissions cannot do for root.
	Fault func(op FileOp, path string) error
	// LockTimeout bounds how long a write (Renew, Release, Append,
	// Update) waits for a target's lock while another operation holds it
	// (default DefaultLockTimeout); it then fails with [ErrLockTimeout].
	// Waiting also ends with the operation's context. Reads never wait;
	// Acquire waits TakeoverGrace.
	LockTimeout time.Duration
	// TakeoverGrace bounds how long an Acquire of a lapsed lease (expired
	// or released) waits for an operation in flight on the target to
	// finish (default DefaultTakeoverGrace). An operation that still holds
	// the target's lock then (its process is frozen, or its disk stalls)
	// is left behind: the Acquire takes the lease over without that lock,
	// and whatever the operation writes afterwards is refused or never
	// read (see [FileStore]). A lease is therefore taken over at most
	// TakeoverGrace (plus the takeover's own few file writes) after it
	// expires, whatever its holder is doing.
	TakeoverGrace time.Duration
}

// FileOp names a file-system change a [FileStore] makes.
type FileOp string

// The file-system changes a FileStore makes.
const (
	FileMkdir    FileOp = "mkdir"
	FileCreate   FileOp = "create"
	FileWrite    FileOp = "write"
	FileSync     FileOp = "sync"
	FileRename   FileOp = "rename"
	FileTruncate FileOp = "truncate"
)

var _ Store = (*FileStore)(nil)

// OpenFileStore opens (creating it if needed) a FileStore in dir.
func OpenFileStore(dir string, opts FileOptions) (*FileStore, error) {
	if dir == "" {
		return nil, strategy.Invalid("file store", "no directory")
	}
	s := &FileStore{dir: dir, opts: opts, tails: map[string]tail{}}
	if st, err := os.Stat(dir); err == nil && st.IsDir() {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("rollback: reading store directory: %w", err)
		}
		for _, e := range ents {
			if n := e.Name(); e.IsDir() && strings.HasPrefix(n, "t-") && !isPortable(n[2:]) {
				if s.legacy == nil {
					s.legacy = map[string]bool{}
				}
				s.legacy[n] = true
			}
		}
		return s, nil
	}
	if err := s.fault(FileMkdir, dir); err != nil {
		return nil, fmt.Errorf("rollback: creating store directory: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("rollback: creating store directory: %w", err)
	}
	return s, nil
}

// Dir returns the store's directory.
func (s *FileStore) Dir() string { return s.dir }

// JournalPath returns the file that holds the newest records of target's
// named journal: the file of the newest lease that wrote to it (or, for a
// journal not written yet, of the current lease). Records written under
// earlier leases are in files of the same directory named after those
// leases' tokens (see [FileStore]).
func (s *FileStore) JournalPath(target, journal string) string {
	tdir := s.targetDir(target)
	v, err := scan(tdir)
	if err != nil {
		return filepath.Join(tdir, segmentName(journal, 0))
	}
	e := v.cur
	if files := v.journalFiles(journal); len(files) > 0 {
		e = files[len(files)-1]
	}
	return filepath.Join(tdir, segmentName(journal, e))
}

// targetDir is target's directory: "t-" and the portable form of its name
// (see portableName), or the directory an earlier version of glidepath
// named with fileName, when the store held it when opened, so that stores
// written before keep their targets. The earlier name is matched exactly as
// listed, never through the file system's lookup, which ignores case on
// macOS and Windows and would hand "Svc" the directory of "svc".
func (s *FileStore) targetDir(target string) string {
	if len(s.legacy) > 0 {
		if legacy := "t-" + fileName(target); s.legacy[legacy] {
			return filepath.Join(s.dir, legacy)
		}
	}
	return filepath.Join(s.dir, "t-"+portableName(target))
}

// isPortable reports whether a directory name (after "t-") is one that
// portableName writes: a-z, 0-9, '-', '_' and escapes of '%' and two
// upper-case hex digits, ending perhaps in "%~" and 32 lower-case hex
// digits. An earlier version's name that reads so is the same name (both
// escape the same way), so only the others need looking up.
func isPortable(name string) bool {
	upperHex := func(c byte) bool { return '0' <= c && c <= '9' || 'A' <= c && c <= 'F' }
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_':
		case c == '%' && i+1 < len(name) && name[i+1] == '~':
			sum := name[i+2:]
			_, err := hex.DecodeString(sum)
			return len(sum) == 32 && err == nil && strings.ToLower(sum) == sum
		case c == '%' && i+2 < len(name) && upperHex(name[i+1]) && upperHex(name[i+2]):
			i += 2
		default:
			return false
		}
	}
	return true
}

// portableName turns any string into one file-name component that is safe
// on every file system glidepath builds for, distinct strings into distinct
// components even where the file system ignores case (macOS, Windows):
// every byte but a-z, 0-9, '-' and '_' is written as '%' and two upper-case
// hex digits, so upper-case letters appear only inside escapes, and no
// component holds ':', '\', a trailing '.' or a reserved device name. A
// component longer than 160 bytes is shortened as fileName shortens its
// own (a short one never holds "%~", since '~' is escaped).
func portableName(name string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	esc := b.String()
	if len(esc) > 160 {
		sum := sha256.Sum256([]byte(name))
		esc = esc[:100] + "%~" + hex.EncodeToString(sum[:16])
	}
	return esc
}

// fileName is how earlier versions of glidepath named target directories
// and the journal files of a store's first epoch: any string becomes one
// file-name component, and distinct strings distinct components (on a file
// system that tells case apart). A name whose escaped form is
// longer than 160 bytes is shortened to its first 100 escaped bytes, the
// marker "%~" and a SHA-256 prefix of the whole name; url.PathEscape only
// ever writes '%' followed by two hex digits, so no short name's component
// contains "%~" and a short name can never take a long one's directory.
func fileName(name string) string {
	esc := url.PathEscape(name)
	if len(esc) > 160 {
		sum := sha256.Sum256([]byte(name))
		esc = esc[:100] + "%~" + hex.EncodeToString(sum[:16])
	}
	return esc
}

func (s *FileStore) fault(op FileOp, path string) error {
	if s.opts.Fault == nil {
		return nil
	}
	if err := s.opts.Fault(op, path); err != nil {
		return &fs.PathError{Op: string(op), Path: path, Err: err}
	}
	return nil
}

// DefaultLockTimeout is how long a FileStore operation waits for the lock
// of a target that another operation holds (see [FileOptions.LockTimeout]).
const DefaultLockTimeout = 10 * time.Second

// DefaultTakeoverGrace is how long an Acquire waits for the lock of a
// target whose lease has lapsed before it takes the lease over without
// that lock (see [FileOptions.TakeoverGrace]).
const DefaultTakeoverGrace = 200 * time.Millisecond

// ErrLockTimeout marks a FileStore write that gave up waiting for a
// target's lock: another process held it for longer than the store's
// LockTimeout (it is frozen, or its disk is very slow). Reads never wait
// for the lock, and an Acquire of a lapsed lease takes it over after
// TakeoverGrace instead.
var ErrLockTimeout = errors.New("timed out waiting for the store's lock")

func (s *FileStore) lockTimeout() time.Duration {
	if s.opts.LockTimeout > 0 {
		return s.opts.LockTimeout
	}
	return DefaultLockTimeout
}

func (s *FileStore) takeoverGrace() time.Duration {
	if s.opts.TakeoverGrace > 0 {
		return s.opts.TakeoverGrace
	}
	return DefaultTakeoverGrace
}

// ensureDir creates a target's directory.
func (s *FileStore) ensureDir(tdir string) error {
	if _, err := os.Stat(tdir); !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := s.fault(FileMkdir, tdir); err != nil {
		return err
	}
	if err := os.MkdirAll(tdir, 0o755); err != nil {
		return err
	}
	return s.syncDir(s.dir)
}

func (s *FileStore) syncDir(dir string) error {
	if err := s.fault(FileSync, dir); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// readJSON decodes path into v; a missing file leaves v untouched.
func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrCorrupt, path, err)
	}
	return nil
}

// writeJSON replaces path with v atomically: temporary file, fsync,
// rename, fsync of the directory.
func (s *FileStore) writeJSON(path string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.writeFile(path, data)
}

// writeFile replaces path with data atomically.
func (s *FileStore) writeFile(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := s.fault(FileWrite, tmp); err != nil {
		return err
	}
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
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
		os.Remove(tmp)
		return err
	}
	if err := s.fault(FileRename, path); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return s.syncDir(filepath.Dir(path))
}

// readLease reads epoch e's lease (the zero lease, named, when there is
// none).
func readLease(tdir string, e uint64, target string) (Lease, error) {
	l := Lease{Target: target, Token: e}
	err := readJSON(filepath.Join(tdir, leaseName(e)), &l)
	l.Target = target
	return l, err
}

// lostTo is the error of a write by l after the epoch it was made in was
// superseded.
func lostTo(l *Lease, target string) error {
	if l == nil {
		return fmt.Errorf("rollback: %w: target %q was taken over while the change was written; it may not have been kept", ErrLeaseLost, target)
	}
	return fmt.Errorf("%w: target %q: lease %d of %q was taken over while the write was made", ErrLeaseLost, target, l.Token, l.Owner)
}

// Acquire implements [Store]. When the lease has lapsed, it waits (while
// ctx lasts, and for at most TakeoverGrace) for an operation in flight on
// the target to finish, then takes the lease over, without that
// operation's lock if it is still held (see [FileStore]).
func (s *FileStore) Acquire(ctx context.Context, target, owner string, ttl time.Duration) (Lease, error) {
	if err := ctx.Err(); err != nil {
		return Lease{}, err
	}
	tdir := s.targetDir(target)
	if err := s.ensureDir(tdir); err != nil {
		return Lease{}, err
	}
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return Lease{}, err
		}
		v, err := scan(tdir)
		if err != nil {
			return Lease{}, err
		}
		cur, err := readLease(tdir, v.cur, target)
		if err != nil {
			return Lease{}, err
		}
		if cur.held(time.Now()) {
			return Lease{}, &LeaseHeldError{Target: target, Owner: cur.Owner, Expires: cur.Expires}
		}
		grace := s.takeoverGrace()
		lk, err := s.lockEpoch(ctx, tdir, v.cur, grace, grace)
		if errors.Is(err, errSuperseded) {
			continue
		}
		if err != nil {
			return Lease{}, err
		}
		l, err := s.takeOver(tdir, v.cur, target, owner, ttl)
		lk.release()
		if errors.Is(err, errRetry) && attempt < 100 {
			continue
		}
		return l, err
	}
}

// takeOver starts the epoch after base with a lease for owner.
func (s *FileStore) takeOver(tdir string, base uint64, target, owner string, ttl time.Duration) (Lease, error) {
	v, err := scan(tdir)
	if err != nil {
		return Lease{}, err
	}
	if v.cur != base {
		return Lease{}, errRetry
	}
	cur, err := readLease(tdir, base, target)
	if err != nil {
		return Lease{}, err
	}
	if cur.held(time.Now()) {
		return Lease{}, &LeaseHeldError{Target: target, Owner: cur.Owner, Expires: cur.Expires}
	}
	x := max(v.maxClaim, cur.Token, base) + 1
	lk, err := s.claim(tdir, x)
	if errors.Is(err, fs.ErrExist) {
		return Lease{}, errRetry
	}
	if err != nil {
		return Lease{}, fmt.Errorf("rollback: claiming the lease of %q: %w", target, err)
	}
	defer lk.release()
	committed := false
	defer func() {
		if !committed { // best effort: a claim left unmarked is marked by the next one
			_ = s.mark(tdir, x, epochFile{Token: x, Aborted: true})
		}
	}()
	// Listed after the claim: every write in the base epoch that finishes
	// after this point sees the claim and reports the lease lost.
	v, err = scan(tdir)
	if err != nil {
		return Lease{}, err
	}
	if v.cur != base || v.maxClaim > x {
		return Lease{}, errRetry
	}
	for _, c := range v.pending() {
		if c == x {
			continue
		}
		if err := s.mark(tdir, c, epochFile{Token: c, Aborted: true}); errors.Is(err, fs.ErrExist) {
			return Lease{}, errRetry // it committed after all
		} else if err != nil {
			return Lease{}, fmt.Errorf("rollback: giving up the abandoned claim %d on %q: %w", c, target, err)
		}
	}
	seals, err := s.seal(v, base)
	if err != nil {
		return Lease{}, fmt.Errorf("rollback: sealing the journals of %q: %w", target, err)
	}
	rec, err := os.ReadFile(filepath.Join(tdir, targetName(base)))
	if err == nil {
		err = s.writeFile(filepath.Join(tdir, targetName(x)), rec)
	} else if errors.Is(err, fs.ErrNotExist) {
		err = nil
	}
	if err != nil {
		return Lease{}, fmt.Errorf("rollback: copying the record of %q: %w", target, err)
	}
	l := Lease{Target: target, Owner: owner, Token: x, Expires: time.Now().Add(ttl)}
	if err := s.writeJSON(filepath.Join(tdir, leaseName(x)), l); err != nil {
		return Lease{}, fmt.Errorf("rollback: writing lease of %q: %w", target, err)
	}
	if err := s.mark(tdir, x, epochFile{Token: x, Base: base, Seals: seals}); errors.Is(err, fs.ErrExist) {
		committed = true // someone marked it aborted: that is its mark
		return Lease{}, errRetry
	} else if err != nil {
		return Lease{}, fmt.Errorf("rollback: writing lease of %q: %w", target, err)
	}
	committed = true
	if base == 0 {
		// The first epoch of a store written before epochs: a process of
		// that earlier release still driving a release here reads only
		// lease.json, and must find its lease taken over.
		if err := s.writeJSON(filepath.Join(tdir, leaseName(0)), l); err != nil {
			return l, fmt.Errorf("rollback: fencing the earlier layout's lease of %q: %w", target, err)
		}
	}
	collect(v, base)
	return l, nil
}

// inEpoch runs fn under the lock of the target's newest epoch, fenced by
// l when l is not nil, and reports l lost when a takeover claimed a newer
// epoch before fn's writes were done.
func (s *FileStore) inEpoch(ctx context.Context, target string, l *Lease, needLive bool, fn func(v *view) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	tdir := s.targetDir(target)
	if l == nil {
		if err := s.ensureDir(tdir); err != nil {
			return err
		}
	}
	deadline := time.Now().Add(s.lockTimeout())
	wait := 100 * time.Microsecond
	for {
		v, err := scan(tdir)
		if err != nil {
			return err
		}
		if l != nil {
			cur, err := readLease(tdir, v.cur, target)
			if err != nil {
				return err
			}
			if err := fence(cur, *l, time.Now(), needLive); err != nil {
				return err
			}
		}
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("rollback: %w: %q was being taken over for %v", ErrLockTimeout, target, s.lockTimeout())
		}
		lk, err := s.lockEpoch(ctx, tdir, v.cur, 0, left)
		if errors.Is(err, errSuperseded) {
			continue
		}
		if err != nil {
			return err
		}
		err = s.locked(tdir, v.cur, target, l, needLive, fn)
		lk.release()
		if !errors.Is(err, errRetry) {
			return err
		}
		t := time.NewTimer(min(wait, max(time.Until(deadline), 0)))
		select {
		case <-ctx.Done():
			t.Stop()
			return context.Cause(ctx)
		case <-t.C:
		}
		wait = min(2*wait, 10*time.Millisecond)
	}
}

// locked is inEpoch's part under epoch e's lock.
func (s *FileStore) locked(tdir string, e uint64, target string, l *Lease, needLive bool, fn func(v *view) error) error {
	v, err := scan(tdir)
	if err != nil {
		return err
	}
	if v.cur != e {
		return errRetry
	}
	if pend := v.pending(); len(pend) > 0 {
		c := pend[0]
		alive, err := claimAlive(tdir, c)
		if err != nil {
			return err
		}
		if alive { // a takeover is under way
			if l != nil {
				return fmt.Errorf("%w: target %q: lease %d of %q is being taken over", ErrLeaseLost, target, l.Token, l.Owner)
			}
			return errRetry
		}
		// Its process died: mark the claim aborted and look again.
		if err := s.mark(tdir, c, epochFile{Token: c, Aborted: true}); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		return errRetry
	}
	if l != nil {
		cur, err := readLease(tdir, e, target)
		if err != nil {
			return err
		}
		if err := fence(cur, *l, time.Now(), needLive); err != nil {
			return err
		}
	}
	if err := fn(v); err != nil {
		return err
	}
	if lost, err := superseded(tdir, e); err != nil {
		return err
	} else if lost {
		return lostTo(l, target)
	}
	return nil
}

// Renew implements [Store].
func (s *FileStore) Renew(ctx context.Context, l Lease, ttl time.Duration) (Lease, error) {
	var out Lease
	err := s.inEpoch(ctx, l.Target, &l, false, func(v *view) error {
		cur, err := readLease(v.tdir, v.cur, l.Target)
		if err != nil {
			return err
		}
		cur.Expires = time.Now().Add(ttl)
		if err := s.writeJSON(filepath.Join(v.tdir, leaseName(v.cur)), cur); err != nil {
			return fmt.Errorf("rollback: renewing lease of %q: %w", l.Target, err)
		}
		out = cur
		return nil
	})
	return out, err
}

// Release implements [Store].
func (s *FileStore) Release(ctx context.Context, l Lease) error {
	return s.inEpoch(ctx, l.Target, &l, false, func(v *view) error {
		cur, err := readLease(v.tdir, v.cur, l.Target)
		if err != nil {
			return err
		}
		cur.Owner, cur.Expires = "", time.Time{}
		if err := s.writeJSON(filepath.Join(v.tdir, leaseName(v.cur)), cur); err != nil {
			return fmt.Errorf("rollback: releasing lease of %q: %w", l.Target, err)
		}
		return nil
	})
}

// Append implements [Store]. Records go to the journal's file of the
// lease's epoch. Before the first write to that file, the journal's
// earlier files are read and an append to a damaged journal is refused;
// before every write (when another process wrote to the file since), the
// file is verified: a torn final record, left by a process that died
// while writing it, is cut off (it was never complete, so nothing was
// applied after it); any other damage fails the append with a
// [*CorruptError].
func (s *FileStore) Append(ctx context.Context, l Lease, journal string, rec strategy.Record) error {
	frame, err := encodeFrame(rec)
	if err != nil {
		return err
	}
	return s.inEpoch(ctx, l.Target, &l, true, func(v *view) error {
		path := filepath.Join(v.tdir, segmentName(journal, v.cur))
		created := false
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if errors.Is(err, fs.ErrNotExist) {
			if _, err := v.readJournal(journal); err != nil {
				return err
			}
			if err := s.fault(FileCreate, path); err != nil {
				return err
			}
			f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
			created = true
		}
		if err != nil {
			return err
		}
		defer f.Close()
		end, err := s.verifiedEnd(f, path)
		if err != nil {
			return err
		}
		if err := s.fault(FileWrite, path); err != nil {
			return err
		}
		if _, err := f.WriteAt(frame, end); err != nil {
			return fmt.Errorf("rollback: appending to %s: %w", path, err)
		}
		if err := s.fault(FileSync, path); err != nil {
			return err
		}
		if err := f.Sync(); err != nil {
			return fmt.Errorf("rollback: syncing %s: %w", path, err)
		}
		if created {
			if err := s.syncDir(v.tdir); err != nil {
				return err
			}
		}
		end += int64(len(frame))
		if st, err := f.Stat(); err == nil && st.Size() == end {
			s.mu.Lock()
			if len(s.tails) >= 1024 { // forget finished journals; a forgotten one is verified again
				clear(s.tails)
			}
			s.tails[path] = tail{end: end, mtime: st.ModTime()}
			s.mu.Unlock()
		}
		return nil
	})
}

// verifiedEnd returns the offset at which the next frame of f goes,
// scanning (and cutting a torn tail off) when f is not as last left.
func (s *FileStore) verifiedEnd(f *os.File, path string) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	t, known := s.tails[path]
	s.mu.Unlock()
	if known && t.end == st.Size() && t.mtime.Equal(st.ModTime()) {
		return t.end, nil
	}
	data := make([]byte, st.Size())
	if _, err := f.ReadAt(data, 0); err != nil && st.Size() > 0 {
		return 0, err
	}
	_, good, err := decodeFrames(path, data)
	if err != nil {
		if !errors.Is(err, ErrTornRecord) {
			return 0, err
		}
		if ferr := s.fault(FileTruncate, path); ferr != nil {
			return 0, ferr
		}
		if terr := f.Truncate(good); terr != nil {
			return 0, fmt.Errorf("rollback: cutting the torn record off %s: %w", path, terr)
		}
	}
	return good, nil
}

// read runs fn on a listing of target's directory, and again on a new
// listing when a takeover committed while fn read: what fn returns is
// what the target held at one moment. It takes no lock. While a takeover
// is in progress (its claimant holds the claim's lock), it reads again
// after it commits, so that it never returns a frozen writer's last
// bytes that the takeover then leaves out; it waits for that at most
// about a quarter of a second, the time a takeover's few fsyncs take.
func read(ctx context.Context, tdir string, fn func(v *view) error) error {
	var err error
	wait := time.Millisecond
	for i := 0; ; i++ {
		var v *view
		if v, err = scan(tdir); err != nil {
			return err
		}
		err = fn(v)
		after, serr := scan(tdir)
		if serr != nil || i >= 8 {
			return err
		}
		if after.cur != v.cur {
			continue
		}
		busy := false
		for _, c := range after.pending() {
			if alive, _ := claimAlive(tdir, c); alive {
				busy = true
			}
		}
		if !busy {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		wait *= 2
	}
}

// Journal implements [Store]. It takes no lock (see [FileStore]).
func (s *FileStore) Journal(ctx context.Context, target, journal string) ([]strategy.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var recs []strategy.Record
	err := read(ctx, s.targetDir(target), func(v *view) error {
		var err error
		recs, err = v.readJournal(journal)
		return err
	})
	return recs, err
}

// Load implements [Store]. It takes no lock (see [FileStore]).
func (s *FileStore) Load(ctx context.Context, target string) (TargetRecord, error) {
	if err := ctx.Err(); err != nil {
		return TargetRecord{}, err
	}
	var rec TargetRecord
	err := read(ctx, s.targetDir(target), func(v *view) error {
		rec = TargetRecord{Target: target}
		return readJSON(filepath.Join(v.tdir, targetName(v.cur)), &rec)
	})
	return rec, err
}

// Update implements [Store].
func (s *FileStore) Update(ctx context.Context, target string, fenceLease *Lease, fn func(*TargetRecord) error) error {
	return s.inEpoch(ctx, target, fenceLease, true, func(v *view) error {
		path := filepath.Join(v.tdir, targetName(v.cur))
		rec := TargetRecord{Target: target}
		if err := readJSON(path, &rec); err != nil {
			return err
		}
		if err := fn(&rec); err != nil {
			return err
		}
		if err := s.writeJSON(path, rec); err != nil {
			return fmt.Errorf("rollback: writing record of %q: %w", target, err)
		}
		return nil
	})
}

// Targets implements [TargetLister]: every target with a record, sorted.
// The names come from the records (a directory name may be shortened).
func (s *FileStore) Targets(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "t-") {
			continue
		}
		var rec TargetRecord
		if err := read(ctx, filepath.Join(s.dir, e.Name()), func(v *view) error {
			rec = TargetRecord{}
			return readJSON(filepath.Join(v.tdir, targetName(v.cur)), &rec)
		}); err != nil {
			return out, err
		}
		if rec.Target != "" {
			out = append(out, rec.Target)
		}
	}
	slices.Sort(out)
	return out, nil
}
