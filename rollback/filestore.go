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
// target has a subdirectory holding:
//
//   - lock: a lock file; every operation holds an exclusive lock on it
//     (flock(2) on Unix, LockFileEx on Windows) for its duration, so
//     processes sharing the directory (and separate FileStores in one
//     process) see each other's changes atomically. Waiting for it honours
//     the operation's context and [FileOptions.LockTimeout]. On platforms
//     without file locks (plan9, js, wasip1) only the FileStores of one
//     process exclude each other;
//   - lease.json: the lease, rewritten atomically (write a temporary file,
//     fsync, rename, fsync the directory);
//   - target.json: the [TargetRecord] (active release, history), rewritten
//     the same way;
//   - journal-<name>.log: one append-only journal per release; each record
//     is framed with its length and a CRC-32C checksum and fsynced before
//     Append returns.
//
// A kernel lock rather than O_EXCL lock files: the kernel drops it when its
// process dies, even by SIGKILL, so a crash never leaves a stale lock that
// needs guessing about; liveness across crashes is the lease's job (it
// expires), mutual exclusion of each read-check-write is the lock's.
// The lock is advisory and local: the directory must not be on a network
// file system that does not implement it. A process frozen (SIGSTOP)
// inside a store operation keeps the lock while it is frozen: the other
// processes' operations on that target fail with [ErrLockTimeout] after
// LockTimeout instead of hanging, and succeed once it wakes or dies. The
// lock is never broken, because the frozen process would go on writing
// when it woke.
//
// Reads (Load, Journal, and so Manager.History and Manager.Pending) work
// on a read-only store: they lock the lock file read-only, or read
// unlocked when it cannot be opened, since nothing can write there.
type FileStore struct {
	dir  string
	opts FileOptions

	mu    sync.Mutex
	tails map[string]tail // journal path -> its state after this store's last verified write
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
	// LockTimeout bounds how long an operation waits for a target's
	// lock while another operation holds it (default DefaultLockTimeout);
	// it then fails with [ErrLockTimeout]. Waiting also ends with the
	// operation's context.
	LockTimeout time.Duration
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

// JournalPath returns the file that holds target's named journal.
func (s *FileStore) JournalPath(target, journal string) string {
	return filepath.Join(s.targetDir(target), "journal-"+fileName(journal)+".log")
}

func (s *FileStore) targetDir(target string) string {
	return filepath.Join(s.dir, "t-"+fileName(target))
}

// fileName turns any string into one safe file-name component, and
// distinct strings into distinct components. A name whose escaped form is
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

// ErrLockTimeout marks a FileStore operation that gave up waiting for a
// target's lock: another process held it for longer than the store's
// LockTimeout (it is frozen, or its disk is very slow).
var ErrLockTimeout = errors.New("timed out waiting for the store's lock")

// localLocks excludes the FileStores of one process from each other on
// platforms without file locks (see lock_other.go).
var localLocks sync.Map // lock path -> chan struct{} of capacity 1

// locked runs fn holding target's lock. A read (write false) of a target
// that has no directory yet, or on a read-only file system, runs without
// the lock: nothing can change there.
func (s *FileStore) locked(ctx context.Context, target string, write bool, fn func(tdir string) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	tdir := s.targetDir(target)
	if _, err := os.Stat(tdir); errors.Is(err, fs.ErrNotExist) {
		if !write {
			return fn(tdir)
		}
		if err := s.fault(FileMkdir, tdir); err != nil {
			return err
		}
		if err := os.MkdirAll(tdir, 0o755); err != nil {
			return err
		}
		if err := s.syncDir(s.dir); err != nil {
			return err
		}
	}
	lockPath := filepath.Join(tdir, "lock")
	f, err := os.OpenFile(lockPath, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		if err = s.fault(FileCreate, lockPath); err == nil {
			f, err = os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o644)
		}
	}
	if err != nil && !write {
		// A read-only store (a read-only mount, a copy without write
		// permission): lock read-only if the lock file exists, else read
		// unlocked, since no writer can use this directory either.
		if f, err = os.Open(lockPath); err != nil {
			return fn(tdir)
		}
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if !lockSupported {
		ch, _ := localLocks.LoadOrStore(lockPath, make(chan struct{}, 1))
		sem := ch.(chan struct{})
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		defer func() { <-sem }()
	}
	if err := s.lock(ctx, f, lockPath); err != nil {
		return err
	}
	defer unlock(f) //nolint:errcheck // closing the file drops the lock anyway
	return fn(tdir)
}

// lock takes f's lock, waiting (while ctx lasts, and for at most the
// store's LockTimeout) for another holder to let go.
func (s *FileStore) lock(ctx context.Context, f *os.File, path string) error {
	timeout := s.opts.LockTimeout
	if timeout == 0 {
		timeout = DefaultLockTimeout
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	wait := 100 * time.Microsecond
	for {
		busy, err := tryLock(f)
		if err != nil {
			return fmt.Errorf("rollback: locking %s: %w", path, err)
		}
		if !busy {
			return nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("rollback: waiting for the lock %s: %w", path, context.Cause(ctx))
		case <-deadline.C:
			t.Stop()
			return fmt.Errorf("rollback: %w: %s was held by another operation for %v", ErrLockTimeout, path, timeout)
		case <-t.C:
		}
		wait = min(2*wait, 10*time.Millisecond)
	}
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

func (s *FileStore) readLease(tdir string) (Lease, error) {
	var l Lease
	err := readJSON(filepath.Join(tdir, "lease.json"), &l)
	return l, err
}

// Acquire implements [Store].
func (s *FileStore) Acquire(ctx context.Context, target, owner string, ttl time.Duration) (Lease, error) {
	var out Lease
	err := s.locked(ctx, target, true, func(tdir string) error {
		cur, err := s.readLease(tdir)
		if err != nil {
			return err
		}
		l, err := acquire(cur, target, owner, ttl, time.Now())
		if err != nil {
			return err
		}
		if err := s.writeJSON(filepath.Join(tdir, "lease.json"), l); err != nil {
			return fmt.Errorf("rollback: writing lease of %q: %w", target, err)
		}
		out = l
		return nil
	})
	return out, err
}

// Renew implements [Store].
func (s *FileStore) Renew(ctx context.Context, l Lease, ttl time.Duration) (Lease, error) {
	var out Lease
	err := s.locked(ctx, l.Target, true, func(tdir string) error {
		cur, err := s.readLease(tdir)
		if err != nil {
			return err
		}
		now := time.Now()
		if err := fence(cur, l, now, false); err != nil {
			return err
		}
		cur.Expires = now.Add(ttl)
		if err := s.writeJSON(filepath.Join(tdir, "lease.json"), cur); err != nil {
			return fmt.Errorf("rollback: renewing lease of %q: %w", l.Target, err)
		}
		out = cur
		return nil
	})
	return out, err
}

// Release implements [Store].
func (s *FileStore) Release(ctx context.Context, l Lease) error {
	return s.locked(ctx, l.Target, true, func(tdir string) error {
		cur, err := s.readLease(tdir)
		if err != nil {
			return err
		}
		if err := fence(cur, l, time.Now(), false); err != nil {
			return err
		}
		cur.Owner, cur.Expires = "", time.Time{}
		if err := s.writeJSON(filepath.Join(tdir, "lease.json"), cur); err != nil {
			return fmt.Errorf("rollback: releasing lease of %q: %w", l.Target, err)
		}
		return nil
	})
}

// Append implements [Store]. Before its first write to a journal (and
// whenever another process wrote to it since), it verifies the journal:
// a torn final record, left by a process that died while writing it, is
// cut off (it was never complete, so nothing was applied after it); any
// other damage fails the append with a [*CorruptError].
func (s *FileStore) Append(ctx context.Context, l Lease, journal string, rec strategy.Record) error {
	frame, err := encodeFrame(rec)
	if err != nil {
		return err
	}
	return s.locked(ctx, l.Target, true, func(tdir string) error {
		cur, err := s.readLease(tdir)
		if err != nil {
			return err
		}
		if err := fence(cur, l, time.Now(), true); err != nil {
			return err
		}
		path := s.JournalPath(l.Target, journal)
		created := false
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if errors.Is(err, fs.ErrNotExist) {
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
			if err := s.syncDir(tdir); err != nil {
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

// Journal implements [Store].
func (s *FileStore) Journal(ctx context.Context, target, journal string) ([]strategy.Record, error) {
	var recs []strategy.Record
	err := s.locked(ctx, target, false, func(string) error {
		path := s.JournalPath(target, journal)
		data, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		var derr error
		recs, _, derr = decodeFrames(path, data)
		return derr
	})
	return recs, err
}

// Load implements [Store].
func (s *FileStore) Load(ctx context.Context, target string) (TargetRecord, error) {
	rec := TargetRecord{Target: target}
	err := s.locked(ctx, target, false, func(tdir string) error {
		return readJSON(filepath.Join(tdir, "target.json"), &rec)
	})
	return rec, err
}

// Update implements [Store].
func (s *FileStore) Update(ctx context.Context, target string, fenceLease *Lease, fn func(*TargetRecord) error) error {
	return s.locked(ctx, target, true, func(tdir string) error {
		if fenceLease != nil {
			cur, err := s.readLease(tdir)
			if err != nil {
				return err
			}
			if err := fence(cur, *fenceLease, time.Now(), true); err != nil {
				return err
			}
		}
		path := filepath.Join(tdir, "target.json")
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
		if err := readJSON(filepath.Join(s.dir, e.Name(), "target.json"), &rec); err != nil {
			return out, err
		}
		if rec.Target != "" {
			out = append(out, rec.Target)
		}
	}
	slices.Sort(out)
	return out, nil
}
