package rollback

import (
	"errors"
	"testing"
	"time"

	"github.com/glidepath/glidepath/strategy"
)

// FuzzDecodeFrames feeds arbitrary bytes to the journal decoder: it never
// panics, every error is a *CorruptError at the offset where decoding
// stopped, either torn or corrupt, and the records returned encode and
// decode again.
func FuzzDecodeFrames(f *testing.F) {
	s := strategy.State{Stable: "v1", Canary: "v2", Weight: 10}
	var good []byte
	for i, r := range []strategy.Record{
		{Kind: strategy.RecordStarted, Release: "r", Fingerprint: "fp", At: time.Unix(1, 0)},
		{Kind: strategy.RecordIntent, Release: "r", Step: 1, State: &s, At: time.Unix(2, 0)},
	} {
		fr, err := encodeFrame(r)
		if err != nil {
			f.Fatal(err)
		}
		good = append(good, fr...)
		f.Add(append([]byte(nil), good...))
		f.Add(good[:len(good)-i-3])
	}
	f.Add([]byte("GJ"))
	f.Add([]byte{'G', 'J', 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, end, err := decodeFrames("j", data)
		if end < 0 || end > int64(len(data)) {
			t.Fatalf("end %d outside 0..%d", end, len(data))
		}
		if err == nil {
			if end != int64(len(data)) {
				t.Fatalf("no error, yet decoding stopped at %d of %d", end, len(data))
			}
		} else {
			var ce *CorruptError
			if !errors.As(err, &ce) || ce.Offset != end || ce.Path != "j" {
				t.Fatalf("error %v (end %d)", err, end)
			}
			if errors.Is(err, ErrTornRecord) == errors.Is(err, ErrCorrupt) {
				t.Fatalf("%v is both or neither torn and corrupt", err)
			}
		}
		// Every record returned encodes and decodes again.
		var again []byte
		for _, r := range recs {
			fr, err := encodeFrame(r)
			if err != nil {
				t.Fatal(err)
			}
			again = append(again, fr...)
		}
		back, bend, berr := decodeFrames("j", again)
		if berr != nil || bend != int64(len(again)) || len(back) != len(recs) {
			t.Fatalf("%d records re-encoded decode as %d: %v", len(recs), len(back), berr)
		}
	})
}
