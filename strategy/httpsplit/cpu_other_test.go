//go:build !unix

package httpsplit

import "time"

// processCPU is 0 where getrusage is missing: no CPU metric is reported.
func processCPU() time.Duration { return 0 }
