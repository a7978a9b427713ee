//go:build !linux

package httpsplit

import "net"

// evLoop is Serve's event loop, which only Linux has; elsewhere every
// connection is served by the goroutine loop.
type evLoop struct{}

func (sv *server) startLoops() {}

func (sv *server) toLoop(net.Conn) bool { return false }

func (sv *server) wakeLoops() {}
