package rollback

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"

	"github.com/glidepath/glidepath/strategy"
)

// A journal file is a sequence of frames, each written by one write call
// and synced before the Apply it announces:
//
//	offset  size  content
//	0       2     magic "GJ"
//	2       4     payload length n, big endian
//	6       4     ^n (the length's complement, so a damaged length is
//	              detected instead of read as a short, torn record)
//	10      4     CRC-32C (Castagnoli) of the payload
//	14      n     payload: one strategy.Record as JSON
const (
	frameHeader = 14
	maxFrame    = 16 << 20
)

var (
	frameMagic = [2]byte{'G', 'J'}
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
)

// encodeFrame frames rec.
func encodeFrame(rec strategy.Record) ([]byte, error) {
	payload, err := json.Marshal(rec)
	if err != nil {
		return nil, fmt.Errorf("rollback: encoding record: %w", err)
	}
	buf := make([]byte, frameHeader+len(payload))
	buf[0], buf[1] = frameMagic[0], frameMagic[1]
	n := uint32(len(payload))
	binary.BigEndian.PutUint32(buf[2:], n)
	binary.BigEndian.PutUint32(buf[6:], ^n)
	binary.BigEndian.PutUint32(buf[10:], crc32.Checksum(payload, castagnoli))
	copy(buf[frameHeader:], payload)
	return buf, nil
}

// decodeFrames decodes every frame of data. It returns the records, the
// offset just past the last good frame, and a *CorruptError when data does
// not end exactly there: Torn when the final frame is incomplete (a crash
// while writing it), not Torn for any other damage.
func decodeFrames(path string, data []byte) ([]strategy.Record, int64, error) {
	var recs []strategy.Record
	off := 0
	for off < len(data) {
		rest := data[off:]
		bad := func(torn bool, format string, args ...any) ([]strategy.Record, int64, error) {
			return recs, int64(off), &CorruptError{Path: path, Offset: int64(off), Torn: torn, Reason: fmt.Sprintf(format, args...)}
		}
		for i := 0; i < 2 && i < len(rest); i++ {
			if rest[i] != frameMagic[i] {
				return bad(false, "bad frame magic %q", rest[:min(2, len(rest))])
			}
		}
		if len(rest) < frameHeader {
			return bad(true, "%d of %d header bytes", len(rest), frameHeader)
		}
		n := binary.BigEndian.Uint32(rest[2:])
		if ^n != binary.BigEndian.Uint32(rest[6:]) {
			return bad(false, "length check failed")
		}
		if n > maxFrame {
			return bad(false, "record length %d exceeds %d", n, maxFrame)
		}
		if len(rest) < frameHeader+int(n) {
			return bad(true, "%d of %d payload bytes", len(rest)-frameHeader, n)
		}
		payload := rest[frameHeader : frameHeader+int(n)]
		if got, want := crc32.Checksum(payload, castagnoli), binary.BigEndian.Uint32(rest[10:]); got != want {
			return bad(false, "checksum mismatch (crc32c %08x, recorded %08x)", got, want)
		}
		var rec strategy.Record
		if err := json.Unmarshal(payload, &rec); err != nil {
			return bad(false, "record does not decode: %v", err)
		}
		recs = append(recs, rec)
		off += frameHeader + int(n)
	}
	return recs, int64(off), nil
}
