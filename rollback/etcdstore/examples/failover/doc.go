// Command failover runs two replicas of a deploy service against one etcd,
// kills the replica driving a release in the middle of it, and shows the
// other replica finishing the release.
//
// It starts Debian's etcd-server (/usr/bin/etcd) on loopback ports in a
// temporary directory, and the replicas as processes of its own binary:
//
//	cd rollback/etcdstore && go run ./examples/failover
package main
