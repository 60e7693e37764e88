package build

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sync"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/moby/moby/api/types/container"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/shoal-dev/shoal/internal/content"
	"github.com/shoal-dev/shoal/internal/engine"
	"github.com/shoal-dev/shoal/internal/errdefs"
	"github.com/shoal-dev/shoal/internal/image"
	"github.com/shoal-dev/shoal/internal/image/pull"
	"github.com/shoal-dev/shoal/internal/image/transfer"
	"github.com/shoal-dev/shoal/internal/monitor"
)

// EngineBackend is a daemon's Backend: containers of the engine, images
// of the image service.
//
// The image service hands out image configurations as OCI structs, which
// drop Docker's extensions (Healthcheck, OnBuild, Shell); EngineBackend
// reads and writes the configuration blobs itself, through its own handle
// on the service's content store (several handles may share one), and
// records config-only images with the service's Load (an OCI layout whose
// layers are already in the store).
type EngineBackend struct {
	eng     *engine.Engine
	images  *image.Service
	content *content.LocalStore

	mu      sync.Mutex
	scratch string // the ScratchImage, once made
}

var _ Backend = (*EngineBackend)(nil)

// NewEngineBackend returns the backend over eng and images; imageRoot is
// the image service's root (image.Config.Root).
func NewEngineBackend(eng *engine.Engine, images *image.Service, imageRoot string) (*EngineBackend, error) {
	cs, err := content.NewStore(filepath.Join(imageRoot, "content"))
	if err != nil {
		return nil, err
	}
	return &EngineBackend{eng: eng, images: images, content: cs}, nil
}

// Image implements Backend.
func (b *EngineBackend) Image(ctx context.Context, ref string) (Image, error) {
	img, err := b.images.Get(ctx, ref)
	if err != nil {
		return Image{}, err
	}
	data, err := content.ReadBlob(ctx, b.content, img.Manifest.Config)
	if err != nil {
		return Image{}, fmt.Errorf("read image config %s: %w", img.ID, err)
	}
	out := Image{ID: img.ID.String()}
	if err := json.Unmarshal(data, &out.Config); err != nil {
		return Image{}, fmt.Errorf("decode image config %s: %w", img.ID, err)
	}
	return out, nil
}

// Pull implements Backend.
func (b *EngineBackend) Pull(ctx context.Context, ref string, progress func(string)) (Image, error) {
	last := map[string]string{}
	img, err := b.images.Pull(ctx, ref, pull.WithProgress(func(p pull.Progress) {
		if p.Status == pull.StatusDownloading || last[p.ID] == p.Status {
			return
		}
		last[p.ID] = p.Status
		progress(p.ID + ": " + p.Status)
	}))
	if err != nil {
		return Image{}, err
	}
	return b.Image(ctx, img.ID.String())
}

// CommitConfig implements Backend.
func (b *EngineBackend) CommitConfig(ctx context.Context, parent string, img dockerspec.DockerOCIImage) (string, error) {
	var layers []ocispec.Descriptor
	if parent != "" {
		p, err := b.images.Get(ctx, parent)
		if err != nil {
			return "", err
		}
		layers = p.Manifest.Layers
	}
	return b.record(ctx, img, layers)
}

// record stores img with the given layers (already in the store) and
// records it, unnamed.
func (b *EngineBackend) record(ctx context.Context, img dockerspec.DockerOCIImage, layers []ocispec.Descriptor) (string, error) {
	if len(layers) != len(img.RootFS.DiffIDs) {
		return "", fmt.Errorf("commit image: %d layers for %d diff ids: %w", len(layers), len(img.RootFS.DiffIDs), errdefs.ErrInvalidArgument)
	}
	if layers == nil {
		layers = []ocispec.Descriptor{}
	}
	cfgData, err := json.Marshal(img)
	if err != nil {
		return "", fmt.Errorf("encode image config: %w", err)
	}
	cfg := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: digest.FromBytes(cfgData), Size: int64(len(cfgData))}
	mData, err := json.Marshal(ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: layers,
	})
	if err != nil {
		return "", fmt.Errorf("encode manifest: %w", err)
	}
	man := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(mData), Size: int64(len(mData))}
	idx, err := json.Marshal(ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{man},
	})
	if err != nil {
		return "", fmt.Errorf("encode index: %w", err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct {
		name string
		data []byte
	}{
		{ocispec.ImageLayoutFile, []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		{"index.json", idx},
		{"blobs/sha256/" + cfg.Digest.Encoded(), cfgData},
		{"blobs/sha256/" + man.Digest.Encoded(), mData},
	} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f.name, Mode: 0o644, Size: int64(len(f.data))}); err != nil {
			return "", err
		}
		if _, err := tw.Write(f.data); err != nil {
			return "", err
		}
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	loaded, err := b.images.Load(ctx, &buf)
	if err != nil {
		return "", fmt.Errorf("commit image: %w", err)
	}
	if len(loaded) != 1 {
		return "", fmt.Errorf("commit image: %d images recorded, want 1", len(loaded))
	}
	return loaded[0].ID.String(), nil
}

// ScratchImage implements Backend: an image of one empty layer, with a
// configuration that makes its ID the same on every daemon (the overlay
// snapshotter keeps no separate upper directory for a container without
// a parent layer, so a container on an image without layers could not be
// committed).
func (b *EngineBackend) ScratchImage(ctx context.Context) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.scratch != "" {
		if _, err := b.images.Get(ctx, b.scratch); err == nil {
			return b.scratch, nil
		}
	}
	imported, err := b.images.Import(ctx, bytes.NewReader(make([]byte, 1024)), "", transfer.ImportOpts{Message: "empty layer of FROM scratch builds"})
	if err != nil {
		return "", fmt.Errorf("make the scratch image: %w", err)
	}
	var seed dockerspec.DockerOCIImage
	seed.Platform = hostPlatform()
	seed.RootFS = imported.Config.RootFS
	id, err := b.record(ctx, seed, imported.Manifest.Layers)
	if err != nil {
		return "", fmt.Errorf("make the scratch image: %w", err)
	}
	if id != imported.ID.String() {
		if _, err := b.images.Remove(context.WithoutCancel(ctx), imported.ID.String(), true); err != nil && !errdefs.IsNotFound(err) {
			return "", fmt.Errorf("make the scratch image: %w", err)
		}
	}
	b.scratch = id
	return id, nil
}

// Tag implements Backend.
func (b *EngineBackend) Tag(ctx context.Context, imageID, name string) error {
	return b.images.Tag(ctx, imageID, name)
}

// CreateContainer implements Backend.
func (b *EngineBackend) CreateContainer(ctx context.Context, c ContainerConfig) (string, error) {
	id, _, err := b.eng.Create(ctx, "", engine.CreateRequest{
		Config: &container.Config{
			Image: c.Image, Entrypoint: c.Entrypoint, Cmd: c.Cmd, Env: c.Env, User: c.User, WorkingDir: c.WorkingDir,
			AttachStdout: true, AttachStderr: true,
		},
		HostConfig: &container.HostConfig{
			NetworkMode: container.NetworkMode(c.NetworkMode),
			LogConfig:   container.LogConfig{Type: "none"},
		},
	})
	return id, err
}

// RunContainer implements Backend.
func (b *EngineBackend) RunContainer(ctx context.Context, id string, stdout, stderr io.Writer) (int, error) {
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	type attached struct {
		a   *engine.Attachment
		err error
	}
	ready := make(chan struct{})
	ch := make(chan attached, 1)
	go func() {
		a, err := b.eng.Attach(actx, id, engine.AttachOptions{Stdout: true, Stderr: true}, func() { close(ready) })
		ch <- attached{a, err}
	}()
	select {
	case <-ready:
	case r := <-ch:
		if r.err != nil {
			return 0, r.err
		}
		r.a.Close()
		return 0, errors.New("attach: stream ended before the container started")
	}
	wait, err := b.eng.Wait(ctx, id, engine.WaitNextExit)
	if err != nil {
		return 0, err
	}
	if err := b.eng.Start(ctx, id); err != nil {
		cancel()
		if r := <-ch; r.a != nil {
			r.a.Close()
		}
		return 0, err
	}
	r := <-ch
	if r.err != nil {
		return 0, r.err
	}
	defer r.a.Close()
	buf := make([]byte, 32<<10)
	for {
		stream, p, err := r.a.ReadFrame(buf)
		if err != nil {
			break
		}
		if cap(p) > cap(buf) {
			buf = p
		}
		switch stream {
		case monitor.StreamStdout:
			_, _ = stdout.Write(p)
		case monitor.StreamStderr:
			_, _ = stderr.Write(p)
		}
	}
	select {
	case res, ok := <-wait:
		if !ok {
			return 0, ctx.Err()
		}
		return res.ExitCode, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// StatPath implements Backend.
func (b *EngineBackend) StatPath(ctx context.Context, id, path string) (PathInfo, error) {
	st, err := b.eng.StatPath(ctx, id, path)
	if err != nil {
		return PathInfo{}, err
	}
	return PathInfo{Name: st.Name, Mode: st.Mode, LinkTarget: st.LinkTarget}, nil
}

// CopyTo implements Backend.
func (b *EngineBackend) CopyTo(ctx context.Context, id, dir string, r io.Reader, chown bool) error {
	return b.eng.ExtractToPath(ctx, id, dir, r, false, chown)
}

// CopyFrom implements Backend.
func (b *EngineBackend) CopyFrom(ctx context.Context, id, path string, w io.Writer) error {
	return b.eng.ArchivePath(ctx, id, path, func(container.PathStat) io.Writer { return w })
}

// CommitContainer implements Backend. The engine's commit keeps only the
// OCI fields of a configuration: one with Docker's extensions, or of a
// container on the scratch image (whose empty layer goes), is written
// over it.
func (b *EngineBackend) CommitContainer(ctx context.Context, id string, c Commit) (string, error) {
	imgID, err := b.eng.Commit(ctx, id, engine.CommitOptions{
		Author: c.Author,
		Apply: func(ic *ocispec.ImageConfig) error {
			*ic = c.Config.ImageConfig
			return nil
		},
	})
	if err != nil {
		return "", err
	}
	ext := c.Config.DockerOCIImageConfigExt
	if !c.FromScratch && ext.Healthcheck == nil && len(ext.OnBuild) == 0 && len(ext.Shell) == 0 {
		return imgID, nil
	}
	img, err := b.Image(ctx, imgID)
	if err != nil {
		return "", err
	}
	p, err := b.images.Get(ctx, imgID)
	if err != nil {
		return "", err
	}
	layers := p.Manifest.Layers
	img.Config.Config = c.Config
	if n := len(img.Config.History); n > 0 && c.CreatedBy != "" {
		img.Config.History[n-1].CreatedBy = c.CreatedBy
	}
	if c.FromScratch && len(layers) > 1 {
		layers = layers[1:]
		img.Config.RootFS.DiffIDs = img.Config.RootFS.DiffIDs[1:]
	}
	final, err := b.record(ctx, img.Config, layers)
	if err != nil {
		return "", err
	}
	if final != imgID {
		if _, err := b.images.Remove(context.WithoutCancel(ctx), imgID, true); err != nil && !errdefs.IsNotFound(err) {
			return final, fmt.Errorf("remove intermediate commit %s: %w", imgID, err)
		}
	}
	return final, nil
}

// RemoveContainer implements Backend.
func (b *EngineBackend) RemoveContainer(ctx context.Context, id string) error {
	return b.eng.Remove(ctx, id, engine.RemoveOptions{Force: true, RemoveVolumes: true})
}
