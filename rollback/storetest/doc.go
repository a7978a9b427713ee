// Package storetest checks that a [rollback.Store] implementation keeps the
// promises [rollback.Manager] relies on. Every Store runs [TestStore] in its
// own tests: glidepath's memory and file stores, the etcd store in its
// nested module, and any store a user writes.
//
// The suite covers leases and fencing tokens (a token grows with every
// acquisition), expiry and takeover, fenced Append and Update refused for a
// lost lease, journals (order, independence, torn and corrupt records where
// the store can have them), concurrent writers (one holder at a time, no
// lost update, no journal gap), and long histories and journals.
//
// Stores whose leases expire on the process's clock ([rollback.MemStore],
// [rollback.FileStore]) run each subtest in a testing/synctest bubble, so
// expiry costs no real time. A store whose leases expire on a server's clock
// sets [Harness.RealClock]; the suite then waits its leases out for real,
// as few times as it can.
package storetest
