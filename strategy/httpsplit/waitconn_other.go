//go:build !unix

package httpsplit

import (
	"errors"
	"io"
)

const rawIOSupported = false

var errEOF = io.EOF

func rawRead(uintptr, []byte) (int, error) { return 0, errors.ErrUnsupported }
