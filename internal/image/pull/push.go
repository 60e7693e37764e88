package pull

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/shoal-dev/shoal/internal/content"
	"github.com/shoal-dev/shoal/internal/errdefs"
)

// Push uploads the image desc (a manifest or an index) from store to ref:
// layers and config first (skipping blobs the registry has), then the
// manifest, byte for byte, so its digest is unchanged. For an index every
// child manifest, config and layer must be in store. Auth, plain-HTTP
// policy and transport options are those of Pull; progress is not reported
// yet.
func Push(ctx context.Context, ref string, store content.Provider, desc ocispec.Descriptor, opts ...Opt) error {
	o := newOptions(opts)
	r, err := parseRef(ref, o)
	if err != nil {
		return fmt.Errorf("push: %w", err)
	}
	c, err := newClient(ctx, o, r.Context())
	if err != nil {
		return fmt.Errorf("push %s: %w", ref, err)
	}
	switch {
	case isIndex(desc.MediaType):
		idx, err := newStoreIndex(ctx, store, desc)
		if err == nil {
			err = remote.WriteIndex(r, idx, c.remote...)
		}
		if err != nil {
			return fmt.Errorf("push %s: %w", ref, err)
		}
	case isManifest(desc.MediaType):
		img, err := newStoreImage(ctx, store, desc)
		if err == nil {
			err = remote.Write(r, img, c.remote...)
		}
		if err != nil {
			return fmt.Errorf("push %s: %w", ref, err)
		}
	default:
		return fmt.Errorf("push %s: media type %q: %w", ref, desc.MediaType, errdefs.ErrNotImplemented)
	}
	return nil
}

// storeImage is a manifest in the store seen as a go-containerregistry
// image (partial.CompressedImageCore).
type storeImage struct {
	ctx    context.Context //nolint:containedctx // ggcr's interfaces take no ctx; lives for one Push
	store  content.Provider
	desc   ocispec.Descriptor
	raw    []byte
	config []byte
	layers map[digest.Digest]ocispec.Descriptor
}

func newStoreImage(ctx context.Context, store content.Provider, desc ocispec.Descriptor) (v1.Image, error) {
	raw, err := content.ReadBlob(ctx, store, desc)
	if err != nil {
		return nil, fmt.Errorf("read manifest %s: %w", desc.Digest, err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("parse manifest %s: %v: %w", desc.Digest, err, errdefs.ErrInvalidArgument)
	}
	config, err := content.ReadBlob(ctx, store, m.Config)
	if err != nil {
		return nil, fmt.Errorf("read config %s: %w", m.Config.Digest, err)
	}
	si := &storeImage{ctx: ctx, store: store, desc: desc, raw: raw, config: config, layers: map[digest.Digest]ocispec.Descriptor{}}
	for _, l := range m.Layers {
		si.layers[l.Digest] = l
	}
	return partial.CompressedToImage(si)
}

func (s *storeImage) RawConfigFile() ([]byte, error) { return s.config, nil }
func (s *storeImage) MediaType() (types.MediaType, error) {
	return types.MediaType(s.desc.MediaType), nil
}
func (s *storeImage) RawManifest() ([]byte, error) { return s.raw, nil }

func (s *storeImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	l, ok := s.layers[digest.Digest(h.String())]
	if !ok {
		return nil, fmt.Errorf("layer %s not in manifest %s: %w", h, s.desc.Digest, errdefs.ErrNotFound)
	}
	return &storeLayer{ctx: s.ctx, store: s.store, desc: l}, nil
}

// storeLayer is a blob in the store seen as a compressed layer.
type storeLayer struct {
	ctx   context.Context //nolint:containedctx // see storeImage
	store content.Provider
	desc  ocispec.Descriptor
}

func (l *storeLayer) Digest() (v1.Hash, error) { return v1.NewHash(l.desc.Digest.String()) }
func (l *storeLayer) Size() (int64, error)     { return l.desc.Size, nil }
func (l *storeLayer) MediaType() (types.MediaType, error) {
	return types.MediaType(l.desc.MediaType), nil
}

func (l *storeLayer) Compressed() (io.ReadCloser, error) {
	ra, err := l.store.ReaderAt(l.ctx, l.desc)
	if err != nil {
		return nil, fmt.Errorf("open blob %s: %w", l.desc.Digest, err)
	}
	return struct {
		io.Reader
		io.Closer
	}{io.NewSectionReader(ra, 0, ra.Size()), ra}, nil
}

// storeIndex is an index in the store seen as a go-containerregistry
// index.
type storeIndex struct {
	ctx   context.Context //nolint:containedctx // see storeImage
	store content.Provider
	desc  ocispec.Descriptor
	raw   []byte
	index *v1.IndexManifest
	kids  map[string]ocispec.Descriptor
}

func newStoreIndex(ctx context.Context, store content.Provider, desc ocispec.Descriptor) (*storeIndex, error) {
	raw, err := content.ReadBlob(ctx, store, desc)
	if err != nil {
		return nil, fmt.Errorf("read index %s: %w", desc.Digest, err)
	}
	var index v1.IndexManifest
	if err := json.Unmarshal(raw, &index); err != nil {
		return nil, fmt.Errorf("parse index %s: %v: %w", desc.Digest, err, errdefs.ErrInvalidArgument)
	}
	var oindex ocispec.Index
	if err := json.Unmarshal(raw, &oindex); err != nil {
		return nil, fmt.Errorf("parse index %s: %v: %w", desc.Digest, err, errdefs.ErrInvalidArgument)
	}
	kids := map[string]ocispec.Descriptor{}
	for _, m := range oindex.Manifests {
		kids[m.Digest.String()] = m
	}
	return &storeIndex{ctx: ctx, store: store, desc: desc, raw: raw, index: &index, kids: kids}, nil
}

func (s *storeIndex) MediaType() (types.MediaType, error) {
	return types.MediaType(s.desc.MediaType), nil
}
func (s *storeIndex) Digest() (v1.Hash, error)                  { return v1.NewHash(s.desc.Digest.String()) }
func (s *storeIndex) Size() (int64, error)                      { return s.desc.Size, nil }
func (s *storeIndex) IndexManifest() (*v1.IndexManifest, error) { return s.index.DeepCopy(), nil }
func (s *storeIndex) RawManifest() ([]byte, error)              { return s.raw, nil }

func (s *storeIndex) child(h v1.Hash) (ocispec.Descriptor, error) {
	d, ok := s.kids[h.String()]
	if !ok {
		return ocispec.Descriptor{}, fmt.Errorf("manifest %s not in index %s: %w", h, s.desc.Digest, errdefs.ErrNotFound)
	}
	return d, nil
}

func (s *storeIndex) Image(h v1.Hash) (v1.Image, error) {
	d, err := s.child(h)
	if err != nil {
		return nil, err
	}
	return newStoreImage(s.ctx, s.store, d)
}

func (s *storeIndex) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	d, err := s.child(h)
	if err != nil {
		return nil, err
	}
	return newStoreIndex(s.ctx, s.store, d)
}
