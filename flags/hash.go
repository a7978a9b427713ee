package flags

import (
	"crypto/sha256"
	"encoding/binary"
)

// Buckets is the number of buckets targeting keys are hashed into. A
// rollout percentage p serves the treatment to the keys whose bucket is
// below p × Buckets / 100, so percentages have a resolution of 0.001%.
const Buckets = 100_000

// stackKey is the length of hash input that is bucketed without
// allocating; longer inputs are hashed from a heap buffer.
const stackKey = 256

// Bucket returns the bucket, in [0, Buckets), of targetingKey for the flag
// flagKey with the given salt. It is the whole of glidepath's assignment
// rule and is stable across processes, versions and languages:
//
//	input  = salt + "/" + flagKey + "/" + targetingKey   (UTF-8 bytes, no terminator)
//	digest = SHA-256(input)
//	bucket = uint64(digest[0:8], big-endian) mod 100000
//
// For example, Bucket("checkout", "new-checkout", "user-1") hashes the
// bytes "checkout/new-checkout/user-1". Any language with SHA-256 can
// reproduce it; `printf %s 'salt/flag/key' | sha256sum` shows the digest.
//
// A key is in the treatment of a rollout at percentage p exactly when
// Bucket(...) < Threshold(p), so raising p only adds keys and lowering it
// removes the keys that were added last.
func Bucket(salt, flagKey, targetingKey string) int {
	n := len(salt) + len(flagKey) + len(targetingKey) + 2
	var buf [stackKey]byte
	b := buf[:0]
	if n > stackKey {
		b = make([]byte, 0, n)
	}
	b = append(b, salt...)
	b = append(b, '/')
	b = append(b, flagKey...)
	b = append(b, '/')
	b = append(b, targetingKey...)
	sum := sha256.Sum256(b)
	return int(binary.BigEndian.Uint64(sum[:8]) % Buckets)
}

// Threshold is the number of buckets, out of [Buckets], that a rollout at
// percent serves the treatment to: percent × 1000, rounded to the nearest
// bucket and clamped to [0, Buckets].
func Threshold(percent float64) int {
	if !(percent > 0) { // also catches NaN
		return 0
	}
	if percent >= 100 {
		return Buckets
	}
	return int(percent*Buckets/100 + 0.5)
}
