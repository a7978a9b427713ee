//go:build !unix && !windows

package rollback

import "os"

// lockSupported says the platform excludes other processes from the lock:
// on plan9, js and wasip1 there is no advisory file lock, so a FileStore
// excludes only the FileStores of its own process (see [FileStore]).
const lockSupported = false

func tryLock(*os.File) (busy bool, err error) { return false, nil }

func unlock(*os.File) error { return nil }
