package volume

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/shoal-dev/shoal/internal/boltschema"
)

// ErrCorrupt marks a record in the database that fails validation. It is
// not an errdefs class: the API reports it as an internal error.
var ErrCorrupt = errors.New("corrupt volume metadata")

var (
	bucketV1      = []byte("v1")
	bucketVolumes = []byte("volumes")
)

// record is the JSON value of v1/volumes/<name>.
type record struct {
	Driver    string            `json:"driver"`
	CreatedAt time.Time         `json:"created_at"`
	Labels    map[string]string `json:"labels,omitempty"`
	Options   map[string]string `json:"options,omitempty"`
}

func openDB(path string) (*bolt.DB, error) {
	return boltschema.Open(path, boltschema.Schema{What: "volume metadata", Major: 1, Minor: 1, Buckets: [][]byte{bucketVolumes}, Corrupt: ErrCorrupt})
}

// volumesBucket returns v1/volumes of tx.
func volumesBucket(tx *bolt.Tx) (*bolt.Bucket, error) {
	root := tx.Bucket(bucketV1)
	if root == nil {
		return nil, fmt.Errorf("bucket v1 missing: %w", ErrCorrupt)
	}
	b := root.Bucket(bucketVolumes)
	if b == nil {
		return nil, fmt.Errorf("bucket v1/volumes missing: %w", ErrCorrupt)
	}
	return b, nil
}

// loadRecords reads and validates every record.
func loadRecords(ctx context.Context, bdb *bolt.DB) (map[string]record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := map[string]record{}
	err := bdb.View(func(tx *bolt.Tx) error {
		b, err := volumesBucket(tx)
		if err != nil {
			return err
		}
		return b.ForEach(func(k, v []byte) error {
			rec, err := decodeRecord(k, v)
			if err != nil {
				return err
			}
			out[string(k)] = rec
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("load volume metadata: %w", err)
	}
	return out, nil
}

func decodeRecord(k, v []byte) (record, error) {
	var rec record
	if !validName(string(k)) {
		return rec, fmt.Errorf("volume name %q: %w", k, ErrCorrupt)
	}
	if v == nil {
		return rec, fmt.Errorf("volume %s is a bucket: %w", k, ErrCorrupt)
	}
	if err := json.Unmarshal(v, &rec); err != nil {
		return rec, fmt.Errorf("volume %s: %w: %w", k, ErrCorrupt, err)
	}
	if rec.Driver != driverLocal {
		return rec, fmt.Errorf("volume %s: driver %q: %w", k, rec.Driver, ErrCorrupt)
	}
	return rec, nil
}

func putRecord(ctx context.Context, bdb *bolt.DB, name string, rec record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	v, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return bdb.Update(func(tx *bolt.Tx) error {
		b, err := volumesBucket(tx)
		if err != nil {
			return err
		}
		return b.Put([]byte(name), v)
	})
}

func deleteRecord(bdb *bolt.DB, name string) error {
	return bdb.Update(func(tx *bolt.Tx) error {
		b, err := volumesBucket(tx)
		if err != nil {
			return err
		}
		return b.Delete([]byte(name))
	})
}
