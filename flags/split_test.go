package flags_test

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/glidepath/glidepath/flags"
)

func abc(split ...flags.Share) flags.Flag {
	return flags.Flag{Key: "layout", Variants: map[string]any{"a": "A", "b": "B", "c": "C"},
		Rollout: flags.Rollout{Control: "a", Split: split}}
}

// An N-variant split serves each key the variant whose bucket range
// (SHA-256 bucketing, ranges in Split order, relative weights) holds the
// key's bucket, and the shares match the weights.
func TestSplitAssignsByBucketRanges(t *testing.T) {
	split := []flags.Share{{"a", 2}, {"b", 1}, {"c", 1}}
	p := newProvider(t, abc(split...))
	_, client := register(t, p)
	counts := map[string]int{}
	const n = 20000
	for i := range n {
		key := fmt.Sprintf("user-%d", i)
		b := flags.Bucket("layout", "layout", key)
		want := "c"
		switch {
		case b < 50000:
			want = "a"
		case b < 75000:
			want = "b"
		}
		d, err := client.StringValueDetails(context.Background(), "layout", "", user(key))
		if err != nil || d.Variant != want || d.Reason != openfeature.SplitReason {
			t.Fatalf("%s (bucket %d): %+v %v, want %s", key, b, d, err, want)
		}
		counts[want]++
	}
	for v, w := range map[string]float64{"a": 0.5, "b": 0.25, "c": 0.25} {
		if got := float64(counts[v]) / n; math.Abs(got-w) > 0.015 {
			t.Errorf("variant %s got %.3f of keys, want %.2f", v, got, w)
		}
	}
	d, _ := client.StringValueDetails(context.Background(), "layout", "", user(""))
	if d.ErrorCode != openfeature.TargetingKeyMissingCode {
		t.Errorf("a split without a targeting key: %+v", d)
	}
	// Moving weight from a to c only moves keys from a to c.
	if err := p.SetRollout("layout", flags.Rollout{Control: "a", Split: []flags.Share{{"a", 1}, {"b", 1}, {"c", 2}}}); err != nil {
		t.Fatal(err)
	}
	for i := range 5000 {
		key := fmt.Sprintf("user-%d", i)
		b := flags.Bucket("layout", "layout", key)
		got, _ := p.Variant("layout", key)
		want := "c"
		switch {
		case b < 25000:
			want = "a"
		case b < 50000:
			want = "b"
		}
		if got != want {
			t.Fatalf("%s: %s, want %s", key, got, want)
		}
	}
}

func TestSplitRejectsBadWeights(t *testing.T) {
	for _, split := range [][]flags.Share{
		{{"a", 0}, {"b", 0}},
		{{"a", -1}, {"b", 2}},
		{{"a", 1}, {"z", 1}},
		{{"a", 1}, {"a", 1}},
	} {
		if err := abc(split...).Validate(); err == nil {
			t.Errorf("split %v accepted", split)
		}
	}
	f := abc(flags.Share{Variant: "a", Weight: 1})
	f.Rollout.Treatment, f.Rollout.Percent = "b", 10
	if err := f.Validate(); err == nil {
		t.Error("a split with a treatment accepted")
	}
}
