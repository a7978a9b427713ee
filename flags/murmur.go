package flags

import "math/bits"

// murmur3 is MurmurHash3 x86 32-bit with seed 0 of the concatenation
// a + b, computed without building the concatenation. flagd hashes the
// bucketing value of a fractional rule with it (flagKey + targetingKey
// when the rule names no bucketing value).
func murmur3(a, b string) uint32 {
	const (
		c1 = 0xcc9e2d51
		c2 = 0x1b873593
	)
	var h uint32 // seed 0
	n := len(a) + len(b)
	at := func(i int) uint32 { // byte i of a+b
		if i < len(a) {
			return uint32(a[i])
		}
		return uint32(b[i-len(a)])
	}
	i := 0
	// Whole blocks of a alone, then blocks straddling or inside b.
	for ; i+4 <= len(a); i += 4 {
		k := uint32(a[i]) | uint32(a[i+1])<<8 | uint32(a[i+2])<<16 | uint32(a[i+3])<<24
		h = murmurMix(h, k)
	}
	for ; i+4 <= n; i += 4 {
		var k uint32
		if i >= len(a) {
			j := i - len(a)
			k = uint32(b[j]) | uint32(b[j+1])<<8 | uint32(b[j+2])<<16 | uint32(b[j+3])<<24
		} else {
			k = at(i) | at(i+1)<<8 | at(i+2)<<16 | at(i+3)<<24
		}
		h = murmurMix(h, k)
	}
	var k uint32
	switch n - i {
	case 3:
		k ^= at(i+2) << 16
		fallthrough
	case 2:
		k ^= at(i+1) << 8
		fallthrough
	case 1:
		k ^= at(i)
		k *= c1
		k = bits.RotateLeft32(k, 15)
		k *= c2
		h ^= k
	}
	h ^= uint32(n)
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	return h
}

func murmurMix(h, k uint32) uint32 {
	k *= 0xcc9e2d51
	k = bits.RotateLeft32(k, 15)
	k *= 0x1b873593
	h ^= k
	h = bits.RotateLeft32(h, 13)
	return h*5 + 0xe6546b64
}

// FlagdBucket returns the variant index a flagd fractional rule with the
// given relative weights assigns to the bucketing value, exactly as flagd
// does (core/pkg/evaluator/fractional.go):
//
//	hash   = MurmurHash3_x86_32(bucketingValue, seed 0)
//	bucket = (uint64(hash) × totalWeight) >> 32        // in [0, totalWeight)
//
// and the variant is the first whose cumulative weight exceeds bucket.
// bucketingValue is flagKey + targetingKey when the rule names no
// bucketing expression. Negative weights count as 0. It returns -1 when
// the weights sum to 0 (flagd then serves the default variant).
func FlagdBucket(bucketingValue string, weights []int32) int {
	return fractionalPick(murmur3(bucketingValue, ""), weights)
}

func fractionalPick(hash uint32, weights []int32) int {
	var total uint64
	for _, w := range weights {
		if w > 0 {
			total += uint64(w)
		}
	}
	if total == 0 {
		return -1
	}
	bucket := uint64(hash) * total >> 32
	var end uint64
	for i, w := range weights {
		if w > 0 {
			end += uint64(w)
		}
		if bucket < end {
			return i
		}
	}
	return -1 // unreachable: bucket < total
}
