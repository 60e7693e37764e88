package metadata

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// ErrCorrupt marks a record in the database that fails validation. It is
// not an errdefs class: the API reports it as an internal error.
var ErrCorrupt = errors.New("corrupt metadata")

const (
	schemaMajor = 1
	schemaMinor = 1

	openTimeout = time.Second
)

var (
	bucketV1      = []byte("v1")
	keyVersion    = []byte("version")
	bucketImages  = []byte("images")
	bucketNames   = []byte("names")
	bucketLabels  = []byte("labels")
	keyTarget     = []byte("target")
	keyCreatedAt  = []byte("createdat")
	keyImage      = []byte("image")
	topLevelNames = [][]byte{bucketImages, bucketNames}
)

// DB is the engine's metadata database. It is safe for concurrent use.
type DB struct {
	bdb *bolt.DB
}

// Open opens (creating if needed) the database file at path and brings its
// schema up to date.
func Open(ctx context.Context, path string) (*DB, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open metadata %s: %w", path, err)
	}
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: openTimeout})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			err = fmt.Errorf("%w: %w (another process holds it)", errdefs.ErrUnavailable, err)
		}
		return nil, fmt.Errorf("open metadata %s: %w", path, err)
	}
	db := &DB{bdb: bdb}
	if err := bdb.Update(db.migrate); err != nil {
		return nil, errors.Join(fmt.Errorf("open metadata %s: %w", path, err), bdb.Close())
	}
	return db, nil
}

// migrate creates the schema or upgrades an older minor version.
func (db *DB) migrate(tx *bolt.Tx) error {
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
	// Minor 0 is a fresh database; later minors add migrations here.
	for _, name := range topLevelNames {
		if _, err := root.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	if minor != schemaMinor {
		return root.Put(keyVersion, binary.BigEndian.AppendUint64(nil, schemaMinor))
	}
	return nil
}

// Close closes the database. Stores obtained from it must not be used
// afterwards.
func (db *DB) Close() error {
	if err := db.bdb.Close(); err != nil {
		return fmt.Errorf("close metadata: %w", err)
	}
	return nil
}

// view and update run fn in a read or write transaction on the v1 bucket.
func (db *DB) view(ctx context.Context, fn func(root *bolt.Bucket) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return db.bdb.View(func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketV1)
		if root == nil {
			return fmt.Errorf("bucket v1 missing: %w", ErrCorrupt)
		}
		return fn(root)
	})
}

func (db *DB) update(ctx context.Context, fn func(root *bolt.Bucket) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return db.bdb.Update(func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketV1)
		if root == nil {
			return fmt.Errorf("bucket v1 missing: %w", ErrCorrupt)
		}
		return fn(root)
	})
}

// subBucket returns root's bucket name, or an ErrCorrupt error.
func subBucket(root *bolt.Bucket, name []byte) (*bolt.Bucket, error) {
	b := root.Bucket(name)
	if b == nil {
		return nil, fmt.Errorf("bucket %s missing: %w", name, ErrCorrupt)
	}
	return b, nil
}

// Check validates every record and every cross-reference in the database
// (the invariants in the package documentation) and reports all problems
// found, each wrapping ErrCorrupt. Tests run it on cleanup.
func (db *DB) Check(ctx context.Context) error {
	var errs []error
	err := db.view(ctx, func(root *bolt.Bucket) error {
		if b := root.Get(keyVersion); len(b) != 8 || binary.BigEndian.Uint64(b) != schemaMinor {
			errs = append(errs, fmt.Errorf("schema version %x: %w", b, ErrCorrupt))
		}
		images, err := subBucket(root, bucketImages)
		if err != nil {
			return err
		}
		names, err := subBucket(root, bucketNames)
		if err != nil {
			return err
		}
		c := images.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if _, err := readImage(images, k); err != nil {
				errs = append(errs, err)
			}
		}
		c = names.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			rec, err := readName(names, k)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if images.Bucket([]byte(rec.image)) == nil {
				errs = append(errs, fmt.Errorf("name %s points at missing image %s: %w", k, rec.image, ErrCorrupt))
			}
		}
		return nil
	})
	if err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
