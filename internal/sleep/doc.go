// Package sleep is glidepath's one way to wait for a duration without
// outliving a context: [For] replaces the time.NewTimer and select pairs
// that backoffs, polling loops and lease waits would otherwise each write.
// It is importable from the nested modules (rollback/etcdstore and the
// others) because their import paths lie under the core module's.
package sleep
