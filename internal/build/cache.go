package build

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The cache database (<root>/cache.db):
//
//	steps/          bucket
//	  <cache key>   → image ID ("sha256:<hex>")
//
// A cache key is the hex sha256 of a step's canonical description (see
// stepKey). Entries are never removed except when found stale: the image
// they name no longer exists.

var (
	bucketSteps = []byte("steps")
	// children: "<parent ID>\x00<child ID>" → "", an image a step made
	// from its parent: docker images hides untagged images with
	// children, as Docker hides a build's intermediate images.
	bucketChildren = []byte("children")
)

// cache maps step keys to the images the steps produced.
type cache struct {
	db *bolt.DB
}

func openCache(path string) (*cache, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open build cache: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open build cache %s: %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(bucketChildren); err != nil {
			return err
		}
		_, err := tx.CreateBucketIfNotExists(bucketSteps)
		return err
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("open build cache %s: %w", path, err)
	}
	return &cache{db: db}, nil
}

func (c *cache) close() error { return c.db.Close() }

// get returns the image recorded for key.
func (c *cache) get(key string) (string, bool) {
	var id string
	_ = c.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketSteps).Get([]byte(key)); v != nil {
			id = string(v)
		}
		return nil
	})
	return id, id != ""
}

// put records that key produced the image id.
func (c *cache) put(key, id string) error {
	return c.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSteps).Put([]byte(key), []byte(id))
	})
}

// remove forgets key.
func (c *cache) remove(key string) error {
	return c.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSteps).Delete([]byte(key))
	})
}

// stepKey is the cache key of a step: the parent image, the step in
// canonical form (after expansion, with whatever else decides its result)
// and the author the image gets.
func stepKey(parent, step, author string) string {
	h := sha256.New()
	fmt.Fprintf(h, "shoal-build-v1\x00%s\x00%s\x00%s", parent, step, author)
	return hex.EncodeToString(h.Sum(nil))
}

// link records that child was made from parent.
func (c *cache) link(parent, child string) error {
	if parent == "" || parent == child {
		return nil
	}
	return c.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketChildren).Put([]byte(parent+"\x00"+child), nil)
	})
}

// hasChildren says whether a step made an image from id.
func (c *cache) hasChildren(id string) bool {
	found := false
	_ = c.db.View(func(tx *bolt.Tx) error {
		k, _ := tx.Bucket(bucketChildren).Cursor().Seek([]byte(id + "\x00"))
		found = k != nil && len(k) > len(id) && string(k[:len(id)+1]) == id+"\x00"
		return nil
	})
	return found
}
