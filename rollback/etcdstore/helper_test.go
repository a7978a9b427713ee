package etcdstore

// helperMain runs this test binary as a helper process when the fault tests
// ask for one, and reports whether it did.
func helperMain() bool { return false }
