package metadata

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/shoal-dev/shoal/internal/boltschema"
)

// ErrCorrupt marks a record in the database that fails validation. It is
// not an errdefs class: the API reports it as an internal error.
var ErrCorrupt = errors.New("corrupt metadata")

const schemaMinor = 1

// schema is the database's layout (see boltschema).
var schema = boltschema.Schema{What: "metadata", Major: 1, Minor: schemaMinor, Buckets: topLevelNames, Corrupt: ErrCorrupt}

var (
	bucketV1      = []byte("v1")
	keyVersion    = boltschema.KeyVersion
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
	bdb, err := boltschema.Open(path, schema)
	if err != nil {
		return nil, err
	}
	db := &DB{bdb: bdb}
	return db, nil
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
