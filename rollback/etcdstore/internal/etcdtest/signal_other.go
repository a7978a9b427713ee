//go:build !unix

package etcdtest

import (
	"errors"
	"os"
)

func pause(*os.Process) error {
	return errors.New("etcdtest: pausing a process needs SIGSTOP (Unix only)")
}
func resume(*os.Process) error { return nil }
