package etcdtest

import "runtime"

// goarch is the architecture etcd 3.4 must be told it runs on when it is
// not amd64 (it refuses "unsupported" ones otherwise).
func goarch() string { return runtime.GOARCH }
