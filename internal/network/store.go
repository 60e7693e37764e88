package network

import (
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

var (
	bucketNetworks  = []byte("networks")
	bucketSandboxes = []byte("sandboxes")
	bucketMeta      = []byte("meta")
	// keyTable marks that this daemon made its nftables table, so that
	// clean-up never deletes a table of that name it did not make.
	keyTable = "firewall-table"
)

// db keeps networks and sandboxes in bbolt, beside ipam's bucket.
type db struct{ b *bolt.DB }

func (d db) init() error {
	return d.b.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketNetworks, bucketSandboxes, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
}

func (d db) put(bucket []byte, key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return d.b.Batch(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).Put([]byte(key), data)
	})
}

func (d db) delete(bucket []byte, key string) error {
	return d.b.Batch(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).Delete([]byte(key))
	})
}

func (d db) networks() ([]*Network, error) {
	var out []*Network
	err := d.b.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketNetworks).ForEach(func(k, v []byte) error {
			n := &Network{}
			if err := json.Unmarshal(v, n); err != nil {
				return fmt.Errorf("network %s: %w", k, err)
			}
			out = append(out, n)
			return nil
		})
	})
	return out, err
}

func (d db) sandboxes() ([]*Sandbox, error) {
	var out []*Sandbox
	err := d.b.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSandboxes).ForEach(func(k, v []byte) error {
			s := &Sandbox{}
			if err := json.Unmarshal(v, s); err != nil {
				return fmt.Errorf("sandbox %s: %w", k, err)
			}
			out = append(out, s)
			return nil
		})
	})
	return out, err
}

func (d db) getMeta(key string) bool {
	found := false
	_ = d.b.View(func(tx *bolt.Tx) error {
		found = tx.Bucket(bucketMeta).Get([]byte(key)) != nil
		return nil
	})
	return found
}
