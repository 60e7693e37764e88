package compose

import (
	"context"
	"io"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/volume"
)

// Engine is what compose needs of a Docker-compatible daemon: the
// Engine API calls it makes, with moby's wire types. The shoal CLI
// implements it over its HTTP client; tests with an in-memory fake.
//
// Errors unwrap to the errdefs classes (a missing object is
// errdefs.ErrNotFound), as internal/client's do.
type Engine interface {
	// ContainerList lists containers (all: stopped ones too) matching
	// filters, Docker's filter map ("label": {"k=v"}).
	ContainerList(ctx context.Context, all bool, filters map[string][]string) ([]container.Summary, error)
	ContainerInspect(ctx context.Context, id string) (container.InspectResponse, error)
	// ContainerCreate creates a container named name and returns its ID.
	ContainerCreate(ctx context.Context, name string, req container.CreateRequest) (string, error)
	ContainerStart(ctx context.Context, id string) error
	// ContainerStop stops a container; timeout nil is its own.
	ContainerStop(ctx context.Context, id string, timeout *int) error
	ContainerRestart(ctx context.Context, id string, timeout *int) error
	ContainerRemove(ctx context.Context, id string, force, volumes bool) error

	NetworkInspect(ctx context.Context, name string) (network.Inspect, error)
	// NetworkCreate creates a network and returns its ID.
	NetworkCreate(ctx context.Context, req network.CreateRequest) (string, error)
	NetworkList(ctx context.Context, filters map[string][]string) ([]network.Summary, error)
	NetworkRemove(ctx context.Context, id string) error

	VolumeInspect(ctx context.Context, name string) (volume.Volume, error)
	VolumeCreate(ctx context.Context, req volume.CreateRequest) (volume.Volume, error)
	VolumeList(ctx context.Context, filters map[string][]string) ([]volume.Volume, error)
	VolumeRemove(ctx context.Context, name string, force bool) error

	ImageInspect(ctx context.Context, ref string) (image.InspectResponse, error)
	// ImagePull pulls ref, rendering the daemon's progress stream to
	// progress, and fails if the stream reports an error.
	ImagePull(ctx context.Context, ref, platform string, progress io.Writer) error
	// ImageBuild builds an image (POST /build), rendering the builder's
	// output to progress, and fails if the stream reports an error. A daemon without the endpoint answers
	// errdefs.ErrNotFound or errdefs.ErrNotImplemented.
	ImageBuild(ctx context.Context, req BuildRequest, progress io.Writer) error

	// Events streams the daemon's events matching filters from now until
	// ctx ends. The subscription is in place when Events returns. The
	// message channel is closed when the stream ends; the error channel
	// then holds why (nil when ctx ended).
	Events(ctx context.Context, filters map[string][]string) (<-chan events.Message, <-chan error, error)
}

// BuildRequest is one image build: POST /build's parameters and body.
type BuildRequest struct {
	// Context is the build context as a tar stream.
	Context io.Reader
	// Tags name the image ("name:tag").
	Tags []string
	// Dockerfile is the Dockerfile's path inside the context.
	Dockerfile string
	Args       map[string]*string
	Labels     map[string]string
	Target     string
	Pull       bool
	NoCache    bool
	Network    string
	Platform   string
}
