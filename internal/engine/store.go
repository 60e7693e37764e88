package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

var bucketContainers = []byte("containers")

// store keeps container records in bbolt.
type store struct {
	db *bolt.DB
}

func openStore(path string) (*store, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, NoFreelistSync: true})
	if err != nil {
		return nil, fmt.Errorf("open container store %s: %w", path, err)
	}
	// Batch waits MaxBatchDelay (10 ms by default) for other writers to
	// join: on the path of every docker run that is most of a save. A
	// millisecond still lets concurrent runs share one sync.
	db.MaxBatchDelay = time.Millisecond
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketContainers)
		return err
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("open container store %s: %w", path, err)
	}
	return &store{db: db}, nil
}

func (s *store) close() error { return s.db.Close() }

// put writes a record; concurrent puts share one transaction and sync.
func (s *store) put(ctx context.Context, r *record) error {
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("save container %s: %w", r.ID, err)
	}
	if err := s.db.Batch(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketContainers).Put([]byte(r.ID), data)
	}); err != nil {
		return fmt.Errorf("save container %s: %w", r.ID, err)
	}
	return nil
}

func (s *store) delete(ctx context.Context, id string) error {
	if err := s.db.Batch(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketContainers).Delete([]byte(id))
	}); err != nil {
		return fmt.Errorf("delete container %s: %w", id, err)
	}
	return nil
}

// all reads every record; one that does not decode is reported to bad
// and skipped, never deleted.
func (s *store) all(bad func(id string, err error)) ([]*record, error) {
	var out []*record
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketContainers).ForEach(func(k, v []byte) error {
			r := &record{}
			if err := json.Unmarshal(v, r); err != nil || r.ID != string(k) {
				if err == nil {
					err = fmt.Errorf("record id %q under key %q", r.ID, k)
				}
				bad(string(k), err)
				return nil
			}
			out = append(out, r)
			return nil
		})
	})
	return out, err
}
