//go:build unix

package rollback

import (
	"errors"
	"os"
	"syscall"
)

// lockSupported says the platform excludes other processes from the lock.
const lockSupported = true

// tryLock takes an exclusive flock(2) on f without waiting; busy reports a
// lock held by another open file.
func tryLock(f *os.File) (busy bool, err error) {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case err == nil:
			return false, nil
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EWOULDBLOCK):
			return true, nil
		default:
			return false, err
		}
	}
}

func unlock(f *os.File) error { return syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }
