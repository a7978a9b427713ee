//go:build windows

package rollback

import (
	"errors"
	"os"

	"golang.org/x/sys/windows"
)

// lockSupported says the platform excludes other processes from the lock.
const lockSupported = true

// tryLock takes an exclusive LockFileEx lock on f's first byte without
// waiting; busy reports a lock held by another handle. Windows drops it
// when the process dies, like flock.
func tryLock(f *os.File) (busy bool, err error) {
	ol := new(windows.Overlapped)
	err = windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, ol)
	if errors.Is(err, windows.ERROR_LOCK_VIOLATION) || errors.Is(err, windows.ERROR_IO_PENDING) {
		return true, nil
	}
	return false, err
}

func unlock(f *os.File) error {
	return windows.UnlockFileEx(windows.Handle(f.Fd()), 0, 1, 0, new(windows.Overlapped))
}
