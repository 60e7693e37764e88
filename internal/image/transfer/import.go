package transfer

import (
	"archive/tar"
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/shoal-dev/shoal/internal/archive"
	"github.com/shoal-dev/shoal/internal/content"
	"github.com/shoal-dev/shoal/internal/errdefs"
)

// Import stores rootfsTar, a tar of a root file system (plain, gzip or
// zstd), as a one-layer image, as `docker import` does, and returns its
// manifest and config. A compressed stream is stored as it is; a plain
// one is stored uncompressed. The diff id is the sha256 of the uncompressed
// stream, which must be a valid tar (ErrInvalidArgument otherwise).
// Recording a name is the caller's job.
func Import(ctx context.Context, store LoadStore, rootfsTar io.Reader, opts ImportOpts) (manifest, config ocispec.Descriptor, err error) {
	plat := opts.Platform
	if plat.OS == "" && plat.Architecture == "" {
		plat = defaultPlatform()
	}
	if plat.OS == "" || plat.Architecture == "" {
		return manifest, config, fmt.Errorf("import: platform %s/%s: %w", plat.OS, plat.Architecture, errdefs.ErrInvalidArgument)
	}
	layer, diffID, err := importLayer(ctx, store, rootfsTar)
	if err != nil {
		return manifest, config, fmt.Errorf("import: %w", err)
	}
	msg := opts.Message
	if msg == "" {
		msg = "Imported from -"
	}
	now := time.Now().UTC()
	img := ocispec.Image{
		Created:  &now,
		Platform: plat,
		Config:   opts.Changes,
		RootFS:   ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{diffID}},
		History:  []ocispec.History{{Created: &now, Comment: msg}},
	}
	manifest, config, err = writeImage(ctx, store, img, []ocispec.Descriptor{layer})
	if err != nil {
		return manifest, config, fmt.Errorf("import: %w", err)
	}
	return manifest, config, nil
}

// writeImage stores the config and a manifest of layers for img.
func writeImage(ctx context.Context, store content.Ingester, img ocispec.Image, layers []ocispec.Descriptor) (manifest, config ocispec.Descriptor, err error) {
	cfgData, err := json.Marshal(img)
	if err != nil {
		return manifest, config, fmt.Errorf("encode config: %w", err)
	}
	config = jsonBlob(ocispec.MediaTypeImageConfig, cfgData)
	m := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    config,
		Layers:    layers,
	}
	mData, err := json.Marshal(m)
	if err != nil {
		return manifest, config, fmt.Errorf("encode manifest: %w", err)
	}
	manifest = jsonBlob(ocispec.MediaTypeImageManifest, mData)
	if err := writeBlob(ctx, store, config, cfgData); err != nil {
		return manifest, config, err
	}
	if err := writeBlob(ctx, store, manifest, mData); err != nil {
		return manifest, config, err
	}
	return manifest, config, nil
}

// CommitOpts describe a commit: the new layer's history entry and the
// runtime configuration of the new image.
type CommitOpts struct {
	Config    ocispec.ImageConfig
	CreatedBy string
	Author    string
	Comment   string
}

// Commit stores a new image made of parent's layers and one more, read
// from layerTar (an uncompressed layer tar with OCI whiteouts).
func Commit(ctx context.Context, store content.Ingester, parent ocispec.Image, parentLayers []ocispec.Descriptor, layerTar io.Reader, opts CommitOpts) (manifest, config ocispec.Descriptor, err error) {
	layer, diffID, err := importLayer(ctx, store, layerTar)
	if err != nil {
		return manifest, config, fmt.Errorf("commit: %w", err)
	}
	now := time.Now().UTC()
	img := parent
	img.Created = &now
	img.Author = opts.Author
	img.Config = opts.Config
	img.RootFS.DiffIDs = append(append([]digest.Digest{}, parent.RootFS.DiffIDs...), diffID)
	img.History = append(append([]ocispec.History{}, parent.History...), ocispec.History{
		Created: &now, CreatedBy: opts.CreatedBy, Author: opts.Author, Comment: opts.Comment,
	})
	layers := append(append([]ocispec.Descriptor{}, parentLayers...), layer)
	manifest, config, err = writeImage(ctx, store, img, layers)
	if err != nil {
		return manifest, config, fmt.Errorf("commit: %w", err)
	}
	return manifest, config, nil
}

// importLayer stores the layer blob and returns it with its diff id.
func importLayer(ctx context.Context, store content.Ingester, r io.Reader) (layer ocispec.Descriptor, diffID digest.Digest, err error) {
	ref, err := randomRef("import")
	if err != nil {
		return layer, "", err
	}
	w, err := store.Writer(ctx, content.WithRef(ref))
	if err != nil {
		return layer, "", fmt.Errorf("store layer: %w", err)
	}
	committed := false
	defer func() {
		if committed {
			return
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		err = errors.Join(err, w.Close(), abortIngest(cctx, store, ref))
	}()

	br := bufio.NewReader(archive.ContextReader(ctx, r))
	head, err := br.Peek(4)
	if err != nil && !errors.Is(err, io.EOF) {
		return layer, "", fmt.Errorf("read root file system: %w", err)
	}
	differ := digest.SHA256.Digester()
	switch c := archive.DetectCompression(head); c {
	case archive.Gzip, archive.Zstd:
		// Store the bytes as given; hash and check what they decompress to.
		raw := io.TeeReader(br, w)
		dr, _, err := archive.Decompress(raw)
		if err != nil {
			return layer, "", fmt.Errorf("%w: %w", errdefs.ErrInvalidArgument, err)
		}
		err = checkTar(ctx, io.TeeReader(dr, differ.Hash()))
		dr.Close()
		if err != nil {
			return layer, "", err
		}
		// Whatever follows the compressed stream is part of the blob.
		if _, err := io.Copy(io.Discard, raw); err != nil {
			return layer, "", fmt.Errorf("read root file system: %w", err)
		}
		layer.MediaType = ocispec.MediaTypeImageLayerGzip
		if c == archive.Zstd {
			layer.MediaType = ocispec.MediaTypeImageLayerZstd
		}
	default:
		// A plain tar is stored as it is (its digest is its diff id):
		// compressing 200 MiB on one core made import 4× slower than
		// dockerd's, and unpacking would only decompress it again. Push
		// and save send it as an uncompressed OCI layer.
		if err := checkTar(ctx, io.TeeReader(br, io.MultiWriter(differ.Hash(), w))); err != nil {
			return layer, "", err
		}
		layer.MediaType = ocispec.MediaTypeImageLayer
	}
	st, err := w.Status()
	if err != nil {
		return layer, "", fmt.Errorf("store layer: %w", err)
	}
	layer.Digest, layer.Size = w.Digest(), st.Offset
	committed = true
	if err := w.Commit(ctx, layer.Size, layer.Digest); err != nil && !errdefs.IsAlreadyExists(err) {
		return layer, "", fmt.Errorf("store layer: %w", errors.Join(err, abortIngest(context.WithoutCancel(ctx), store, ref)))
	}
	return layer, differ.Digest(), nil
}

// checkTar reads r to its end as a tar stream; the padding after the
// end-of-archive marker is read too, so that a hash of r covers it all.
// An empty input (no bytes at all) is ErrInvalidArgument; an empty tar
// (just the end-of-archive marker) is a valid, empty root file system.
func checkTar(ctx context.Context, r io.Reader) error {
	cr := &countReader{r: r}
	tr := tar.NewReader(cr)
	for {
		_, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("root file system is not a tar stream: %w: %w", errdefs.ErrInvalidArgument, err)
		}
	}
	if _, err := io.Copy(io.Discard, cr); err != nil {
		return fmt.Errorf("read root file system: %w", err)
	}
	if cr.n == 0 {
		return fmt.Errorf("root file system is empty: %w", errdefs.ErrInvalidArgument)
	}
	return nil
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
