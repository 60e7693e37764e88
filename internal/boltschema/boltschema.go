// Package boltschema is the versioned layout of Shoal's bbolt databases
// that carry user data (image metadata, volumes): everything lives under
// a top-level bucket "v<major>", whose "version" key holds the minor
// version as a big-endian uint64. A binary refuses a database of a newer
// major or minor version, rather than misread it; an older minor is
// brought up to date.
package boltschema

import (
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

// KeyVersion is the key of the minor version in the root bucket.
var KeyVersion = []byte("version")

// Schema describes one database.
type Schema struct {
	What         string   // for errors: "metadata", "volume metadata"
	Major, Minor uint64   // this binary's version
	Buckets      [][]byte // created under the root bucket
	Corrupt      error    // the package's error for a damaged database
}

// Root is the name of the top-level bucket, "v<major>".
func (s Schema) Root() []byte { return []byte("v" + strconv.FormatUint(s.Major, 10)) }

// Open opens (creating it and its directory if needed) the database at
// path, waiting at most a second for another process's lock (then the
// error is errdefs.ErrUnavailable), and migrates it.
func Open(path string, s Schema) (*bolt.DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open %s %s: %w", s.What, path, err)
	}
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			err = fmt.Errorf("%w: %w (another process holds it)", errdefs.ErrUnavailable, err)
		}
		return nil, fmt.Errorf("open %s %s: %w", s.What, path, err)
	}
	if err := bdb.Update(s.Migrate); err != nil {
		return nil, errors.Join(fmt.Errorf("open %s %s: %w", s.What, path, err), bdb.Close())
	}
	return bdb, nil
}

// Migrate creates the schema or upgrades an older minor version.
func (s Schema) Migrate(tx *bolt.Tx) error {
	err := tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
		v, ok := strings.CutPrefix(string(name), "v")
		if n, err := strconv.ParseUint(v, 10, 64); ok && err == nil && n > s.Major {
			return fmt.Errorf("schema %s is newer than this binary's v%d: %w", name, s.Major, errdefs.ErrFailedPrecondition)
		}
		return nil
	})
	if err != nil {
		return err
	}
	root, err := tx.CreateBucketIfNotExists(s.Root())
	if err != nil {
		return err
	}
	var minor uint64
	if b := root.Get(KeyVersion); b != nil {
		if len(b) != 8 {
			return fmt.Errorf("schema version %x: %w", b, s.Corrupt)
		}
		minor = binary.BigEndian.Uint64(b)
	}
	if minor > s.Minor {
		return fmt.Errorf("schema v%d.%d is newer than this binary's v%d.%d: %w", s.Major, minor, s.Major, s.Minor, errdefs.ErrFailedPrecondition)
	}
	// Minor 0 is a fresh database; later minors add migrations here.
	for _, name := range s.Buckets {
		if _, err := root.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	if minor != s.Minor {
		return root.Put(KeyVersion, binary.BigEndian.AppendUint64(nil, s.Minor))
	}
	return nil
}
