package unpack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/shoal-dev/shoal/internal/archive"
	"github.com/shoal-dev/shoal/internal/content"
	"github.com/shoal-dev/shoal/internal/errdefs"
	"github.com/shoal-dev/shoal/internal/mount"
	"github.com/shoal-dev/shoal/internal/snapshot"
)

// Layer media types outside the OCI image spec's Go constants.
const (
	// MediaTypeDockerLayer is a Docker schema 2 gzip layer.
	MediaTypeDockerLayer = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	// MediaTypeDockerLayerUncompressed is an uncompressed Docker layer, as
	// some tools write it.
	MediaTypeDockerLayerUncompressed = "application/vnd.docker.image.rootfs.diff.tar"
	// MediaTypeDockerForeignLayer is a Docker non-distributable layer
	// (Windows base layers), fetched from its URLs, never from a registry.
	MediaTypeDockerForeignLayer = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
)

// Opt configures Unpack.
type Opt func(*options)

type options struct {
	applyOpts []archive.ApplyOpt
	labels    map[string]string
}

// WithApplyOpts passes options to archive.Apply for every layer (an ID map,
// WithSkipDevices for rootless, a size limit). The whiteout mode is chosen
// by Unpack and cannot be overridden.
func WithApplyOpts(opts ...archive.ApplyOpt) Opt {
	return func(o *options) { o.applyOpts = append(o.applyOpts, opts...) }
}

// WithSnapshotLabels sets labels on every snapshot Unpack commits (for
// example a garbage-collection reference).
func WithSnapshotLabels(labels map[string]string) Opt {
	return func(o *options) { o.labels = labels }
}

// ChainIDs returns the chain id of every prefix of diffIDs: the first is
// diffIDs[0], each next one sha256(previous + " " + diffIDs[i]). It returns
// nil for no layers.
func ChainIDs(diffIDs []digest.Digest) []digest.Digest {
	if len(diffIDs) == 0 {
		return nil
	}
	out := make([]digest.Digest, len(diffIDs))
	out[0] = diffIDs[0]
	for i := 1; i < len(diffIDs); i++ {
		out[i] = digest.FromString(out[i-1].String() + " " + diffIDs[i].String())
	}
	return out
}

// Unpack makes sure every layer of manifest is a committed snapshot in sn
// and returns the chain id of the top one, which names the image's root
// filesystem (empty for an image without layers). The manifest's config
// and layers must be in store; manifest is already resolved for the
// platform (not an index). Layers whose chain id is committed already are
// skipped.
//
// A diff id that does not match the uncompressed layer is
// errdefs.ErrFailedPrecondition; a config whose diff ids do not fit the
// manifest is errdefs.ErrInvalidArgument; an unknown or non-distributable
// layer media type is errdefs.ErrNotImplemented. Snapshots committed for
// earlier layers stay: they are correct and shared.
func Unpack(ctx context.Context, store content.Provider, sn snapshot.Snapshotter, manifest ocispec.Manifest, opts ...Opt) (chainID digest.Digest, err error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	diffIDs, err := readDiffIDs(ctx, store, manifest)
	if err != nil {
		return "", err
	}
	for _, l := range manifest.Layers {
		if _, err := layerCompression(l.MediaType); err != nil {
			return "", fmt.Errorf("unpack layer %s: %w", l.Digest, err)
		}
	}
	chain := ChainIDs(diffIDs)
	var parent string
	for i, layer := range manifest.Layers {
		name := chain[i].String()
		info, err := sn.Stat(ctx, name)
		switch {
		case err == nil && info.Kind == snapshot.KindCommitted:
			parent = name
			continue
		case err == nil:
			return "", fmt.Errorf("unpack layer %s: snapshot %s is %s, not committed: %w", layer.Digest, name, info.Kind, errdefs.ErrConflict)
		case !errdefs.IsNotFound(err):
			return "", fmt.Errorf("unpack layer %s: stat snapshot %s: %w", layer.Digest, name, err)
		}
		if err := unpackLayer(ctx, store, sn, layer, diffIDs[i], parent, name, &o); err != nil {
			return "", fmt.Errorf("unpack layer %d (%s): %w", i, layer.Digest, err)
		}
		parent = name
	}
	if len(chain) == 0 {
		return "", nil
	}
	return chain[len(chain)-1], nil
}

// readDiffIDs reads manifest's config and returns its diff ids, one per
// layer.
func readDiffIDs(ctx context.Context, store content.Provider, manifest ocispec.Manifest) ([]digest.Digest, error) {
	b, err := content.ReadBlob(ctx, store, manifest.Config)
	if err != nil {
		return nil, fmt.Errorf("read image config %s: %w", manifest.Config.Digest, err)
	}
	var cfg ocispec.Image
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, fmt.Errorf("parse image config %s: %v: %w", manifest.Config.Digest, err, errdefs.ErrInvalidArgument)
	}
	if cfg.RootFS.Type != "layers" {
		return nil, fmt.Errorf("image config %s: rootfs type %q, want \"layers\": %w", manifest.Config.Digest, cfg.RootFS.Type, errdefs.ErrInvalidArgument)
	}
	if len(cfg.RootFS.DiffIDs) != len(manifest.Layers) {
		return nil, fmt.Errorf("image config %s: %d diff ids for %d layers: %w", manifest.Config.Digest, len(cfg.RootFS.DiffIDs), len(manifest.Layers), errdefs.ErrInvalidArgument)
	}
	for _, d := range cfg.RootFS.DiffIDs {
		if err := d.Validate(); err != nil || d.Algorithm() != digest.SHA256 {
			return nil, fmt.Errorf("image config %s: diff id %q: %w", manifest.Config.Digest, d, errdefs.ErrInvalidArgument)
		}
	}
	return cfg.RootFS.DiffIDs, nil
}

// layerCompression says whether a layer of mediaType needs decompressing,
// or why it cannot be unpacked.
func layerCompression(mediaType string) (compressed bool, err error) {
	switch mediaType {
	case ocispec.MediaTypeImageLayer, MediaTypeDockerLayerUncompressed:
		return false, nil
	case ocispec.MediaTypeImageLayerGzip, ocispec.MediaTypeImageLayerZstd, MediaTypeDockerLayer:
		return true, nil
	case MediaTypeDockerForeignLayer,
		ocispec.MediaTypeImageLayerNonDistributable,     //nolint:staticcheck // still found in the wild
		ocispec.MediaTypeImageLayerNonDistributableGzip, //nolint:staticcheck
		ocispec.MediaTypeImageLayerNonDistributableZstd: //nolint:staticcheck
		return false, fmt.Errorf("non-distributable (foreign) layer %q is not supported: %w", mediaType, errdefs.ErrNotImplemented)
	default:
		return false, fmt.Errorf("layer media type %q is not supported: %w", mediaType, errdefs.ErrNotImplemented)
	}
}

// unpackLayer applies layer onto parent in a new active snapshot and
// commits it as name, or removes it on failure.
func unpackLayer(ctx context.Context, store content.Provider, sn snapshot.Snapshotter, layer ocispec.Descriptor, diffID digest.Digest, parent, name string, o *options) (err error) {
	key, err := tempKey(name)
	if err != nil {
		return err
	}
	mounts, err := sn.Prepare(ctx, key, parent)
	if err != nil {
		return fmt.Errorf("prepare snapshot: %w", err)
	}
	committed := false
	defer func() {
		if committed {
			return
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if rerr := sn.Remove(cctx, key); rerr != nil {
			err = errors.Join(err, fmt.Errorf("remove snapshot %s: %w", key, rerr))
		}
	}()

	dir, mode, err := applyDir(mounts)
	if err != nil {
		return err
	}
	if err := applyLayer(ctx, store, layer, diffID, dir, mode, o.applyOpts); err != nil {
		return err
	}
	var sopts []snapshot.Opt
	if o.labels != nil {
		sopts = append(sopts, snapshot.WithLabels(o.labels))
	}
	switch err := sn.Commit(ctx, name, key, sopts...); {
	case err == nil:
		committed = true
		return nil
	case errdefs.IsAlreadyExists(err):
		// A concurrent unpack committed the same layer first; ours is
		// removed by the deferred cleanup.
		return nil
	default:
		return fmt.Errorf("commit snapshot %s: %w", name, err)
	}
}

// tempKey returns a fresh key for the active snapshot of a layer.
func tempKey(name string) (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random snapshot key: %w", err)
	}
	return "extract-" + hex.EncodeToString(b[:]) + " " + name, nil
}

// applyDir finds the directory a layer is written into from the mounts of
// an active snapshot, and how whiteouts are applied there.
func applyDir(mounts []mount.Mount) (string, archive.WhiteoutMode, error) {
	if len(mounts) != 1 {
		return "", 0, fmt.Errorf("snapshot has %d mounts, want 1: %w", len(mounts), errdefs.ErrNotImplemented)
	}
	m := mounts[0]
	if m.ReadOnly() {
		return "", 0, fmt.Errorf("snapshot mount is read-only: %w", errdefs.ErrFailedPrecondition)
	}
	if m.Type == "overlay" {
		for _, opt := range m.Options {
			if dir, ok := strings.CutPrefix(opt, "upperdir="); ok {
				return dir, archive.OverlayWhiteouts, nil
			}
		}
		return "", 0, fmt.Errorf("overlay mount has no upperdir: %w", errdefs.ErrFailedPrecondition)
	}
	bind := m.Type == "bind"
	for _, opt := range m.Options {
		bind = bind || opt == "bind" || opt == "rbind"
	}
	if !bind {
		return "", 0, fmt.Errorf("cannot apply a layer into a %q mount: %w", m.Type, errdefs.ErrNotImplemented)
	}
	return m.Source, archive.RemoveWhiteouts, nil
}

// applyLayer applies the blob layer into dir and checks that its
// uncompressed bytes hash to diffID.
func applyLayer(ctx context.Context, store content.Provider, layer ocispec.Descriptor, diffID digest.Digest, dir string, mode archive.WhiteoutMode, applyOpts []archive.ApplyOpt) error {
	compressed, err := layerCompression(layer.MediaType)
	if err != nil {
		return err
	}
	ra, err := store.ReaderAt(ctx, layer)
	if err != nil {
		return fmt.Errorf("open layer blob: %w", err)
	}
	defer ra.Close()
	if ra.Size() != layer.Size {
		return fmt.Errorf("layer blob is %d bytes, manifest says %d: %w", ra.Size(), layer.Size, errdefs.ErrFailedPrecondition)
	}
	var r io.Reader = io.NewSectionReader(ra, 0, ra.Size())
	if compressed {
		dr, _, err := archive.Decompress(r)
		if err != nil {
			return fmt.Errorf("decompress layer: %w", err)
		}
		defer dr.Close()
		r = dr
	}
	digester := digest.SHA256.Digester()
	tee := io.TeeReader(r, digester.Hash())
	opts := append(append([]archive.ApplyOpt(nil), applyOpts...), archive.WithWhiteouts(mode))
	if _, err := archive.Apply(ctx, dir, tee, opts...); err != nil {
		return err
	}
	// The tar reader stops at the end-of-archive marker; the diff id
	// covers the whole stream, padding included.
	if _, err := io.Copy(io.Discard, tee); err != nil {
		return fmt.Errorf("read layer: %w", err)
	}
	if got := digester.Digest(); got != diffID {
		return fmt.Errorf("uncompressed layer is %s, config says diff id %s: %w", got, diffID, errdefs.ErrFailedPrecondition)
	}
	return nil
}
