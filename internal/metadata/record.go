package metadata

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/shoal-dev/shoal/internal/errdefs"
	"github.com/shoal-dev/shoal/internal/image/ref"
)

// Encoding and validation of records. Every value read from the database
// goes through the read functions here, which turn anything unexpected into
// an ErrCorrupt error.

// parseID validates an image ID: a canonical "sha256:<64 hex>" digest.
func parseID(s string) (digest.Digest, error) {
	d, err := digest.Parse(s)
	if err != nil {
		return "", err
	}
	if d.Algorithm() != digest.SHA256 {
		return "", fmt.Errorf("digest %s: algorithm %s: %w", s, d.Algorithm(), errdefs.ErrNotImplemented)
	}
	return d, nil
}

// validateDescriptor checks what the store relies on in a target.
func validateDescriptor(desc ocispec.Descriptor) error {
	if desc.MediaType == "" {
		return fmt.Errorf("descriptor %s has no media type", desc.Digest)
	}
	if err := desc.Digest.Validate(); err != nil {
		return fmt.Errorf("descriptor digest %q: %w", desc.Digest, err)
	}
	if desc.Size < 0 {
		return fmt.Errorf("descriptor %s has negative size %d", desc.Digest, desc.Size)
	}
	return nil
}

func encodeTarget(desc ocispec.Descriptor) ([]byte, error) {
	return json.Marshal(desc)
}

func decodeTarget(b []byte) (ocispec.Descriptor, error) {
	var desc ocispec.Descriptor
	if b == nil {
		return desc, fmt.Errorf("no target")
	}
	if err := json.Unmarshal(b, &desc); err != nil {
		return desc, fmt.Errorf("target: %w", err)
	}
	if err := validateDescriptor(desc); err != nil {
		return desc, fmt.Errorf("target: %w", err)
	}
	return desc, nil
}

// writeImage writes img (already validated) under images/<id>, replacing
// nothing: the caller has checked that the key is free.
func writeImage(images *bolt.Bucket, img Image) error {
	b, err := images.CreateBucket([]byte(img.ID))
	if err != nil {
		return err
	}
	target, err := encodeTarget(img.Target)
	if err != nil {
		return err
	}
	created, err := img.Created.MarshalBinary()
	if err != nil {
		return err
	}
	if err := b.Put(keyTarget, target); err != nil {
		return err
	}
	if err := b.Put(keyCreatedAt, created); err != nil {
		return err
	}
	if len(img.Labels) == 0 {
		return nil
	}
	lb, err := b.CreateBucket(bucketLabels)
	if err != nil {
		return err
	}
	for k, v := range img.Labels {
		if err := lb.Put([]byte(k), []byte(v)); err != nil {
			return err
		}
	}
	return nil
}

// readImage reads and validates images/<key>. A missing record is
// ErrNotFound (the caller words the message); a bad one is ErrCorrupt.
func readImage(images *bolt.Bucket, key []byte) (Image, error) {
	img, err := decodeImage(images, key)
	if err != nil && !errdefs.IsNotFound(err) {
		return Image{}, fmt.Errorf("image record %q: %w: %w", key, err, ErrCorrupt)
	}
	return img, err
}

func decodeImage(images *bolt.Bucket, key []byte) (Image, error) {
	b := images.Bucket(key)
	if b == nil {
		if images.Get(key) != nil {
			return Image{}, fmt.Errorf("not a bucket")
		}
		return Image{}, errdefs.ErrNotFound
	}
	id, err := parseID(string(key))
	if err != nil {
		return Image{}, fmt.Errorf("key: %w", err)
	}
	img := Image{ID: id}
	if img.Target, err = decodeTarget(b.Get(keyTarget)); err != nil {
		return Image{}, err
	}
	if err := img.Created.UnmarshalBinary(b.Get(keyCreatedAt)); err != nil {
		return Image{}, fmt.Errorf("createdat: %w", err)
	}
	if lb := b.Bucket(bucketLabels); lb != nil {
		img.Labels = map[string]string{}
		err := lb.ForEach(func(k, v []byte) error {
			if v == nil {
				return fmt.Errorf("label %q is a bucket", k)
			}
			img.Labels[string(k)] = string(v)
			return nil
		})
		if err != nil {
			return Image{}, err
		}
	}
	return img, nil
}

// nameRecord is a decoded names/<name> bucket.
type nameRecord struct {
	name   string
	image  digest.Digest
	target ocispec.Descriptor
}

func writeName(names *bolt.Bucket, rec nameRecord) error {
	if err := names.DeleteBucket([]byte(rec.name)); err != nil && !isBucketNotFound(err) {
		return err
	}
	b, err := names.CreateBucket([]byte(rec.name))
	if err != nil {
		return err
	}
	target, err := encodeTarget(rec.target)
	if err != nil {
		return err
	}
	if err := b.Put(keyImage, []byte(rec.image)); err != nil {
		return err
	}
	return b.Put(keyTarget, target)
}

// readName reads and validates names/<key>. A missing record is
// ErrNotFound; a bad one is ErrCorrupt.
func readName(names *bolt.Bucket, key []byte) (nameRecord, error) {
	rec, err := decodeName(names, key)
	if err != nil && !errdefs.IsNotFound(err) {
		return nameRecord{}, fmt.Errorf("name record %q: %w: %w", key, err, ErrCorrupt)
	}
	return rec, err
}

func decodeName(names *bolt.Bucket, key []byte) (nameRecord, error) {
	b := names.Bucket(key)
	if b == nil {
		if names.Get(key) != nil {
			return nameRecord{}, fmt.Errorf("not a bucket")
		}
		return nameRecord{}, errdefs.ErrNotFound
	}
	r, err := ref.Parse(string(key))
	if err != nil {
		return nameRecord{}, fmt.Errorf("key: %w", err)
	}
	if r.String() != string(key) {
		return nameRecord{}, fmt.Errorf("key is not canonical (%s)", r)
	}
	rec := nameRecord{name: string(key)}
	if rec.image, err = parseID(string(b.Get(keyImage))); err != nil {
		return nameRecord{}, fmt.Errorf("image: %w", err)
	}
	if rec.target, err = decodeTarget(b.Get(keyTarget)); err != nil {
		return nameRecord{}, err
	}
	return rec, nil
}

// Created times are stored in UTC so that records compare equal however
// the caller's clock was configured.
func utc(t time.Time) time.Time { return t.UTC().Round(0) }

func isBucketNotFound(err error) bool { return errors.Is(err, bolterrors.ErrBucketNotFound) }
