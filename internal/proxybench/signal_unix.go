//go:build unix

package main

import "syscall"

// terminate asks nginx for a fast shutdown.
var terminate = syscall.SIGTERM
