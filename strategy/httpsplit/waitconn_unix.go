//go:build unix

package httpsplit

import (
	"io"
	"syscall"
)

const rawIOSupported = true

var errEOF = io.EOF

func rawRead(fd uintptr, p []byte) (int, error) {
	n, err := syscall.Read(int(fd), p)
	if n < 0 {
		n = 0
	}
	return n, err
}
