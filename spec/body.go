package spec

import (
	"bytes"
	"io"
)

func newBody(b []byte) io.ReadCloser { return io.NopCloser(bytes.NewReader(b)) }
