package transfer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/shoal-dev/shoal/internal/content"
	"github.com/shoal-dev/shoal/internal/errdefs"
)

// Format is the layout of an image archive written by Save.
type Format int

const (
	// DockerArchive is what `docker save` writes since Docker 25: a
	// manifest.json (and repositories) for classic `docker load`, plus an
	// OCI image layout in the same tar.
	DockerArchive Format = iota
	// OCIArchive is an OCI image layout as a tar, as `skopeo copy
	// oci-archive:` and containerd's export write it.
	OCIArchive
)

// String names the format as skopeo's transports do.
func (f Format) String() string {
	switch f {
	case DockerArchive:
		return "docker-archive"
	case OCIArchive:
		return "oci-archive"
	default:
		return fmt.Sprintf("format(%d)", int(f))
	}
}

// SaveImage is one image to Save.
type SaveImage struct {
	// Names are the image's fully qualified references
	// ("docker.io/library/busybox:latest"); digest-only names get no
	// RepoTags entry. May be empty: the image is then saved untagged.
	Names []string
	// Manifest is the image's (platform-specific) manifest.
	Manifest ocispec.Descriptor
}

// Loaded is one image found in an archive by Load. Its blobs are all in
// the store; recording its names is the caller's job.
type Loaded struct {
	// Names are the image's normalised, fully qualified references, from
	// RepoTags or the index annotations. May be empty.
	Names []string
	// Manifest is the image manifest (platform-specific).
	Manifest ocispec.Descriptor
	// Config is the image config; its digest is the image ID.
	Config ocispec.Descriptor
}

// ImportOpts changes what Import records about a root file system.
type ImportOpts struct {
	// Platform of the image; the zero value means linux and the
	// architecture Shoal runs on.
	Platform ocispec.Platform
	// Changes is the runtime configuration (Cmd, Env, Entrypoint,
	// WorkingDir, User, ExposedPorts, Labels, ...), as `docker import
	// --change` sets it.
	Changes ocispec.ImageConfig
	// Message is the comment of the history entry; empty means
	// "Imported from -", as Docker writes for standard input.
	Message string
}

// Media types and annotations outside the image-spec Go constants.
const (
	mediaTypeDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	mediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
	mediaTypeDockerConfig       = "application/vnd.docker.container.image.v1+json"
	mediaTypeDockerLayerGzip    = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	mediaTypeDockerLayer        = "application/vnd.docker.image.rootfs.diff.tar"

	// annotationImageName is containerd's (and Docker's) full image name
	// annotation on index.json entries.
	annotationImageName = "io.containerd.image.name"
)

// File names inside an archive.
const (
	ociLayoutFile    = ocispec.ImageLayoutFile // "oci-layout"
	indexFile        = "index.json"
	manifestFile     = "manifest.json"
	repositoriesFile = "repositories"
	blobsDir         = ocispec.ImageBlobsDir // "blobs"
)

// Limits on what an archive may make Load hold in memory.
const (
	// maxJSONSize bounds one manifest, index, config, manifest.json or
	// index.json.
	maxJSONSize = 16 << 20
	// maxBuffered bounds all small blobs Load keeps in memory while it
	// reads the archive.
	maxBuffered = 256 << 20
	// maxEntries bounds the number of tar entries.
	maxEntries = 100000
)

func isManifestType(mt string) bool {
	return mt == ocispec.MediaTypeImageManifest || mt == mediaTypeDockerManifest
}

func isIndexType(mt string) bool {
	return mt == ocispec.MediaTypeImageIndex || mt == mediaTypeDockerManifestList
}

// defaultPlatform is the platform of images Import makes by default and
// the one Load picks from a multi-platform index.
func defaultPlatform() ocispec.Platform {
	return ocispec.Platform{OS: "linux", Architecture: runtime.GOARCH}
}

// randomRef returns a fresh ingest ref with prefix.
func randomRef(prefix string) (string, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random ingest ref: %w", err)
	}
	return prefix + "-" + hex.EncodeToString(b[:]), nil
}

// aborter is the optional part of a store that removes ingests; Load and
// Import use it to clean up after a failure.
type aborter interface {
	Abort(ctx context.Context, ref string) error
}

// abortIngest removes the ingest ref if the store can; a store that
// cannot keeps it until its own garbage collection.
func abortIngest(ctx context.Context, store content.Ingester, ref string) error {
	a, ok := store.(aborter)
	if !ok {
		return nil
	}
	if err := a.Abort(ctx, ref); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("abort ingest %s: %w", ref, err)
	}
	return nil
}

// writeBlob stores data as the blob desc, which already existing is fine.
func writeBlob(ctx context.Context, store content.Ingester, desc ocispec.Descriptor, data []byte) error {
	ref := "transfer-" + desc.Digest.Encoded()
	w, err := store.Writer(ctx, content.WithRef(ref), content.WithDescriptor(desc))
	if err != nil {
		if errdefs.IsAlreadyExists(err) {
			return nil
		}
		return fmt.Errorf("write blob %s: %w", desc.Digest, err)
	}
	// A resumed ingest may hold bytes already: start over.
	if err := w.Truncate(0); err != nil {
		return errors.Join(fmt.Errorf("write blob %s: %w", desc.Digest, err), w.Close())
	}
	if _, err := w.Write(data); err != nil {
		return errors.Join(fmt.Errorf("write blob %s: %w", desc.Digest, err), w.Close())
	}
	if err := w.Commit(ctx, desc.Size, desc.Digest); err != nil && !errdefs.IsAlreadyExists(err) {
		return fmt.Errorf("write blob %s: %w", desc.Digest, err)
	}
	return nil
}

// jsonBlob returns the descriptor of a JSON blob.
func jsonBlob(mediaType string, data []byte) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(data), Size: int64(len(data))}
}
