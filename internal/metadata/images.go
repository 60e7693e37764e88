package metadata

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"

	"github.com/shoal-dev/shoal/internal/errdefs"
	"github.com/shoal-dev/shoal/internal/image/ref"
)

// Image is an image record, or one of its names.
type Image struct {
	// ID is the image's identity: the digest of its config blob, as
	// Docker's image ID ("sha256:<64 hex>").
	ID digest.Digest
	// Name is the fully qualified reference this value was found by or
	// listed under; "" for a value found by ID and for a dangling image
	// in List. Create tags the image with Name if it is set.
	Name string
	// Target is the manifest or index descriptor the image (or, with a
	// Name, that name) was created from.
	Target ocispec.Descriptor
	// Created is when the record was created (UTC); Create fills in the
	// current time if it is zero.
	Created time.Time
	// Labels are free-form annotations of the record (not the config's
	// labels).
	Labels map[string]string
}

// ImageNotFoundError is the error for a missing image. Its message is
// Docker's; it is of class errdefs.ErrNotFound.
type ImageNotFoundError struct {
	// Ref is what the caller asked for, as Docker prints it
	// ("busybox:latest", "sha256:<hex>", "abc12").
	Ref string
}

func (e *ImageNotFoundError) Error() string { return "No such image: " + e.Ref }
func (e *ImageNotFoundError) Unwrap() error { return errdefs.ErrNotFound }

// AmbiguousImageError is the error for an ID prefix that matches more than
// one image. It is of class errdefs.ErrConflict.
type AmbiguousImageError struct {
	Prefix string
}

func (e *AmbiguousImageError) Error() string {
	return fmt.Sprintf("image ID prefix %s is ambiguous: it matches more than one image", e.Prefix)
}
func (e *AmbiguousImageError) Unwrap() error { return errdefs.ErrConflict }

// ImageStore keeps image records and their names. It is safe for
// concurrent use; every method is one bbolt transaction.
type ImageStore struct {
	db *DB
}

// Images returns the database's image store.
func (db *DB) Images() *ImageStore { return &ImageStore{db: db} }

// Create records a new image. If img.Name is set, the name is pointed at
// it in the same transaction (moving it from another image if need be).
// It returns the record as stored (name normalised, Created filled in). An
// existing ID is ErrAlreadyExists: use Tag to give it another name.
func (s *ImageStore) Create(ctx context.Context, img Image) (Image, error) {
	id, err := parseID(img.ID.String())
	if err != nil {
		return Image{}, fmt.Errorf("create image: id %q: %w: %w", img.ID, err, errdefs.ErrInvalidArgument)
	}
	img.ID = id
	if err := validateDescriptor(img.Target); err != nil {
		return Image{}, fmt.Errorf("create image %s: target: %w: %w", id, err, errdefs.ErrInvalidArgument)
	}
	for k := range img.Labels {
		if k == "" {
			return Image{}, fmt.Errorf("create image %s: empty label key: %w", id, errdefs.ErrInvalidArgument)
		}
	}
	if img.Name != "" {
		r, err := ref.Parse(img.Name)
		if err != nil {
			return Image{}, err
		}
		img.Name = r.String()
	}
	if img.Created.IsZero() {
		img.Created = time.Now()
	}
	img.Created = utc(img.Created)
	img.Labels = maps.Clone(img.Labels)

	err = s.db.update(ctx, func(root *bolt.Bucket) error {
		images, names, err := imageBuckets(root)
		if err != nil {
			return err
		}
		if images.Get([]byte(id)) != nil || images.Bucket([]byte(id)) != nil {
			return fmt.Errorf("image %s: %w", id, errdefs.ErrAlreadyExists)
		}
		if err := writeImage(images, img); err != nil {
			return err
		}
		if img.Name == "" {
			return nil
		}
		return writeName(names, nameRecord{name: img.Name, image: id, target: img.Target})
	})
	if err != nil {
		return Image{}, fmt.Errorf("create image %s: %w", id, err)
	}
	return img, nil
}

// Tag points name at the image id, moving the name if it pointed at
// another image. The name's target is the image's target.
func (s *ImageStore) Tag(ctx context.Context, name string, id digest.Digest) error {
	r, err := ref.Parse(name)
	if err != nil {
		return err
	}
	if _, err := parseID(id.String()); err != nil {
		return fmt.Errorf("tag %s: id %q: %w: %w", r, id, err, errdefs.ErrInvalidArgument)
	}
	err = s.db.update(ctx, func(root *bolt.Bucket) error {
		images, names, err := imageBuckets(root)
		if err != nil {
			return err
		}
		img, err := readImage(images, []byte(id))
		if errdefs.IsNotFound(err) {
			return &ImageNotFoundError{Ref: id.String()}
		}
		if err != nil {
			return err
		}
		return writeName(names, nameRecord{name: r.String(), image: id, target: img.Target})
	})
	if err != nil {
		return wrap("tag "+r.String(), err)
	}
	return nil
}

// Untag removes name. The image stays, dangling if that was its last name.
func (s *ImageStore) Untag(ctx context.Context, name string) error {
	r, err := ref.Parse(name)
	if err != nil {
		return err
	}
	err = s.db.update(ctx, func(root *bolt.Bucket) error {
		_, names, err := imageBuckets(root)
		if err != nil {
			return err
		}
		if err := names.DeleteBucket([]byte(r.String())); err != nil {
			if isBucketNotFound(err) {
				return &ImageNotFoundError{Ref: r.Familiar()}
			}
			return err
		}
		return nil
	})
	if err != nil {
		return wrap("untag "+r.String(), err)
	}
	return nil
}

// Get finds an image by name, ID or unique ID prefix, in that order (see
// the package documentation). Found by name, the result's Name and Target
// are the name's.
func (s *ImageStore) Get(ctx context.Context, nameOrID string) (Image, error) {
	var img Image
	err := s.db.view(ctx, func(root *bolt.Bucket) error {
		var err error
		img, err = resolve(root, nameOrID)
		return err
	})
	if err != nil {
		return Image{}, wrap("get image "+nameOrID, err)
	}
	return img, nil
}

func resolve(root *bolt.Bucket, s string) (Image, error) {
	images, names, err := imageBuckets(root)
	if err != nil {
		return Image{}, err
	}
	// 1. A full ID.
	full := s
	if isHex(s) && len(s) == 64 {
		full = "sha256:" + s
	}
	if id, err := parseID(full); err == nil {
		img, err := readImage(images, []byte(id))
		if errdefs.IsNotFound(err) {
			return Image{}, &ImageNotFoundError{Ref: id.String()}
		}
		return img, err
	}
	// 2. A name.
	r, parseErr := ref.Parse(s)
	if parseErr == nil {
		rec, err := readName(names, []byte(r.String()))
		switch {
		case err == nil:
			img, err := readImage(images, []byte(rec.image))
			if errdefs.IsNotFound(err) {
				return Image{}, fmt.Errorf("name %s points at missing image %s: %w", rec.name, rec.image, ErrCorrupt)
			}
			if err != nil {
				return Image{}, err
			}
			img.Name, img.Target = rec.name, rec.target
			return img, nil
		case !errdefs.IsNotFound(err):
			return Image{}, err
		}
	}
	// 3. An ID prefix.
	prefix := strings.TrimPrefix(s, "sha256:")
	if prefix == "" || !isHex(prefix) {
		if parseErr != nil {
			return Image{}, parseErr
		}
		return Image{}, &ImageNotFoundError{Ref: r.Familiar()}
	}
	seek := []byte("sha256:" + prefix)
	var found []byte
	c := images.Cursor()
	for k, _ := c.Seek(seek); k != nil && bytes.HasPrefix(k, seek); k, _ = c.Next() {
		if found != nil {
			return Image{}, &AmbiguousImageError{Prefix: s}
		}
		found = k
	}
	if found == nil {
		if parseErr == nil {
			return Image{}, &ImageNotFoundError{Ref: r.Familiar()}
		}
		return Image{}, &ImageNotFoundError{Ref: s}
	}
	return readImage(images, found)
}

// List returns one value per name (Name set) and one per dangling image
// (Name ""), in that order, names sorted, dangling images by ID, keeping
// those for which filter returns true (all, if filter is nil). A corrupt
// record fails the whole list.
func (s *ImageStore) List(ctx context.Context, filter func(Image) bool) ([]Image, error) {
	var out []Image
	err := s.db.view(ctx, func(root *bolt.Bucket) error {
		images, names, err := imageBuckets(root)
		if err != nil {
			return err
		}
		tagged := map[digest.Digest]bool{}
		c := names.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			rec, err := readName(names, k)
			if err != nil {
				return err
			}
			img, err := readImage(images, []byte(rec.image))
			if errdefs.IsNotFound(err) {
				return fmt.Errorf("name %s points at missing image %s: %w", rec.name, rec.image, ErrCorrupt)
			}
			if err != nil {
				return err
			}
			tagged[img.ID] = true
			img.Name, img.Target = rec.name, rec.target
			if filter == nil || filter(img) {
				out = append(out, img)
			}
		}
		c = images.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			img, err := readImage(images, k)
			if err != nil {
				return err
			}
			if tagged[img.ID] {
				continue
			}
			if filter == nil || filter(img) {
				out = append(out, img)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	return out, nil
}

// Delete removes the image id and every name pointing at it, in one
// transaction. Whether an image may be deleted (containers using it, other
// names) is the caller's decision.
func (s *ImageStore) Delete(ctx context.Context, id digest.Digest) error {
	err := s.db.update(ctx, func(root *bolt.Bucket) error {
		images, names, err := imageBuckets(root)
		if err != nil {
			return err
		}
		if images.Bucket([]byte(id)) == nil {
			if images.Get([]byte(id)) != nil {
				return fmt.Errorf("image record %q: not a bucket: %w", id, ErrCorrupt)
			}
			return &ImageNotFoundError{Ref: id.String()}
		}
		tags, err := namesOf(names, id)
		if err != nil {
			return err
		}
		for _, n := range tags {
			if err := names.DeleteBucket([]byte(n)); err != nil {
				return err
			}
		}
		return images.DeleteBucket([]byte(id))
	})
	if err != nil {
		return wrap("delete image "+id.String(), err)
	}
	return nil
}

// Names returns the names pointing at image id, sorted.
func (s *ImageStore) Names(ctx context.Context, id digest.Digest) ([]string, error) {
	var out []string
	err := s.db.view(ctx, func(root *bolt.Bucket) error {
		images, names, err := imageBuckets(root)
		if err != nil {
			return err
		}
		if _, err := readImage(images, []byte(id)); err != nil {
			if errdefs.IsNotFound(err) {
				return &ImageNotFoundError{Ref: id.String()}
			}
			return err
		}
		out, err = namesOf(names, id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("names of image %s: %w", id, err)
	}
	return out, nil
}

func namesOf(names *bolt.Bucket, id digest.Digest) ([]string, error) {
	var out []string
	c := names.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		rec, err := readName(names, k)
		if err != nil {
			return nil, err
		}
		if rec.image == id {
			out = append(out, rec.name)
		}
	}
	return out, nil
}

// Roots returns the targets of every image and name, deduplicated and
// sorted by digest: the roots from which garbage collection walks the
// content store (manifest or index → manifests → config and layers).
func (s *ImageStore) Roots(ctx context.Context) ([]ocispec.Descriptor, error) {
	seen := map[digest.Digest]ocispec.Descriptor{}
	err := s.db.view(ctx, func(root *bolt.Bucket) error {
		images, names, err := imageBuckets(root)
		if err != nil {
			return err
		}
		c := images.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			img, err := readImage(images, k)
			if err != nil {
				return err
			}
			seen[img.Target.Digest] = img.Target
		}
		c = names.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			rec, err := readName(names, k)
			if err != nil {
				return err
			}
			seen[rec.target.Digest] = rec.target
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("image gc roots: %w", err)
	}
	out := slices.Collect(maps.Values(seen))
	slices.SortFunc(out, func(a, b ocispec.Descriptor) int { return strings.Compare(string(a.Digest), string(b.Digest)) })
	return out, nil
}

// LiveDigests returns the digests of Roots.
func (s *ImageStore) LiveDigests(ctx context.Context) ([]digest.Digest, error) {
	roots, err := s.Roots(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]digest.Digest, len(roots))
	for i, d := range roots {
		out[i] = d.Digest
	}
	return out, nil
}

// wrap adds op to err, except to the errors whose message is Docker's
// answer to the user (no such image, ambiguous prefix, invalid reference
// format): those go back as they are, so the API can print them verbatim.
func wrap(op string, err error) error {
	var nf *ImageNotFoundError
	var amb *AmbiguousImageError
	if errors.As(err, &nf) || errors.As(err, &amb) || errdefs.IsInvalidArgument(err) {
		return err
	}
	return fmt.Errorf("%s: %w", op, err)
}

func imageBuckets(root *bolt.Bucket) (images, names *bolt.Bucket, err error) {
	if images, err = subBucket(root, bucketImages); err != nil {
		return nil, nil, err
	}
	if names, err = subBucket(root, bucketNames); err != nil {
		return nil, nil, err
	}
	return images, names, nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
