package image

import (
	"context"
	"fmt"
	"io"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/shoal-dev/shoal/internal/errdefs"
	"github.com/shoal-dev/shoal/internal/image/ref"
	"github.com/shoal-dev/shoal/internal/image/transfer"
	"github.com/shoal-dev/shoal/internal/image/unpack"
	"github.com/shoal-dev/shoal/internal/metadata"
)

// Save writes the images (names or IDs) to w as `docker save` does, or as
// an OCI image layout.
func (s *Service) Save(ctx context.Context, names []string, w io.Writer, format transfer.Format) error {
	var imgs []transfer.SaveImage
	for _, n := range names {
		img, err := s.Get(ctx, n)
		if err != nil {
			return err
		}
		si := transfer.SaveImage{Manifest: img.Target}
		if img.Name != "" {
			si.Names = []string{img.Name}
		} else {
			si.Names = img.Names
		}
		imgs = append(imgs, si)
	}
	if err := transfer.Save(ctx, s.content, imgs, w, format); err != nil {
		return fmt.Errorf("save: %w", err)
	}
	return nil
}

// Load reads an archive written by `docker save`, skopeo or Save, unpacks
// its images and records their names. It returns the images loaded.
func (s *Service) Load(ctx context.Context, r io.Reader) ([]Image, error) {
	loaded, err := transfer.Load(ctx, s.content, r)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	var out []Image
	for _, l := range loaded {
		img, err := s.record(ctx, l.Manifest, l.Config, l.Names)
		if err != nil {
			return out, err
		}
		// What this archive named, not every name the image had before.
		img.Names = l.Names
		out = append(out, img)
	}
	return out, nil
}

// Import makes an image of a root filesystem tarball, named name if it
// is not empty.
func (s *Service) Import(ctx context.Context, r io.Reader, name string, opts transfer.ImportOpts) (Image, error) {
	var names []string
	if name != "" {
		rf, err := ref.Parse(name)
		if err != nil {
			return Image{}, err
		}
		if rf.Digest() != "" {
			return Image{}, fmt.Errorf("import as %s: a digest cannot name a new image: %w", name, errdefs.ErrInvalidArgument)
		}
		names = []string{rf.String()}
	}
	m, c, err := transfer.Import(ctx, s.content, r, opts)
	if err != nil {
		return Image{}, fmt.Errorf("import: %w", err)
	}
	return s.record(ctx, m, c, names)
}

// record unpacks a manifest whose blobs are in the store and records the
// image under names.
func (s *Service) record(ctx context.Context, manifest, config ocispec.Descriptor, names []string) (Image, error) {
	var m ocispec.Manifest
	if err := s.readJSON(ctx, manifest, &m); err != nil {
		return Image{}, err
	}
	if _, err := unpack.Unpack(ctx, s.content, s.sn, m); err != nil {
		return Image{}, fmt.Errorf("unpack %s: %w", manifest.Digest, err)
	}
	rec := metadata.Image{ID: config.Digest, Target: manifest}
	if _, err := s.images.Create(ctx, rec); err != nil && !errdefs.IsAlreadyExists(err) {
		return Image{}, fmt.Errorf("record %s: %w", config.Digest, err)
	}
	for _, n := range names {
		if err := s.images.Tag(ctx, n, config.Digest); err != nil {
			return Image{}, fmt.Errorf("tag %s: %w", n, err)
		}
	}
	return s.Get(ctx, config.Digest.String())
}

// Commit makes an image of parent plus the layer read from layerTar and
// records it under name (if not empty).
func (s *Service) Commit(ctx context.Context, parent, name string, layerTar io.Reader, opts transfer.CommitOpts) (Image, error) {
	p, err := s.Get(ctx, parent)
	if err != nil {
		return Image{}, err
	}
	var names []string
	if name != "" {
		rf, err := ref.Parse(name)
		if err != nil {
			return Image{}, err
		}
		if rf.Digest() != "" {
			return Image{}, fmt.Errorf("commit as %s: a digest cannot name a new image: %w", name, errdefs.ErrInvalidArgument)
		}
		names = []string{rf.String()}
	}
	m, c, err := transfer.Commit(ctx, s.content, p.Config, p.Manifest.Layers, layerTar, opts)
	if err != nil {
		return Image{}, err
	}
	return s.record(ctx, m, c, names)
}
