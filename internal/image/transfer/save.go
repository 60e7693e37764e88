package transfer

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/shoal-dev/shoal/internal/archive"
	"github.com/shoal-dev/shoal/internal/content"
	"github.com/shoal-dev/shoal/internal/errdefs"
	"github.com/shoal-dev/shoal/internal/image/ref"
)

// dockerManifestEntry is one element of a docker save manifest.json.
type dockerManifestEntry struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// savedImage is what Save learnt about one SaveImage.
type savedImage struct {
	manifest ocispec.Descriptor
	parsed   ocispec.Manifest
	config   ocispec.Image
	refs     []ref.Ref
}

// Save writes imgs, with every blob they reach, to w as one tar archive
// in format. Layers are written as stored (usually compressed). Save reads
// only store; a missing blob is an ErrNotFound error, and w then holds a
// partial archive the caller must discard.
func Save(ctx context.Context, store content.Provider, imgs []SaveImage, w io.Writer, format Format) error {
	if format != DockerArchive && format != OCIArchive {
		return fmt.Errorf("save: %v: %w", format, errdefs.ErrInvalidArgument)
	}
	if len(imgs) == 0 {
		return fmt.Errorf("save: no images: %w", errdefs.ErrInvalidArgument)
	}
	saved := make([]savedImage, 0, len(imgs))
	for _, img := range imgs {
		s, err := describe(ctx, store, img)
		if err != nil {
			return fmt.Errorf("save: %w", err)
		}
		saved = append(saved, s)
	}

	tw := tar.NewWriter(w)
	aw := &archiveWriter{tw: tw}
	if err := aw.file(ociLayoutFile, []byte(`{"imageLayoutVersion":"`+ocispec.ImageLayoutVersion+`"}`)); err != nil {
		return fmt.Errorf("save: %w", err)
	}
	if err := aw.dir(blobsDir + "/"); err != nil {
		return fmt.Errorf("save: %w", err)
	}
	if err := aw.dir(blobsDir + "/sha256/"); err != nil {
		return fmt.Errorf("save: %w", err)
	}
	written := map[digest.Digest]bool{}
	for _, s := range saved {
		descs := append(append([]ocispec.Descriptor{}, s.parsed.Layers...), s.parsed.Config, s.manifest)
		for _, d := range descs {
			if written[d.Digest] {
				continue
			}
			if err := aw.blob(ctx, store, d); err != nil {
				return fmt.Errorf("save: %w", err)
			}
			written[d.Digest] = true
		}
	}

	index, err := json.Marshal(ociIndex(saved))
	if err != nil {
		return fmt.Errorf("save: encode index: %w", err)
	}
	if err := aw.file(indexFile, index); err != nil {
		return fmt.Errorf("save: %w", err)
	}
	if format == DockerArchive {
		entries, repos := dockerManifest(saved)
		mf, err := json.Marshal(entries)
		if err != nil {
			return fmt.Errorf("save: encode manifest.json: %w", err)
		}
		if err := aw.file(manifestFile, mf); err != nil {
			return fmt.Errorf("save: %w", err)
		}
		if len(repos) > 0 {
			rf, err := json.Marshal(repos)
			if err != nil {
				return fmt.Errorf("save: encode repositories: %w", err)
			}
			if err := aw.file(repositoriesFile, rf); err != nil {
				return fmt.Errorf("save: %w", err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("save: finish tar: %w", err)
	}
	return nil
}

// describe reads an image's manifest and config and parses its names.
func describe(ctx context.Context, store content.Provider, img SaveImage) (savedImage, error) {
	s := savedImage{manifest: img.Manifest}
	for _, n := range img.Names {
		r, err := ref.Parse(n)
		if err != nil {
			return s, fmt.Errorf("image name %q: %w", n, err)
		}
		s.refs = append(s.refs, r)
	}
	if isIndexType(img.Manifest.MediaType) {
		return s, fmt.Errorf("image %s: an index, not a manifest: %w", img.Manifest.Digest, errdefs.ErrInvalidArgument)
	}
	data, err := content.ReadBlob(ctx, store, img.Manifest)
	if err != nil {
		return s, fmt.Errorf("read manifest %s: %w", img.Manifest.Digest, err)
	}
	if err := json.Unmarshal(data, &s.parsed); err != nil {
		return s, fmt.Errorf("parse manifest %s: %v: %w", img.Manifest.Digest, err, errdefs.ErrInvalidArgument)
	}
	if s.manifest.MediaType == "" {
		s.manifest.MediaType = s.parsed.MediaType
	}
	if !isManifestType(s.manifest.MediaType) {
		return s, fmt.Errorf("manifest %s: media type %q: %w", img.Manifest.Digest, s.manifest.MediaType, errdefs.ErrInvalidArgument)
	}
	s.manifest.Size = int64(len(data))
	s.manifest.Annotations, s.manifest.Platform, s.manifest.URLs = nil, nil, nil
	cfg, err := content.ReadBlob(ctx, store, s.parsed.Config)
	if err != nil {
		return s, fmt.Errorf("read config %s: %w", s.parsed.Config.Digest, err)
	}
	if err := json.Unmarshal(cfg, &s.config); err != nil {
		return s, fmt.Errorf("parse config %s: %v: %w", s.parsed.Config.Digest, err, errdefs.ErrInvalidArgument)
	}
	if len(s.config.RootFS.DiffIDs) != len(s.parsed.Layers) {
		return s, fmt.Errorf("config %s: %d diff ids for %d layers: %w",
			s.parsed.Config.Digest, len(s.config.RootFS.DiffIDs), len(s.parsed.Layers), errdefs.ErrInvalidArgument)
	}
	return s, nil
}

// ociIndex is the index.json of an archive: one entry per name (so that
// tools that pick an image by its ref.name annotation find each), one
// without annotations for an image without names.
func ociIndex(saved []savedImage) ocispec.Index {
	idx := ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{},
	}
	for _, s := range saved {
		plat := &ocispec.Platform{
			OS:           s.config.OS,
			Architecture: s.config.Architecture,
			Variant:      s.config.Variant,
			OSVersion:    s.config.OSVersion,
		}
		if plat.OS == "" || plat.Architecture == "" {
			plat = nil
		}
		if len(s.refs) == 0 {
			d := s.manifest
			d.Platform = plat
			idx.Manifests = append(idx.Manifests, d)
		}
		for _, r := range s.refs {
			d := s.manifest
			d.Platform = plat
			d.Annotations = map[string]string{annotationImageName: r.String()}
			if r.Tag() != "" {
				d.Annotations[ocispec.AnnotationRefName] = r.Tag()
			}
			idx.Manifests = append(idx.Manifests, d)
		}
	}
	return idx
}

// dockerManifest is the manifest.json and repositories of a docker save.
// As Docker's, repositories maps the familiar name and tag to the hex of
// the top layer's diff id.
func dockerManifest(saved []savedImage) ([]dockerManifestEntry, map[string]map[string]string) {
	var entries []dockerManifestEntry
	repos := map[string]map[string]string{}
	for _, s := range saved {
		e := dockerManifestEntry{
			Config:   blobPath(s.parsed.Config.Digest),
			RepoTags: []string{},
			Layers:   []string{},
		}
		for _, l := range s.parsed.Layers {
			e.Layers = append(e.Layers, blobPath(l.Digest))
		}
		for _, r := range s.refs {
			if r.Tag() == "" {
				continue // digest-only: docker save leaves those out
			}
			fam := r.Familiar()
			if r.Digest() != "" {
				// name:tag@digest: RepoTags holds name:tag.
				fam = fam[:len(fam)-len("@"+r.Digest().String())]
			}
			e.RepoTags = append(e.RepoTags, fam)
			if n := len(s.config.RootFS.DiffIDs); n > 0 {
				name := fam[:len(fam)-len(":"+r.Tag())]
				if repos[name] == nil {
					repos[name] = map[string]string{}
				}
				repos[name][r.Tag()] = s.config.RootFS.DiffIDs[n-1].Encoded()
			}
		}
		entries = append(entries, e)
	}
	return entries, repos
}

func blobPath(d digest.Digest) string {
	return path.Join(blobsDir, d.Algorithm().String(), d.Encoded())
}

// archiveWriter writes entries with fixed metadata, so that saving the
// same images twice gives the same bytes.
type archiveWriter struct {
	tw *tar.Writer
}

var epoch = time.Unix(0, 0)

func (a *archiveWriter) dir(name string) error {
	if err := a.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755, ModTime: epoch, Format: tar.FormatPAX}); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

func (a *archiveWriter) header(name string, size int64) error {
	if err := a.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: size, ModTime: epoch, Format: tar.FormatPAX}); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

func (a *archiveWriter) file(name string, data []byte) error {
	if err := a.header(name, int64(len(data))); err != nil {
		return err
	}
	if _, err := a.tw.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

// blob copies the blob desc from store, checking its bytes on the way.
func (a *archiveWriter) blob(ctx context.Context, store content.Provider, desc ocispec.Descriptor) (err error) {
	ra, err := store.ReaderAt(ctx, desc)
	if err != nil {
		return fmt.Errorf("open blob %s: %w", desc.Digest, err)
	}
	defer func() { err = errors.Join(err, ra.Close()) }()
	if ra.Size() != desc.Size {
		return fmt.Errorf("blob %s is %d bytes, descriptor says %d: %w", desc.Digest, ra.Size(), desc.Size, errdefs.ErrFailedPrecondition)
	}
	vr, err := content.VerifyReader(io.NewSectionReader(ra, 0, ra.Size()), desc)
	if err != nil {
		return err
	}
	if err := a.header(blobPath(desc.Digest), desc.Size); err != nil {
		return err
	}
	if _, err := io.Copy(a.tw, archive.ContextReader(ctx, vr)); err != nil {
		return fmt.Errorf("write blob %s: %w", desc.Digest, err)
	}
	return nil
}
