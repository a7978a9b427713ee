// Package etcdstore is a [rollback.Store] on etcd, for deploy services that
// run several replicas: any replica can drive any release, exactly one
// drives a given target at a time, and when a replica dies another resumes
// its releases (see [rollback.Worker]). It is a module of its own so that
// users who do not need etcd do not pull its client.
//
// # Key layout
//
// Every key starts with [Options.Prefix] (default "glidepath/"); target and
// journal names are path-escaped, so they never contain '/' and distinct
// names give distinct keys:
//
//	<prefix>t/<target>/lease              the lease: value = owner, attached to an etcd lease
//	<prefix>t/<target>/record             the target record without its history (JSON)
//	<prefix>t/<target>/h/<id:20 digits>   one history entry per key (JSON)
//	<prefix>t/<target>/j/<journal>/<i:20> one journal record per key, i = 0, 1, 2... (JSON)
//
// # Leases and fencing
//
// A lease is an etcd lease (its TTL rounded up to whole seconds; etcd
// deletes the lease key when it expires) and the lease key attached to it.
// The fencing token is the lease key's create revision: etcd's revision
// grows with every write, so every acquisition's token is larger than any
// before it. Every write of a lease holder is one etcd transaction whose
// condition compares the lease key's create revision with the token and
// its value with the owner, so etcd itself refuses the write of a holder
// whose lease expired or was taken over, however late that write arrives;
// nothing is checked before the transaction and trusted after it. An
// append also requires that no key of the journal changed since this Store
// last wrote or verified it, so two Stores of one holder cannot interleave
// and a damaged journal is read (and refused) before it is appended to.
//
// # Size limits
//
// etcd refuses a request larger than --max-request-bytes (1.5 MiB by
// default) or with more than --max-txn-ops operations (128). No value here
// grows with the number of releases: a journal is one key per record and a
// history one key per entry, so a write carries one record, or the record
// key plus the history entries that changed (usually one added and one
// dropped). [Options.MaxValueBytes] (1 MiB) bounds each value and
// [Options.MaxTxnOps] the operations of one write; a write beyond them is
// refused with [ErrTooLarge] before it reaches etcd. The history is bounded
// by [rollback.Manager.Keep], and the target record's other lists by the
// Manager too. Reads of long journals are paged (256 records a request, at
// one revision).
//
// # Compatibility
//
// The store uses go.etcd.io/etcd/client/v3 v3.6 and only the KV, Txn
// (including a compare over a key range, etcd 3.3 and later) and Lease
// APIs; its tests run against Debian's etcd-server 3.4.
package etcdstore
