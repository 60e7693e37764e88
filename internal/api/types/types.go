// Package types holds the JSON wire structs of the Docker Engine API as
// Shoal serves it, and nothing else. Field names and JSON keys are
// Docker's; the api package converts from Shoal's own types at the edge.
package types

import (
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// ErrorResponse is the body of every error answer: {"message": "..."}.
type ErrorResponse struct {
	Message string `json:"message"`
}

// Version is the answer of GET /version.
type Version struct {
	Platform      Platform           `json:"Platform"`
	Components    []ComponentVersion `json:"Components"`
	Version       string             `json:"Version"`
	APIVersion    string             `json:"ApiVersion"`
	MinAPIVersion string             `json:"MinAPIVersion"`
	GitCommit     string             `json:"GitCommit"`
	GoVersion     string             `json:"GoVersion"`
	Os            string             `json:"Os"`
	Arch          string             `json:"Arch"`
	KernelVersion string             `json:"KernelVersion,omitempty"`
	Experimental  bool               `json:"Experimental,omitempty"`
	BuildTime     string             `json:"BuildTime,omitempty"`
}

// Platform names the product.
type Platform struct {
	Name string `json:"Name"`
}

// ComponentVersion is one component in Version.Components.
type ComponentVersion struct {
	Name    string            `json:"Name"`
	Version string            `json:"Version"`
	Details map[string]string `json:"Details,omitempty"`
}

// Info is the answer of GET /info: only the fields Shoal fills in
// truthfully.
type Info struct {
	ID                string `json:"ID"`
	Images            int    `json:"Images"`
	Driver            string `json:"Driver"`
	OperatingSystem   string `json:"OperatingSystem,omitempty"`
	OSType            string `json:"OSType"`
	Architecture      string `json:"Architecture"`
	NCPU              int    `json:"NCPU"`
	MemTotal          int64  `json:"MemTotal"`
	DockerRootDir     string `json:"DockerRootDir"`
	ServerVersion     string `json:"ServerVersion"`
	KernelVersion     string `json:"KernelVersion,omitempty"`
	Name              string `json:"Name"`
	ExperimentalBuild bool   `json:"ExperimentalBuild"`
	Swarm             Swarm  `json:"Swarm"`

	Containers        int                `json:"Containers"`
	ContainersRunning int                `json:"ContainersRunning"`
	ContainersPaused  int                `json:"ContainersPaused"`
	ContainersStopped int                `json:"ContainersStopped"`
	LoggingDriver     string             `json:"LoggingDriver,omitempty"`
	CgroupDriver      string             `json:"CgroupDriver,omitempty"`
	CgroupVersion     string             `json:"CgroupVersion,omitempty"`
	Runtimes          map[string]Runtime `json:"Runtimes,omitempty"`
	DefaultRuntime    string             `json:"DefaultRuntime,omitempty"`
}

// Runtime is an OCI runtime the daemon can run containers with.
type Runtime struct {
	Path string `json:"path"`
}

// Swarm is the daemon's swarm state: Shoal is never part of a swarm.
type Swarm struct {
	LocalNodeState string `json:"LocalNodeState"`
}

// ImageSummary is one entry of GET /images/json.
type ImageSummary struct {
	ID          string            `json:"Id"`
	ParentID    string            `json:"ParentId"`
	RepoTags    []string          `json:"RepoTags"`
	RepoDigests []string          `json:"RepoDigests"`
	Created     int64             `json:"Created"`
	Size        int64             `json:"Size"`
	SharedSize  int64             `json:"SharedSize"`
	VirtualSize *int64            `json:"VirtualSize,omitempty"` // API < 1.44 only
	Labels      map[string]string `json:"Labels"`
	Containers  int64             `json:"Containers"`
}

// ImageInspect is the answer of GET /images/{name}/json.
type ImageInspect struct {
	ID            string                           `json:"Id"`
	RepoTags      []string                         `json:"RepoTags"`
	RepoDigests   []string                         `json:"RepoDigests"`
	Parent        string                           `json:"Parent"`
	Comment       string                           `json:"Comment"`
	Created       string                           `json:"Created,omitempty"`
	DockerVersion string                           `json:"DockerVersion"`
	Author        string                           `json:"Author"`
	Config        *dockerspec.DockerOCIImageConfig `json:"Config"`
	Architecture  string                           `json:"Architecture"`
	Variant       string                           `json:"Variant,omitempty"`
	Os            string                           `json:"Os"`
	OsVersion     string                           `json:"OsVersion,omitempty"`
	Size          int64                            `json:"Size"`
	VirtualSize   *int64                           `json:"VirtualSize,omitempty"` // API < 1.44 only
	GraphDriver   GraphDriver                      `json:"GraphDriver"`
	RootFS        RootFS                           `json:"RootFS"`
	Metadata      ImageMetadata                    `json:"Metadata"`
	Descriptor    *ocispec.Descriptor              `json:"Descriptor,omitempty"` // API >= 1.48
}

// GraphDriver names the storage driver of an image.
type GraphDriver struct {
	Name string            `json:"Name"`
	Data map[string]string `json:"Data"`
}

// RootFS lists an image's layers by DiffID.
type RootFS struct {
	Type   string   `json:"Type"`
	Layers []string `json:"Layers,omitempty"`
}

// ImageMetadata is what the daemon knows about an image beyond its config.
type ImageMetadata struct {
	LastTagTime string `json:"LastTagTime,omitempty"`
}

// HistoryItem is one entry of GET /images/{name}/history, newest first.
type HistoryItem struct {
	ID        string   `json:"Id"`
	Created   int64    `json:"Created"`
	CreatedBy string   `json:"CreatedBy"`
	Tags      []string `json:"Tags"`
	Size      int64    `json:"Size"`
	Comment   string   `json:"Comment"`
}

// DeleteResponse is one entry of DELETE /images/{name} and of a prune
// report: a name untagged or an image deleted.
type DeleteResponse struct {
	Untagged string `json:"Untagged,omitempty"`
	Deleted  string `json:"Deleted,omitempty"`
}

// PruneReport is the answer of POST /images/prune.
type PruneReport struct {
	ImagesDeleted  []DeleteResponse `json:"ImagesDeleted"`
	SpaceReclaimed uint64           `json:"SpaceReclaimed"`
}

// JSONMessage is one line of a progress stream (pull, push, load).
type JSONMessage struct {
	Stream         string          `json:"stream,omitempty"`
	Status         string          `json:"status,omitempty"`
	ProgressDetail *ProgressDetail `json:"progressDetail,omitempty"`
	ID             string          `json:"id,omitempty"`
	ErrorDetail    *JSONError      `json:"errorDetail,omitempty"`
	Error          string          `json:"error,omitempty"`
	Aux            any             `json:"aux,omitempty"`
}

// ProgressDetail is the byte count of a transfer.
type ProgressDetail struct {
	Current int64 `json:"current,omitempty"`
	Total   int64 `json:"total,omitempty"`
}

// JSONError is an error in a progress stream.
type JSONError struct {
	Code    int    `json:"code,omitempty"`
	Message string `json:"message"`
}

// PushResult is the aux message at the end of a push.
type PushResult struct {
	Tag    string `json:"Tag"`
	Digest string `json:"Digest"`
	Size   int64  `json:"Size"`
}

// AuthConfig is the X-Registry-Auth header's content (base64url JSON).
type AuthConfig struct {
	Username      string `json:"username,omitempty"`
	Password      string `json:"password,omitempty"`
	Auth          string `json:"auth,omitempty"`
	ServerAddress string `json:"serveraddress,omitempty"`
	IdentityToken string `json:"identitytoken,omitempty"`
	RegistryToken string `json:"registrytoken,omitempty"`
}
