package flag

import (
	"encoding/binary"
	"math"
	"math/bits"
)

// murmur3 returns the 32-bit MurmurHash3 (x86_32) of data with seed 0: the hash flagd's
// fractional operation buckets with, so that a Strata rollout and a flagd one agree on who
// is in. The published test vectors are in murmur_test.go.
func murmur3(data []byte) uint32 {
	const c1, c2 = 0xcc9e2d51, 0x1b873593
	var h uint32
	n := len(data)
	for len(data) >= 4 {
		k := binary.LittleEndian.Uint32(data)
		data = data[4:]
		k *= c1
		k = bits.RotateLeft32(k, 15)
		k *= c2
		h ^= k
		h = bits.RotateLeft32(h, 13)
		h = h*5 + 0xe6546b64
	}
	var k uint32
	switch len(data) {
	case 3:
		k ^= uint32(data[2]) << 16
		fallthrough
	case 2:
		k ^= uint32(data[1]) << 8
		fallthrough
	case 1:
		k ^= uint32(data[0])
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

// Bucket returns where targetingKey falls for flag key, in [0, 100], as flagd's fractional
// operation computes it: murmur3 of the flag key followed by the targeting key, read as a
// signed 32-bit number, its magnitude as a share of the largest one. The same key gets the
// same bucket on every call and every server; a rollout of N percent takes buckets below N.
func Bucket(key, targetingKey string) float64 {
	h := int32(murmur3([]byte(key + targetingKey)))
	return math.Abs(float64(h)) / math.MaxInt32 * 100
}
