//go:build !unix

package rollback_test

import (
	"context"
	"fmt"
	"os"

	"github.com/glidepath/glidepath/rollback"
)

// staleHolder needs SIGSTOP, which only Unix has.
func staleHolder(context.Context, *rollback.FileStore, string, string) {
	fmt.Println("error the stale-holder test needs SIGSTOP (Unix only)")
	os.Exit(3)
}

// frozenHolder needs SIGSTOP, which only Unix has.
func frozenHolder(context.Context, string) {
	fmt.Println("error the frozen-holder test needs SIGSTOP (Unix only)")
	os.Exit(3)
}
