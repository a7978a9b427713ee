package flags_test

import (
	"fmt"
	"testing"

	"pgregory.net/rapid"

	"github.com/glidepath/glidepath/flags"
)

// The buckets below were computed outside Go, with
//
//	printf %s 'new-checkout/new-checkout/user-1' | sha256sum
//
// taking the first 16 hex digits as an unsigned integer mod 100000. They
// must never change: another process, or another language, relies on
// them to serve the same user the same variant.
func TestBucketPinned(t *testing.T) {
	for _, c := range []struct {
		salt, flag, key string
		want            int
	}{
		{"new-checkout", "new-checkout", "user-1", 79534},
		{"new-checkout", "new-checkout", "user-2", 33973},
		{"s3cr3t", "dark-mode", "alice@example.com", 86365},
		{"x", "y", "", 58038},
		{"new-checkout", "new-checkout", "ünïcode-ключ", 17999},
	} {
		if got := flags.Bucket(c.salt, c.flag, c.key); got != c.want {
			t.Errorf("Bucket(%q, %q, %q) = %d, want %d", c.salt, c.flag, c.key, got, c.want)
		}
	}
}

func TestBucketLongInput(t *testing.T) {
	long := fmt.Sprintf("%0300d", 7)
	b := flags.Bucket("salt", "flag", long)
	if b < 0 || b >= flags.Buckets {
		t.Fatalf("bucket %d out of range", b)
	}
	if flags.Bucket("salt", "flag", long) != b {
		t.Fatal("bucket of a long key is not deterministic")
	}
	if flags.Bucket("salt", "flag", long[:299]+"8") == b && flags.Bucket("salt", "flag", long[:299]+"9") == b {
		t.Fatal("long keys that differ share a bucket")
	}
}

func TestThreshold(t *testing.T) {
	for _, c := range []struct {
		p    float64
		want int
	}{{0, 0}, {-1, 0}, {0.001, 1}, {0.0004, 0}, {10, 10000}, {12.3456, 12346}, {100, 100000}, {250, 100000}} {
		if got := flags.Threshold(c.p); got != c.want {
			t.Errorf("Threshold(%v) = %d, want %d", c.p, got, c.want)
		}
	}
}

// Raising the percentage only adds keys; lowering it removes the keys
// added last, so moving back restores exactly the earlier set.
func TestRolloutIsMonotone(t *testing.T) {
	p := newProvider(t, checkout(0))
	rapid.Check(t, func(t *rapid.T) {
		lo := rapid.Float64Range(0, 100).Draw(t, "lo")
		hi := rapid.Float64Range(lo, 100).Draw(t, "hi")
		keys := rapid.SliceOfN(rapid.String(), 1, 50).Draw(t, "keys")
		variants := func(pct float64) []string {
			if err := p.SetRollout("new-checkout", flags.Rollout{Control: "off", Treatment: "on", Percent: pct}); err != nil {
				t.Fatal(err)
			}
			out := make([]string, len(keys))
			for i, k := range keys {
				out[i], _ = p.Variant("new-checkout", k)
			}
			return out
		}
		atLo := variants(lo)
		atHi := variants(hi)
		back := variants(lo)
		for i, k := range keys {
			if atLo[i] == "on" && atHi[i] != "on" {
				t.Fatalf("key %q left the treatment when the rollout rose from %v%% to %v%%", k, lo, hi)
			}
			if back[i] != atLo[i] {
				t.Fatalf("key %q: %s at %v%%, %s after going to %v%% and back", k, atLo[i], lo, back[i], hi)
			}
			if k != "" {
				want := "off"
				if flags.Bucket("new-checkout", "new-checkout", k) < flags.Threshold(hi) {
					want = "on"
				}
				if atHi[i] != want {
					t.Fatalf("key %q at %v%%: %s, bucketing says %s", k, hi, atHi[i], want)
				}
			}
		}
	})
}
