package volume

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// ErrCorrupt marks a record in the database that fails validation. It is
// not an errdefs class: the API reports it as an internal error.
var ErrCorrupt = errors.New("corrupt volume metadata")

const (
	schemaMajor = 1
	schemaMinor = 1

	openTimeout = time.Second
)

var (
	bucketV1      = []byte("v1")
	keyVersion    = []byte("version")
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
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: openTimeout})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			err = fmt.Errorf("%w: %w (another process holds it)", errdefs.ErrUnavailable, err)
		}
		return nil, fmt.Errorf("open volume metadata %s: %w", path, err)
	}
	if err := bdb.Update(migrate); err != nil {
		return nil, errors.Join(fmt.Errorf("open volume metadata %s: %w", path, err), bdb.Close())
	}
	return bdb, nil
}

// migrate creates the schema or upgrades an older minor version.
func migrate(tx *bolt.Tx) error {
	err := tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
		v, ok := strings.CutPrefix(string(name), "v")
		if n, err := strconv.Atoi(v); ok && err == nil && n > schemaMajor {
			return fmt.Errorf("schema %s is newer than this binary's v%d: %w", name, schemaMajor, errdefs.ErrFailedPrecondition)
		}
		return nil
	})
	if err != nil {
		return err
	}
	root, err := tx.CreateBucketIfNotExists(bucketV1)
	if err != nil {
		return err
	}
	var minor uint64
	if b := root.Get(keyVersion); b != nil {
		if len(b) != 8 {
			return fmt.Errorf("schema version %x: %w", b, ErrCorrupt)
		}
		minor = binary.BigEndian.Uint64(b)
	}
	if minor > schemaMinor {
		return fmt.Errorf("schema v1.%d is newer than this binary's v1.%d: %w", minor, schemaMinor, errdefs.ErrFailedPrecondition)
	}
	if _, err := root.CreateBucketIfNotExists(bucketVolumes); err != nil {
		return err
	}
	if minor != schemaMinor {
		return root.Put(keyVersion, binary.BigEndian.AppendUint64(nil, schemaMinor))
	}
	return nil
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
