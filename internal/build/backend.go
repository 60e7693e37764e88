package build

import (
	"context"
	"io"
	"os"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
)

// Backend is what a build needs of the engine: images to start from and
// commit to, and containers to run RUN steps in and copy files through.
// EngineBackend implements it over the engine and the image service.
//
// Errors keep their errdefs class; a missing image or path is
// errdefs.ErrNotFound.
type Backend interface {
	// Image returns an image by name, ID or ID prefix, with its full
	// configuration (Docker's extensions included).
	Image(ctx context.Context, ref string) (Image, error)
	// Pull fetches ref from its registry; progress gets one line per
	// status change.
	Pull(ctx context.Context, ref string, progress func(line string)) (Image, error)
	// CommitConfig records img, an image made of the layers of parent
	// ("" for none) and img's configuration, and returns its ID. img's
	// rootfs must list parent's diff IDs.
	CommitConfig(ctx context.Context, parent string, img dockerspec.DockerOCIImage) (string, error)
	// Tag names an image.
	Tag(ctx context.Context, imageID, name string) error
	// ScratchImage is the image containers of a FROM scratch stage start
	// from: empty, though it may have one empty layer (a snapshotter may
	// need a parent to keep a container's changes apart), which
	// CommitContainer drops when Commit.FromScratch is set.
	ScratchImage(ctx context.Context) (string, error)

	// CreateContainer creates (does not start) a container.
	CreateContainer(ctx context.Context, c ContainerConfig) (string, error)
	// RunContainer starts a created container, copies its output to
	// stdout and stderr until it exits, and returns its exit code.
	RunContainer(ctx context.Context, id string, stdout, stderr io.Writer) (int, error)
	// StatPath describes a path in a container's file system (the last
	// symlink is not followed, unless the path ends in "/").
	StatPath(ctx context.Context, id, path string) (PathInfo, error)
	// CopyTo extracts a tar into the directory dir of a container; with
	// chown every entry is owned by the container's user (looked up in
	// its /etc/passwd and /etc/group), otherwise by the tar's owners.
	CopyTo(ctx context.Context, id, dir string, tar io.Reader, chown bool) error
	// CopyFrom writes a tar of path in a container to w, its entries
	// named after path's last element, as GET /containers/{id}/archive.
	CopyFrom(ctx context.Context, id, path string, w io.Writer) error
	// CommitContainer makes an image of a container's changes on top of
	// its image.
	CommitContainer(ctx context.Context, id string, c Commit) (string, error)
	// RemoveContainer removes a container and its anonymous volumes,
	// killing it if it runs.
	RemoveContainer(ctx context.Context, id string) error
}

// Image is an image as a build sees it.
type Image struct {
	// ID is the image ID ("sha256:<hex>").
	ID     string
	Config dockerspec.DockerOCIImage
}

// ContainerConfig is a build container.
type ContainerConfig struct {
	Image      string
	Entrypoint []string
	Cmd        []string
	Env        []string
	User       string
	WorkingDir string
	// NetworkMode is the build's network ("" for the default bridge).
	NetworkMode string
}

// Commit describes an image made from a container.
type Commit struct {
	// Config is the new image's configuration.
	Config dockerspec.DockerOCIImageConfig
	Author string
	// CreatedBy is the history entry of the new layer.
	CreatedBy string
	// FromScratch says the container started from ScratchImage: the new
	// image has only the container's layer.
	FromScratch bool
}

// PathInfo is what StatPath says about a path.
type PathInfo struct {
	Name       string
	Mode       os.FileMode
	LinkTarget string
}
