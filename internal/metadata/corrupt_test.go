package metadata

import (
	"encoding/binary"
	"errors"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// TestCorruptRecords damages one record at a time behind the store's back
// and checks that reads report ErrCorrupt instead of panicking or
// returning garbage.
func TestCorruptRecords(t *testing.T) {
	t.Parallel()
	good := newImage("good")
	good.Name = "good"
	tests := []struct {
		name string
		// damage runs inside a write transaction on v1.
		damage func(t *testing.T, root *bolt.Bucket)
		// get is looked up with Get and must fail with ErrCorrupt.
		get string
	}{
		{"target not json", func(t *testing.T, root *bolt.Bucket) {
			put(t, root.Bucket(bucketImages).Bucket([]byte(good.ID)), keyTarget, "{")
		}, good.ID.String()},
		{"target missing digest", func(t *testing.T, root *bolt.Bucket) {
			put(t, root.Bucket(bucketImages).Bucket([]byte(good.ID)), keyTarget, `{"mediaType":"x","size":1}`)
		}, good.ID.String()},
		{"target negative size", func(t *testing.T, root *bolt.Bucket) {
			put(t, root.Bucket(bucketImages).Bucket([]byte(good.ID)), keyTarget,
				`{"mediaType":"x","digest":"`+good.ID.String()+`","size":-5}`)
		}, good.ID.String()},
		{"target missing", func(t *testing.T, root *bolt.Bucket) {
			if err := root.Bucket(bucketImages).Bucket([]byte(good.ID)).Delete(keyTarget); err != nil {
				t.Fatal(err)
			}
		}, good.ID.String()},
		{"created garbage", func(t *testing.T, root *bolt.Bucket) {
			put(t, root.Bucket(bucketImages).Bucket([]byte(good.ID)), keyCreatedAt, "\xff\x00")
		}, "good"},
		{"image key not a digest", func(t *testing.T, root *bolt.Bucket) {
			if _, err := root.Bucket(bucketImages).CreateBucket([]byte("sha256:0000")); err != nil {
				t.Fatal(err)
			}
		}, "sha256:0000"},
		{"image is a value", func(t *testing.T, root *bolt.Bucket) {
			put(t, root.Bucket(bucketImages), []byte("sha256:"+digestOf("v").Encoded()), "x")
		}, digestOf("v").Encoded()[:20]},
		{"label is a bucket", func(t *testing.T, root *bolt.Bucket) {
			lb := root.Bucket(bucketImages).Bucket([]byte(good.ID)).Bucket(bucketLabels)
			if _, err := lb.CreateBucket([]byte("nested")); err != nil {
				t.Fatal(err)
			}
		}, "good"},
		{"name points at missing image", func(t *testing.T, root *bolt.Bucket) {
			put(t, root.Bucket(bucketNames).Bucket([]byte("docker.io/library/good:latest")), keyImage, digestOf("gone").String())
		}, "good"},
		{"name image garbage", func(t *testing.T, root *bolt.Bucket) {
			put(t, root.Bucket(bucketNames).Bucket([]byte("docker.io/library/good:latest")), keyImage, "nope")
		}, "good"},
		{"name key not canonical", func(t *testing.T, root *bolt.Bucket) {
			b, err := root.Bucket(bucketNames).CreateBucket([]byte("good:1"))
			if err != nil {
				t.Fatal(err)
			}
			put(t, b, keyImage, good.ID.String())
		}, ""},
		{"bucket images missing", func(t *testing.T, root *bolt.Bucket) {
			if err := root.DeleteBucket(bucketImages); err != nil {
				t.Fatal(err)
			}
		}, "good"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db, _ := newDB(t, false)
			s := db.Images()
			mustCreate(t, s, good)
			err := db.bdb.Update(func(tx *bolt.Tx) error {
				tt.damage(t, tx.Bucket(bucketV1))
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if tt.get != "" {
				if _, err := s.Get(t.Context(), tt.get); !errors.Is(err, ErrCorrupt) {
					t.Errorf("Get(%q) = %v, want ErrCorrupt", tt.get, err)
				}
			}
			if _, err := s.List(t.Context(), nil); !errors.Is(err, ErrCorrupt) {
				t.Errorf("List() = %v, want ErrCorrupt", err)
			}
			if err := db.Check(t.Context()); !errors.Is(err, ErrCorrupt) {
				t.Errorf("Check() = %v, want ErrCorrupt", err)
			}
			// Nothing panics either.
			_, _ = s.LiveDigests(t.Context())
			_, _ = s.Names(t.Context(), good.ID)
			_ = s.Delete(t.Context(), good.ID)
		})
	}
}

func put(t *testing.T, b *bolt.Bucket, k []byte, v string) {
	t.Helper()
	if b == nil {
		t.Fatalf("put %s: no bucket", k)
	}
	if err := b.Put(k, []byte(v)); err != nil {
		t.Fatal(err)
	}
}

func TestOpenSchema(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(tx *bolt.Tx) error
		class error
	}{
		{"newer major", func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("v2")); return err }, errdefs.ErrFailedPrecondition},
		{"newer minor", func(tx *bolt.Tx) error {
			return tx.Bucket(bucketV1).Put(keyVersion, binary.BigEndian.AppendUint64(nil, schemaMinor+1))
		}, errdefs.ErrFailedPrecondition},
		{"garbage version", func(tx *bolt.Tx) error { return tx.Bucket(bucketV1).Put(keyVersion, []byte("x")) }, ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "state.db")
			db, err := Open(t.Context(), path)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.bdb.Update(tt.setup); err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			if db, err := Open(t.Context(), path); !errors.Is(err, tt.class) {
				if err == nil {
					db.Close()
				}
				t.Errorf("Open() = %v, want class %v", err, tt.class)
			}
		})
	}
}

func TestOpenLocked(t *testing.T) {
	t.Parallel()
	_, path := newDB(t, true)
	if db, err := Open(t.Context(), path); !errdefs.IsUnavailable(err) {
		if err == nil {
			db.Close()
		}
		t.Errorf("Open() of a held database = %v, want unavailable", err)
	}
}
