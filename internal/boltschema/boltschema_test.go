package boltschema

import (
	"encoding/binary"
	"errors"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

var errCorrupt = errors.New("corrupt test data")

func TestOpenAndMigrate(t *testing.T) {
	s := Schema{What: "test data", Major: 1, Minor: 2, Buckets: [][]byte{[]byte("a"), []byte("b")}, Corrupt: errCorrupt}
	path := filepath.Join(t.TempDir(), "sub", "t.db")
	db, err := Open(path, s)
	if err != nil {
		t.Fatal(err)
	}
	err = db.View(func(tx *bolt.Tx) error {
		root := tx.Bucket([]byte("v1"))
		if root == nil || root.Bucket([]byte("a")) == nil || root.Bucket([]byte("b")) == nil {
			t.Error("buckets missing after Open")
		}
		if v := root.Get(KeyVersion); binary.BigEndian.Uint64(v) != 2 {
			t.Errorf("version %x", v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path, s); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Errorf("second Open while held: %v, want unavailable", err)
	}
	for _, tc := range []struct {
		name   string
		damage func(tx *bolt.Tx) error
		want   error
	}{
		{"newer minor", func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("v1")).Put(KeyVersion, binary.BigEndian.AppendUint64(nil, 3))
		}, errdefs.ErrFailedPrecondition},
		{"garbage version", func(tx *bolt.Tx) error { return tx.Bucket([]byte("v1")).Put(KeyVersion, []byte("x")) }, errCorrupt},
		{"newer major", func(tx *bolt.Tx) error {
			if err := tx.Bucket([]byte("v1")).Put(KeyVersion, binary.BigEndian.AppendUint64(nil, 2)); err != nil {
				return err
			}
			_, err := tx.CreateBucket([]byte("v2"))
			return err
		}, errdefs.ErrFailedPrecondition},
	} {
		if err := db.Update(tc.damage); err != nil {
			t.Fatal(err)
		}
		if err := db.Update(s.Migrate); !errors.Is(err, tc.want) {
			t.Errorf("%s: Migrate = %v, want %v", tc.name, err, tc.want)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}
