package storetest_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/glidepath/glidepath/rollback"
	"github.com/glidepath/glidepath/rollback/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestSuiteOnMemStore runs the suite on the reference implementation, so
// that a change to the suite is checked where it is made.
func TestSuiteOnMemStore(t *testing.T) {
	storetest.TestStore(t, storetest.Harness{
		New:          func(*testing.T) rollback.Store { return rollback.NewMemStore() },
		LargeRecords: 256,
	})
}
