package rollback_test

import (
	"encoding/binary"
	"os"
	"testing"

	"github.com/glidepath/glidepath/rollback"
	"github.com/glidepath/glidepath/rollback/storetest"
)

func TestMemStoreConformance(t *testing.T) {
	storetest.TestStore(t, storetest.Harness{
		New:          func(*testing.T) rollback.Store { return rollback.NewMemStore() },
		LargeRecords: 512, // no size limit to meet: keep the test quick
	})
}

func TestFileStoreConformance(t *testing.T) {
	open := func(t *testing.T, dir string) rollback.Store {
		s, err := rollback.OpenFileStore(dir, rollback.FileOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	storetest.TestStore(t, storetest.Harness{
		New:          func(t *testing.T) rollback.Store { return open(t, t.TempDir()) },
		LargeRecords: 512,
		Reopen:       func(t *testing.T, s rollback.Store) rollback.Store { return open(t, s.(*rollback.FileStore).Dir()) },
		Tear: func(t *testing.T, s rollback.Store, target, journal string) {
			path := s.(*rollback.FileStore).JournalPath(target, journal)
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			// The header and half the payload of a frame, as a crash leaves it.
			hdr := []byte{'G', 'J', 0, 0, 0, 40}
			hdr = binary.BigEndian.AppendUint32(hdr, ^uint32(40))
			hdr = append(hdr, 1, 2, 3, 4)
			if _, err := f.Write(append(hdr, []byte(`{"kind":"st`)...)); err != nil {
				t.Fatal(err)
			}
		},
		Corrupt: func(t *testing.T, s rollback.Store, target, journal string, i int) {
			path := s.(*rollback.FileStore).JournalPath(target, journal)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			off := 0
			for range i {
				off += 14 + int(binary.BigEndian.Uint32(data[off+2:]))
			}
			data[off+14+3] ^= 0x20 // a flipped bit in the payload
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
		},
	})
}
